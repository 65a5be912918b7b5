"""What the client refuses before anything is sent, each with one line naming the culprit.

Arguments of the wrong type (`Client(timeout="5")`), ids that would change the request's path
(`.`, `..`), text that cannot be encoded (a lone surrogate such as `"\\udc80"`), numbers JSON
cannot carry (infinity), and messages of the wrong shape. Every refusal is an `OrqError`, and
also a `TypeError` (`ArgumentTypeError`) or a `ValueError` (`InvalidArgumentError`).

**NaN, one rule.** A NaN (or pandas' `NA` / `NaT`) given as the value of an input means "no
value": the input is left out, so the deployment's default applies (an empty DataFrame cell in
`run_batch` is the same thing). NaN anywhere else, and infinity anywhere, has no JSON form and
is refused with the field's name.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import (
    InitErrorDetails,
    PydanticCustomError,
    PydanticSerializationError,
    to_jsonable_python,
)

from ._exceptions import ArgumentTypeError, InvalidArgumentError, InvalidRequestError

__all__ = [
    "check_messages",
    "check_values",
    "invalid_request",
    "is_missing",
    "key_or_id",
    "not_json",
    "optional_text",
    "seconds",
    "validated",
    "whole_number",
]

ROLES = ("system", "developer", "user", "assistant", "tool")
_EXAMPLE = "[{'role': 'user', 'content': 'Hi'}]"
_MISSING_TYPES = ("NAType", "NaTType")  # pandas' missing values, named to avoid importing it


def _kind(value: object) -> str:
    return type(value).__name__


# -- arguments ------------------------------------------------------------------------------


def optional_text(owner: str, name: str, value: object) -> str | None:
    """`value` if it is a str or None; else an ArgumentTypeError naming `owner`'s argument."""
    if value is None or isinstance(value, str):
        return value
    raise ArgumentTypeError(f"{owner} argument {name} takes a str, not {_kind(value)}.")


def seconds(owner: str, name: str, value: object) -> float | None:
    """A positive, finite number of seconds (or None: the default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"{owner} argument {name} takes a number of seconds (e.g. 30), not "
            f"{_kind(value)} {value!r:.40}."
        )
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(
            f"{owner} argument {name} takes a positive number of seconds, not {value!r}."
        )
    return float(value)


def whole_number(owner: str, name: str, value: object, *, minimum: int) -> int:
    """A whole number of at least `minimum` (a bool or a float is refused, not rounded)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(
            f"{owner} argument {name} takes a whole number ({minimum} or more), not "
            f"{_kind(value)} {value!r:.40}."
        )
    if value < minimum:
        raise InvalidArgumentError(
            f"{owner} argument {name} takes a whole number of {minimum} or more, not {value}."
        )
    return value


def key_or_id(value: object, what: str) -> str:
    """A deployment key or id: a non-empty str that is not a dot segment (`.` or `..`).

    A dot segment in a URL path moves the request to another endpoint (`versions("..")`
    would be `GET /v2/versions`), so it is refused everywhere a key or id is taken.
    """
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{what} takes a str, not {_kind(value)} {value!r:.40}.")
    if not value.strip():
        raise InvalidArgumentError(f"{what} must not be empty.")
    if value.strip() in (".", ".."):
        raise InvalidArgumentError(f"{what} {value!r} is not a valid key or id.")
    if _has_surrogate(value):
        raise InvalidArgumentError(f"{what} {_surrogate_text(value)}")
    return value


# -- request values -----------------------------------------------------------------------------


def is_missing(value: object) -> bool:
    """True for NaN and pandas' NA/NaT: a value that means "no value"."""
    if isinstance(value, float):
        return math.isnan(value)
    return _kind(value) in _MISSING_TYPES


def check_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields with missing input values left out (the NaN rule above); refuses
    infinities, other NaNs and lone surrogates anywhere, naming where."""
    out = dict(fields)
    inputs = out.get("inputs")
    if isinstance(inputs, Mapping) and any(is_missing(v) for v in inputs.values()):
        out["inputs"] = {k: v for k, v in inputs.items() if not is_missing(v)}
    for name, value in out.items():
        _walk(value, name, 0)
    return out


def _walk(value: Any, where: str, depth: int) -> None:
    # This runs on every request: the common types are tested first and cost one check each.
    # A structure nested deeper than 200 levels is left to the serializer, which refuses it.
    kind = type(value)
    if kind is str:
        if not value.isascii() and _has_surrogate(value):
            raise InvalidRequestError(
                f"Invalid request field {where}: {_surrogate_text(value)}", field=where
            )
    elif kind is int or kind is bool or value is None:
        return
    elif isinstance(value, float):
        if not math.isfinite(value):
            what = "NaN" if math.isnan(value) else "an infinity"
            raise InvalidRequestError(
                f"Invalid request field {where}: {what} has no JSON form. (A NaN input value is "
                "left out so the deployment's default applies; elsewhere it is refused.)",
                field=where,
            )
    elif depth > 200:
        return
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not key.isascii() and _has_surrogate(key):
                raise InvalidRequestError(
                    f"Invalid request field {where}: a key {_surrogate_text(key)}", field=where
                )
            _walk(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _walk(item, f"{where}.{i}", depth + 1)
    elif isinstance(value, BaseModel):
        _walk(value.model_dump(), where, depth + 1)
    elif kind.__name__ in _MISSING_TYPES:
        raise InvalidRequestError(
            f"Invalid request field {where}: {kind.__name__} (a missing value) has no JSON form.",
            field=where,
        )


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        return (
            f"holds a lone surrogate {bad!r} at position {exc.start}, which UTF-8 cannot "
            "encode (text decoded with errors='surrogateescape'?); clean the text first."
        )
    return "is not valid text."  # pragma: no cover -- called only after a failed encode


# -- messages -----------------------------------------------------------------------------------


def check_messages(value: object, where: str = "messages") -> list[Any]:
    """`value` as a list of messages (dicts or message models), or one clear error.

    `where` names the source in the error: `messages`, `--messages`, `row 3: messages`.
    """
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        extra = ""
        if isinstance(value, str):
            extra = " (for one user message: [{'role': 'user', 'content': TEXT}])"
        elif isinstance(value, Mapping):
            extra = " (one message: put it in a list)"
        raise InvalidRequestError(
            f"{where} takes a list of messages such as {_EXAMPLE}, not {_kind(value)}{extra}.",
            field=where,
        )
    for i, message in enumerate(value):
        if isinstance(message, BaseModel):
            continue
        if not isinstance(message, Mapping):
            raise InvalidRequestError(
                f"{where}[{i}] is {_kind(message)} {message!r:.40}, not a message: write "
                f"{{'role': 'user', 'content': ...}}.",
                field=f"{where}.{i}",
            )
        role = message.get("role")
        if role not in ROLES:
            close = difflib.get_close_matches(str(role), ROLES, n=1) if role else []
            said = "has no 'role'" if role is None else f"has role {role!r:.40}"
            guess = f"; did you mean {close[0]!r}?" if close else f": one of {', '.join(ROLES)}."
            raise InvalidRequestError(f"{where}[{i}] {said}{guess}", field=f"{where}.{i}.role")
    return list(value)


def invalid_request(exc: ValidationError, model: str = "request") -> InvalidRequestError:
    """pydantic's ValidationError as one line naming the first field, the rest kept in
    `errors` as plain data (so the error pickles)."""
    problems = exc.errors(include_url=False, include_context=False, include_input=False)
    first = problems[0] if problems else {"loc": (), "msg": "invalid"}
    where = ".".join(str(part) for part in first["loc"]) or model
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    message = f"Invalid request field {where}: {first['msg']}{more}."
    if where.split(".")[0] in ("messages", "prefix_messages") and "list" in first["msg"]:
        message += f" Messages are a list such as {_EXAMPLE}."
    errors = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in problems
    ]
    return InvalidRequestError(message, field=where, errors=errors)


def validated(build: Callable[[], Any], model: str = "request") -> Any:
    """`build()`, with a pydantic ValidationError turned into an InvalidRequestError."""
    try:
        return build()
    except ValidationError as exc:
        raise invalid_request(exc, model) from None


def not_json(fields: Mapping[str, Any]) -> ValidationError:
    """A ValidationError naming the first value with no JSON form (an `object()`, a socket, a
    list nested hundreds deep).

    The free-form fields (`inputs`, `metadata`, ...) accept any value when validated; such a
    value fails only when the body is serialized, and should fail the same way as a wrong type.
    """
    found = None
    for name, value in fields.items():
        found = _unserializable(value, (name,))
        if found is not None:
            break
    loc, value, error = found or (("body",), None, "it cannot be written as JSON")
    if error is None:
        message = (
            "Input should be a JSON value (text, number, bool, null, list or dict), not {kind}"
        )
    else:
        message = "Input cannot be sent as JSON: {error}"
    details: InitErrorDetails = {
        "type": PydanticCustomError(
            "json_value", message, {"kind": type(value).__name__, "error": str(error)}
        ),
        "loc": loc,
        "input": value,
    }
    return ValidationError.from_exception_data("InvokeRequest", [details])


def _unserializable(
    value: Any, loc: tuple[str | int, ...]
) -> tuple[tuple[str | int, ...], Any, str | None] | None:
    """Where `value` fails to serialize: (loc, value, None) for a value of an unknown type,
    (loc, value, why) when the whole value fails (too deep); None when it serializes."""
    try:
        to_jsonable_python(value)
        return None
    except PydanticSerializationError:
        pass  # an unknown type somewhere below: find it
    except (ValueError, RecursionError) as exc:
        return loc, value, str(exc)
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, Mapping):
        children = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        children = list(enumerate(value))
    for name, item in children:
        found = _unserializable(item, (*loc, name))
        if found is not None:
            return found
    return loc, value, None
