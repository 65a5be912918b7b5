"""Retry notices: a client says when it is about to wait and send a request again.

A wait the user cannot see looks like a hang (a `Retry-After` may ask for a minute). So before
every retry the client builds a `RetryNotice` and hands it to

* the client's own callback, `Client(on_retry=callback)`, and
* every callback registered for the current context with `retry_notices(callback)`; the
  notebook uses this to say "rate limited, retrying in 20.0 s" in the cell that is waiting,
  the batch in its progress bar (`display._format.format_retry` words it). Tasks started
  inside the `with` inherit it.

Callbacks run in the thread or task that retries, before the wait; they should return quickly.
An exception in a callback is logged and does not stop the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["OnRetry", "RetryNotice", "announce", "retry_notices"]

logger = logging.getLogger("orq_notebook")


@dataclass(frozen=True)
class RetryNotice:
    """One coming retry.

    Attributes:
        attempt: the attempt about to be made (2 for the first retry).
        wait: seconds until it is sent.
        reason: what failed, in words: `"rate limited (HTTP 429)"`, `"HTTP 503"`,
            `"connection refused (ConnectError)"`.
        status_code: the status that failed, or None for a connection failure.
        retry_after: the wait the server asked for (`Retry-After`), when it did.
        method, path: the request (`POST`, `/v2/deployments/invoke`).
    """

    attempt: int
    wait: float
    reason: str
    status_code: int | None = None
    retry_after: float | None = None
    method: str = ""
    path: str = ""

    @property
    def rate_limited(self) -> bool:
        return self.status_code == 429

    @property
    def cause(self) -> str:
        """What the retry is for, in two or three words: `"rate limited"`, `"HTTP 503"`."""
        return "rate limited" if self.rate_limited else self.reason


OnRetry = Callable[[RetryNotice], object]

_LISTENERS: ContextVar[tuple[OnRetry, ...]] = ContextVar("orq_notebook_retry_listeners", default=())


@contextmanager
def retry_notices(callback: OnRetry) -> Iterator[None]:
    """Call `callback(notice)` before every retry of any client in this context."""
    token = _LISTENERS.set((*_LISTENERS.get(), callback))
    try:
        yield
    finally:
        _LISTENERS.reset(token)


def announce(notice: RetryNotice, own: OnRetry | None = None) -> None:
    """Hand `notice` to the client's own callback, then to the context's."""
    for callback in (own, *_LISTENERS.get()):
        if callback is None:
            continue
        try:
            callback(notice)
        except Exception:  # a display failure must not fail the request
            logger.warning("A retry callback failed; the request goes on.", exc_info=True)
