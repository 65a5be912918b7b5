"""Flow control for batch runs: an AIMD in-flight limit and a per-row attempt tracker.

The client already retries a 429 after the server's `Retry-After`; the limiter adds the other
half of being polite, for a whole batch: while 429s keep coming, fewer requests are let in
(the limit halves, at most once per "round"), and it grows back by one after a round of
successes, the additive-increase / multiplicative-decrease rule TCP uses for congestion.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["AIMDLimiter", "RowTrack", "current_row"]


class AIMDLimiter:
    """Lets at most `limit` holders in at once; `limit` moves between `minimum` and `maximum`.

    Usage: `epoch = await limiter.acquire()` ... `limiter.release()`. Report outcomes with
    `congested(epoch)` (a 429 answered a request admitted in `epoch`) and `succeeded()`.

    A burst of 429s caused by one overload halves the limit once, not once per 429: only a
    429 for a request admitted since the last decrease counts (`epoch` tells which).
    The limit grows by one after `limit` successes in a row without a decrease, i.e. about
    once per round of requests, so it climbs back at the pace the server is answering.
    """

    def __init__(self, maximum: int, *, minimum: int = 1) -> None:
        if maximum < 1:
            raise ValueError(f"concurrency must be at least 1, not {maximum!r}")
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.limit = maximum
        self.lowest = maximum
        self.in_flight = 0
        self.epoch = 0
        self.decreases = 0
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a free slot and take it; returns the epoch the holder was admitted in."""
        while self.in_flight >= self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif not waiter.cancelled():
                    # Woken and cancelled before running: pass the free slot on.
                    self._wake()
                raise
        self.in_flight += 1
        return self.epoch

    def release(self) -> None:
        """Give a slot back."""
        self.in_flight -= 1
        self._wake()

    def congested(self, epoch: int) -> bool:
        """A 429 for a request admitted in `epoch`; True when that halved the limit."""
        if epoch != self.epoch:
            return False
        self.limit = max(self.minimum, self.limit // 2)
        self.lowest = min(self.lowest, self.limit)
        self.epoch += 1
        self.decreases += 1
        self._successes = 0
        return True

    def succeeded(self) -> None:
        """A request finished without a 429; a round of these grows the limit by one."""
        if self.limit >= self.maximum:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self.limit += 1
            self._successes = 0
            self._wake()

    def _wake(self) -> None:
        # Woken waiters re-check the limit, so waking one too many is harmless.
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1


@dataclass
class RowTrack:
    """What the HTTP hooks saw while one row ran: attempts sent, 429s received."""

    limiter: AIMDLimiter
    epoch: int
    attempts: int = 0
    rate_limited: int = 0
    server_errors: int = 0

    def on_request(self) -> None:
        self.attempts += 1

    def on_status(self, status: int) -> None:
        if status == 429:
            self.rate_limited += 1
            self.limiter.congested(self.epoch)
        elif status >= 500:
            self.server_errors += 1


# The row the current task is running; the HTTP hooks run in the same task, so they see it.
current_row: ContextVar[RowTrack | None] = ContextVar("orq_notebook_batch_row", default=None)
