"""Connections for a batch: a small pool per worker instead of one pool shared by all.

httpcore's connection pool scans every connection for every request it queues or releases,
so with 50 requests in flight through one pool, most of the client's CPU went into that scan
(measured; see BENCHMARKS.md, "Batch at high concurrency"). A batch worker runs one row at a
time, so it needs one connection: `WorkerTransport` gives each worker a pool of its own, chosen
by the worker number the engine sets in `current_worker` when the worker starts.

Nothing else changes: the client's retries, timeouts and the batch's HTTP hooks all sit above
the transport, and each pool gets the client's deadline checks under its socket reads. A
cancelled request closes its connection inside its own pool (httpcore does that), so an
interrupt leaves no pool waiting on another. Requests made outside a worker (none today) go
through a shared fallback pool.
"""

from __future__ import annotations

import ssl
from contextvars import ContextVar

import httpx

__all__ = ["WorkerTransport", "current_worker"]

# The batch worker the current task is; tasks copy their context when created, so each worker
# task sees its own number and nobody else's.
current_worker: ContextVar[int | None] = ContextVar("orq_notebook_batch_worker", default=None)

# One connection kept alive per worker. No cap on open connections: should a response ever be
# left open (it is not, today), the next request opens another rather than waiting forever.
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=1)


class WorkerTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends each batch worker's requests through its own pool."""

    def __init__(self) -> None:
        self._pools: dict[tuple[int | None, bool], httpx.AsyncHTTPTransport] = {}
        self._tls: ssl.SSLContext | None = None
        self._plain: ssl.SSLContext | None = None

    def _pool(self, https: bool) -> httpx.AsyncHTTPTransport:
        from ..client._deadline_net import install  # httpcore: loaded with the first pool

        slot = (current_worker.get(), https)
        pool = self._pools.get(slot)
        if pool is None:
            pool = httpx.AsyncHTTPTransport(verify=self._context(https), limits=_LIMITS)
            install(pool)  # the client's deadlines under every socket read, as in its own pool
            self._pools[slot] = pool
        return pool

    def _context(self, https: bool) -> ssl.SSLContext:
        # Building a verifying TLS context reads the CA bundle (about 20 ms): one is shared by
        # every https pool, and plain-http pools (which never use theirs) get one that trusts
        # no certificate, so that even by mistake it could not connect to anything.
        if not https:
            if self._plain is None:
                self._plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            return self._plain
        if self._tls is None:
            self._tls = httpx.create_ssl_context(trust_env=True)
        return self._tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._pool(request.url.scheme == "https")
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
