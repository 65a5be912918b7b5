"""What the local server accepts from a request, before any deployment is looked at: the JSON
body, and the keys and ids that end up in URL paths.

Refusals are orq.ai's 400 `invalid_request_body` (`RequestError`), never a crash: malformed
JSON, NaN, nesting too deep to read, text that is not valid Unicode (a lone surrogate such as
``"\\udc80"`` cannot be encoded as UTF-8, so no answer could even quote it), and keys such as
``..`` that would change the path of a URL built from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ._spec import NAME_RULE, is_name
from ._store import paginate
from ._wire import invalid_body

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["check_name", "decode_json", "lone_surrogate", "page_of", "quoted"]

T = TypeVar("T")

_SURROGATE = re.compile("[\ud800-\udfff]")


def quoted(value: str, limit: int = 80) -> str:
    """`repr(value)`, shortened: a name echoed in an error stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_json(data: bytes) -> Any:
    """The JSON value of a request body; `RequestError` (400) when it cannot be used."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise invalid_body(f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:  # e.g. 100,000 `[`: a 400 like any bad body, not a crash
        raise invalid_body("The request body is not valid JSON: it is nested too deeply.") from None
    where = lone_surrogate(value)
    if where is not None:
        raise invalid_body(
            f"Invalid request body: {where}: the text holds a lone surrogate (an unpaired "
            "\\ud800-\\udfff escape), which is not valid Unicode.",
            field=where,
        )
    return value


def lone_surrogate(value: Any) -> str | None:
    """The path (`inputs.name`, `messages[0].content`) of the first string, key included,
    that holds a lone surrogate; None when there is none. Iterative: depth costs no stack."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    return f"{path}.<key>" if path else "<key>"
                stack.append((f"{path}.{key}" if path else key, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def check_name(value: str, what: str, *, field: str | None = None) -> str:
    """`value` if it can be a deployment key or id in a URL path; else `RequestError` (400).

    `.` and `..` are refused (a client building `/v2/deployments/{key}/versions` would reach
    another endpoint), as are `/ \\ ? # %`, whitespace and control characters.
    """
    if not is_name(value):
        raise invalid_body(
            f"Invalid request: {field or what}: {quoted(value)} cannot be a deployment {what} "
            f"(keys and ids are {NAME_RULE}).",
            field=field or what,
        )
    return value


def _query_int(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(float(raw))
        if raw is not None and float(raw) != value or not 1 <= value <= maximum:
            raise ValueError(raw)
    except (ValueError, OverflowError):
        message = (
            f"Invalid query parameter: {name}: expected an integer from 1 to {maximum}; "
            f"got {quoted(str(raw))}."
        )
        raise invalid_body(message, field=name) from None
    return value


def page_of(
    request: Request,
    items: list[T],
    cursors: Callable[[T], Iterable[str]],
    *,
    max_limit: int,
) -> tuple[list[T], bool]:
    """The page a list request asks for (`limit`, `starting_after` / `ending_before`), and
    whether more follow; a bad query is a 400 `invalid_request_body` naming the parameter."""
    after = request.query_params.get("starting_after")
    before = request.query_params.get("ending_before")
    if after and before:
        message = "Give either starting_after or ending_before, not both."
        raise invalid_body(message, field="ending_before")
    limit = _query_int(request, "limit", 10, max_limit)
    try:
        return paginate(items, cursors, limit=limit, starting_after=after, ending_before=before)
    except LookupError:
        name = "starting_after" if after else "ending_before"
        message = (
            f"Invalid query parameter: {name}: nothing has the id {quoted(after or before or '')}."
        )
        raise invalid_body(message, field=name) from None
