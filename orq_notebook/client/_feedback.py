"""`client.feedback`: ratings and corrections attached to an answer's trace, for both twins.

```python
answer = client.deployments.invoke("support-answer", messages=[...])
sent = client.feedback.create("rating", "good", trace_id=answer.trace_id)
client.feedback.remove(sent.id, trace_id=answer.trace_id)
```

The wire is `POST /v2/feedback` and `POST /v2/feedback/remove` (orq-api-additions §3). The
trace id is the invocation's `telemetry.trace_id` (`Invocation.trace_id`, `Result.trace_id`),
the id orq's feedback guide says to keep. orq's built-in properties (§3.3) are `rating`
(`good`/`bad`), `defects` and `interactions` (lists of choices) and `correction` (free text); a
single choice given as a string is sent as a one-item list, as the API wants for choices.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from ._io import _AsyncClient, _SyncClient
from ._models import FEEDBACK_PRODUCTS, _Response

__all__ = [
    "CHOICE_PROPERTIES",
    "AsyncFeedback",
    "Feedback",
    "FeedbackRecord",
    "FeedbackValue",
    "new_feedback_id",
]

_CREATE = "/v2/feedback"
_REMOVE = "/v2/feedback/remove"
CHOICE_PROPERTIES = frozenset({"rating", "defects", "interactions"})
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

FeedbackValue = str | float | int | Sequence[str]


class FeedbackRecord(_Response):
    """Feedback as the API echoes it: `property`, `value`, `trace_id`, and `id`, `product`."""

    property: str
    value: str | float | list[str]
    trace_id: str
    id: str | None = None
    product: str | None = None


def new_feedback_id() -> str:
    """A fresh ULID, the form orq's feedback ids take; sent so the feedback can be removed."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _wire_value(property: str, given: FeedbackValue) -> str | float | list[str]:
    value: object = given  # checked at run time: callers are not always type-checked
    if isinstance(value, bool):
        raise TypeError("A feedback value is text, a number or a list of text; not a bool.")
    if isinstance(value, str):
        return [value] if property in CHOICE_PROPERTIES else value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise TypeError(
        f"A feedback value is text, a number or a list of text; not {type(value).__name__}."
    )


def _create_body(
    property: str, value: FeedbackValue, trace_id: str, id: str | None, product: str
) -> dict[str, Any]:
    if not property:
        raise ValueError("property must not be empty (e.g. 'rating').")
    if not trace_id:
        raise ValueError("trace_id must not be empty: pass the answer's trace_id.")
    if product not in FEEDBACK_PRODUCTS:
        raise ValueError(f"product must be one of {', '.join(FEEDBACK_PRODUCTS)}; got {product!r}.")
    body: dict[str, Any] = {
        "property": property,
        "value": _wire_value(property, value),
        "trace_id": trace_id,
        "product": product,
    }
    if id is not None:
        body["id"] = id
    return body


def _remove_body(id: str, trace_id: str, product: str) -> dict[str, Any]:
    if not id or not trace_id:
        raise ValueError("remove needs the feedback's id and the trace_id it was given on.")
    return {"id": id, "trace_id": trace_id, "product": product}


class Feedback:
    """`client.feedback`: send and remove feedback on an answer's trace."""

    def __init__(self, client: _SyncClient) -> None:
        self._client = client

    def create(
        self,
        property: str,
        value: FeedbackValue,
        *,
        trace_id: str,
        id: str | None = None,
        product: str = "deployments",
    ) -> FeedbackRecord:
        """Send feedback: `client.feedback.create("rating", "good", trace_id=answer.trace_id)`.

        Args:
            property: what is rated: `rating`, `defects`, `interactions`, `correction`, or a
                Human Review key of your workspace.
            value: text, a number, or a list of text (a string for a choice property is sent
                as a one-item list).
            trace_id: the answer's trace id.
            id: a ULID of your own, to be able to `remove` it later.
            product: the orq product the trace belongs to (default `deployments`).
        """
        c = self._client
        body = _create_body(property, value, trace_id, id, product)
        return c._parse(c._send(c._request("POST", _CREATE, body=body)), FeedbackRecord)

    def remove(self, id: str, *, trace_id: str, product: str = "deployments") -> dict[str, Any]:
        """Remove feedback sent with `id` on `trace_id`."""
        c = self._client
        body = _remove_body(id, trace_id, product)
        return c._parse_dict(c._send(c._request("POST", _REMOVE, body=body)))


class AsyncFeedback:
    """`async_client.feedback`: the async twin of `Feedback`."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        property: str,
        value: FeedbackValue,
        *,
        trace_id: str,
        id: str | None = None,
        product: str = "deployments",
    ) -> FeedbackRecord:
        """Send feedback (see `Feedback.create`)."""
        c = self._client
        body = _create_body(property, value, trace_id, id, product)
        return c._parse(await c._send(c._request("POST", _CREATE, body=body)), FeedbackRecord)

    async def remove(
        self, id: str, *, trace_id: str, product: str = "deployments"
    ) -> dict[str, Any]:
        """Remove feedback sent with `id` on `trace_id`."""
        c = self._client
        body = _remove_body(id, trace_id, product)
        return c._parse_dict(await c._send(c._request("POST", _REMOVE, body=body)))
