"""Streaming is incremental, and the `faults:` block breaks things on purpose, through the
real server (uvicorn in a thread; in-process transports would buffer the body)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from orq_notebook.local import LocalServer

API = "/v2/deployments"


@pytest.fixture
def http(local_server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=local_server.base_url, timeout=10) as client:
        yield client


def reset_faults(http: httpx.Client, key: str) -> None:
    found = next(d for d in http.get(API, params={"limit": 50}).json()["data"] if d["key"] == key)
    assert http.delete(f"{API}/invalidate/{found['id']}").status_code == 204


def read_events(response: httpx.Response) -> Iterator[Any]:
    """Each event's JSON, or the string `[DONE]`."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            yield data if data == "[DONE]" else json.loads(data)


def test_chunks_arrive_as_they_are_produced(http: httpx.Client) -> None:
    # "counter": twenty words, 50 ms apart. Buffering would deliver them all at the end.
    arrivals: list[float] = []
    start = time.monotonic()
    with http.stream("POST", f"{API}/stream", json={"key": "counter"}) as response:
        for event in read_events(response):
            arrivals.append(time.monotonic() - start)
            if event == "[DONE]":
                break
    total = arrivals[-1]
    assert len(arrivals) == 22  # 20 words, the final chunk, [DONE]
    assert arrivals[0] / total < 0.5, arrivals
    assert arrivals[10] / total < 0.9, arrivals  # the middle did not come in one late burst


def test_a_client_that_leaves_early_does_not_hurt_the_server(http: httpx.Client) -> None:
    with http.stream("POST", f"{API}/stream", json={"key": "counter"}) as response:
        events = read_events(response)
        assert next(events)["choices"][0]["message"]["content"] == "one"
    assert http.post(f"{API}/invoke", json={"key": "fixed"}).status_code == 200


def test_drop_after_chunks_cuts_the_connection_mid_stream(http: httpx.Client) -> None:
    received: list[Any] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", f"{API}/stream", json={"key": "dropper"}) as response,
    ):
        assert response.status_code == 200
        received.extend(read_events(response))
    assert [e["choices"][0]["message"]["content"] for e in received] == [
        "This",
        " answer",
        " never",
    ]
    # Only streams drop; a JSON answer arrives whole.
    body = http.post(f"{API}/invoke", json={"key": "dropper"}).json()
    assert body["choices"][0]["message"]["content"] == "This answer never arrives in full."


def test_status_fault_fails_the_first_n_requests_with_retry_after(http: httpx.Client) -> None:
    reset_faults(http, "flaky")
    for endpoint in ("invoke", "stream"):  # both count
        response = http.post(f"{API}/{endpoint}", json={"key": "flaky"})
        assert response.status_code == 429
        assert response.headers["retry-after"] == "0.25"
        assert response.headers["retry-after-ms"] == "250"
        body = response.json()
        assert "code" not in body and body["error"]["code"] == "rate_limit_exceeded"
        assert "faults.status" in body["message"]
    assert (
        http.post(f"{API}/invoke", json={"key": "flaky"}).json()["choices"][0]["message"]["content"]
        == "Finally."
    )
    # get_config is configuration, never faulted; invalidate starts the count again.
    assert http.post(f"{API}/get_config", json={"key": "flaky"}).status_code == 200
    reset_faults(http, "flaky")
    assert http.post(f"{API}/invoke", json={"key": "flaky"}).status_code == 429


def test_faults_delay_and_5xx(serve_deployments: Callable[..., LocalServer]) -> None:
    server = serve_deployments(
        """\
        deployments:
          - key: slow
            prompt_config: {model: m}
            faults: {delay_ms: 200}
          - key: down
            prompt_config: {model: m}
            faults: {status: 503}
          - key: mute
            prompt_config: {model: m}
            faults: {drop_after_chunks: 0}
        """
    )
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        start = time.monotonic()
        assert client.post(f"{API}/invoke", json={"key": "slow"}).status_code == 200
        assert time.monotonic() - start >= 0.2
        for _ in range(3):  # no `times`: every request fails
            response = client.post(f"{API}/invoke", json={"key": "down"})
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "service_unavailable"
            assert "retry-after" not in response.headers
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("POST", f"{API}/stream", json={"key": "mute"}) as stream,
        ):
            assert list(read_events(stream)) == []


FAULT_TABLE = [
    # status, code in the file (None: the default), code answered (orq-api-additions §1.2)
    (402, None, "quota_exceeded"),
    (408, None, "request_timeout"),
    (422, None, "provider_credential_invalid"),
    (422, "model_configuration_missing", "model_configuration_missing"),
    (429, None, "rate_limit_exceeded"),
    (500, None, "internal_error"),
    (502, None, "provider_error"),
    (503, None, "service_unavailable"),
    (503, "provider_overloaded", "provider_overloaded"),
    (504, None, "provider_timeout"),
]


@pytest.mark.parametrize(("status", "code", "answered"), FAULT_TABLE)
def test_every_fault_status_answers_with_orqs_code(
    serve_deployments: Callable[..., LocalServer], status: int, code: str | None, answered: str
) -> None:
    given = f", code: {code}" if code else ""
    faults = f"{{status: {status}{given}}}"
    server = serve_deployments(
        f"deployments: [{{key: f, prompt_config: {{model: m}}, faults: {faults}}}]"
    )
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for endpoint in ("invoke", "stream"):
            response = client.post(f"{API}/{endpoint}", json={"key": "f"})
            assert response.status_code == status
            error = response.json()["error"]
            assert (error["code"], error["doc_url"]) == (
                answered,
                f"https://docs.orq.ai/errors/{answered}",
            )
