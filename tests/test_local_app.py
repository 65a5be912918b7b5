"""Every endpoint and request feature of the local server, over real HTTP (plain httpx)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from orq_notebook.local import LocalServer
from tests.faults import raw_request

API = "/v2/deployments"


@pytest.fixture
def http(local_server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_server.base_url, timeout=10) as client:
        yield client


def post(http: httpx.Client, endpoint: str, **body: Any) -> httpx.Response:
    return http.post(f"{API}/{endpoint}", json=body)


def answer(http: httpx.Client, key: str, **body: Any) -> str:
    response = post(http, "invoke", key=key, **body)
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def orq_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check that `response` is orq.ai's error: the status, the envelope
    `{"message", "error": {"code", "message", "doc_url", "details"?}}` and no top-level `code`
    (reference: orq-api-additions §1.4). Returns the `error` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "error"}, body
    error = body["error"]
    assert set(error) - {"details"} == {"code", "message", "doc_url"}, error
    assert error["code"] == code and error["message"] == body["message"]
    assert error["doc_url"] == f"https://docs.orq.ai/errors/{code}"
    assert "\n" not in body["message"]
    return dict(error)


def sse_events(response: httpx.Response) -> tuple[list[dict[str, Any]], bool]:
    """The JSON events of an SSE body, and whether `[DONE]` ended it."""
    events, done = [], False
    for block in response.text.split("\n\n"):
        if block == "data: [DONE]":
            done = True
        elif block:
            assert block.startswith("data: ") and "\n" not in block, block
            events.append(json.loads(block.removeprefix("data: ")))
    return events, done


# -- list ---------------------------------------------------------------------------------------


def test_list_shape(http: httpx.Client) -> None:
    body = http.get(API).json()
    assert set(body) == {"object", "data", "has_more"}
    assert body["object"] == "list" and body["has_more"] is False
    first = body["data"][0]
    assert set(first) == {
        "id",
        "created",
        "updated",
        "key",
        "description",
        "prompt_config",
        "version",
    }
    assert first["key"] == "support-answer" and first["version"] == "v1"
    assert first["prompt_config"] == {
        "tools": [],
        "model": "gpt-4o-mini",
        "model_type": "chat",
        "model_parameters": {"temperature": 0.2, "maxTokens": 256},
        "provider": "openai",
        "messages": [
            {"role": "system", "content": "You answer for {{company}}. Be brief."},
            {"role": "user", "content": "Hello!"},
            {"role": "assistant", "content": "Hi, how can I help?"},
        ],
    }
    fixed = next(d for d in body["data"] if d["key"] == "fixed")
    assert fixed["prompt_config"]["tools"][0]["function"]["parameters"]["required"] == ["city"]


def test_list_pagination_with_cursors(http: httpx.Client) -> None:
    every = [d["key"] for d in http.get(API, params={"limit": 50}).json()["data"]]
    assert len(every) == 6
    first = http.get(API, params={"limit": 2}).json()
    assert [d["key"] for d in first["data"]] == every[:2] and first["has_more"] is True
    after = first["data"][-1]["id"]
    second = http.get(API, params={"limit": 2, "starting_after": after}).json()
    assert [d["key"] for d in second["data"]] == every[2:4] and second["has_more"] is True
    before = second["data"][0]["id"]
    back = http.get(API, params={"limit": 2, "ending_before": before}).json()
    assert [d["key"] for d in back["data"]] == every[:2] and back["has_more"] is False
    last = http.get(API, params={"limit": 4, "starting_after": after}).json()
    assert [d["key"] for d in last["data"]] == every[2:] and last["has_more"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"starting_after": "nope"}, "starting_after"),
        ({"starting_after": "a", "ending_before": "b"}, "ending_before"),
    ],
)
def test_list_refuses_bad_query_parameters(
    http: httpx.Client, params: dict[str, Any], field: str
) -> None:
    response = http.get(API, params=params)
    error = orq_error(response, 400, "invalid_request_body")
    assert error["details"] == {"field": field}
    assert field in error["message"]


# -- get_config, variables, variants, messages ---------------------------------------------------


def test_get_config_fills_variables_and_orders_messages(http: httpx.Client) -> None:
    response = post(
        http,
        "get_config",
        key="support-answer",
        stream=False,  # what the SDK adds; ignored like any unknown key
        unknown_field=1,
        inputs={"company": "Globex"},
        prefix_messages=[{"role": "user", "content": "prefix"}],
        messages=[{"role": "user", "content": "last {{company}}"}],
        extra_params={"temperature": 0.5, "top_k": 3},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "provider",
        "model",
        "type",
        "version",
        "messages",
        "parameters",
        "tools",
    }
    assert (body["provider"], body["model"], body["type"], body["version"]) == (
        "openai",
        "gpt-4o-mini",
        "chat",
        "v1",
    )
    assert body["messages"] == [
        {"role": "system", "content": "You answer for Globex. Be brief."},
        {"role": "user", "content": "prefix"},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": "last {{company}}"},  # request messages are not templated
    ]
    assert body["parameters"] == {"temperature": 0.5, "maxTokens": 256, "top_k": 3}
    assert len(body["id"]) == 26


def test_values_are_never_interpolated_twice(http: httpx.Client) -> None:
    inputs = {"name": "{{question}}", "question": "why?"}
    config = post(http, "get_config", key="ask", inputs=inputs).json()
    assert config["messages"][0]["content"] == [
        {"type": "text", "text": "Question from {{question}}: why?"}
    ]


def test_non_string_inputs_are_written_as_json(http: httpx.Client) -> None:
    inputs = {"name": {"first": "Ada"}, "question": 42}
    text = answer(http, "ask", inputs=inputs)
    assert text == 'user: Question from {"first": "Ada"}: 42'


def test_a_variable_without_input_or_default_renders_empty_as_on_orq(http: httpx.Client) -> None:
    # orq.ai: "missing inputs silently omit prompt content with no error" (additions §2).
    config = post(http, "get_config", key="ask", inputs={"question": "why?"})
    assert config.status_code == 200, config.text
    assert config.json()["messages"][0]["content"] == [
        {"type": "text", "text": "Question from : why?"}
    ]
    assert answer(http, "ask") == "user: Question from : "
    streamed = post(http, "stream", key="ask", inputs={"name": "Ada"})
    events, done = sse_events(streamed)
    assert done and "".join(e["choices"][0]["message"]["content"] for e in events) == (
        "user: Question from Ada: "
    )


STRICT = """\
deployments:
  - key: loose
    prompt_config: {model: m, messages: [{role: user, content: "Hi {{name}}"}]}
  - key: strict
    strict_variables: true
    prompt_config: {model: m, messages: [{role: user, content: "Hi {{name}}"}]}
"""


def test_strict_variables_is_an_opt_in_422_naming_them(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    server = serve_deployments(STRICT)
    with httpx.Client(base_url=server.base_url) as client:
        assert answer(client, "loose") == "user: Hi "
        for endpoint in ("get_config", "invoke", "stream"):
            error = orq_error(post(client, endpoint, key="strict"), 422, "missing_variables")
            assert error["message"].startswith("Missing value for {{name}} in deployment 'strict'")
            assert error["details"] == {"field": "inputs"}
        assert answer(client, "strict", inputs={"name": "Ada"}) == "user: Hi Ada"
    per_file = serve_deployments("strict_variables: true\n" + STRICT.replace("loose", "other"))
    with httpx.Client(base_url=per_file.base_url) as client:
        orq_error(post(client, "invoke", key="other"), 422, "missing_variables")


def test_a_deployment_of_variants_only_answers_422_variant_not_resolved(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    server = serve_deployments(
        """\
        deployments:
          - key: routed
            variants:
              - when: {environments: production}
                prompt_config: {model: big, messages: [{role: system, content: prod}]}
              - when: {environments: test}
                prompt_config: {model: small}
        """
    )
    with httpx.Client(base_url=server.base_url) as client:
        listed = client.get(API).json()["data"][0]
        assert listed["prompt_config"]["model"] == "big"  # the first variant is what lists show
        production = post(client, "invoke", key="routed", context={"environments": "production"})
        assert production.json()["model"] == "big"
        assert (
            post(client, "get_config", key="routed", context={"environments": ["test"]}).json()[
                "model"
            ]
            == "small"
        )
        for endpoint in ("get_config", "invoke", "stream"):
            error = orq_error(
                post(client, endpoint, key="routed", context={"environments": "dev"}),
                422,
                "variant_not_resolved",
            )
            assert "No variant of deployment 'routed' matches the context" in error["message"]
            assert error["details"] == {"field": "context"}


@pytest.mark.parametrize(
    ("context", "model", "system"),
    [
        (None, "gpt-4o-mini", "You answer for Acme. Be brief."),
        ({"environments": "production"}, "gpt-4o", "You answer for Acme. Be brief."),
        ({"environments": ["test", "production"]}, "gpt-4o", "You answer for Acme. Be brief."),
        ({"environments": "staging"}, "gpt-4o-mini", "You answer for Acme. Be brief."),
        ({"environments": "dev", "locale": "nl"}, "gpt-4o-mini", "Je antwoordt voor Acme."),
    ],
)
def test_context_selects_the_first_matching_variant(
    http: httpx.Client, context: dict[str, Any] | None, model: str, system: str
) -> None:
    body = {"context": context} if context else {}
    config = post(http, "get_config", key="support-answer", **body).json()
    assert config["model"] == model
    assert config["messages"][0]["content"] == system
    invoked = post(http, "invoke", key="support-answer", **body).json()
    assert invoked["model"] == model


def test_a_variant_merges_model_parameters(http: httpx.Client) -> None:
    context = {"environments": ["dev"], "locale": "nl"}
    config = post(http, "get_config", key="support-answer", context=context).json()
    assert config["parameters"] == {"temperature": 0.9, "maxTokens": 256}


# -- invoke ---------------------------------------------------------------------------------------


def test_echo_shows_the_final_message_list_and_parameters(http: httpx.Client) -> None:
    text = answer(
        http,
        "support-answer",
        prefix_messages=[{"role": "system", "content": "Be polite."}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "look", "arguments": '{"at": "a.png"}'},
                    },
                ],
            },
            {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
        ],
        extra_params={"temperature": 0},
    )
    assert text == (
        "system: You answer for Acme. Be brief.\n"
        "system: Be polite.\n"
        "user: Hello!\n"
        "assistant: Hi, how can I help?\n"
        "user: What is this? [image: https://example.com/a.png]\n"
        'assistant: [tool call: look({"at": "a.png"})]\n'
        "tool (call_1): a cat\n"
        "(parameters: temperature=0, maxTokens=256)"
    )


def test_invoke_returns_the_full_final_object(http: httpx.Client) -> None:
    body = post(http, "invoke", key="fixed").json()
    assert set(body) == {
        "id",
        "created",
        "object",
        "model",
        "provider",
        "is_final",
        "telemetry",
        "choices",
        "finalized",
    }
    assert body["is_final"] is True and body["object"] == "chat"
    assert (body["model"], body["provider"]) == ("gpt-4o-mini", "openai")
    assert body["created"].endswith("Z") and body["finalized"] >= body["created"]
    assert len(body["telemetry"]["trace_id"]) == 32 and len(body["telemetry"]["span_id"]) == 16
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "type": "content",
                "role": "assistant",
                "content": "You can return items within 30 days.",
            },
            "finish_reason": "stop",
        }
    ]


def test_mock_response_overrides_any_responder(http: httpx.Client) -> None:
    options = {"mock_response": "Mocked!"}
    assert answer(http, "support-answer", invoke_options=options) == "Mocked!"


def test_usage_only_when_asked_and_counted_in_words_and_marks(http: httpx.Client) -> None:
    assert "usage" not in post(http, "invoke", key="fixed").json()
    options = {"include_usage": True, "include_retrievals": False}  # as the SDK sends them
    body = post(
        http,
        "invoke",
        key="ask",
        inputs={"name": "Ada", "question": "Why?"},
        invoke_options=options,
    ).json()
    # prompt "Question from Ada: Why?" = 6; answer "user: Question from Ada: Why?" = 8
    assert body["usage"] == {"total_tokens": 14, "prompt_tokens": 6, "completion_tokens": 8}


def test_retrievals_from_documents_best_match_first(http: httpx.Client) -> None:
    documents = [
        {"text": "Shipping takes five days."},
        {
            "text": "Items can be returned within 30 days.",
            "metadata": {
                "file_name": "refunds.pdf",
                "file_type": "application/pdf",
                "page_number": 2.0,
            },
        },
    ]
    body = post(
        http,
        "invoke",
        key="fixed",
        documents=documents,
        messages=[{"role": "user", "content": "Can items be returned?"}],
        invoke_options={"include_retrievals": True},
    ).json()
    first, second = body["retrievals"]
    assert first["document"] == "Items can be returned within 30 days."
    assert first["metadata"] == {
        "file_name": "refunds.pdf",
        "page_number": 2,
        "file_type": "application/pdf",
        "search_score": 0.7559,
    }
    assert second["metadata"] == {
        "file_name": "document-1",
        "page_number": None,
        "file_type": "text/plain",
        "search_score": 0.0,
    }


# -- streaming through /invoke and /stream --------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["stream", "invoke"])
def test_streams_are_sse_of_invoke_shaped_chunks(http: httpx.Client, endpoint: str) -> None:
    response = post(
        http,
        endpoint,
        key="fixed",
        stream=True,
        invoke_options={"include_usage": True, "include_retrievals": True},
        documents=[{"text": "Returns: 30 days."}],
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events, done = sse_events(response)
    assert done
    *pieces, final = events
    assert "".join(e["choices"][0]["message"]["content"] for e in pieces) == (
        "You can return items within 30 days."
    )
    assert [e["choices"][0]["message"]["content"] for e in pieces][:3] == ["You", " can", " return"]
    assert len({(e["id"], e["created"], e["telemetry"]["trace_id"]) for e in events}) == 1
    for event in pieces:
        assert event["is_final"] is False and event["choices"][0]["finish_reason"] is None
        assert "usage" not in event and "retrievals" not in event
    assert final["is_final"] is True and final["choices"][0]["finish_reason"] == "stop"
    assert final["choices"][0]["message"] == {"type": "content", "role": "assistant", "content": ""}
    assert final["usage"]["completion_tokens"] == 8
    assert final["retrievals"][0]["document"] == "Returns: 30 days."
    assert "finalized" in final


def test_invoke_with_stream_false_is_json(http: httpx.Client) -> None:
    response = post(http, "invoke", key="fixed", stream=False)
    assert response.headers["content-type"] == "application/json"


# -- invalidate and versions --------------------------------------------------------------------


def test_invalidate_by_id_is_204_and_a_key_gets_a_404_with_the_id(http: httpx.Client) -> None:
    deployment = http.get(API).json()["data"][0]
    response = http.delete(f"{API}/invalidate/{deployment['id']}")
    assert (response.status_code, response.content) == (204, b"")
    wrong = http.delete(f"{API}/invalidate/{deployment['key']}")
    assert wrong.status_code == 404
    assert wrong.json()["message"] == (
        f"Deployment with id '{deployment['key']}' was not found. "
        f"'{deployment['key']}' is a key; invalidate takes the id: {deployment['id']}."
    )


def test_versions_by_key_or_id(http: httpx.Client) -> None:
    deployment = http.get(API).json()["data"][0]
    by_key = http.get(f"{API}/{deployment['key']}/versions").json()
    by_id = http.get(f"{API}/{deployment['id']}/versions").json()
    assert by_key == by_id
    (version,) = by_key["data"]
    assert version["deployment_id"] == deployment["id"]
    assert (version["version"], version["status"], version["timestamp"]) == (
        "v1",
        "live",
        deployment["updated"],
    )
    assert version["variables"] == [{"key": "company", "value": "Acme"}]
    assert http.get(f"{API}/nope/versions").status_code == 404
    other = http.get(f"{API}/{deployment['key']}/versions", params={"variant_id": "other"}).json()
    assert other["data"] == []


# -- prefix, auth, errors -----------------------------------------------------------------------


def test_any_path_prefix_works(http: httpx.Client) -> None:
    assert http.get(f"/some/prefix{API}").json()["object"] == "list"
    response = http.post(f"/orq/{API}/invoke", json={"key": "fixed"})
    assert response.json()["choices"][0]["message"]["content"].startswith("You can")


def test_an_unknown_key_is_a_404_naming_it(http: httpx.Client) -> None:
    for endpoint in ("get_config", "invoke", "stream"):
        error = orq_error(post(http, endpoint, key="nope"), 404, "deployment_not_found")
        assert error["message"].startswith("Deployment with key 'nope' was not found. Known keys: ")
    orq_error(http.get(f"{API}/nope/versions"), 404, "deployment_not_found")
    orq_error(http.delete(f"{API}/invalidate/nope"), 404, "deployment_not_found")


@pytest.mark.parametrize(
    ("content", "field", "detail"),
    [
        (b"{not json", "body", "The request body is not valid JSON"),
        (b"[1, 2]", "body", "The request body must be a JSON object."),
        (b'{"key": NaN}', "body", "NaN is not a JSON number"),
        (b'{"inputs": {}}', "key", "Invalid request body: key: Field required."),
        (
            b'{"key": "ask", "inputs": "x"}',
            "inputs",
            "Invalid request body: inputs: Input should be",
        ),
        (
            b'{"key": "ask", "messages": [{"role": "user"}]}',
            "messages[0].content",
            "Field required",
        ),
        (
            b'{"key": "ask", "messages": [{"role": "robot", "content": "x"}]}',
            "messages[0]",
            "robot",
        ),
        (
            b'{"key": "fixed", "extra_params": {"temperature": "hot"}}',
            "extra_params.temperature",
            "expected a number",
        ),
    ],
)
def test_malformed_bodies_are_400_invalid_request_body_naming_the_field(
    http: httpx.Client, content: bytes, field: str, detail: str
) -> None:
    # orq.ai answers 400 `invalid_request_body` (a client sees BadRequestError, not 422).
    error = orq_error(http.post(f"{API}/invoke", content=content), 400, "invalid_request_body")
    assert detail in error["message"]
    assert error.get("details", {}).get("field", "body") == field
    if field != "body":
        assert field in error["message"]


def test_an_over_large_body_is_a_413(serve_deployments: Callable[..., LocalServer]) -> None:
    server = serve_deployments(
        "deployments: [{key: a, prompt_config: {model: m}}]", max_body_bytes=1000
    )
    with httpx.Client(base_url=server.base_url) as client:
        big = {"key": "a", "inputs": {"x": "y" * 2000}}
        response = client.post(f"{API}/invoke", json=big)
        assert response.status_code == 413
        assert response.json()["message"].endswith("this server accepts at most 1000.")
        assert client.post(f"{API}/invoke", json={"key": "a"}).status_code == 200


def test_unknown_routes_and_methods_answer_json(http: httpx.Client) -> None:
    missing = http.get("/v3/things")
    assert missing.status_code == 404 and "message" in missing.json()
    wrong = http.get(f"{API}/invoke")
    assert wrong.status_code == 405 and "message" in wrong.json()
    assert wrong.headers["allow"] == "POST"


def test_with_a_key_every_request_needs_it(serve_deployments: Callable[..., LocalServer]) -> None:
    server = serve_deployments(
        "deployments: [{key: a, prompt_config: {model: m}}]", api_key="s3cret-key"
    )
    assert "s3cret" not in repr(server)
    with httpx.Client(base_url=server.base_url) as client:
        for headers, code in (
            ({}, "authentication_required"),
            ({"Authorization": "s3cret-key"}, "authentication_required"),  # no scheme
            ({"Authorization": "Bearer wrong"}, "invalid_api_key"),
        ):
            for response in (
                client.get(API, headers=headers),
                client.post(f"{API}/invoke", json={"key": "a"}, headers=headers),
            ):
                orq_error(response, 401, code)
                assert "s3cret" not in response.text
        good = {"Authorization": "Bearer s3cret-key"}
        assert client.get(API, headers=good).status_code == 200
        assert client.get(API, headers={"Authorization": "bearer s3cret-key"}).status_code == 200


def test_editing_the_file_takes_effect_without_restart(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    text = "deployments: [{key: a, prompt_config: {model: m}, responder: {mock: one}}]"
    server = serve_deployments(text)
    assert server.store is not None and server.store.path is not None
    with httpx.Client(base_url=server.base_url) as client:
        assert answer(client, "a") == "one"
        server.store.path.write_text(text.replace("one", "two and more"), encoding="utf-8")
        assert answer(client, "a") == "two and more"
        assert client.get(API).json()["data"][0]["version"] == "v2"
        server.store.path.write_text("deployments: [{key: a}]", encoding="utf-8")
        broken = orq_error(client.get(API), 500, "internal_error")
        assert "missing the required field `prompt_config`" in broken["message"]
        orq_error(post(client, "invoke", key="a"), 500, "internal_error")


# -- tolerance, images, names and text the server cannot use ----------------------------------


def _with_unknown_keys() -> dict[str, Any]:
    """A body with a key orq.ai has not defined (yet) at every depth the SDK writes to."""
    novel = {"added_in_a_later_sdk": {"nested": [1, 2]}}
    return {
        "key": "support-answer",
        "inputs": {"company": "Initech"},
        "identity": {"id": "contact_1", "display_name": "Ada", **novel},
        "thread": {"id": "t-1", "tags": ["a"], **novel},
        "invoke_options": {"include_usage": True, **novel},
        "documents": [{"text": "Returns: 30 days.", "metadata": {"page_number": 1.0, **novel}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look", **novel},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png", **novel}},
                    {"type": "file", "file": {"file_id": "file-1", "filename": "a.pdf", **novel}},
                ],
                **novel,
            },
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "thinking",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "look", "arguments": "{}", **novel},
                        "extra_content": {"google": {"thought_signature": "x"}},
                        **novel,
                    }
                ],
                **novel,
            },
            {"role": "tool", "content": "seen", "tool_call_id": "call_1", **novel},
        ],
        **novel,
    }


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "added_in_a_later_sdk"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_unknown_keys_are_ignored_at_every_depth(http: httpx.Client) -> None:
    body = _with_unknown_keys()
    for endpoint in ("get_config", "invoke", "stream"):
        response = post(http, endpoint, **body)
        assert response.status_code == 200, (endpoint, response.text)
    with_extras = post(http, "invoke", **body).json()["choices"][0]["message"]["content"]
    without = post(http, "invoke", **_strip(body)).json()["choices"][0]["message"]["content"]
    assert with_extras == without
    assert "user: Look [image: https://x/a.png] [file: a.pdf]" in with_extras


IMAGES = """\
deployments:
  - key: draw
    variables: {subject: a lighthouse}
    prompt_config:
      model: dall-e-3
      model_type: image
      model_parameters: {dimensions: 256x256}
      messages: [{role: user, content: "Draw {{subject}}"}]
  - key: fixed-picture
    prompt_config: {model: dall-e-3, model_type: image}
    responder: {mock: "https://cdn.example.com/lighthouse.png"}
  - key: embed
    prompt_config: {model: text-embedding-3-small, model_type: embedding}
"""


def test_an_image_deployment_answers_with_an_image_message(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    server = serve_deployments(IMAGES)
    with httpx.Client(base_url=server.base_url) as client:
        body = post(client, "invoke", key="draw").json()
        assert body["object"] == "image"
        (choice,) = body["choices"]
        message = choice["message"]
        assert set(message) == {"type", "role", "url"}
        assert (message["type"], message["role"]) == ("image", "assistant")
        assert message["url"].startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(message["url"].split(",", 1)[1]).decode()
        assert "user: Draw a lighthouse" in svg and 'width="256"' in svg
        again = post(client, "invoke", key="draw").json()["choices"][0]["message"]["url"]
        assert again == message["url"], "the same request draws the same picture"
        other = post(client, "invoke", key="draw", inputs={"subject": "a cat"}).json()
        assert other["choices"][0]["message"]["url"] != message["url"]
        fixed = post(client, "invoke", key="fixed-picture").json()["choices"][0]["message"]
        assert fixed["url"] == "https://cdn.example.com/lighthouse.png"
        mocked = post(
            client, "invoke", key="draw", invoke_options={"mock_response": "https://x/y.png"}
        ).json()
        assert mocked["choices"][0]["message"]["url"] == "https://x/y.png"
        assert post(client, "get_config", key="draw").json()["type"] == "image"


@pytest.mark.parametrize("key", ["draw", "embed"])
@pytest.mark.parametrize("endpoint", ["stream", "invoke"])
def test_only_chat_and_completion_deployments_stream(
    serve_deployments: Callable[..., LocalServer], key: str, endpoint: str
) -> None:
    # orq.ai: "Stream deployment generation. Only supported for completions and chat
    # completions." Its answer otherwise is undocumented; ours is a 400 that says so.
    server = serve_deployments(IMAGES)
    with httpx.Client(base_url=server.base_url) as client:
        response = post(client, endpoint, key=key, stream=True)
        error = orq_error(response, 400, "invalid_request_body")
        assert "streaming serves only chat and completion deployments" in error["message"]
        assert error["details"] == {"field": "key"}


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_keys_are_400(http: httpx.Client, name: str) -> None:
    error = orq_error(post(http, "invoke", key=name), 400, "invalid_request_body")
    assert error["details"] == {"field": "key"}
    assert "cannot be a deployment key" in error["message"]


@pytest.mark.parametrize("name", ["a/b", "../fixed", "a?b", "fixed\x00", " ", ""])
def test_other_odd_keys_in_a_body_are_not_found_as_on_orq(http: httpx.Client, name: str) -> None:
    orq_error(post(http, "invoke", key=name), 404, "deployment_not_found")


@pytest.mark.parametrize("raw", ["..", ".", "%2E%2E", "%2e", "a%2Fb", "a%00b", "a%3Fb"])
def test_ids_in_paths_that_would_change_the_path_are_400(
    local_server: LocalServer, raw: str
) -> None:
    # Sent byte for byte: an HTTP client would normalise `..` away before it left.
    for target in (f"GET {API}/{raw}/versions", f"DELETE {API}/invalidate/{raw}"):
        request = f"{target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        status, body = raw_request(local_server.port, request)
        assert status == 400, (target, body)
        error = json.loads(body)["error"]
        assert error["code"] == "invalid_request_body" and "keys and ids are" in error["message"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"key": "fixed", "inputs": {"x": "\\udc80"}}',
        b'{"key": "\\ud800"}',
        b'{"key": "fixed", "messages": [{"role": "user", "content": "a\\udfffb"}]}',
        b'{"key": "fixed", "inputs": {"\\udc80": 1}}',
    ],
)
def test_lone_surrogates_are_a_400_not_a_crash(http: httpx.Client, content: bytes) -> None:
    error = orq_error(http.post(f"{API}/invoke", content=content), 400, "invalid_request_body")
    assert "lone surrogate" in error["message"]
    assert post(http, "invoke", key="fixed").status_code == 200


def test_unknown_routes_and_methods_have_the_envelope(http: httpx.Client) -> None:
    orq_error(http.get("/v3/things"), 404, "not_found")
    orq_error(http.get(f"{API}/invoke"), 405, "method_not_allowed")
