"""The wire models against golden payloads written from the API reference.

Every payload in tests/fixtures/ was written by hand from reference/orq-deployments-api.md (see
tests/fixtures/README.md), never generated from our models. Each is checked twice: our models
must read it field by field, and the official `orq-ai-sdk` models must accept it too, so a field
that is wrong in both our client and our server cannot pass unnoticed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from orq_ai_sdk import models as sdk
from orq_ai_sdk.utils import eventstreaming
from orq_ai_sdk.utils.serializers import marshal_json, unmarshal_json
from pydantic import BaseModel, ValidationError

from orq_notebook.client._models import (
    AssistantMessage,
    DeploymentConfig,
    DeploymentList,
    DeveloperMessage,
    FilePart,
    ImageURLPart,
    InputAudioPart,
    Invocation,
    InvocationChunk,
    InvokeRequest,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

FIXTURES = Path(__file__).parent / "fixtures"


def raw(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def load(name: str) -> Any:
    return json.loads(raw(name))


def sdk_parse(text: str, model: Any) -> Any:
    """Parse a body exactly as the SDK parses response bodies (`unmarshal_json_response`)."""
    return unmarshal_json(text, model)


# ---------------------------------------------------------------------------------------------
# Responses, field by field


def test_list_deployments_reads_every_field() -> None:
    page = DeploymentList.model_validate(load("list_deployments.json"))

    assert page.object == "list"
    assert page.has_more is False
    assert len(page.data) == 1
    dep = page.data[0]
    assert dep.id == "3f0c1a52-6d0e-4c55-9a7e-2b8f4d1e9c10"
    assert dep.created == "2025-05-02T09:14:11.512Z"
    assert dep.updated == "2025-06-18T16:40:03.077Z"
    assert dep.key == "customer-support"
    assert dep.description == "Answers support questions"
    assert dep.version == "v3"

    config = dep.prompt_config
    assert config.model == "gpt-4o-mini"
    assert config.model_type == "chat"
    assert config.provider == "openai"
    # Model parameters keep their camelCase wire names: nothing is renamed or dropped.
    assert config.model_parameters == {
        "temperature": 0.7,
        "maxTokens": 1024,
        "topP": 1,
        "frequencyPenalty": 0,
        "presencePenalty": 0,
        "responseFormat": {"type": "text"},
        "reasoningEffort": "low",
    }

    (tool,) = config.tools
    assert tool.type == "function"
    assert tool.display_name == "Weather"
    assert tool.id == 1
    assert tool.function.name == "get_weather"
    assert tool.function.description == "Current weather for a city"
    assert tool.function.strict is False
    assert tool.function.parameters == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }

    system, user = config.messages
    assert system.role == "system"
    assert system.content == "You are a helpful support agent for {{company}}."
    assert user.role == "user"
    assert user.content == [
        {"type": "text", "text": "{{question}}"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "auto"}},
    ]


def test_get_config_reads_every_field_and_keeps_camel_case_parameters() -> None:
    body = load("get_config.json")
    config = DeploymentConfig.model_validate(body)

    assert config.id == "01JXQ8ZK4T7M2N3P5R6S8V9W0X"
    assert config.provider == "openai"
    assert config.model == "gpt-4o-mini"
    assert config.type == "chat"
    assert config.version == "v3"
    assert [(m.role, m.content) for m in config.messages] == [
        ("system", "You are a helpful support agent for Acme."),
        ("user", "What is your refund policy?"),
    ]
    assert config.parameters == body["parameters"]
    assert config.parameters["maxTokens"] == 1024
    assert config.parameters["topK"] == 40
    assert config.parameters["budgetTokens"] == 2048
    assert config.parameters["cacheControl"] == {"type": "ephemeral", "ttl": "5m"}
    response_format = config.parameters["responseFormat"]
    assert response_format["type"] == "json_schema"
    assert response_format["display_name"] == "Answer"
    assert response_format["json_schema"]["name"] == "answer"
    assert response_format["json_schema"]["description"] is None
    assert response_format["json_schema"]["strict"] is True
    assert not {"max_tokens", "response_format", "top_k"} & set(config.parameters)

    assert config.tools is not None
    (tool,) = config.tools
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "get_weather"
    assert tool["function"]["parameters"]["required"] == ["city"]


def test_get_config_smallest_accepted_body() -> None:
    config = DeploymentConfig.model_validate(load("get_config_minimal.json"))

    assert (config.id, config.provider, config.model, config.version) == ("x", "p", "m", "v")
    assert config.messages == []
    assert config.parameters == {}
    assert config.type is None
    assert config.tools is None


def test_invoke_text_with_retrievals_and_usage() -> None:
    inv = Invocation.model_validate(load("invoke_text.json"))

    assert inv.text == "You can return items within 30 days."
    assert inv.finish_reason == "stop"
    assert inv.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inv.telemetry.span_id == "00f067aa0ba902b7"
    assert inv.id == "01JXQ8ZK4T7M2N3P5R6S8V9W0X"
    assert inv.created == "2025-06-18T16:41:00.000Z"
    assert inv.object == "chat"
    assert inv.model == "gpt-4o-mini"
    assert inv.provider == "openai"
    assert inv.is_final is True
    assert inv.integration_id == "01JXQ90A1B2C3D4E5F6G7H8J9K"
    assert inv.finalized == "2025-06-18T16:41:01.250Z"
    assert inv.system_fingerprint == "fp_44709d6fcb"
    assert inv.provider_response == {"id": "chatcmpl-abc", "object": "chat.completion"}

    (choice,) = inv.choices
    assert choice.index == 0
    assert choice.message.type == "content"
    assert choice.message.role == "assistant"

    assert inv.usage is not None
    assert inv.usage.total_tokens == 57
    assert inv.usage.prompt_tokens == 45
    assert inv.usage.completion_tokens == 12
    assert inv.usage.prompt_tokens_details == {"cached_tokens": 0}
    assert inv.usage.completion_tokens_details == {"reasoning_tokens": 0}

    assert inv.retrievals is not None
    (retrieval,) = inv.retrievals
    assert retrieval.document == "Items can be returned within 30 days."
    assert retrieval.metadata.file_name == "refund_policy.pdf"
    assert retrieval.metadata.page_number == 1
    assert retrieval.metadata.file_type == "application/pdf"
    assert retrieval.metadata.search_score == 0.82
    assert retrieval.metadata.rerank_score == 0.91


def test_invoke_tool_call() -> None:
    inv = Invocation.model_validate(load("invoke_tool_call.json"))

    assert inv.text == ""
    assert inv.finish_reason == "tool_calls"
    assert inv.usage is None
    assert inv.retrievals is None
    message = inv.choices[0].message
    assert message.type == "tool_calls"
    assert message.role == "assistant"
    assert message.content is None
    assert message.tool_calls is not None
    (call,) = message.tool_calls
    assert call.id == "call_1"
    assert call.index == 0
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Amsterdam"}'
    assert json.loads(call.function.arguments) == {"city": "Amsterdam"}


def test_invoke_image() -> None:
    inv = Invocation.model_validate(load("invoke_image.json"))

    assert inv.object == "image"
    assert inv.text == ""
    assert inv.finish_reason == "stop"
    message = inv.choices[0].message
    assert message.type == "image"
    assert message.role == "assistant"
    assert message.url == "https://cdn.example.com/generated.png"


def test_invoke_smallest_accepted_body() -> None:
    inv = Invocation.model_validate(load("invoke_minimal.json"))

    assert inv.choices == []
    assert inv.text == ""
    assert inv.finish_reason is None
    assert inv.trace_id == "t"
    assert inv.telemetry.span_id == "s"
    assert inv.is_final is True
    assert inv.usage is None
    assert inv.retrievals is None
    assert inv.integration_id is None


RESPONSES: list[tuple[str, type[BaseModel]]] = [
    ("list_deployments.json", DeploymentList),
    ("get_config.json", DeploymentConfig),
    ("get_config_minimal.json", DeploymentConfig),
    ("invoke_text.json", Invocation),
    ("invoke_tool_call.json", Invocation),
    ("invoke_image.json", Invocation),
    ("invoke_minimal.json", Invocation),
]


@pytest.mark.parametrize(("name", "model"), RESPONSES, ids=[n for n, _ in RESPONSES])
def test_response_round_trips_without_losing_anything(name: str, model: type[BaseModel]) -> None:
    body = load(name)
    parsed = model.model_validate(body)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


@pytest.mark.parametrize(("name", "model"), RESPONSES, ids=[n for n, _ in RESPONSES])
def test_unknown_top_level_response_fields_are_kept(name: str, model: type[BaseModel]) -> None:
    body = load(name)
    body["added_later"] = {"nested": [1, 2]}
    parsed = model.model_validate(body)
    assert parsed.model_extra == {"added_later": {"nested": [1, 2]}}
    assert parsed.model_dump(mode="json")["added_later"] == {"nested": [1, 2]}


def test_unknown_nested_response_fields_are_kept() -> None:
    body = load("invoke_text.json")
    # The docs page's usage sample uses input_tokens/output_tokens; a server may send both sets.
    body["usage"].update({"input_tokens": 45, "output_tokens": 12})
    body["telemetry"]["sampled"] = True
    body["choices"][0]["message"]["annotations"] = []
    body["retrievals"][0]["metadata"]["chunk_id"] = "c1"
    inv = Invocation.model_validate(body)

    assert inv.usage is not None
    assert inv.usage.model_extra == {"input_tokens": 45, "output_tokens": 12}
    assert inv.telemetry.model_extra == {"sampled": True}
    assert inv.choices[0].message.model_extra == {"annotations": []}
    assert inv.retrievals is not None
    assert inv.retrievals[0].metadata.model_extra == {"chunk_id": "c1"}
    assert inv.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


def test_unknown_deployment_fields_are_kept() -> None:
    body = load("list_deployments.json")
    body["data"][0]["status"] = "active"
    body["data"][0]["prompt_config"]["integration_id"] = None
    page = DeploymentList.model_validate(body)
    assert page.data[0].model_extra == {"status": "active"}
    assert page.data[0].prompt_config.model_extra == {"integration_id": None}


# ---------------------------------------------------------------------------------------------
# The official SDK accepts the same payloads (so the fixtures themselves are right)

SDK_RESPONSES: list[tuple[str, Any]] = [
    ("list_deployments.json", sdk.DeploymentsResponseBody),
    ("get_config.json", sdk.DeploymentGetConfigResponseBody),
    ("get_config_minimal.json", sdk.DeploymentGetConfigResponseBody),
    ("invoke_text.json", sdk.DeploymentInvokeResponseBody),
    ("invoke_tool_call.json", sdk.DeploymentInvokeResponseBody),
    ("invoke_image.json", sdk.DeploymentInvokeResponseBody),
    ("invoke_minimal.json", sdk.DeploymentInvokeResponseBody),
    ("list_versions.json", sdk.ListDeploymentVersionsResponseBody),
    ("error_401.json", sdk.ErrorResponseData),
    ("error_401_combined.json", sdk.ErrorResponseData),
    ("error_list_500.json", sdk.HonoAPIErrorData),
    ("invoke_request_full.json", sdk.InvokeDeploymentRequest),
]


@pytest.mark.parametrize(("name", "model"), SDK_RESPONSES, ids=[n for n, _ in SDK_RESPONSES])
def test_sdk_accepts_fixture(name: str, model: Any) -> None:
    parsed = sdk_parse(raw(name), model)
    assert isinstance(parsed, model)


def test_sdk_check_has_teeth() -> None:
    # The reference verified that the SDK rejects an invoke body without telemetry (§6.1) and one
    # with an unknown provider (§4.4); if these parsed, the acceptance test would prove nothing.
    body = load("invoke_minimal.json")
    del body["telemetry"]
    with pytest.raises(ValidationError):
        sdk_parse(json.dumps(body), sdk.DeploymentInvokeResponseBody)
    body = load("invoke_minimal.json")
    body["provider"] = "no-such-provider"
    with pytest.raises(ValidationError):
        sdk_parse(json.dumps(body), sdk.DeploymentInvokeResponseBody)


def test_sdk_reads_the_values_we_read() -> None:
    page = sdk_parse(raw("list_deployments.json"), sdk.DeploymentsResponseBody)
    params = page.data[0].prompt_config.model_parameters
    assert params.max_tokens == 1024  # the SDK's Python name for the wire name maxTokens
    assert params.reasoning_effort == "low"

    config = sdk_parse(raw("get_config.json"), sdk.DeploymentGetConfigResponseBody)
    assert config.parameters.max_tokens == 1024
    assert config.parameters.budget_tokens == 2048

    inv = sdk_parse(raw("invoke_text.json"), sdk.DeploymentInvokeResponseBody)
    assert inv.choices[0].message.content == "You can return items within 30 days."
    assert inv.usage.total_tokens == 57
    assert inv.retrievals[0].metadata.rerank_score == 0.91

    call = sdk_parse(raw("invoke_tool_call.json"), sdk.DeploymentInvokeResponseBody)
    assert call.choices[0].message.tool_calls[0].function.name == "get_weather"

    image = sdk_parse(raw("invoke_image.json"), sdk.DeploymentInvokeResponseBody)
    assert image.choices[0].message.url == "https://cdn.example.com/generated.png"


def test_list_versions_fixture() -> None:
    body = load("list_versions.json")
    versions = sdk_parse(raw("list_versions.json"), sdk.ListDeploymentVersionsResponseBody)

    assert versions.has_more is True
    assert [v.id for v in versions.data] == [v["_id"] for v in body["data"]]
    assert [v.status for v in versions.data] == ["live", "draft"]
    assert versions.data[0].user_id is None
    assert versions.data[0].prompt_config.model_parameters.max_tokens == 1024
    # Newest first, as the reference says the list is.
    assert body["data"][0]["timestamp"] > body["data"][1]["timestamp"]


def test_error_bodies_have_the_documented_shapes() -> None:
    e401 = sdk_parse(raw("error_401.json"), sdk.ErrorResponseData)
    assert e401.message == "Invalid API key provided."
    assert e401.code == 16

    combined = load("error_401_combined.json")
    assert sdk_parse(raw("error_401_combined.json"), sdk.ErrorResponseData).code == 16
    assert combined["error"]["code"] == "invalid_api_key"

    e500 = sdk_parse(raw("error_list_500.json"), sdk.HonoAPIErrorData)
    assert e500.message == "Internal Server Error"
    assert e500.code == "500"
    # HonoAPIError's code is a string; an integer code does not fit it (pydantic does not coerce).
    with pytest.raises(ValidationError):
        sdk_parse(raw("error_401.json"), sdk.HonoAPIErrorData)

    # The newer docs shape has no top-level message: the SDK's ErrorResponse rejects it (§1.5).
    new = load("error_new_shape.json")
    assert set(new) == {"error"}
    assert set(new["error"]) == {"code", "message", "doc_url"}
    with pytest.raises(ValidationError):
        sdk_parse(raw("error_new_shape.json"), sdk.ErrorResponseData)

    old = load("error_old_shape.json")
    assert set(old) == {"id", "code", "error", "source"}
    assert old["code"] == 404
    assert isinstance(old["error"], str)
    assert old["source"] == "system"


# ---------------------------------------------------------------------------------------------
# Requests


def test_full_request_fixture_is_what_the_sdk_sends() -> None:
    body = load("invoke_request_full.json")
    request = sdk.InvokeDeploymentRequest.model_validate(body)
    assert json.loads(marshal_json(request, sdk.InvokeDeploymentRequest)) == body


def test_full_request_validates_into_our_model() -> None:
    request = InvokeRequest.model_validate(load("invoke_request_full.json"))

    assert request.key == "customer-support"
    assert request.inputs == {
        "name": "Ada",
        "n": 3,
        "flag": True,
        "obj": {"a": [1, 2]},
        "none": None,
    }
    assert request.context == {"environments": ["production"], "locale": "nl"}
    assert request.prefix_messages is not None
    assert isinstance(request.prefix_messages[0], SystemMessage)
    assert request.messages is not None
    developer, user, assistant, tool = request.messages
    assert isinstance(developer, DeveloperMessage)
    assert isinstance(user, UserMessage)
    assert isinstance(user.content, list)
    assert [type(p) for p in user.content] == [TextPart, ImageURLPart, InputAudioPart, FilePart]
    assert isinstance(assistant, AssistantMessage)
    assert assistant.tool_calls is not None
    assert assistant.tool_calls[0].function.name == "get_weather"
    assert isinstance(tool, ToolMessage)
    assert tool.tool_call_id == "call_1"
    assert request.identity is not None
    assert request.identity.metadata == [{"team": "x"}]
    assert request.documents is not None
    assert request.documents[0].metadata is not None
    assert request.documents[0].metadata.page_number == 1.0
    assert request.invoke_options is not None
    assert request.invoke_options.mock_response == "Hello from mock"
    assert request.thread is not None
    assert request.thread.tags == ["t"]


def test_full_request_to_wire_equals_the_fixture() -> None:
    body = load("invoke_request_full.json")
    wire = InvokeRequest.model_validate(body).to_wire()
    wire.pop("stream", None)
    body.pop("stream", None)
    assert wire == body


def test_to_wire_leaves_out_unset_fields() -> None:
    assert InvokeRequest(key="k").to_wire() == {"key": "k"}
    assert InvokeRequest(key="k", inputs={"a": None}).to_wire() == {
        "key": "k",
        "inputs": {"a": None},
    }


def test_file_part_keeps_the_camel_case_mime_type() -> None:
    part = {"type": "file", "file": {"uri": "gs://bucket/a.pdf", "mimeType": "application/pdf"}}
    request = InvokeRequest.model_validate(
        {"key": "k", "messages": [{"role": "user", "content": [part]}]}
    )
    assert request.to_wire()["messages"][0]["content"] == [part]


def test_tool_message_with_null_id_keeps_the_key_on_the_wire() -> None:
    message = {"role": "tool", "content": "42", "tool_call_id": None}
    request = InvokeRequest.model_validate(
        {"key": "k", "messages": [message], "prefix_messages": [message]}
    )
    wire = request.to_wire()
    assert wire["messages"] == [message]
    assert wire["prefix_messages"] == [message]

    built = InvokeRequest(key="k", messages=[ToolMessage(content="42", tool_call_id=None)])
    assert built.to_wire()["messages"] == [message]


@pytest.mark.parametrize(
    "body",
    [
        {"key": "k", "bogus": 1},
        {"key": "k", "input": {"a": 1}},
        {"key": "k", "messages": [{"role": "user", "content": "x", "extra": 1}]},
        {"key": "k", "invoke_options": {"include_usage": True, "typo": True}},
        {"key": "k", "thread": {"id": "t", "tag": ["x"]}},
        {"key": "k", "identity": {"id": "i", "name": "Ada"}},
        {"key": "k", "messages": [{"role": "user", "content": [{"type": "text", "txt": "x"}]}]},
    ],
    ids=[
        "top-level",
        "input-typo",
        "message",
        "invoke_options",
        "thread",
        "identity",
        "content-part",
    ],
)
def test_request_rejects_unknown_fields(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        InvokeRequest.model_validate(body)


@pytest.mark.parametrize(
    "message",
    [
        {"role": "bogus", "content": "x"},
        {"role": "user"},
        {"content": "no role"},
        {"role": "system"},
        {"role": "tool", "content": "x"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}],
        },
        {
            "role": "user",
            "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}],
        },
        {"role": "user", "content": [{"type": "video", "video": "x"}]},
    ],
    ids=[
        "bogus-role",
        "user-without-content",
        "no-role",
        "system-without-content",
        "tool-without-tool_call_id-key",
        "bad-image-detail",
        "bad-audio-format",
        "unknown-part-type",
    ],
)
def test_request_rejects_bad_messages(message: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        InvokeRequest.model_validate({"key": "k", "messages": [message]})
    # The official SDK rejects the same messages before sending (reference §7.1); without a
    # role it raises a plain ValueError (ValidationError's base) from its discriminator.
    with pytest.raises(ValueError):
        sdk.InvokeDeploymentRequest.model_validate({"key": "k", "messages": [message]})


# Which content parts each role may carry (reference §7.1, §7.2): the SDK enforces it before
# sending, and so must we, or the server answers a 4xx for what we let through.
PART_CASES: dict[str, dict[str, Any]] = {
    "user-text": {"role": "user", "content": [{"type": "text", "text": "t"}]},
    "user-refusal": {"role": "user", "content": [{"type": "refusal", "refusal": "no"}]},
    "user-reasoning": {
        "role": "user",
        "content": [{"type": "reasoning", "reasoning": "r", "signature": "s"}],
    },
    "assistant-reasoning": {
        "role": "assistant",
        "content": [{"type": "reasoning", "reasoning": "r", "signature": "s"}],
    },
    "assistant-image": {
        "role": "assistant",
        "content": [{"type": "image_url", "image_url": {"url": "https://e.com/a.png"}}],
    },
    "system-image": {
        "role": "system",
        "content": [{"type": "image_url", "image_url": {"url": "https://e.com/a.png"}}],
    },
    "text-cache-control-ok": {
        "role": "user",
        "content": [
            {"type": "text", "text": "t", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ],
    },
    "text-cache-control-bad": {
        "role": "user",
        "content": [{"type": "text", "text": "t", "cache_control": {"type": "bogus"}}],
    },
}


def _accepts(model: Any, message: dict[str, Any]) -> bool:
    try:
        model.model_validate({"key": "k", "messages": [message]})
    except ValueError:  # pydantic's ValidationError, or the SDK's discriminator ValueError
        return False
    return True


@pytest.mark.parametrize("case", list(PART_CASES))
def test_request_accepts_exactly_the_parts_the_sdk_accepts(case: str) -> None:
    message = PART_CASES[case]
    assert _accepts(InvokeRequest, message) == _accepts(sdk.InvokeDeploymentRequest, message)


# ---------------------------------------------------------------------------------------------
# Streaming transcript


def _split_sse_by_hand(data: bytes) -> list[str]:
    """The `data:` payloads of a data-only SSE body, up to `[DONE]` (not our decoder)."""
    payloads = []
    for event in data.decode("utf-8").split("\n\n"):
        if not event:
            continue
        assert event.startswith("data: "), event
        assert "\n" not in event, "one data line per event"
        payload = event[len("data: ") :]
        if payload == "[DONE]":
            break
        payloads.append(payload)
    return payloads


def test_stream_transcript_is_framed_as_the_reference_says() -> None:
    data = (FIXTURES / "stream_basic.sse").read_bytes()
    assert data.endswith(b"\n\ndata: [DONE]\n\n")
    assert b"\r" not in data
    assert data.count(b"\n\n") == 4


def test_stream_transcript_parses_into_chunks() -> None:
    payloads = _split_sse_by_hand((FIXTURES / "stream_basic.sse").read_bytes())
    chunks = [InvocationChunk.model_validate_json(p) for p in payloads]

    assert len(chunks) == 3
    assert "".join(c.content for c in chunks) == "You can return items within 30 days."
    assert [c.is_final for c in chunks] == [False, False, True]
    assert [c.finish_reason for c in chunks] == [None, None, "stop"]
    assert {c.id for c in chunks} == {"01JXQ8ZK4T7M2N3P5R6S8V9W0X"}
    assert {c.trace_id for c in chunks} == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    assert [c.usage is None for c in chunks] == [True, True, False]
    assert [c.retrievals is None for c in chunks] == [True, True, False]

    final = chunks[-1]
    assert final.finalized == "2025-06-18T16:41:01.250Z"
    assert final.system_fingerprint is None
    assert final.provider_response is None
    assert final.usage is not None
    assert (final.usage.total_tokens, final.usage.prompt_tokens) == (57, 45)
    assert final.usage.completion_tokens == 12
    assert final.retrievals is not None
    assert final.retrievals[0].metadata.file_name == "refund_policy.pdf"
    assert final.retrievals[0].metadata.rerank_score is None


def test_stream_transcript_parses_with_the_sdk_event_stream() -> None:
    data = (FIXTURES / "stream_basic.sse").read_bytes()
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=data)
    events = list(
        eventstreaming.EventStream(
            response,
            lambda text: sdk_parse(text, sdk.DeploymentStreamResponseBody),
            sentinel="[DONE]",
            data_required=False,
        )
    )
    assert len(events) == 3
    assert "".join(e.data.choices[0].message.content for e in events) == (
        "You can return items within 30 days."
    )
    assert events[-1].data.is_final is True
