"""Reading a JSON object body with a size limit, for the files and feedback endpoints.

Errors are `RequestError`s (the server's one error type), with a 400 for a body that is not a
JSON object, as orq answers a missing or invalid parameter (orq-api-additions §1.1).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ._wire import RequestError

__all__ = ["MessageOnlyError", "read_json_object"]


class MessageOnlyError(RequestError):
    """An error answered as `{"message": "..."}` only: the shape of the feedback endpoints'
    400 and 404 bodies (orq-api-additions §1.1, shape E), which the official SDK reads."""

    def body(self) -> dict[str, Any]:
        return {"message": self.message}


async def read_json_object(
    request: Request, *, limit: int, error: type[RequestError] = RequestError
) -> dict[str, Any]:
    """The body as a dict; 413 over `limit` bytes, 400 when it is not a JSON object."""
    data, size = bytearray(), 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            data += chunk
    if size > limit:  # read to the end, so the client sees the 413 rather than a reset
        message = f"The request body is {size} bytes; this server accepts at most {limit} here."
        raise error(413, message, "request_too_large")
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        raise error(400, "The request body is not valid JSON.", "invalid_request_body") from None
    if not isinstance(parsed, dict):
        raise error(400, "The request body must be a JSON object.", "invalid_request_body")
    return parsed
