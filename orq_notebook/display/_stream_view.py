"""Streaming an answer into a cell's output.

`StreamView` shows a stream through one display handle: the first piece at once, then at most
one update per `interval`, then one final update to the full `Result`, so a saved notebook holds
the complete answer. `TextStreamView` is the same interface for terminal IPython. IPython is
imported only when a view is actually shown, and the display function is injected for tests.

Usage:

    view = StreamView()
    for chunk in stream:
        view.append(chunk.content)
    view.finish(result)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

from orq_notebook.display._answer import answer_markdown
from orq_notebook.display._render import escape_markdown, mimebundle
from orq_notebook.display._theme import MUTED_SMALL

__all__ = [
    "DisplayFunction",
    "DisplayHandle",
    "StreamView",
    "TextStreamView",
    "View",
    "is_notebook",
    "make_view",
]


class DisplayHandle(Protocol):
    """What `IPython.display.display(obj, display_id=True)` returns."""

    def update(self, obj: Any) -> None: ...


class DisplayFunction(Protocol):
    """`IPython.display.display`, or a recording fake in tests."""

    def __call__(self, obj: Any, *, display_id: bool) -> DisplayHandle | None: ...


class View(Protocol):
    """The interface shared by `StreamView` and `TextStreamView`."""

    updates: int
    pieces: int

    @property
    def text(self) -> str: ...

    def start(self) -> None: ...

    def append(self, piece: str) -> None: ...

    def finish(self, result: Any) -> None: ...

    def fail(self, message: str, partial_text: str | None = None) -> None: ...


def _ipython_display(obj: Any, *, display_id: bool) -> DisplayHandle | None:
    from IPython.display import display

    handle: DisplayHandle | None = display(obj, display_id=display_id)
    return handle


class _Live:
    """What a cell shows while the answer streams: the text so far, and a status line."""

    def __init__(self, text: str, *, status: str, label: str | None, error: bool = False) -> None:
        self.text = text
        self.status = status
        self.label = label
        self.error = error

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        return mimebundle(
            {"text/plain": self._plain, "text/markdown": self._markdown},
            include=include,
            exclude=exclude,
        )

    def __str__(self) -> str:  # what `display` prints when no IPython shell is running
        return self._plain()

    def _status(self) -> str:
        return f"{self.label} · {self.status}" if self.label else self.status

    def _plain(self) -> str:
        return f"{self.text}\n── {self._status()}" if self.text else f"── {self._status()}"

    def _markdown(self) -> str:
        status = escape_markdown(self._status(), newline=" ", block=False)
        status = f"**{status}**" if self.error else f"{MUTED_SMALL}{status}</small>"
        return f"{answer_markdown(self.text)}\n\n{status}" if self.text else status


class StreamView:
    """Shows a streamed answer in the current cell through one display handle.

    Pieces are kept in a list; the shown object is built only when the display is updated,
    which happens for the first piece, then at most once per `interval` seconds, and once at
    the end. A stream that pauses shows the pieces it held back at the next piece or at the
    end (no timer thread: output from another thread can land in whichever cell runs then).

    Args:
        display: shows an object and returns a handle with `.update(obj)`
            (default: `IPython.display.display`, imported when first needed).
        interval: the least time between two updates, in seconds.
        clock: a monotonic clock in seconds.
        label: a short name shown next to the status (for example the deployment key).

    Attributes:
        updates: how many display messages were sent (the first display and every update).
        pieces: how many non-empty pieces were appended.
    """

    def __init__(
        self,
        display: DisplayFunction | None = None,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        label: str | None = None,
    ) -> None:
        self._display: DisplayFunction = display or _ipython_display
        self.interval = interval
        self._clock = clock
        self.label = label
        self._handle: DisplayHandle | None = None
        self._shown = False
        self._text = ""
        self._pending: list[str] = []
        self._last = 0.0
        self._closed = False
        self.updates = 0
        self.pieces = 0

    @property
    def text(self) -> str:
        """All the text appended so far."""
        if self._pending:
            self._text += "".join(self._pending)
            self._pending.clear()
        return self._text

    @property
    def closed(self) -> bool:
        """True after `finish()` or `fail()`."""
        return self._closed

    def start(self) -> None:
        """Show a "waiting…" line now, before the first piece arrives (optional)."""
        self._check_open()
        if not self._shown:
            self._show(_Live("", status="waiting…", label=self.label))

    def append(self, piece: str) -> None:
        """Add a piece of text; the display catches up at most once per `interval`."""
        self._check_open()
        if not piece:
            return
        self._pending.append(piece)
        self.pieces += 1
        if not self._shown or self._clock() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Show everything appended so far now."""
        self._check_open()
        self._show(_Live(self.text, status="streaming…", label=self.label))

    def finish(self, result: Any) -> None:
        """Replace the streamed text with the final result (one last update)."""
        self._check_open()
        self._closed = True
        self._show(result)

    def fail(self, message: str, partial_text: str | None = None) -> None:
        """End with the text received so far and a one-line error.

        Args:
            message: what went wrong, in one line.
            partial_text: the text to keep (default: what was appended).

        When nothing was shown and there is no text to keep, nothing is displayed: the caller
        reports the error itself (a magic raises it), and one message is enough.
        """
        self._check_open()
        self._closed = True
        text = self.text if partial_text is None else partial_text
        if self._shown or text:
            self._show(_Live(text, status=f"⚠ {message}", label=self.label, error=True))

    def _show(self, obj: Any) -> None:
        if not self._shown:
            self._handle = self._display(obj, display_id=True)
            self._shown = True
        elif self._handle is not None:
            self._handle.update(obj)
        elif self._closed:
            # Without a handle (IPython not running) only the final object is shown again.
            self._display(obj, display_id=True)
        else:
            return
        self.updates += 1
        self._last = self._clock()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("This stream view is finished; create a new one.")


class TextStreamView:
    """`StreamView`'s interface for terminals: pieces are written as they come.

    Args:
        write: where text goes (default: `sys.stdout.write`).
        flush: called after each write (default: `sys.stdout.flush` when writing to stdout).
    """

    def __init__(
        self,
        write: Callable[[str], Any] | None = None,
        *,
        flush: Callable[[], Any] | None = None,
    ) -> None:
        self._write = write or sys.stdout.write
        self._flush = flush if flush is not None or write is not None else sys.stdout.flush
        self._parts: list[str] = []
        self._closed = False
        self.updates = 0
        self.pieces = 0

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def start(self) -> None:
        """Nothing to show before the first piece in a terminal."""

    def append(self, piece: str) -> None:
        if self._closed:
            raise RuntimeError("This stream view is finished; create a new one.")
        if piece:
            self._parts.append(piece)
            self.pieces += 1
            self._emit(piece)

    def finish(self, result: Any) -> None:
        """End the line. If nothing streamed, the result's text is written."""
        self._closed = True
        if not self._parts:
            self._emit(str(result))
        self._emit("\n")

    def fail(self, message: str, partial_text: str | None = None) -> None:
        """Write what is missing of `partial_text`, then the error on its own line."""
        self._closed = True
        written = self.text
        final = written
        if partial_text is not None and partial_text.startswith(written):
            final = partial_text
            self._emit(partial_text[len(written) :])
        newline = "\n" if final and not final.endswith("\n") else ""
        self._emit(f"{newline}⚠ {message}\n")

    def _emit(self, text: str) -> None:
        if text:
            self._write(text)
            if self._flush is not None:
                self._flush()
            self.updates += 1


def is_notebook(shell: object | None = None) -> bool:
    """True in a kernel with a rich frontend (JupyterLab, Notebook, VS Code, Colab).

    Kernel shells derive from ipykernel's `ZMQInteractiveShell`; the class is looked up by
    name so neither IPython nor ipykernel has to be imported.
    """
    if shell is None:
        if "IPython" not in sys.modules:
            return False
        from IPython import get_ipython

        shell = get_ipython()
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)


def make_view(
    shell: object | None = None, *, interval: float = 0.1, label: str | None = None
) -> View:
    """A `StreamView` in a notebook, a `TextStreamView` in a terminal."""
    if is_notebook(shell):
        return StreamView(interval=interval, label=label)
    return TextStreamView()
