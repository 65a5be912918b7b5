"""LocalServer: a real uvicorn in a daemon thread, usable from a notebook's running loop."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from orq_notebook.local import DeploymentStore, LocalServer

FIXTURE = Path(__file__).parent / "fixtures" / "deployments.yaml"


def test_works_inside_a_running_event_loop_and_leaves_signals_alone() -> None:
    # A Jupyter kernel runs an asyncio loop in the main thread; the server brings its own.
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    async def in_the_kernel() -> int:
        with LocalServer(FIXTURE) as server:
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                response = await client.post("/v2/deployments/invoke", json={"key": "fixed"})
        return response.status_code

    assert asyncio.run(in_the_kernel()) == 200
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_start_is_idempotent_and_a_stopped_server_can_start_again() -> None:
    server = LocalServer(FIXTURE)
    assert not server.running and "stopped" in repr(server)
    assert server.start() is server
    url = server.base_url
    assert server.start().base_url == url
    assert url.startswith("http://127.0.0.1:") and url in repr(server)
    server.stop()
    server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v2/deployments")
    with server:
        assert httpx.get(f"{server.base_url}/v2/deployments").status_code == 200


def test_a_busy_port_raises_at_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = LocalServer(FIXTURE, port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
        assert not server.running


def test_serves_a_store_built_in_python() -> None:
    store = DeploymentStore.from_data(
        {
            "deployments": [
                {"key": "a", "prompt_config": {"model": "m"}, "responder": {"mock": "hi"}}
            ]
        }
    )
    with LocalServer(store) as server:
        assert server.store is store
        response = httpx.post(f"{server.base_url}/v2/deployments/invoke", json={"key": "a"})
        assert response.json()["choices"][0]["message"]["content"] == "hi"
        # No file behind it: invalidate has nothing to reload but still answers.
        deployment_id = store.deployments()[0].id
        assert (
            httpx.delete(f"{server.base_url}/v2/deployments/invalidate/{deployment_id}").status_code
            == 204
        )


SLOW_AND_LATE = """\
deployments:
  - key: slow
    prompt_config: {model: m}
    responder: {mock: "%s"}
    stream_delay_ms: 50
  - key: late
    prompt_config: {model: m}
    responder: {mock: "worth the wait"}
    faults: {delay_ms: 300}
""" % " ".join(f"w{i}" for i in range(400))  # noqa: UP031 -- braces are YAML's


@pytest.mark.timeout(30)
def test_stop_cuts_a_stream_after_its_grace_and_logs_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "d.yaml").write_text(SLOW_AND_LATE, encoding="utf-8")
    server = LocalServer(tmp_path / "d.yaml").start()
    with (
        caplog.at_level(logging.INFO, logger="uvicorn.error"),
        httpx.Client(base_url=server.base_url, timeout=10) as client,
        client.stream("POST", "/v2/deployments/stream", json={"key": "slow"}) as response,
    ):
        chunks = response.iter_raw()
        first = next(chunks)
        server.stop(grace=0.1)  # a 20 s stream: cut, not waited for
        assert not server.running
        with pytest.raises(httpx.RemoteProtocolError):
            list(chunks)
    assert first.startswith(b"data: ")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.timeout(30)
def test_stop_lets_an_answer_finish_within_its_grace(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(SLOW_AND_LATE, encoding="utf-8")
    server = LocalServer(tmp_path / "d.yaml").start()
    answers: list[httpx.Response] = []
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        asking = threading.Thread(
            target=lambda: answers.append(
                client.post("/v2/deployments/invoke", json={"key": "late"})
            )
        )
        asking.start()
        # Wait until the request is in flight (waiting out its 300 ms delay) in uvicorn.
        assert server._thread is not None and server._thread._server is not None
        state = server._thread._server.server_state
        deadline = time.monotonic() + 10
        while not state.tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        server.stop()  # the default grace: 2 s
        asking.join(10)
    (answer,) = answers
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "worth the wait"
