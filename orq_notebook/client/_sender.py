"""`FeedbackSender`: how a displayed `Result` sends its own feedback (`result.feedback(...)`).

The notebook session (and `run_batch`) attach one to each answer they make: it holds the
settings of the connection that produced the answer, never shows them, and opens a client only
for the call, so the display layer never needs the HTTP client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._client import AsyncClient, Client
from ._config import Settings
from ._exceptions import OrqError
from ._feedback import FeedbackRecord, FeedbackValue, new_feedback_id

__all__ = ["FeedbackSender"]


@dataclass(frozen=True)
class FeedbackSender:
    """Sends feedback through the connection an answer came from (`Result.feedback`).

    Holds that connection's settings (the key stays out of `repr`) and opens a client per call,
    so it keeps working after the session that made it reconnects elsewhere.
    """

    settings: Settings = field(repr=False)

    def _kwargs(self) -> dict[str, Any]:
        s = self.settings
        return {
            "api_key": s.api_key,
            "base_url": s.base_url,
            "contact_id": s.contact_id,
            "timeout": s.timeout,
            "max_retries": s.max_retries,
        }

    def send(
        self, trace_id: str, property: str, value: FeedbackValue, id: str | None = None
    ) -> FeedbackRecord:
        """Send feedback with `id` (a new one when None, so it can be removed later)."""
        with Client(**self._kwargs()) as client:
            return client.feedback.create(
                property, value, trace_id=trace_id, id=id or new_feedback_id()
            )

    async def asend(
        self, trace_id: str, property: str, value: FeedbackValue, id: str | None = None
    ) -> FeedbackRecord:
        """`send`, awaitable."""
        async with AsyncClient(**self._kwargs()) as client:
            return await client.feedback.create(
                property, value, trace_id=trace_id, id=id or new_feedback_id()
            )

    def remove(self, trace_id: str, id: str) -> None:
        with Client(**self._kwargs()) as client:
            client.feedback.remove(id, trace_id=trace_id)

    async def aremove(self, trace_id: str, id: str) -> None:
        async with AsyncClient(**self._kwargs()) as client:
            await client.feedback.remove(id, trace_id=trace_id)

    def send_many(
        self, items: Iterable[tuple[str, str, FeedbackValue]]
    ) -> list[FeedbackRecord | OrqError]:
        """Send `(trace_id, property, value)` items over one connection; an item that fails
        gives its error in place, and the rest are still sent."""
        out: list[FeedbackRecord | OrqError] = []
        with Client(**self._kwargs()) as client:
            for trace_id, property, value in items:
                try:
                    out.append(
                        client.feedback.create(
                            property, value, trace_id=trace_id, id=new_feedback_id()
                        )
                    )
                except OrqError as exc:
                    out.append(exc)
                except (TypeError, ValueError) as exc:  # a value the API cannot take
                    out.append(OrqError(str(exc)))
        return out
