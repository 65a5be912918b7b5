"""A batch's own client keeps one small connection pool per worker (`batch/_pool.py`).

Against the real local server: each worker's requests go through its own pool, which holds
one connection at a time; every pool is closed when the batch ends, interrupted or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orq_notebook import Client
from orq_notebook.batch import _api
from orq_notebook.batch._pool import WorkerTransport, current_worker
from orq_notebook.batch._result import RowResult
from orq_notebook.local import LocalServer

DEPLOYMENTS = """
deployments:
  - key: slow
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages: [{role: system, content: "Q: {{q}}"}]
    responder: echo
    faults: {delay_ms: 5}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    path: Path = tmp_path_factory.mktemp("pool") / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    with LocalServer(path) as server:
        yield server


class Recording(WorkerTransport):
    """A WorkerTransport that remembers its pools after they are closed."""

    made: list[Recording] = []

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[Any, httpx.AsyncHTTPTransport] = {}
        self.closed = False
        Recording.made.append(self)

    def _pool(self, https: bool) -> httpx.AsyncHTTPTransport:
        pool = super()._pool(https)
        self.seen[current_worker.get()] = pool
        return pool

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[Recording]:
    Recording.made = []
    monkeypatch.setattr(_api, "WorkerTransport", Recording)
    return Recording.made


def _connections(pool: httpx.AsyncHTTPTransport) -> list[Any]:
    return list(pool._pool.connections)


def test_each_worker_has_its_own_pool_and_every_pool_is_closed(
    server: LocalServer, recording: list[Recording]
) -> None:
    with Client(base_url=server.base_url, api_key="test") as client:
        result = _api.run_batch(
            "slow", [{"q": str(i)} for i in range(24)], concurrency=4, client=client,
            progress=False,
        )  # fmt: skip

    assert result.counts()["ok"] == 24
    assert len(recording) == 1
    transport = recording[0]
    assert sorted(transport.seen) == [0, 1, 2, 3]
    assert transport.closed
    assert all(_connections(pool) == [] for pool in transport.seen.values())


def test_a_pool_reuses_one_connection_for_its_worker(server: LocalServer) -> None:
    async def main() -> list[int]:
        transport = WorkerTransport()
        counts: list[int] = []
        async with httpx.AsyncClient(transport=transport, base_url=server.base_url) as http:

            async def worker(n: int) -> None:
                current_worker.set(n)
                for i in range(5):
                    body = {"key": "slow", "inputs": {"q": f"{n}-{i}"}}
                    response = await http.post("/v2/deployments/invoke", json=body)
                    assert response.status_code == 200
                counts.append(len(_connections(transport._pools[n, False])))

            await asyncio.gather(*(worker(n) for n in range(3)))
        return counts

    assert asyncio.run(main()) == [1, 1, 1]


def test_an_interrupted_batch_closes_every_pool(
    server: LocalServer, recording: list[Recording]
) -> None:
    def on_result(row: RowResult) -> None:
        if row.index == 3:
            raise KeyboardInterrupt

    with Client(base_url=server.base_url, api_key="test") as client:
        result = _api.run_batch(
            "slow", [{"q": str(i)} for i in range(200)], concurrency=8, client=client,
            progress=False, on_result=on_result,
        )  # fmt: skip

    assert result.interrupted and result[3].ok  # the row whose result interrupted the run
    (transport,) = recording
    assert transport.closed
    assert all(_connections(pool) == [] for pool in transport.seen.values())
    # Nothing is lost: the rows that did not finish run again through a fresh client.
    again = result.rerun(progress=False)
    assert again.counts()["ok"] == 200


def test_https_pools_share_one_verifying_context_and_http_pools_trust_nothing() -> None:
    transport = WorkerTransport()
    verifying = transport._context(True)
    assert transport._context(True) is verifying  # built once: reading CAs costs ~20 ms
    assert verifying.verify_mode.name == "CERT_REQUIRED" and verifying.check_hostname
    plain = transport._context(False)
    assert transport._context(False) is plain
    assert plain.verify_mode.name == "CERT_REQUIRED"
    assert plain.cert_store_stats()["x509_ca"] == 0  # could verify no server at all
