"""The one formatter for what the package writes as words: durations, counts, tokens.

Every surface (a Result's footer, `%orq history`, a batch summary, the widgets' footers, the
progress bar) writes a figure through these functions, so one call reads the same everywhere:
`312 ms`, `1.24 s`, `1 row`, `2 rows`, `57 tokens (12 in, 45 out)`.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = [
    "format_count",
    "format_duration",
    "format_retry",
    "format_tokens",
    "format_usage",
    "plural",
]

# Nouns whose plural is not noun + "s".
_PLURALS = {"retry": "retries", "entry": "entries", "reply": "replies", "is": "are"}


def plural(noun: str, count: float) -> str:
    """`noun` as it goes with `count`: `plural("row", 1)` is `"row"`, with 2 it is `"rows"`."""
    if count == 1:
        return noun
    return _PLURALS.get(noun, noun + "s")


def format_count(count: float, noun: str) -> str:
    """`format_count(1, "row")` -> `"1 row"`, `(1234, "invocation")` -> `"1,234 invocations"`."""
    number = round(count)
    return f"{number:,} {plural(noun, number)}"


def format_duration(seconds: float | None) -> str:
    """`0.312` -> `"312 ms"`, `1.237` -> `"1.24 s"`, `75` -> `"1 min 15 s"`, None -> `"—"`."""
    if seconds is None:
        return "—"
    if seconds < 0.001:
        return "<1 ms"
    if seconds < 1:
        # 0.9996 s would round to "1000 ms": say "1.00 s" instead.
        millis = round(seconds * 1000)
        return f"{millis} ms" if millis < 1000 else "1.00 s"
    if seconds < 9.995:
        return f"{seconds:.2f} s"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def format_tokens(count: float | None) -> str:
    """`57` -> `"57 tokens"`, `1` -> `"1 token"`, `12345` -> `"12,345 tokens"`, None -> `"—"`."""
    if count is None:
        return "—"
    return format_count(count, "token")


def format_usage(usage: Mapping[str, Any] | None) -> str:
    """`"57 tokens (12 in, 45 out)"` from a usage dict; `""` when it has no counts."""
    if not usage:
        return ""
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    total = usage.get("total_tokens")
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    if total is None:
        return ""
    detail = ""
    if prompt is not None and completion is not None and (prompt or completion):
        detail = f" ({round(prompt):,} in, {round(completion):,} out)"
    return format_tokens(total) + detail


class _Retry(Protocol):
    """What `format_retry` reads of a `RetryNotice` (client/_notices.py)."""

    @property
    def cause(self) -> str: ...
    @property
    def wait(self) -> float: ...


def format_retry(notice: _Retry) -> str:
    """`"rate limited, retrying in 20.0 s"`: a coming retry, for a cell or a progress bar."""
    return f"{notice.cause}, retrying in {format_duration(notice.wait)}"
