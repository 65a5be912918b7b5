"""The I/O of a client, blocking (`_SyncClient`) and async (`_AsyncClient`).

Each attempt is sent under its deadline (`_deadline`), its body read before it is returned
(unless it is a stream that opened), and every failure of httpx leaves here as an `OrqError`;
what may be retried is decided by the pure base (`_base._BaseClient._retry_delay`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from ._base import _BaseClient
from ._deadline import ACTIVE, Deadline, guard_body, release
from ._exceptions import APIError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["_AsyncClient", "_SyncClient"]

# Everything httpx raises while sending and reading: transport errors, but also a body that
# is not what its encoding says, a redirect loop, a URL it cannot use.
HTTP_ERRORS = (httpx.HTTPError, httpx.InvalidURL)


class _SyncClient(_BaseClient[httpx.Client, httpx.BaseTransport]):
    """The blocking I/O of a client: connections, sending with retries, opening streams."""

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _new_http(
        self, transport: httpx.BaseTransport | None, timeout: httpx.Timeout
    ) -> httpx.Client:
        if transport is None:
            from ._deadline_net import install  # httpcore: loaded with the first connection

            transport = httpx.HTTPTransport()
            install(transport)
        if self._recording is not None:
            from ._recording import RecordingTransport

            transport = RecordingTransport(transport, self._recording)
        # Redirects are followed, as the official SDK does; httpx drops the key across hosts.
        return httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        """Close the connections (not those of an `http_client=` passed in)."""
        if self._owns_http:
            self._http.close()

    @property
    def closed(self) -> bool:
        """Whether `close()` ran (or the `with` block ended): no request can be sent."""
        return self._http.is_closed

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _attempt(
        self, request: httpx.Request, *, stream: bool, deadline: Deadline
    ) -> httpx.Response:
        token = ACTIVE.set(deadline)
        try:
            response = self._http.send(request, stream=True)
            guard_body(response, deadline, asynchronous=False)
            if stream and self._stream_is_ok(response):
                return response
            try:
                response.read()
            except httpx.DecodingError as exc:
                response.close()
                raise self._undecodable(response, exc) from exc
            except BaseException:
                response.close()
                raise
            finally:
                release(response)
            return response
        finally:
            ACTIVE.reset(token)

    def _send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        deadline: Deadline | None = None,
        generation: bool | None = None,
    ) -> httpx.Response:
        """Send with retries; the body is read unless `stream` and the stream opened."""
        deadline = deadline or self._deadline(None)
        generation = request.method == "POST" if generation is None else generation
        started, retries = self._clock(), 0
        while True:
            deadline.start()
            try:
                response = self._attempt(request, stream=stream, deadline=deadline)
            except HTTP_ERRORS as exc:
                delay, refused = self._retry_delay(
                    request, exc, retries, started, generation=generation, deadline=deadline
                )
                if delay is None:
                    error = self._transport_error(exc, request, deadline, unsafe_refused=refused)
                    raise error from exc
            else:
                delay, _ = self._retry_delay(
                    request, response, retries, started, generation=generation, deadline=deadline
                )
                if delay is None:
                    return response
                response.close()
            self._sleep(delay)
            retries += 1

    def _open_stream(
        self, request: httpx.Request, deadline: Deadline | None = None
    ) -> httpx.Response:
        response = self._send(request, stream=True, deadline=deadline)
        if self._stream_is_ok(response):
            return response
        response.close()
        raise self._stream_error(response)


class _AsyncClient(_BaseClient[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """The async I/O of a client: connections, sending with retries, opening streams."""

    _sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)
    _http_types = (httpx.AsyncClient, httpx.AsyncBaseTransport)

    def _new_http(
        self, transport: httpx.AsyncBaseTransport | None, timeout: httpx.Timeout
    ) -> httpx.AsyncClient:
        if transport is None:
            from ._deadline_net import install  # httpcore: loaded with the first connection

            transport = httpx.AsyncHTTPTransport()
            install(transport)
        if self._recording is not None:
            from ._recording import AsyncRecordingTransport

            transport = AsyncRecordingTransport(transport, self._recording)
        return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=True)

    async def aclose(self) -> None:
        """Close the connections (not those of an `http_client=` passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _attempt(
        self, request: httpx.Request, *, stream: bool, deadline: Deadline
    ) -> httpx.Response:
        token = ACTIVE.set(deadline)
        try:
            response = await self._http.send(request, stream=True)
            guard_body(response, deadline, asynchronous=True)
            if stream and self._stream_is_ok(response):
                return response
            try:
                await response.aread()
            except httpx.DecodingError as exc:
                await response.aclose()
                raise self._undecodable(response, exc) from exc
            except BaseException:
                await response.aclose()
                raise
            finally:
                release(response)
            return response
        finally:
            ACTIVE.reset(token)

    async def _send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        deadline: Deadline | None = None,
        generation: bool | None = None,
    ) -> httpx.Response:
        """Send with retries; the body is read unless `stream` and the stream opened."""
        deadline = deadline or self._deadline(None)
        generation = request.method == "POST" if generation is None else generation
        started, retries = self._clock(), 0
        while True:
            deadline.start()
            try:
                response = await self._attempt(request, stream=stream, deadline=deadline)
            except HTTP_ERRORS as exc:
                delay, refused = self._retry_delay(
                    request, exc, retries, started, generation=generation, deadline=deadline
                )
                if delay is None:
                    error = self._transport_error(exc, request, deadline, unsafe_refused=refused)
                    raise error from exc
            else:
                delay, _ = self._retry_delay(
                    request, response, retries, started, generation=generation, deadline=deadline
                )
                if delay is None:
                    return response
                await response.aclose()
            await self._sleep(delay)
            retries += 1

    async def _open_stream(
        self, request: httpx.Request, deadline: Deadline | None = None
    ) -> httpx.Response:
        response = await self._send(request, stream=True, deadline=deadline)
        if self._stream_is_ok(response):
            return response
        await response.aclose()
        error: APIError = self._stream_error(response)
        raise error
