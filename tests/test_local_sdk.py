"""The official `orq-ai-sdk` as an independent client: every answer of the local server must
validate in its strict models (closed enums, required fields, ISO dates), and its errors must
map to the SDK's error classes (reference §1.5)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from orq_ai_sdk import Orq, models

from orq_notebook.local import LocalServer

# Inputs that fill every variable of every deployment in fixtures/deployments.yaml.
INPUTS = {"name": "Ada", "question": "Why?"}


@pytest.fixture
def orq(local_server: LocalServer) -> Iterator[Orq]:
    with Orq(api_key="any-key", server_url=local_server.base_url) as client:
        yield client


def keys(orq: Orq) -> list[str]:
    return [d.key for d in orq.deployments.list().data if d.key not in ("flaky", "dropper")]


def test_list_validates(orq: Orq) -> None:
    page = orq.deployments.list()
    assert [d.key for d in page.data][:2] == ["support-answer", "ask"]
    assert page.has_more is False
    fixed = next(d for d in page.data if d.key == "fixed")
    assert fixed.prompt_config.tools[0].function.name == "get_weather"
    assert fixed.prompt_config.provider == "openai"


def test_get_config_validates_for_every_deployment(orq: Orq) -> None:
    for key in keys(orq):
        config = orq.deployments.get_config(key=key, inputs=INPUTS)
        assert config is not None and config.version == "v1", key
    messages: Any = [{"role": "user", "content": "Hi"}]
    config = orq.deployments.get_config(
        key="support-answer",
        context={"environments": "production"},
        messages=messages,
        extra_params={"temperature": 0.1},
    )
    assert config is not None
    assert (config.model, config.type) == ("gpt-4o", "chat")
    assert config.parameters.temperature == 0.1 and config.parameters.max_tokens == 256


def test_invoke_validates_for_every_deployment(orq: Orq) -> None:
    options: Any = {"include_usage": True, "include_retrievals": True}
    documents: Any = [{"text": "Items can be returned.", "metadata": {"page_number": 1}}]
    for key in keys(orq):
        result = orq.deployments.invoke(
            key=key, inputs=INPUTS, invoke_options=options, documents=documents
        )
        assert result is not None and result.is_final, key
        assert result.usage is not None and result.retrievals is not None
    result = orq.deployments.invoke(key="fixed")
    assert result is not None
    message = result.choices[0].message
    assert (message.type, getattr(message, "content", None)) == (
        "content",
        "You can return items within 30 days.",
    )


def test_stream_validates_and_joins_to_the_text(orq: Orq) -> None:
    for key in keys(orq):
        if key == "counter":
            continue  # slow on purpose
        with orq.deployments.stream(key=key, inputs=INPUTS) as events:
            chunks = [event.data for event in events if event.data is not None]
        assert chunks[-1].is_final and not any(c.is_final for c in chunks[:-1]), key
    with orq.deployments.stream(key="fixed") as events:
        text = "".join(e.data.choices[0].message.content or "" for e in events if e.data)
    assert text == "You can return items within 30 days."


def test_async_stream_validates(local_server: LocalServer) -> None:
    async def run() -> str:
        async with Orq(api_key="k", server_url=local_server.base_url) as client:
            events = await client.deployments.stream_async(key="fixed")
            async with events:
                return "".join(
                    [e.data.choices[0].message.content or "" async for e in events if e.data]
                )

    assert asyncio.run(run()) == "You can return items within 30 days."


def test_list_versions_validates(orq: Orq) -> None:
    versions = orq.deployments.list_versions(key_or_id="fixed")
    (version,) = versions.data
    assert (version.version, version.status) == ("v1", "live")
    assert version.tools[0].function.name == "get_weather"


def test_a_wrong_key_is_an_error_response(serve_deployments: Callable[..., LocalServer]) -> None:
    server = serve_deployments(
        "deployments: [{key: a, prompt_config: {model: m}}]", api_key="right"
    )
    with Orq(api_key="wrong", server_url=server.base_url) as client:
        with pytest.raises(models.ErrorResponse, match="Invalid API key"):
            client.deployments.list()
        with pytest.raises(models.ErrorResponse, match="Invalid API key"):
            client.deployments.invoke(key="a")
        with (
            pytest.raises(models.ErrorResponse, match="Invalid API key"),
            client.deployments.stream(key="a") as events,
        ):
            list(events)
    with Orq(api_key="right", server_url=f"{server.base_url}/some/prefix") as client:
        assert [d.key for d in client.deployments.list().data] == ["a"]


def test_other_errors_map_to_the_sdk_classes(
    orq: Orq, serve_deployments: Callable[..., LocalServer]
) -> None:
    with pytest.raises(models.APIDefaultError) as missing:
        orq.deployments.invoke(key="nope")
    assert missing.value.status_code == 404
    body = json.loads(missing.value.body)
    assert body["error"]["code"] == "deployment_not_found"
    assert body["message"].startswith("Deployment with key 'nope' was not found.")
    with pytest.raises(models.APIDefaultError) as bad:
        orq.deployments.invoke(key="fixed", extra_params={"temperature": "hot"})
    assert bad.value.status_code == 400
    assert json.loads(bad.value.body)["error"]["code"] == "invalid_request_body"

    server = serve_deployments("deployments: [{key: a, prompt_config: {model: m}}]")
    assert server.store is not None and server.store.path is not None
    server.store.path.write_text("deployments: [", encoding="utf-8")
    with Orq(api_key="k", server_url=server.base_url) as client:
        with pytest.raises(models.HonoAPIError) as broken:
            client.deployments.list()
        assert "YAML syntax error" in broken.value.data.message
        with pytest.raises(models.APIDefaultError) as broken_invoke:
            client.deployments.invoke(key="a")
        assert broken_invoke.value.status_code == 500


STRICT_AND_ROUTED = """\
deployments:
  - key: strict
    strict_variables: true
    prompt_config: {model: m, messages: [{role: user, content: "{{x}}"}]}
  - key: routed
    variants:
      - when: {environments: production}
        prompt_config: {model: m}
  - key: down
    prompt_config: {model: m}
    faults: {status: 402}
"""


def test_every_4xx_and_5xx_is_an_sdk_error_with_orqs_body(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    server = serve_deployments(STRICT_AND_ROUTED)
    cases = [
        ("strict", {}, 422, "missing_variables"),
        ("routed", {"context": {"environments": "dev"}}, 422, "variant_not_resolved"),
        ("down", {}, 402, "quota_exceeded"),
    ]
    with Orq(api_key="k", server_url=server.base_url) as client:
        for key, extra, status, code in cases:
            operations = ["invoke", "stream"] + ([] if key == "down" else ["get_config"])
            for operation in operations:  # faults never apply to get_config (configuration)
                with pytest.raises(models.APIDefaultError) as info:
                    answer = getattr(client.deployments, operation)(key=key, **extra)
                    if operation == "stream":
                        list(answer)
                assert info.value.status_code == status, (key, operation)
                assert json.loads(info.value.body)["error"]["code"] == code


def test_answers_with_variables_missing_validate(orq: Orq) -> None:
    # orq.ai renders an open variable as empty text and answers 200: the SDK reads that.
    config = orq.deployments.get_config(key="ask")
    assert config is not None
    assert config.messages[0].content[0].text == "Question from : "  # type: ignore[index,union-attr]
    result = orq.deployments.invoke(key="ask", inputs={"name": "Ada"})
    assert result is not None
    assert getattr(result.choices[0].message, "content", None) == "user: Question from Ada: "
    with orq.deployments.stream(key="ask", inputs={"question": "Why?"}) as events:
        text = "".join(e.data.choices[0].message.content or "" for e in events if e.data)
    assert text == "user: Question from : Why?"


IMAGES = """\
deployments:
  - key: draw
    prompt_config:
      model: dall-e-3
      model_type: image
      messages: [{role: user, content: "Draw {{subject}}"}]
  - key: picture
    prompt_config: {model: dall-e-3, model_type: image}
    responder: {mock: "https://cdn.example.com/p.png"}
"""


def test_image_answers_validate(serve_deployments: Callable[..., LocalServer]) -> None:
    server = serve_deployments(IMAGES)
    with Orq(api_key="k", server_url=server.base_url) as client:
        drawn = client.deployments.invoke(key="draw", inputs={"subject": "a cat"})
        assert drawn is not None and drawn.object == "image"
        message = drawn.choices[0].message
        assert (message.type, message.role) == ("image", "assistant")
        assert getattr(message, "url", "").startswith("data:image/svg+xml;base64,")
        fixed = client.deployments.invoke(key="picture")
        assert fixed is not None
        assert getattr(fixed.choices[0].message, "url", None) == "https://cdn.example.com/p.png"
        config = client.deployments.get_config(key="draw")
        assert config is not None and config.type == "image"
        with pytest.raises(models.APIDefaultError) as refused:
            list(client.deployments.stream(key="draw"))
        assert refused.value.status_code == 400


def test_a_provider_newer_than_this_sdk_is_served_as_orq_would(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    # orq.ai's list of providers grows; SDK 4.17.13 pins a closed enum, so it refuses an
    # answer naming `munito` (added in 4.18) -- against orq.ai exactly as here.
    server = serve_deployments(
        "deployments: [{key: m, prompt_config: {provider: munito, model: x}}]"
    )
    with Orq(api_key="k", server_url=server.base_url) as client:
        config = client.deployments.get_config(key="m")  # a free string in get_config
        assert config is not None and config.provider == "munito"
        with pytest.raises(models.ResponseValidationError):
            client.deployments.invoke(key="m")


# -- golden payloads from the reference ----------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"


def _shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (values left out)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def test_every_error_of_the_local_server_is_the_reference_envelope(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    golden = json.loads((FIXTURES / "error_envelope.json").read_text(encoding="utf-8"))
    # The golden body itself parses as every typed error body of the SDK (additions §1.4).
    models.ErrorResponseData.model_validate(golden)
    models.HonoAPIErrorData.model_validate(golden)
    server = serve_deployments(
        "deployments: [{key: a, prompt_config: {model: m}, faults: {status: 503}}]",
        api_key="right",
    )
    base, key = server.base_url, {"Authorization": "Bearer right"}
    answers = [
        httpx.get(f"{base}/v2/deployments", headers={"Authorization": "Bearer wrong"}),
        httpx.post(f"{base}/v2/deployments/invoke", json={"key": "nope"}, headers=key),
        httpx.post(f"{base}/v2/deployments/invoke", json={"key": "a"}, headers=key),
        httpx.get(f"{base}/v2/deployments/nope/versions", headers=key),
    ]
    for response in answers:
        body = response.json()
        assert _shape(body) == _shape(golden), body  # no top-level code, no extras
        assert body["error"]["doc_url"] == f"https://docs.orq.ai/errors/{body['error']['code']}"
    assert [r.json()["error"]["code"] for r in answers] == [
        "invalid_api_key",
        "deployment_not_found",
        "service_unavailable",
        "deployment_not_found",
    ]


def test_an_image_answer_has_the_reference_shape(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    golden = json.loads((FIXTURES / "invoke_image.json").read_text(encoding="utf-8"))
    server = serve_deployments(
        "deployments: [{key: p, prompt_config: {model: dall-e-3, model_type: image}, "
        "responder: {mock: 'https://cdn.example.com/generated.png'}}]"
    )
    answer = httpx.post(f"{server.base_url}/v2/deployments/invoke", json={"key": "p"}).json()
    assert _shape(answer) == _shape(golden) | {"finalized": "str"}
    assert answer["choices"][0]["message"] == golden["choices"][0]["message"]
