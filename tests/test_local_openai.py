"""The `openai` responder against a tiny OpenAI-compatible server started by the test."""

from __future__ import annotations

import json
import socket
import textwrap
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from orq_notebook import Client
from orq_notebook.local import LocalServer
from orq_notebook.local._server import ServerThread

API = "/v2/deployments"
KEY_ENV = "TEST_UPSTREAM_KEY"
SECRET = "sk-test-0123456789"
USER = {"role": "user", "content": "What is the weather in Oslo?"}


class FakeOpenAI:
    """`POST /v1/chat/completions`, streaming or not; remembers what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])]
        )

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.seen.append({"body": body, "authorization": request.headers.get("authorization")})
        last = body["messages"][-1]["content"]
        if last == "fail 500":
            return JSONResponse({"error": {"message": "the model fell over"}}, 500)
        if last == "fail 401":
            return JSONResponse(
                {"error": {"message": f"Incorrect API key provided: {SECRET}"}}, 401
            )
        if last == "fail 429":
            return JSONResponse({"error": {"message": "slow down"}}, 429, {"retry-after": "2"})
        if body.get("tools"):
            return self.tool_calls(body)
        pieces = ["Hello", " from", f" {body['model']}!"]
        if not body["stream"]:
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "".join(pieces)},
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
                }
            )

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            chunk = {"object": "chat.completion.chunk", "choices": [choice], **extra}
            return f"data: {json.dumps(chunk)}\n\n"

        async def events() -> AsyncIterator[str]:
            yield event({"role": "assistant", "content": ""})
            for piece in pieces:
                yield event({"content": piece})
            yield event({}, "length")
            usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def tool_calls(self, body: dict[str, Any]) -> Response:
        """Two calls; streamed, as OpenAI does: id and name first, then pieces of arguments."""
        calls = [("call_a", "get_weather", '{"city": "Oslo"}'), ("call_b", "get_time", "{}")]
        if not body["stream"]:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                    for i, n, a in calls
                ],
            }
            choice = {"index": 0, "finish_reason": "tool_calls", "message": message}
            return JSONResponse({"id": "chatcmpl-2", "choices": [choice]})

        def event(fragment: dict[str, Any] | None, finish: str | None = None) -> str:
            delta = {"tool_calls": [fragment]} if fragment else {}
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps({'choices': [choice]})}\n\n"

        async def events() -> AsyncIterator[str]:
            for index, (call_id, name, arguments) in enumerate(calls):
                head = {"id": call_id, "type": "function", "function": {"name": name}}
                yield event({"index": index, **head})
                for start in range(0, len(arguments), 5):
                    piece = {"arguments": arguments[start : start + 5]}
                    yield event({"index": index, "function": piece})
            yield event(None, "tool_calls")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    thread = ServerThread(fake.app)
    thread.start()
    fake.url = thread.url  # type: ignore[attr-defined]
    yield fake
    thread.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def local(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    url = upstream.url  # type: ignore[attr-defined]
    path = tmp_path_factory.mktemp("openai") / "deployments.yaml"
    text = f"""\
    deployments:
      - key: local-llm
        variables: {{topic: tea}}
        prompt_config:
          provider: openailike
          model: llama3.2
          model_parameters: {{temperature: 0.3, maxTokens: 50, topK: 5}}
          messages:
            - {{role: system, content: "Talk about {{{{topic}}}}."}}
        responder: {{openai: {{base_url: "{url}/v1", api_key_env: {KEY_ENV}}}}}
      - key: keyless
        prompt_config: {{model: configured}}
        responder: {{openai: {{base_url: "{url}/v1/", model: override}}}}
      - key: missing-env
        prompt_config: {{model: m}}
        responder: {{openai: {{base_url: "{url}/v1", api_key_env: TEST_NOT_SET}}}}
      - key: with-tools
        prompt_config:
          model: m
          tools:
            - type: function
              display_name: Weather
              function:
                name: get_weather
                description: The weather in a city.
                parameters: {{type: object, properties: {{city: {{type: string}}}}}}
        responder: {{openai: {{base_url: "{url}/v1"}}}}
      - key: unreachable
        prompt_config: {{model: m}}
        responder: {{openai: {{base_url: "http://127.0.0.1:{closed_port()}/v1"}}}}
    """
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    # The upstream is on loopback: only the variables need the user's say-so.
    with LocalServer(path, allow_env=[KEY_ENV, "TEST_NOT_SET"]) as server:
        yield server


@pytest.fixture
def http(
    local: LocalServer, upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    # The key is read from the environment at request time, in the server's thread.
    monkeypatch.setenv(KEY_ENV, SECRET)
    upstream.seen.clear()
    with httpx.Client(base_url=local.base_url, timeout=10) as client:
        yield client


def test_invoke_calls_the_upstream_and_passes_its_answer_and_usage(
    http: httpx.Client, upstream: FakeOpenAI
) -> None:
    body = http.post(
        f"{API}/invoke",
        json={
            "key": "local-llm",
            "messages": [{"role": "user", "content": "Hi"}],
            "extra_params": {"temperature": 0.9, "top_k": 3},
            "invoke_options": {"include_usage": True},
        },
    ).json()
    assert body["choices"][0]["message"]["content"] == "Hello from llama3.2!"
    assert (body["model"], body["provider"]) == ("llama3.2", "openailike")
    assert body["usage"] == {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    assert body["provider_response"]["id"] == "chatcmpl-1"
    (seen,) = upstream.seen
    assert seen["authorization"] == f"Bearer {SECRET}"
    assert seen["body"] == {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "Talk about tea."},
            {"role": "user", "content": "Hi"},
        ],
        "temperature": 0.9,  # extra_params override; topK is not an OpenAI parameter
        "max_tokens": 50,
        "top_k": 3,  # an extra_param the API does not know is passed through as given
        "stream": False,
    }


def test_stream_passes_the_upstream_pieces_through(
    http: httpx.Client, upstream: FakeOpenAI
) -> None:
    response = http.post(
        f"{API}/stream",
        json={
            "key": "keyless",
            "messages": [{"role": "user", "content": "Hi"}],
            "invoke_options": {"include_usage": True},
        },
    )
    events = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.split("\n\n")
        if line.startswith("data: {")
    ]
    assert response.text.endswith("data: [DONE]\n\n")
    *pieces, final = events
    assert [e["choices"][0]["message"]["content"] for e in pieces] == [
        "Hello",
        " from",
        " override!",
    ]
    assert final["is_final"] is True and final["choices"][0]["finish_reason"] == "length"
    assert final["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert final["model"] == "override"
    (seen,) = upstream.seen
    assert seen["authorization"] is None and seen["body"]["stream"] is True


@pytest.mark.parametrize(
    ("content", "status", "code", "fragment"),
    [
        ("fail 500", 502, "provider_error", "answered 500: the model fell over"),
        ("fail 401", 422, "provider_credential_invalid", "answered 401: it rejected the API key"),
        ("fail 429", 429, "rate_limit_exceeded", "answered 429: slow down"),
    ],
)
@pytest.mark.parametrize("endpoint", ["invoke", "stream"])
def test_upstream_errors_become_clear_errors_before_any_byte(
    http: httpx.Client, endpoint: str, content: str, status: int, code: str, fragment: str
) -> None:
    # orq.ai's statuses and codes for what a provider does (orq-api-additions §1.2).
    request = {"key": "local-llm", "messages": [{"role": "user", "content": content}]}
    response = http.post(f"{API}/{endpoint}", json=request)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert fragment in response.json()["message"]
    assert SECRET not in response.text
    if status == 429:
        assert response.headers["retry-after"] == "2"


def test_unreachable_upstream_and_missing_key_variable(http: httpx.Client) -> None:
    unreachable = http.post(f"{API}/invoke", json={"key": "unreachable"})
    assert unreachable.status_code == 502
    assert unreachable.json()["error"]["code"] == "provider_error"
    assert unreachable.json()["message"].startswith(
        "Could not reach the OpenAI-compatible server at http://127.0.0.1:"
    )
    missing = http.post(f"{API}/stream", json={"key": "missing-env"})
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "provider_credential_invalid"
    assert missing.json()["message"].startswith("The environment variable TEST_NOT_SET")


def test_mock_response_never_calls_the_upstream(http: httpx.Client, upstream: FakeOpenAI) -> None:
    body = {"key": "local-llm", "invoke_options": {"mock_response": "offline"}}
    assert (
        http.post(f"{API}/invoke", json=body).json()["choices"][0]["message"]["content"]
        == "offline"
    )
    assert upstream.seen == []


WANTED_CALLS = [
    {
        "id": "call_a",
        "index": 0,
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    },
    {
        "id": "call_b",
        "index": 1,
        "type": "function",
        "function": {"name": "get_time", "arguments": "{}"},
    },
]


@pytest.mark.parametrize("stream", [False, True])
def test_tools_go_upstream_and_tool_calls_come_back(
    local: LocalServer, upstream: FakeOpenAI, stream: bool
) -> None:
    with Client(api_key="k", base_url=local.base_url) as client:
        if stream:
            with client.deployments.stream("with-tools", messages=[USER]) as chunks:
                assert [c.content for c in chunks if c.content] == []  # no text, only calls
            invocation = chunks.to_invocation()
        else:
            invocation = client.deployments.invoke("with-tools", messages=[USER])
    (choice,) = invocation.choices
    assert (choice.finish_reason, choice.message.type) == ("tool_calls", "tool_calls")
    assert choice.message.content is None
    calls = [c.model_dump(mode="json", exclude_none=True) for c in choice.message.tool_calls or []]
    assert calls == WANTED_CALLS
    (seen,) = upstream.seen[-1:]
    assert seen["body"]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]


def test_tool_calls_validate_in_the_official_sdk(local: LocalServer) -> None:
    orq_ai_sdk = pytest.importorskip("orq_ai_sdk")
    with orq_ai_sdk.Orq(api_key="k", server_url=local.base_url) as orq:
        answer = orq.deployments.invoke(key="with-tools", messages=[USER])
        with orq.deployments.stream(key="with-tools", messages=[USER]) as events:
            final = list(events)[-1]
    for response in (answer, final.data):
        message = response.choices[0].message
        assert [call.function.name for call in message.tool_calls] == ["get_weather", "get_time"]
