"""Deadlines: a bound on a whole answer, however slowly its bytes arrive.

httpx's timeouts are per read, so a server that sends one byte now and then never trips them.
A `Deadline` is a point in time instead, enforced in one of two places:

* under every socket read of the client's own connections (a wrapper around httpcore's network
  backend, in `_deadline_net`, loaded when a client makes its connections): each read waits at
  most until the deadline, so headers, a body or a stream dribbled byte by byte all stop on
  time. While the headers are awaited the request's deadline is the *active* one (a context
  variable); once they have arrived it is attached to the connection that carries the body
  (`guard_body`), since a stream's body is read long after it was sent;
* over the response body (a wrapper around `response.stream`), between chunks, for transports
  the client does not own (`transport=`, `http_client=`, proxies): the same rule, with at most
  one read's delay.

A request that is not a stream has one window: the whole answer (`timeout`). A stream has two:
the first chunk within `timeout` of sending, then at most `idle_timeout` between chunks (a
chunk is an event that carries an answer; comments and heartbeats do not count).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpx

__all__ = ["ACTIVE", "Deadline", "DeadlineCarrier", "guard_body", "release"]


class Deadline:
    """When the current phase of one request must end (monotonic seconds)."""

    __slots__ = ("_clock", "at", "expired", "first", "fresh", "idle", "streaming", "waiting_for")

    def __init__(
        self,
        first: float,
        idle: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        streaming: bool = False,
    ) -> None:
        self.first, self.idle, self.streaming = first, idle, streaming
        self._clock = clock
        self.at = clock() + first
        self.expired = self.fresh = False
        self.waiting_for = "first"  # or "next": a stream between chunks

    def start(self) -> None:
        """(Re)start the first window: a new attempt was sent."""
        self.at = self._clock() + self.first
        self.expired = self.fresh = False
        self.waiting_for = "first"

    def chunk(self) -> None:
        """A chunk arrived: the next one is due within the idle window, counted from the next
        wait (runs once per chunk, so it only sets a flag; `left` reads the clock anyway)."""
        self.fresh = self.idle is not None

    def left(self) -> float:
        """Seconds until the deadline; marks it expired (and returns 0) once it has passed."""
        now = self._clock()
        if self.fresh:
            self.at, self.fresh, self.waiting_for = now + (self.idle or 0.0), False, "next"
        remaining = self.at - now
        if remaining <= 0:
            self.expired = True
            return 0.0
        return remaining

    def describe(self) -> str:
        """Why the request stopped, for a message: which window, how long, which setting."""
        if self.waiting_for == "next":
            return f"no chunk arrived for {self.idle:g} s (idle_timeout={self.idle:g})"
        if self.streaming:
            return f"no chunk arrived within {self.first:g} s of sending (timeout={self.first:g})"
        return f"no complete answer within {self.first:g} s (timeout={self.first:g})"


# The deadline of the request being read in this thread or task, if any.
ACTIVE: ContextVar[Deadline | None] = ContextVar("orq_notebook_deadline", default=None)


class DeadlineCarrier:
    """A connection's stream that carries the deadline of the body it reads (`_deadline_net`)."""

    deadline: Deadline | None = None


# -- over the response body ------------------------------------------------------------------


def _check(deadline: Deadline, request: httpx.Request) -> None:
    if deadline.left() <= 0:
        raise httpx.ReadTimeout(deadline.describe(), request=request)


class _Body(httpx.SyncByteStream):
    """A body read through a transport the client does not own: checked between chunks."""

    def __init__(self, inner: Iterable[bytes], request: httpx.Request, deadline: Deadline) -> None:
        self._inner, self._request, self._deadline = inner, request, deadline

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            _check(self._deadline, self._request)
            yield chunk

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, inner: Any, request: httpx.Request, deadline: Deadline) -> None:
        self._inner, self._request, self._deadline = inner, request, deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            _check(self._deadline, self._request)
            yield chunk

    async def aclose(self) -> None:
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()


def guard_body(response: httpx.Response, deadline: Deadline, *, asynchronous: bool) -> None:
    """Read `response`'s body under `deadline`, whoever reads it and whenever.

    On the client's own connections the deadline goes with the connection (every socket read
    is bounded); on others the body is checked between chunks.
    """
    carrier = response.extensions.get("network_stream")
    if isinstance(carrier, DeadlineCarrier):
        carrier.deadline = deadline
        return
    stream = response.stream
    if asynchronous and isinstance(stream, httpx.AsyncByteStream):
        response.stream = _AsyncBody(stream, response.request, deadline)
    elif not asynchronous and isinstance(stream, httpx.SyncByteStream):
        response.stream = _Body(stream, response.request, deadline)


def release(response: httpx.Response | None) -> None:
    """The body is done: its connection no longer carries the deadline (it may be reused)."""
    if response is not None:
        carrier = response.extensions.get("network_stream")
        if isinstance(carrier, DeadlineCarrier):
            carrier.deadline = None
