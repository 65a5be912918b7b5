"""Feedback sent from a `Result`: `res.feedback("rating", "good")`.

A Result does not know the HTTP client (the display layer never imports it): whoever made the
Result attaches a `FeedbackSender` (the notebook session, the widgets' backend), which holds
the connection the answer came from. Feedback on one property reuses one id per Result, so
sending `rating` again replaces the earlier rating, and `remove_feedback` can take it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..client._exceptions import OrqError

if TYPE_CHECKING:
    from ._result import Result

__all__ = [
    "FeedbackSender",
    "NoFeedbackError",
    "aremove",
    "asend",
    "feedback_problem",
    "remove",
    "send",
]


class FeedbackSender(Protocol):
    """What a Result sends its feedback through (`client._sender.FeedbackSender` is one).

    `send` returns the server's echo, which has the feedback's `id`.
    """

    def send(self, trace_id: str, property: str, value: Any, id: str | None) -> Any: ...
    async def asend(self, trace_id: str, property: str, value: Any, id: str | None) -> Any: ...
    def remove(self, trace_id: str, id: str) -> None: ...
    async def aremove(self, trace_id: str, id: str) -> None: ...


class NoFeedbackError(OrqError):
    """This Result cannot take feedback: it has no trace id, or no connection to send it to."""


def feedback_problem(result: Result | None) -> str | None:
    """Why `result` cannot take feedback, in a few words; None when it can."""
    if result is None:
        return "no answer yet"
    if not result.trace_id:
        return "this answer has no trace id"
    if result._feedback_sender is None:
        return "this answer is not connected to a server"
    return None


def _target(result: Result) -> tuple[FeedbackSender, str]:
    sender: FeedbackSender | None = result._feedback_sender
    if not result.trace_id:
        raise NoFeedbackError(
            "This result has no trace id, so orq cannot attach feedback to it "
            "(answers from Humanloop, and runs that failed before answering, have none)."
        )
    if sender is None:
        raise NoFeedbackError(
            "This result is not connected to a server: send feedback with "
            f'client.feedback.create("rating", "good", trace_id="{result.trace_id}").'
        )
    return sender, result.trace_id


def _sent(result: Result, property: str, value: Any, record: Any) -> Any:
    feedback_id = getattr(record, "id", None) or result._feedback_ids.get(property)
    if feedback_id:
        result._feedback_ids[property] = feedback_id
    result.feedback_given[property] = value
    return record


def send(result: Result, property: str, value: Any) -> Any:
    sender, trace_id = _target(result)
    record = sender.send(trace_id, property, value, result._feedback_ids.get(property))
    return _sent(result, property, value, record)


async def asend(result: Result, property: str, value: Any) -> Any:
    sender, trace_id = _target(result)
    record = await sender.asend(trace_id, property, value, result._feedback_ids.get(property))
    return _sent(result, property, value, record)


def _given(result: Result, property: str) -> str:
    feedback_id = result._feedback_ids.get(property)
    if feedback_id is None:
        raise NoFeedbackError(f"No {property!r} feedback was sent from this result.")
    return feedback_id


def remove(result: Result, property: str) -> None:
    sender, trace_id = _target(result)
    sender.remove(trace_id, _given(result, property))
    del result._feedback_ids[property]
    result.feedback_given.pop(property, None)


async def aremove(result: Result, property: str) -> None:
    sender, trace_id = _target(result)
    await sender.aremove(trace_id, _given(result, property))
    del result._feedback_ids[property]
    result.feedback_given.pop(property, None)
