"""Errors as the notebook shows them: one line of text, and a small HTML block.

Only plain attributes of the exception are read, so neither httpx nor the client is needed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from ._render import escape_html, mimebundle

__all__ = ["RenderedError", "error_line", "render_error"]


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
    """One line: `NotFoundError (404): No deployment 'x'. · request id abc`."""
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


def render_error(exc: BaseException) -> RenderedError:
    """An exception (an `OrqError` above all) as one line of text and as HTML.

    Only plain attributes are read: `status_code`, `message`, `request_id`, `retry_after`.
    """
    line = error_line(exc)
    html = (
        '<div class="orq-error" style="padding-left:.5em;border-left:3px solid currentColor">'
        f"<b>⚠</b> {escape_html(line)}</div>"
    )
    return RenderedError(text=f"⚠ {line}", html=html)
