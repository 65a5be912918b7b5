"""Reading an error body, whichever shape orq (or a server like it) sent, and keeping server
text to one bounded line.

Shapes read (reference: orq-api-additions.md §1.1):

* `{"error": {"code", "message", "doc_url", "details"?}}` — orq's current errors;
* `{"id", "code": 404, "error": "<text>", "source"}` — the older docs;
* `{"message", "code"?: int, "details"?: [...]}` and `{"message", "code"?: "500"}` — the SDK's;
* `{"message", "error": {...}}` — both at once (what the local server sends);
* `{"error": {"code", "message", "param", "type"}}` — OpenAI-style (router operations);
* `{"detail": "<text>" | [{"loc", "msg"}]}` — FastAPI-style servers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_MESSAGE", "ErrorBody", "one_line", "parse_error_body"]

MAX_MESSAGE = 300  # characters of server text in a message; the whole body stays in `body`


@dataclass(frozen=True)
class ErrorBody:
    """What an error body says; every field None when it does not say it."""

    message: str | None = None
    code: str | None = None
    details: Any = None
    doc_url: str | None = None


def parse_error_body(text: str) -> ErrorBody:
    """The message, orq error code, details and doc URL of an error body."""
    try:
        data = json.loads(text)
    except ValueError:
        return ErrorBody()
    if not isinstance(data, dict):
        return ErrorBody()
    nested = data.get("error")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else {}
    message = None
    for value in (data.get("message"), nested, data.get("detail")):
        message = _message_in(value)
        if message:
            break
    code = _code(inner.get("code")) or _code(data.get("code"))
    details = inner.get("details", data.get("details"))
    doc_url = inner.get("doc_url") or data.get("doc_url")
    return ErrorBody(
        message=message,
        code=code,
        details=details,
        doc_url=doc_url if isinstance(doc_url, str) and doc_url.strip() else None,
    )


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Server text as one line of at most about `limit` characters.

    Line breaks and runs of spaces become one space, so a server's "Traceback (most recent call
    last)" cannot pose as our own; what is cut is said, and stays in the error's `body`.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit].rstrip()}… ({len(flat) - limit:,} more characters in the error's body)"


def _code(value: object) -> str | None:
    # orq's codes are snake_case words; a number (HTTP or gRPC status, even as a string) is not.
    if isinstance(value, str) and value.strip() and not value.strip().isdigit():
        return value.strip()[:100]
    return None


def _message_in(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        message = _message_in(value.get("message")) or _message_in(value.get("msg"))
        loc = value.get("loc")
        if message and isinstance(loc, list) and loc:
            return f"{'.'.join(str(part) for part in loc)}: {message}"
        return message
    if isinstance(value, list):
        return "; ".join(m for m in map(_message_in, value[:20]) if m) or None
    return None
