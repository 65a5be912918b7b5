"""LocalServer: a real uvicorn in a daemon thread, usable from a notebook's running loop."""

from __future__ import annotations

import asyncio
import signal
import socket
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
