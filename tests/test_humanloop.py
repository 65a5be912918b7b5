"""The Humanloop v4 backend without a server: golden payloads and `httpx.MockTransport`.

The `fixtures/humanloop_*` files were written by hand from `reference/humanloop-v4-api.md`,
never from our models: `humanloop_completion_request.json` is the §2 example request body,
`humanloop_completion_response.json` the §3 example response, `humanloop_chat_response.json`
a `ChatResponse` built from the §6 field list (`messages`, `output_message`, `tool_choice`),
`humanloop_stream_two_samples.sse` the §4 transcript (two interleaved samples, no `[DONE]`),
and `humanloop_error_*.json` the three §5 body shapes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from orq_notebook.client._exceptions import (
    APIConnectionError,
    AuthenticationError,
    InternalServerError,
    InvalidRequestError,
    UnprocessableEntityError,
)
from orq_notebook.humanloop._client import AsyncHumanloopClient, HumanloopClient
from orq_notebook.humanloop._models import (
    CompletionDeployedRequest,
    HumanloopResponse,
)
from orq_notebook.humanloop._streaming import SampleDecoder

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "hl_sk_example_secret"


def golden(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sse_events(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [block.removeprefix("data: ") for block in text.split("\n\n") if block.strip()]


Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, **options: Any) -> HumanloopClient:
    options.setdefault("api_key", KEY)
    options.setdefault("base_url", "http://hl.test/v4")
    return HumanloopClient(transport=httpx.MockTransport(handler), **options)


def recorder(answer: httpx.Response | None = None) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer or httpx.Response(200, json=golden("humanloop_completion_response.json"))

    return seen, handle


# -- golden payloads ----------------------------------------------------------------------


def test_the_request_example_is_a_valid_request_and_round_trips() -> None:
    body = golden("humanloop_completion_request.json")
    assert CompletionDeployedRequest.model_validate(body).to_wire() == body


def test_the_client_sends_the_request_example_field_for_field() -> None:
    body = golden("humanloop_completion_request.json")
    seen, handle = recorder()
    given = {k: v for k, v in body.items() if k != "stream"}
    client(handle).complete_deployed(**given)
    # `stream` is sent only when true: the SDKs sent only the fields that were set.
    assert json.loads(seen[0].content) == given


def test_the_response_example_parses_field_by_field() -> None:
    answer = HumanloopResponse.model_validate(golden("humanloop_completion_response.json"))
    sample = answer.data[0]
    assert (sample.id, sample.index, sample.finish_reason) == ("data_Zx81exampleLog", 0, "stop")
    assert sample.output.startswith("Customer reports E42") and sample.raw_output is not None
    assert sample.raw_output.startswith(" Customer") and sample.raw_output.endswith("\n")
    assert sample.inputs == {"ticket": "Printer shows error E42 after toner change"}
    assert sample.model_config_id == "config_7fGexampleCfg" and sample.tool_results == []
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.generation_tokens) == (41, 17)
    assert answer.usage.total_tokens == 58
    assert answer.project_id == "pr_3kQ9exampleProj" and answer.session_id is None
    assert answer.provider_responses[0]["object"] == "chat.completion"
    assert answer.provider_request == {
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "n": 1,
        "stream": False,
    }
    assert (answer.text, answer.id) == (sample.output, "data_Zx81exampleLog")


def test_the_chat_response_parses_with_messages_and_output_message() -> None:
    answer = HumanloopResponse.model_validate(golden("humanloop_chat_response.json"))
    sample = answer.data[0]
    assert sample.output_message == {"role": "assistant", "content": sample.output}
    assert sample.messages is not None and sample.messages[-1]["role"] == "user"
    assert sample.tool_results is None and answer.tool_choice == "auto"
    assert answer.session_id == "sesh_Q2exampleSession"


def test_responses_tolerate_missing_and_unknown_fields() -> None:
    old = {"project_id": "pr_1", "data": [{"output": None, "tools": []}], "extra": 1}
    answer = HumanloopResponse.model_validate(old)
    assert answer.text == "" and answer.usage is None and answer.provider_responses == []
    assert answer.data[0].model_extra == {"tools": []} and answer.model_extra == {"extra": 1}
    assert HumanloopResponse.model_validate({}).data == []


def test_the_stream_transcript_demultiplexes_by_index() -> None:
    decoder = SampleDecoder()
    deltas = [
        d for event in sse_events("humanloop_stream_two_samples.sse") for d in decoder.decode(event)
    ]
    assert [d.index for d in deltas] == [0, 1, 0, 1]
    assert [d.finish_reason for d in deltas] == [None, None, "stop", "stop"]
    first, second = decoder.samples[0], decoder.samples[1]
    assert (first.text, first.id) == ("Customer reports E42.", "data_A")
    assert (second.text, second.id) == ("Printer error E42.", "data_B")
    assert first.finished and second.finished and decoder.project_id == "pr_3kQ9"
    assert [s.output for s in decoder.to_response().data] == [first.text, second.text]


@pytest.mark.parametrize(
    ("name", "status", "cls", "message"),
    [
        ("humanloop_error_422.json", 422, UnprocessableEntityError, "body.inputs: value is not"),
        ("humanloop_error_provider.json", 422, UnprocessableEntityError, "maximum context length"),
        ("humanloop_error_detail_string.json", 401, AuthenticationError, "Could not validate"),
        ("humanloop_error_detail_string.json", 500, InternalServerError, "Could not validate"),
    ],
)
def test_error_bodies_map_to_the_error_tree(
    name: str, status: int, cls: type[Exception], message: str
) -> None:
    _, handle = recorder(httpx.Response(status, json=golden(name)))
    with pytest.raises(cls) as info:
        client(handle, max_retries=0).complete_deployed(project="p")
    assert message in str(info.value)
    if status == 401:
        assert "HUMANLOOP_API_KEY" in str(info.value) and "ORQ_API_KEY" not in str(info.value)


# -- requests -----------------------------------------------------------------------------


def test_completion_path_auth_header_and_only_the_set_fields() -> None:
    seen, handle = recorder()
    client(handle).complete_deployed(project_id="pr_1", num_samples=2, user=None, save=False)
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/v4/completion-deployed")
    assert request.headers["X-API-KEY"] == KEY and "authorization" not in request.headers
    assert request.headers["accept"] == "application/json"
    assert json.loads(request.content) == {"project_id": "pr_1", "num_samples": 2, "save": False}


def test_chat_path_and_body() -> None:
    seen, handle = recorder(httpx.Response(200, json=golden("humanloop_chat_response.json")))
    messages = [{"role": "user", "content": "What should I try first?"}]
    answer = client(handle).chat_deployed(
        project="p", messages=messages, tool_choice="auto", response_format={"type": "json_object"}
    )
    assert seen[0].url.path == "/v4/chat-deployed"
    assert json.loads(seen[0].content) == {
        "project": "p",
        "messages": messages,
        "tool_choice": "auto",
        "response_format": {"type": "json_object"},
    }
    assert answer.text.startswith("Reseat")


def test_project_or_project_id_is_required_before_sending() -> None:
    seen, handle = recorder()
    with pytest.raises(ValueError, match="project= .* or project_id="):
        client(handle).complete_deployed(inputs={"a": 1})
    assert not seen


def test_unknown_fields_and_bad_values_are_refused_before_sending() -> None:
    seen, handle = recorder()
    hl = client(handle)
    with pytest.raises(TypeError, match="did you mean 'inputs'"):
        hl.complete_deployed(project="p", input={"a": 1})  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="'logprobs'"):
        hl.chat_deployed(project="p", messages=[], logprobs=2)  # type: ignore[call-overload]
    with pytest.raises(InvalidRequestError, match="num_samples"):
        hl.complete_deployed(project="p", num_samples="2")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="messages"):
        hl.chat_deployed(project="p", messages=[{"role": "robot", "content": "x"}])
    assert not seen


def test_key_and_url_come_from_humanloop_variables_never_from_orq_ones() -> None:
    seen, handle = recorder()
    env = {"ORQ_API_KEY": "orq-secret", "HUMANLOOP_BASE_URL": "http://other.test/v4/"}
    hl = HumanloopClient(transport=httpx.MockTransport(handle), env=env)
    assert hl.settings.base_url == "http://other.test/v4" and hl.settings.api_key is None
    hl.complete_deployed(project="p")
    assert "x-api-key" not in seen[0].headers and "orq-secret" not in str(seen[0].headers)
    env["HUMANLOOP_API_KEY"] = "from-env"
    hl = HumanloopClient(transport=httpx.MockTransport(handle), env=env)
    hl.complete_deployed(project="p")
    assert seen[-1].headers["X-API-KEY"] == "from-env"
    assert hl.settings.api_key_source == "HUMANLOOP_API_KEY"
    assert HumanloopClient(env={}).settings.base_url == "https://api.humanloop.com/v4"


def test_the_key_never_shows_in_repr_or_errors() -> None:
    echo = httpx.Response(401, json={"detail": f"bad key {KEY}"})
    _, handle = recorder(echo)
    hl = client(handle, max_retries=0)
    assert KEY not in repr(hl) and "<set>" in repr(hl)
    with pytest.raises(AuthenticationError) as info:
        hl.complete_deployed(project="p")
    assert KEY not in str(info.value) and KEY not in info.value.body


def test_the_client_environment_is_the_default_of_each_call() -> None:
    seen, handle = recorder()
    hl = client(handle, environment="staging")
    hl.complete_deployed(project="p")
    hl.complete_deployed(project="p", environment="production")
    assert [json.loads(r.content)["environment"] for r in seen] == ["staging", "production"]


def test_seed_is_sent_with_a_deprecation_warning() -> None:
    seen, handle = recorder()
    with pytest.warns(DeprecationWarning, match="seed"):
        client(handle).complete_deployed(project="p", seed=7)
    assert json.loads(seen[0].content)["seed"] == 7


def test_rate_limits_are_retried_with_the_orq_policy() -> None:
    answers = [
        httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "0"}),
        httpx.Response(200, json=golden("humanloop_completion_response.json")),
    ]
    hl = client(lambda request: answers.pop(0), max_retries=1)
    hl._sleep = lambda seconds: None
    assert hl.complete_deployed(project="p").id == "data_Zx81exampleLog"
    assert not answers


@pytest.mark.parametrize(
    ("base_url", "retired"),
    [("https://api.humanloop.com/v4", True), ("http://127.0.0.1:9/v4", False)],
)
def test_connection_errors_say_when_the_service_is_the_retired_one(
    base_url: str, retired: bool
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    with pytest.raises(APIConnectionError) as info:
        client(refuse, base_url=base_url, max_retries=0).complete_deployed(project="p")
    assert ("retired on 2025-09-08" in str(info.value)) is retired
    assert KEY not in str(info.value)


# -- streams ------------------------------------------------------------------------------


def sse_response(body: str) -> httpx.Response:
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


def test_a_stream_sends_stream_true_and_joins_each_sample() -> None:
    transcript = (FIXTURES / "humanloop_stream_two_samples.sse").read_text(encoding="utf-8")
    seen, handle = recorder(sse_response(transcript))
    with client(handle).complete_deployed(project="p", num_samples=2, stream=True) as stream:
        deltas = list(stream)
    assert json.loads(seen[0].content) == {"project": "p", "num_samples": 2, "stream": True}
    assert seen[0].headers["accept"] == "text/event-stream"
    assert [d.output for d in deltas] == ["Customer", "Printer", " reports E42.", " error E42."]
    assert stream.texts == ["Customer reports E42.", "Printer error E42."]
    assert (stream.text, stream.id, stream.finish_reason) == (
        "Customer reports E42.",
        "data_A",
        "stop",
    )
    assert stream.completed and stream.chunk_count == 4 and stream.project_id == "pr_3kQ9"
    assert stream.to_response().data[1].raw_output == "Printer error E42."


def test_a_stream_tolerates_done_and_non_json_and_is_incomplete_without_finish() -> None:
    body = (
        ": comment\n\ndata: not json\n\n"
        'data: {"data": [{"id": "d", "index": 0, "output": "Hi", "finish_reason": null}]}\n\n'
        "data: [DONE]\n\n"
        'data: {"data": [{"id": "d", "index": 0, "output": " never read"}]}\n\n'
    )
    _, handle = recorder(sse_response(body))
    with client(handle).complete_deployed(project="p", stream=True) as stream:
        assert [d.output for d in stream] == ["Hi"]
    assert stream.text == "Hi" and not stream.completed  # no finish_reason arrived


def test_a_stream_expects_every_requested_sample() -> None:
    body = 'data: {"data": [{"index": 0, "output": "A", "finish_reason": "stop"}]}\n\n'
    _, handle = recorder(sse_response(body))
    with client(handle).complete_deployed(project="p", num_samples=2, stream=True) as stream:
        list(stream)
    assert stream.texts == ["A"] and not stream.completed


def test_a_stream_error_status_raises_before_iteration() -> None:
    _, handle = recorder(httpx.Response(404, json={"detail": "Project not found"}))
    stream = client(handle).complete_deployed(project="p", stream=True)
    with pytest.raises(Exception, match="Project not found"):
        stream.__enter__()


def test_the_async_twin_invokes_and_streams() -> None:
    transcript = (FIXTURES / "humanloop_stream_two_samples.sse").read_text(encoding="utf-8")
    answers = [
        httpx.Response(200, json=golden("humanloop_completion_response.json")),
        sse_response(transcript),
    ]
    seen: list[httpx.Request] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    async def main() -> tuple[str, list[str], list[str], bool]:
        transport = httpx.MockTransport(handle)
        async with AsyncHumanloopClient(api_key=KEY, transport=transport) as hl:
            answer = await hl.complete_deployed(project="p")
            stream = await hl.chat_deployed(
                project="p", messages=[{"role": "user", "content": "x"}], stream=True
            )
            async with stream:
                outputs = [d.output async for d in stream]
        return answer.text, outputs, stream.texts, stream.completed

    text, outputs, texts, completed = asyncio.run(main())
    assert text.startswith("Customer reports") and completed
    assert outputs == ["Customer", "Printer", " reports E42.", " error E42."]
    assert texts == ["Customer reports E42.", "Printer error E42."]
    assert [r.url.path for r in seen] == ["/v4/completion-deployed", "/v4/chat-deployed"]
    assert all(r.headers["X-API-KEY"] == KEY for r in seen)
