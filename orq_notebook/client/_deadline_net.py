"""Deadlines under every socket read: wrappers around httpcore's network backend.

Loaded when a client makes its own connections (`_deadline.install`), not at import: httpcore
costs about 15 ms to import, and `import orq_notebook` does not need it. See `_deadline` for
the rules.
"""

from __future__ import annotations

from typing import Any

import httpcore
import httpx

from ._deadline import ACTIVE, Deadline, DeadlineCarrier

__all__ = ["install"]


def _bounded(
    timeout: float | None, attached: Deadline | None
) -> tuple[Deadline | None, float | None]:
    # A request being sent (headers awaited) wins over the deadline left on the connection.
    deadline = ACTIVE.get() or attached
    if deadline is None:
        return None, timeout
    left = deadline.left()
    if deadline.expired:
        raise httpcore.ReadTimeout(deadline.describe())
    return deadline, left if timeout is None else min(timeout, left)


def _expired_now(deadline: Deadline | None) -> bool:
    return deadline is not None and deadline.left() <= 0


# -- under every socket read of the client's own connections --------------------------------


class _Stream(DeadlineCarrier, httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self.deadline: Deadline | None = None  # of the response whose body it carries

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline, timeout = _bounded(timeout, self.deadline)
        try:
            return self._inner.read(max_bytes, timeout)
        except httpcore.ReadTimeout:
            _expired_now(deadline)  # tells a deadline from the per-read timeout
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(DeadlineCarrier, httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self.deadline: Deadline | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline, timeout = _bounded(timeout, self.deadline)
        try:
            return await self._inner.read(max_bytes, timeout)
        except httpcore.ReadTimeout:
            _expired_now(deadline)
            raise

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._inner.connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(await self._inner.connect_unix_socket(*args, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(transport: httpx.HTTPTransport | httpx.AsyncHTTPTransport) -> bool:
    """Enforce deadlines under every socket read of `transport`'s own connections.

    httpx does not expose the network backend of its transports, so this reaches into the
    transport's connection pool; when that is not where this httpx keeps it, the deadlines are
    still enforced between body chunks (`guard_body`) and this returns False.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _Backend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
        return True
    if isinstance(backend, httpcore.AsyncNetworkBackend) and not isinstance(backend, _AsyncBackend):
        pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]
        return True
    return False
