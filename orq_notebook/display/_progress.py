"""The progress bar of a batch run, ending in a state that says what happened.

tqdm draws the bar (a widget in a notebook, a text line in a terminal). Two things are added:

* **The end.** tqdm paints a finished bar solid green, failures or not. Here the last state
  names the outcome: "26 ok, 4 failed" as its text, and the bar orange when rows failed, red
  when the run was interrupted or nothing succeeded.
* **The saved notebook.** A widget's output keeps the text it had when first shown, so an
  exported notebook (nbconvert, GitHub) read "0%| 0/30" for a batch that finished, and a
  notebook reopened without its kernel showed "Error displaying widget: model not found".
  In a notebook the bar is shown through a display id and, once finished, that output is
  replaced by a static bar (HTML, and the same text as plain text) that says what happened:
  it looks like the widget, needs no kernel, and is what the saved notebook keeps.

Usage (the batch engine calls `update` and `set_postfix` as on a tqdm bar):

    bar = ProgressBar(total=30, desc="translate")
    bar.update(1); bar.set_postfix({"ok": 1, "failed": 0}, refresh=False)
    bar.finish(ok=26, failed=4, interrupted=False)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from ._format import format_duration
from ._render import escape_html
from ._stream_view import is_notebook
from ._theme import ERROR, MUTED_STYLE, SUCCESS, TINT, WARN

__all__ = ["ProgressBar", "outcome_style", "outcome_text"]

# ipywidgets' bar styles, which follow the theme: the widget's colour for each outcome.
_WIDGET_STYLE = {"ok": "success", "some failed": "warning", "failed": "danger"}
_HTML_COLOUR = {"ok": SUCCESS, "some failed": WARN, "failed": ERROR}


def outcome_style(ok: int, failed: int, *, interrupted: bool) -> str:
    """`"ok"`, `"some failed"` or `"failed"` (interrupted, or no row succeeded)."""
    if interrupted or (failed and not ok):
        return "failed"
    return "some failed" if failed else "ok"


def outcome_text(ok: int, failed: int, *, total: int, interrupted: bool) -> str:
    """`"26 ok, 4 failed"`; `"interrupted: 12 ok, 0 failed, 18 stopped"` when stopped early."""
    text = f"{ok} ok, {failed} failed"
    missing = total - ok - failed
    if missing > 0:
        text += f", {missing} stopped"
    return f"interrupted: {text}" if interrupted else text


class ProgressBar:
    """tqdm's bar for `total` rows, shown under `desc`, with a final state that says how it ended.

    Args:
        total: how many rows.
        desc: the label (the deployment key).
        display: shows a mime bundle with a display id and returns its handle (default:
            IPython's `display`); used only in a notebook.
        notebook: whether to draw the notebook widget (default: detected).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        display: Callable[..., Any] | None = None,
        notebook: bool | None = None,
    ) -> None:
        self.total = total
        self.desc = desc
        self._started = time.perf_counter()
        self._handle: Any = None
        self.finished = False
        if notebook is None:
            notebook = is_notebook()
        self.bar: Any = None
        if notebook:
            self.bar = self._widget_bar(display)
        if self.bar is None:
            from tqdm.std import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="row", dynamic_ncols=True, file=sys.stderr)

    def _widget_bar(self, display: Callable[..., Any] | None) -> Any:
        try:
            from tqdm.notebook import tqdm as notebook_tqdm

            bar = notebook_tqdm(
                total=self.total, desc=self.desc, unit="row", dynamic_ncols=True, display=False
            )
        except ImportError:  # no ipywidgets: a text bar
            return None
        show: Callable[..., Any]
        if display is None:
            from IPython.display import display as show
        else:
            show = display
        self._handle = show(self._bundle(bar), raw=True, display_id=True)
        return bar

    # What the batch engine calls, as on a tqdm bar.

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def set_postfix(self, values: dict[str, Any], refresh: bool = True) -> None:
        self.bar.set_postfix(values, refresh=refresh)

    def note(self, text: str) -> None:
        """A passing note after the counts, e.g. "rate limited, retrying in 20.0 s"."""
        self.bar.set_postfix_str(text, refresh=True)

    # The end.

    def finish(self, *, ok: int, failed: int, interrupted: bool) -> None:
        """Close the bar with a text and a colour that say how the run ended (once)."""
        if self.finished:
            return
        self.finished = True
        outcome = outcome_style(ok, failed, interrupted=interrupted)
        self.bar.set_postfix_str(
            outcome_text(ok, failed, total=self.total, interrupted=interrupted), refresh=False
        )
        self.bar.close()
        container = getattr(self.bar, "container", None)
        if container is None:
            return
        # After close(): tqdm's own close paints a full bar green whatever happened.
        container.children[1].bar_style = _WIDGET_STYLE[outcome]
        if self._handle is not None:
            html = self._static_html(ok, failed, interrupted, outcome)
            plain = self._static_text(ok, failed, interrupted)
            self._handle.update({"text/plain": plain, "text/html": html}, raw=True)
            container.close()  # shown nowhere now: its model can go

    def _bundle(self, bar: Any) -> dict[str, Any]:
        data: dict[str, Any] = dict(bar.container._repr_mimebundle_() or {})
        data["text/plain"] = self._text(bar)
        return data

    @staticmethod
    def _text(bar: Any) -> str:
        text: str = bar.container.__repr__(True)  # tqdm's line, with █ blocks, not #
        return text

    def _static_text(self, ok: int, failed: int, interrupted: bool) -> str:
        """The finished bar as one line of text (no rate or clock: it reads the same each run)."""
        done = ok + failed
        share = done / self.total if self.total else 1
        blocks = "█" * round(10 * share)
        text = outcome_text(ok, failed, total=self.total, interrupted=interrupted)
        elapsed = format_duration(time.perf_counter() - self._started)
        return (
            f"{self.desc}: {100 * share:3.0f}%|{blocks:<10}| {done}/{self.total} rows · {text}"
            f" · {elapsed}"
        )

    def _static_html(self, ok: int, failed: int, interrupted: bool, outcome: str) -> str:
        """The finished bar for a reader without widgets (nbconvert, GitHub)."""
        done = ok + failed
        share = 100 * done / self.total if self.total else 100
        text = outcome_text(ok, failed, total=self.total, interrupted=interrupted)
        elapsed = format_duration(time.perf_counter() - self._started)
        track = (
            f"flex:1 1 8em;min-width:6em;max-width:24em;height:.8em;background:{TINT};"
            "border-radius:2px;overflow:hidden"
        )
        fill = f"width:{share:.0f}%;height:100%;background:{_HTML_COLOUR[outcome]}"
        return (
            '<div class="orq-progress" style="display:flex;align-items:center;gap:.6em;'
            f'flex-wrap:wrap;line-height:1.45"><span>{escape_html(self.desc)}: {share:.0f}%</span>'
            f'<div role="progressbar" aria-valuenow="{done}" aria-valuemax="{self.total}" '
            f'style="{track}"><div style="{fill}"></div></div>'
            f"<span>{done}/{self.total} rows · {escape_html(text)}</span>"
            f'<span style="{MUTED_STYLE}">{escape_html(elapsed)}</span></div>'
        )
