"""When to retry a request, and how long to wait first.

Pure policy: no I/O, no sleeping. The clients read the clock, sleep, and ask `RetryPolicy.delay`
after every failed attempt, and `retry_reason` whether the failure may be retried at all.

**Retries must not bill twice.** A generation (`invoke`, `stream`) is retried by default only
when the service cannot have started it: the connection was never made (refused, DNS, connect
timeout, no free connection), the request never arrived whole (a write failed), or the status
says nothing was processed (408, 429, 503). A failure after the request arrived (a connection
dropped after `200 OK`, a read timeout, 502, 504) may have run the model, so it is retried only
with `retry_unsafe=True`. Requests that generate nothing (list, get_config, list_versions,
invalidate) are retried in both cases. A stream is retried only while it is being opened, never
once its first byte has arrived; an expired deadline is never retried.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime

import httpx

from ._config import DEFAULT_MAX_RETRIES

__all__ = ["RETRY_STATUSES", "UNSAFE_STATUSES", "RetryPolicy", "parse_retry_after", "retry_reason"]

# Statuses that say the request was not processed.
RETRY_STATUSES = frozenset({408, 429, 503})
# Statuses after which the work may have been done (a gateway gave up on it).
UNSAFE_STATUSES = frozenset({502, 504})
# Failures before the request reached the server whole.
_SAFE_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
)
# Failures after it did: the server may be working on it.
_UNSAFE_ERRORS = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)


def retry_reason(
    outcome: int | BaseException, *, generation: bool, unsafe: bool = False
) -> tuple[str | None, bool]:
    """(why `outcome` may be retried, in words, or None; whether it was refused only because
    it may have started a generation). `outcome` is an error status or a transport error."""
    if isinstance(outcome, int):
        if outcome in RETRY_STATUSES:
            return ("rate limited (HTTP 429)" if outcome == 429 else f"HTTP {outcome}"), False
        if outcome in UNSAFE_STATUSES:
            allowed = unsafe or not generation
            return (f"HTTP {outcome}" if allowed else None), not allowed
        return None, False
    name = type(outcome).__name__
    if isinstance(outcome, _SAFE_ERRORS):
        return name, False
    if isinstance(outcome, _UNSAFE_ERRORS):
        allowed = unsafe or not generation
        return (name if allowed else None), not allowed
    return None, False


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded in attempts and in total time.

    `RetryPolicy(max_retries=3)`; `max_retries=0` disables retries.

    Args:
        max_retries: retries after the first attempt.
        initial_backoff: seconds before the first retry; doubled for each next one.
        max_backoff: cap on one computed backoff (a server's `Retry-After` is not capped).
        max_elapsed: no retry starts later than this many seconds after the first attempt.
        jitter: fraction of each backoff removed at random, so clients do not retry in step.
        random: returns a float in [0, 1); injected by tests.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_elapsed: float = 60.0
    jitter: float = 0.25
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {self.max_retries}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, not {self.jitter}")

    def backoff(self, retries: int) -> float:
        """The computed wait before retry number `retries + 1`, jitter included."""
        base = min(self.initial_backoff * 2.0**retries, self.max_backoff)
        return base * (1.0 - self.jitter * self.random())

    def delay(
        self, retries: int, *, elapsed: float, retry_after: float | None = None
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up.

        Args:
            retries: retries already made for this request (0 after the first attempt).
            elapsed: seconds since the first attempt started.
            retry_after: the server's advice (`Retry-After` / `retry-after-ms`), if any.
        """
        if retries >= self.max_retries:
            return None
        wait = self.backoff(retries) if retry_after is None else max(retry_after, 0.0)
        if elapsed + wait > self.max_elapsed:
            return None
        return wait


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The server's advice in seconds from `retry-after-ms`, else `Retry-After`, else None.

    `Retry-After` may be seconds or an HTTP date; `now` (epoch seconds) defaults to the time.
    `headers` should match names case-insensitively, as `httpx.Headers` does.
    """
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000" parses naive; HTTP dates are always UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return max(moment.timestamp() - (time.time() if now is None else now), 0.0)


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return max(value, 0.0) if math.isfinite(value) else None
