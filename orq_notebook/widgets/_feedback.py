"""👍 / 👎 under an answer, in the playground and in each compare column.

A click sends orq's built-in `rating` (`good` / `bad`) on the answer's trace, through the
sender the Result carries (`Result.afeedback`), on the widgets' own event loop. The chosen button
stays coloured; clicking it again takes the rating back, clicking the other one replaces it.
A failure shows as one line next to the buttons and changes nothing.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..display._errors import error_line
from ..display._feedback import feedback_problem
from ..display._render import MUTED_STYLE, escape_html
from ..display._result import Result
from ._loop import Job
from ._parts import start_task

__all__ = ["FeedbackButtons"]

_STYLE = {"good": "success", "bad": "danger"}


class FeedbackButtons:
    """Two buttons and a note; `.widget` is the row to place, `set_result` arms them."""

    def __init__(self) -> None:
        # Font Awesome thumbs (the icons ipywidgets ships, like Run's ▶), not emoji: a browser
        # without an emoji font would draw 👍 as an empty box.
        self.up = widgets.Button(icon="thumbs-up", tooltip="👍 Good answer: rate it on orq")
        self.down = widgets.Button(icon="thumbs-down", tooltip="👎 Bad answer: rate it on orq")
        for button, name in ((self.up, "orq-thumbs-up"), (self.down, "orq-thumbs-down")):
            button.layout = widgets.Layout(width="3em", height="28px", padding="0")
            button.add_class(name)
        self.note = widgets.HTML()
        self.widget = widgets.HBox(
            [self.up, self.down, self.note],
            layout=widgets.Layout(align_items="center", margin="2px 0"),
        )
        self.widget.add_class("orq-feedback")
        self.result: Result | None = None
        self._task: Job[None] | None = None
        self.up.on_click(lambda _: self.click("good"))
        self.down.on_click(lambda _: self.click("bad"))
        self.set_result(None)

    def set_result(self, result: Result | None) -> None:
        """Arm the buttons for `result` (None: no answer, buttons off)."""
        self.result = result
        problem = feedback_problem(result)
        self.note.value = (
            ""
            if problem is None or result is None
            else f"<span style='{MUTED_STYLE}'>(no rating: {escape_html(problem)})</span>"
        )
        self._show(busy=False)

    def click(self, rating: str) -> Job[None] | None:
        """What a click on 👍 (`good`) or 👎 (`bad`) does; returns the sending task."""
        if self.result is None or (self._task is not None and not self._task.done()):
            return None
        self._show(busy=True)
        self._task = start_task(self._send(self.result, rating))
        return self._task

    async def wait(self) -> None:
        """Wait for a click's sending to end."""
        if self._task is not None:
            await self._task

    async def _send(self, result: Result, rating: str) -> None:
        try:
            if result.feedback_given.get("rating") == rating:
                await result.aremove_feedback("rating")
                note = "Rating taken back."
            else:
                await result.afeedback("rating", rating)
                note = f"Rated {rating} on orq."
            self.note.value = f"<span style='{MUTED_STYLE}'>{escape_html(note)}</span>"
        except Exception as exc:  # shown next to the buttons: a click has no cell to fail
            self.note.value = f"<b>⚠</b> {escape_html(error_line(exc))}"
        finally:
            if result is self.result:
                self._show(busy=False)

    def _show(self, *, busy: bool) -> None:
        off = busy or feedback_problem(self.result) is not None
        given: Any = self.result.feedback_given.get("rating") if self.result else None
        for button, rating in ((self.up, "good"), (self.down, "bad")):
            button.disabled = off
            button.button_style = _STYLE[rating] if given == rating else ""
