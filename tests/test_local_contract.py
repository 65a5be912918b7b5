"""Our Client and AsyncClient against the real local server: the public contract end to end.

Only the contract of the team spec is used here (list/iter/get_config/invoke/stream/
invalidate/list_versions and the error classes), so these tests pin the server's wire
behaviour as our client reads it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from orq_notebook import AsyncClient, Client
from orq_notebook.client._exceptions import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
    error_class_for_status,
)
from orq_notebook.local import LocalServer

KEY = "contract-test-key"


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LocalServer]:
    with LocalServer(Path(__file__).parent / "fixtures" / "deployments.yaml", api_key=KEY) as srv:
        yield srv


@pytest.fixture
def client(keyed_server: LocalServer) -> Iterator[Client]:
    with Client(api_key=KEY, base_url=keyed_server.base_url, max_retries=0) as c:
        yield c


def test_list_pages_and_iter(client: Client) -> None:
    first = client.deployments.list(limit=2)
    assert [d.key for d in first.data] == ["support-answer", "ask"] and first.has_more
    after = client.deployments.list(limit=2, starting_after=first.data[-1].id)
    assert [d.key for d in after.data] == ["fixed", "counter"]
    every = [d.key for d in client.deployments.iter(page_size=4)]
    assert every == ["support-answer", "ask", "fixed", "counter", "flaky", "dropper"]


def test_get_config_and_invoke(client: Client) -> None:
    config = client.deployments.get_config("ask", inputs={"name": "Ada", "question": "Why?"})
    assert config.messages[0].content == [{"type": "text", "text": "Question from Ada: Why?"}]
    invocation = client.deployments.invoke(
        "support-answer",
        context={"environments": "production"},
        invoke_options={"include_usage": True},
    )
    assert invocation.model == "gpt-4o" and invocation.finish_reason == "stop"
    assert invocation.text.startswith("system: You answer for Acme. Be brief.\n")
    assert invocation.usage is not None and invocation.usage.completion_tokens


def test_stream_collects_text_usage_and_retrievals(client: Client) -> None:
    with client.deployments.stream(
        "fixed",
        documents=[{"text": "Items can be returned within 30 days."}],
        messages=[{"role": "user", "content": "Can I return items?"}],
        invoke_options={"include_usage": True, "include_retrievals": True},
    ) as stream:
        pieces = [chunk.content for chunk in stream]
    assert pieces[:3] == ["You", " can", " return"]
    assert stream.text == "You can return items within 30 days."
    assert stream.completed and stream.finish_reason == "stop"
    assert stream.usage is not None and stream.retrievals[0].metadata.file_name == "document-1"


def test_errors_become_the_documented_classes(client: Client, keyed_server: LocalServer) -> None:
    with pytest.raises(NotFoundError, match="Deployment with key 'nope' was not found"):
        client.deployments.invoke("nope")
    with (
        Client(api_key="wrong", base_url=keyed_server.base_url, max_retries=0) as wrong,
        pytest.raises(AuthenticationError, match="Invalid API key"),
    ):
        wrong.deployments.list()
    with (
        Client(api_key="", base_url=keyed_server.base_url, max_retries=0) as keyless,
        pytest.raises(AuthenticationError, match="Missing API key"),
    ):
        keyless.deployments.list()


def test_a_body_orq_cannot_use_is_a_bad_request_as_in_production(
    keyed_server: LocalServer,
) -> None:
    # orq.ai answers 400 `invalid_request_body`; locally too, so the class is BadRequestError
    # here as in production (it was UnprocessableEntityError).
    raw = httpx.post(
        f"{keyed_server.base_url}/v2/deployments/invoke",
        content=b'{"key": "fixed", "inputs": "not a mapping"}',
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_request_body"
    with (
        Client(api_key=KEY, base_url=keyed_server.base_url, max_retries=0) as client,
        pytest.raises(BadRequestError, match="extra_params.temperature: expected a number"),
    ):
        client.deployments.invoke("fixed", extra_params={"temperature": "hot"})


def test_open_variables_render_empty_and_strict_ones_are_422(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    server = serve_deployments(
        """\
        deployments:
          - key: greet
            variables: {greeting: Hello}
            prompt_config:
              model: m
              messages: [{role: system, content: "{{greeting}}, {{name}}. Tier: {{tier}}."}]
          - key: greet-strict
            strict_variables: true
            prompt_config:
              model: m
              messages: [{role: system, content: "{{greeting}}, {{name}}."}]
        """
    )
    with Client(base_url=server.base_url, max_retries=0) as client:
        config = client.deployments.get_config("greet", inputs={"name": "Ada"})
        assert config.messages[0].content == "Hello, Ada. Tier: ."
        assert client.deployments.invoke("greet").text == "system: Hello, . Tier: ."
        with client.deployments.stream("greet", inputs={"tier": "gold"}) as stream:
            assert "".join(c.content for c in stream) == "system: Hello, . Tier: gold."
        with pytest.raises(UnprocessableEntityError, match=r"\{\{greeting\}\}, \{\{name\}\}"):
            client.deployments.get_config("greet-strict")


def test_faults_reach_the_client(client: Client) -> None:
    flaky = next(d for d in client.deployments.iter() if d.key == "flaky")
    client.deployments.invalidate(flaky.id)
    with pytest.raises(RateLimitError) as limited:
        client.deployments.invoke("flaky")
    assert limited.value.retry_after == 0.25
    with pytest.raises(StreamError) as broken, client.deployments.stream("dropper") as stream:
        list(stream)
    assert broken.value.partial_text == "This answer never"
    client.deployments.invalidate(flaky.id)


def test_async_client_streams(keyed_server: LocalServer) -> None:
    async def run() -> tuple[str, str]:
        async with AsyncClient(api_key=KEY, base_url=keyed_server.base_url) as client:
            invocation = await client.deployments.invoke("fixed")
            async with client.deployments.stream("fixed") as stream:
                pieces = [chunk.content async for chunk in stream]
        return invocation.text, "".join(pieces)

    assert asyncio.run(run()) == ("You can return items within 30 days.",) * 2


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (402, "quota_exceeded"),
        (408, "request_timeout"),
        (422, "provider_credential_invalid"),
        (429, "rate_limit_exceeded"),
        (500, "internal_error"),
        (502, "provider_error"),
        (503, "service_unavailable"),
        (504, "provider_timeout"),
    ],
)
def test_each_orq_status_reaches_our_client_as_its_class(
    serve_deployments: Callable[..., LocalServer], status: int, code: str
) -> None:
    server = serve_deployments(
        f"deployments: [{{key: f, prompt_config: {{model: m}}, faults: {{status: {status}}}}}]"
    )
    with Client(base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(error_class_for_status(status)) as info:
            client.deployments.invoke("f")
        assert info.value.status_code == status
        assert json.loads(info.value.body)["error"]["code"] == code
        assert "faults.status" in info.value.message
