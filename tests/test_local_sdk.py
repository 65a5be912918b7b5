"""The official `orq-ai-sdk` as an independent client: every answer of the local server must
validate in its strict models (closed enums, required fields, ISO dates), and its errors must
map to the SDK's error classes (reference §1.5)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

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
    assert "Deployment with key 'nope' was not found." in missing.value.body
    with pytest.raises(models.APIDefaultError) as unfilled:
        orq.deployments.get_config(key="ask")
    assert unfilled.value.status_code == 422

    server = serve_deployments("deployments: [{key: a, prompt_config: {model: m}}]")
    assert server.store is not None and server.store.path is not None
    server.store.path.write_text("deployments: [", encoding="utf-8")
    with (
        Orq(api_key="k", server_url=server.base_url) as client,
        pytest.raises(models.HonoAPIError) as broken,
    ):
        client.deployments.list()
    assert "YAML syntax error" in broken.value.data.message
