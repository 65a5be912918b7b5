"""orq's feedback API on the local server, kept in memory (orq-api-additions §3).

    POST /v2/feedback           {property, value, trace_id, id?, product?} -> the feedback
    POST /v2/feedback/remove    {id, trace_id, product} -> {id, trace_id, product}
    GET  /v2/feedback           LOCAL ONLY (orq has no such endpoint): what was received,
                                oldest first, `?trace_id=` to filter -> {"object": "list",
                                "data": [...]}

As orq does, 400 and 404 answer `{"message": "..."}` (shape E), the bodies the official SDK
reads. orq's built-in properties are checked (`rating`: good or bad; `defects` and
`interactions`: their choices; `correction`: text); any other property is taken as a Human
Review key of the workspace, with any value orq allows (text, a number, a list of text).
Feedback sent again with the same `id` replaces the earlier one. Any trace id is accepted:
the server cannot know the traces of another server, or of its own earlier runs.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..client._models import FEEDBACK_PRODUCTS
from ._json_body import MessageOnlyError, read_json_object
from ._spec import utc_iso

__all__ = ["FeedbackStore", "feedback_routes"]

_LIMIT = 1024 * 1024
_CHOICES = {
    "rating": ("good", "bad"),
    "defects": (
        "grammatical",
        "spelling",
        "hallucination",
        "repetition",
        "inappropriate",
        "off_topic",
        "incompleteness",
        "ambiguity",
    ),
    "interactions": ("saved", "selected", "deleted", "shared", "copied", "reported"),
}


class FeedbackStore:
    """Feedback received, in order; safe to use from the server's threads."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, item: dict[str, Any]) -> None:
        with self._lock:
            if item.get("id") is not None:
                self._items = [i for i in self._items if i.get("id") != item["id"]]
            self._items.append(item)

    def remove(self, id: str, trace_id: str) -> bool:
        with self._lock:
            kept = [i for i in self._items if (i.get("id"), i["trace_id"]) != (id, trace_id)]
            removed = len(kept) != len(self._items)
            self._items = kept
            return removed

    def list(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._items if trace_id in (None, i["trace_id"])]


def _bad(message: str) -> MessageOnlyError:
    return MessageOnlyError(400, message, "invalid_request_body")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{name} is required and must be a non-empty string.")
    return value


def _product(body: dict[str, Any]) -> str:
    product = body.get("product", "deployments")
    if product not in FEEDBACK_PRODUCTS:
        raise _bad(f"Invalid product {product!r}; the default is 'deployments'.")
    return str(product)


def _value(prop: str, value: Any) -> Any:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    is_texts = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not (isinstance(value, str) or is_number or is_texts):
        raise _bad("value is required: a string, a number, or an array of strings.")
    if prop in _CHOICES:
        chosen = [value] if isinstance(value, str) else (value if is_texts else [])
        allowed = _CHOICES[prop]
        one = prop != "rating" or len(chosen) == 1
        if not chosen or not one or any(v not in allowed for v in chosen):
            how = "one of" if prop == "rating" else "an array of"
            raise _bad(f"{prop} takes {how}: {', '.join(allowed)}; got {value!r}.")
    elif prop == "correction" and not isinstance(value, str):
        raise _bad("correction takes a string (the corrected text).")
    return value


def _store(request: Request) -> FeedbackStore:
    store: FeedbackStore = request.app.state.feedback
    return store


async def create_feedback(request: Request) -> Response:
    body = await read_json_object(request, limit=_LIMIT, error=MessageOnlyError)
    prop = _text(body, "property")
    answer: dict[str, Any] = {
        "property": prop,
        "value": _value(prop, body.get("value")),
        "trace_id": _text(body, "trace_id"),
    }
    if body.get("id") is not None:
        answer["id"] = _text(body, "id")
    answer["product"] = _product(body)
    _store(request).add({**answer, "received_at": utc_iso(time.time())})
    return JSONResponse(answer)


async def remove_feedback(request: Request) -> Response:
    body = await read_json_object(request, limit=_LIMIT, error=MessageOnlyError)
    id, trace_id, product = _text(body, "id"), _text(body, "trace_id"), _product(body)
    if not _store(request).remove(id, trace_id):
        message = f"No feedback with id '{id}' on trace '{trace_id}' was found."
        raise MessageOnlyError(404, message, "feedback_not_found")
    return JSONResponse({"id": id, "trace_id": trace_id, "product": product})


async def list_feedback(request: Request) -> Response:
    items = _store(request).list(request.query_params.get("trace_id"))
    return JSONResponse({"object": "list", "data": items})


def feedback_routes() -> list[Route]:
    """The feedback endpoints; the app keeps a `FeedbackStore` in `app.state.feedback`."""
    return [
        Route("/v2/feedback", create_feedback, methods=["POST"]),
        Route("/v2/feedback", list_feedback, methods=["GET"]),
        Route("/v2/feedback/remove", remove_feedback, methods=["POST"]),
    ]
