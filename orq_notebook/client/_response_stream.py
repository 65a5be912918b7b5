"""The life of a streamed HTTP response, shared by the orq and the Humanloop streams.

A stream owns one HTTP response and always closes it: at the end, on `break`, on an exception,
on KeyboardInterrupt and (sync) when garbage collected. `ResponseStream[T]` and its async twin
hold that lifecycle and the loop over the server-sent events, and differ only in their I/O.
The body is read under the stream's deadline (`_deadline`): the first chunk within `timeout`
of sending, then at most `idle_timeout` between chunks.
Each API's stream says what one event carries (`_items`: the items of type T to yield, or
None once the stream is over), how a broken connection is reported (`_broken`) and, where it
matters, what a connection closed without an end event means (`_end_of_stream`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent

from ._deadline import Deadline, release
from ._exceptions import StreamError

__all__ = ["AsyncResponseStream", "ResponseStream", "StreamCore"]

T = TypeVar("T")
_Sync = TypeVar("_Sync", bound="ResponseStream[Any]")
_Async = TypeVar("_Async", bound="AsyncResponseStream[Any]")


# Every failure while reading a stream: transport errors, a body that is not what its
# encoding says, a stream closed under the loop.
READ_ERRORS = (httpx.HTTPError, httpx.StreamError)


class _Events(EventSource):
    # The client has already checked the content type, in any letter case (media types are
    # case-insensitive); httpx-sse would refuse `Text/Event-Stream`.
    def _check_content_type(self) -> None:
        return None


def _events(response: httpx.Response) -> EventSource:
    # SSE is UTF-8 by definition, whatever the client's default; "-sig" drops a leading BOM.
    response.encoding = "utf-8-sig"
    return _Events(response)


class StreamCore(Generic[T]):
    """The timings and the open/closed state of a stream, and the hooks its loop calls."""

    def __init__(self, clock: Callable[[], float], deadline: Deadline | None = None) -> None:
        self._clock = clock
        self._deadline = deadline
        self._sent_at: float | None = None
        self._first_at: float | None = None
        self._ended_at: float | None = None
        self._eof = False
        self._iterated = False
        self._closed = False

    @property
    def time_to_first_chunk(self) -> float | None:
        """Seconds from sending the request to the first chunk, or None before it."""
        if self._sent_at is None or self._first_at is None:
            return None
        return self._first_at - self._sent_at

    @property
    def elapsed(self) -> float:
        """Seconds from sending the request to the end of the stream (or to now)."""
        if self._sent_at is None:
            return 0.0
        end = self._clock() if self._ended_at is None else self._ended_at
        return end - self._sent_at

    def _opening(self) -> None:
        if self._closed:
            raise RuntimeError("This stream is closed; open a new one to read again.")
        self._sent_at = self._clock()

    def _mark_closed(self) -> bool:
        """Record the end; True the first time (the caller then closes the response)."""
        if self._closed:
            return False
        self._closed = True
        if self._sent_at is not None and self._ended_at is None:
            self._ended_at = self._clock()
        return True

    # -- what each API's stream says ----------------------------------------------------------

    def _start_iteration(self) -> None:
        raise NotImplementedError

    def _items(self, event: ServerSentEvent) -> Sequence[T] | None:
        """The items one event carries, in order; None once the stream is over."""
        raise NotImplementedError

    def _end_of_stream(self) -> None:
        """The server closed the connection without an end event."""
        self._eof = True

    def _broken(self, exc: Exception) -> StreamError:
        raise NotImplementedError

    def _expired(self) -> str | None:
        """Why the stream stopped, when its deadline expired."""
        deadline = self._deadline
        return deadline.describe() if deadline is not None and deadline.expired else None

    def _got_items(self) -> None:
        if self._first_at is None:
            self._first_at = self._clock()
        if self._deadline is not None:
            self._deadline.chunk()


class ResponseStream(StreamCore[T]):
    """A stream over a sync HTTP response, opened by `_open` on `__enter__` (or when read)."""

    _open: Callable[[], httpx.Response]
    _response: httpx.Response | None = None  # set when the request is sent

    def __enter__(self: _Sync) -> _Sync:
        self._ensure_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        self._start_iteration()
        response = self._ensure_open()
        # The response closes in `finally`: on a consumer's `break` the generator is closed
        # (GeneratorExit at `yield`), and on errors and interrupts the exception passes here.
        # The body's reads run under the stream's deadline (see `_deadline.guard_body`).
        try:
            for event in _events(response).iter_sse():
                items = self._items(event)
                if items is None:
                    return  # whatever follows the end is never read
                if items:
                    self._got_items()  # timings, and the deadline's idle window
                yield from items
            self._end_of_stream()
        except READ_ERRORS as exc:
            if not self._closed:  # closed by its owner (a Stop button): just end
                raise self._broken(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        """Close the HTTP response; safe to call more than once."""
        if self._mark_closed() and self._response is not None:
            release(self._response)
            self._response.close()

    def _ensure_open(self) -> httpx.Response:
        if self._response is None:
            self._opening()
            try:
                self._response = self._open()
            except BaseException:
                self._mark_closed()
                raise
        return self._response

    def __del__(self) -> None:
        # A stream entered and then dropped would otherwise pin a pooled connection.
        try:
            self.close()
        except Exception:
            pass


class AsyncResponseStream(StreamCore[T]):
    """The async twin of `ResponseStream`."""

    _open: Callable[[], Awaitable[httpx.Response]]
    _response: httpx.Response | None = None  # set when the request is sent

    async def __aenter__(self: _Async) -> _Async:
        await self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def __aiter__(self) -> AsyncIterator[T]:
        self._start_iteration()
        response = await self._ensure_open()
        try:
            async with aclosing(_events(response).aiter_sse()) as events:
                async for event in events:
                    items = self._items(event)
                    if items is None:
                        return
                    if items:
                        self._got_items()
                    for item in items:
                        yield item
            self._end_of_stream()
        except READ_ERRORS as exc:
            if not self._closed:
                raise self._broken(exc) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP response; safe to call more than once."""
        if self._mark_closed() and self._response is not None:
            release(self._response)
            await self._response.aclose()

    async def _ensure_open(self) -> httpx.Response:
        if self._response is None:
            self._opening()
            try:
                self._response = await self._open()
            except BaseException:
                self._mark_closed()
                raise
        return self._response
