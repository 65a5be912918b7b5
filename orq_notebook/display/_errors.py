"""Errors as the notebook shows them: one explanation, as a line of text and a small HTML block.

`explain` is the one place that turns an exception into what a person reads, for the magics
(as their `UsageError` line), the widgets (in a pane or a column) and batch runs alike: the
server's message, then what to do next, then the error's own `hint` when it has one.
Only plain attributes of the exception are read, so httpx is never needed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Literal, NamedTuple

from ..client._exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    MissingAPIKeyError,
    NotFoundError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from ._render import escape_html, mimebundle

__all__ = [
    "RenderedError",
    "did_you_mean",
    "error_line",
    "explain",
    "render_error",
]

Surface = Literal["magic", "widget", "script"]

# Some servers list every key they know after a 404; with a hundred deployments that buries
# the line. The few closest keys are shown instead.
_KNOWN_KEYS = re.compile(r"\s*Known keys:.*$", re.DOTALL)


class RenderedError(NamedTuple):
    """An error as one line of text and as a small HTML block."""

    text: str
    html: str

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        renderers = {"text/plain": lambda: self.text, "text/html": lambda: self.html}
        return mimebundle(renderers, include=include, exclude=exclude)


def error_line(exc: BaseException) -> str:
    """One terse line: `NotFoundError (404): No deployment 'x'. · request id abc`."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    head = f"{name} ({status})" if isinstance(status, int) else name
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) else str(exc)
    line = f"{head}: {' '.join(text.split())}" if text.strip() else head
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, (int, float)):
        line += f" · retry after {retry_after:g} s"
    request_id = getattr(exc, "request_id", None)
    if isinstance(request_id, str) and request_id:
        line += f" · request id {request_id}"
    return line


def did_you_mean(wanted: str, choices: Iterable[str], *, n: int = 3) -> list[str]:
    """The few `choices` closest to `wanted`, other than `wanted` itself (none when nothing is
    close)."""
    others = [c for c in dict.fromkeys(choices) if c != wanted]
    return difflib.get_close_matches(wanted, others, n=n, cutoff=0.5)


def explain(
    exc: BaseException,
    *,
    where: str | None = None,
    surface: Surface = "magic",
    humanloop: bool = False,
    suggest: Callable[[str], Sequence[str] | None] | None = None,
) -> str:
    """What went wrong and what to do next, in one line.

    Args:
        exc: the error (an `OrqError` above all; anything else gives its message).
        where: the server's address, named when it could not be reached.
        surface: who reads it: `magic` (hints name `%orq` options), `widget` (hints name the
            form) or `script`.
        humanloop: the session speaks Humanloop's API (its 401 names its own variable).
        suggest: for a 404 about a deployment key, returns the known keys close to it (or
            None when they cannot be listed); the few best are offered as "Did you mean".
    """
    line = _explain(exc, where=where, surface=surface, humanloop=humanloop, suggest=suggest)
    hint = getattr(exc, "hint", None)
    said = isinstance(exc, (RateLimitError, NotFoundError))  # the line says it already
    if isinstance(hint, str) and hint.strip() and hint.strip() not in line and not said:
        line = f"{line.rstrip()} {hint.strip()}"
    return " ".join(line.split())


def _explain(
    exc: BaseException,
    *,
    where: str | None,
    surface: Surface,
    humanloop: bool,
    suggest: Callable[[str], Sequence[str] | None] | None,
) -> str:
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) else str(exc)
    magic = surface == "magic"
    if isinstance(exc, MissingAPIKeyError):
        if surface == "script":
            return text
        return (
            "No API key: set ORQ_API_KEY before starting Jupyter, or run `%orq connect` to "
            "type it (kept in memory only). For offline work: `%orq connect --local FILE`."
        )
    if isinstance(exc, AuthenticationError):
        if humanloop:
            return f"The server refused the API key (401): {text}"  # names HUMANLOOP_API_KEY
        fix = "Set a valid ORQ_API_KEY" + (
            ", or run `%orq connect` to enter one." if magic else "."
        )
        return f"The server refused the API key (401): {text} {fix}"
    if isinstance(exc, NotFoundError):
        return _not_found(exc, text, surface, suggest)
    if isinstance(exc, UnprocessableEntityError):
        line = f"The server rejected the request (422): {text}"
        if _names_a_variable(text):
            line += (
                " Pass variables with --var NAME=VALUE or --inputs JSON."
                if magic
                else " Fill in its field."
                if surface == "widget"
                else " Pass it in inputs=."
            )
        return line
    if isinstance(exc, RateLimitError):
        when = (
            f"retry in {exc.retry_after:g} s" if exc.retry_after is not None else "wait and retry"
        )
        return f"Rate limited (429) after retrying: {text} — {when}."
    if isinstance(exc, StreamError):
        kept = len(exc.partial_text)
        keep = " `%orq last`." if magic else "."
        return f"The stream broke: {text} The {kept} characters received are kept{keep}"
    if isinstance(exc, APITimeoutError):  # reached, but no answer in time
        deadline = " (`%config OrqMagics.timeout` sets the deadline.)" if magic else ""
        return f"{text}{deadline}"
    if isinstance(exc, APIConnectionError):
        status = " Check `%orq status`." if magic else ""
        return f"Could not reach {where or 'the server'}: {text}{status}"
    status_code = getattr(exc, "status_code", None)
    if isinstance(status_code, int):
        return f"The server answered {status_code}: {text}"
    return text or type(exc).__name__


def _not_found(
    exc: NotFoundError,
    text: str,
    surface: Surface,
    suggest: Callable[[str], Sequence[str] | None] | None,
) -> str:
    wanted = getattr(exc, "wanted_key", None)
    close = getattr(exc, "suggestions", None)
    if close is None and wanted and suggest is not None:
        close = suggest(wanted)
    if not isinstance(wanted, str) or close is None:
        return text
    text = _KNOWN_KEYS.sub("", text).rstrip()
    if close:
        return f"{text} Did you mean: {', '.join(close)}?"
    return f"{text} `%orq list` shows the deployments." if surface == "magic" else text


def _names_a_variable(text: str) -> bool:
    return "{{" in text or "variable" in text.lower()


def render_error(
    exc: BaseException,
    *,
    surface: Surface = "widget",
    suggest: Callable[[str], Sequence[str] | None] | None = None,
) -> RenderedError:
    """An exception explained (see `explain`) as one line of text and as HTML."""
    line = explain(exc, surface=surface, suggest=suggest)
    html = (
        '<div class="orq-error" style="padding-left:.5em;border-left:3px solid currentColor">'
        f"<b>⚠</b> {escape_html(line)}</div>"
    )
    return RenderedError(text=f"⚠ {line}", html=html)
