"""How the widgets look: one stylesheet scoped to `.orq-widget`, the label column, pane sizes.

Layout and styling only; what the widgets do lives in `_playground`, `_compare` and `_parts`.
Stock ipywidgets carry no stylesheet of their own, so a widget brings one in a hidden HTML
child (`StaticCopyBox.hide_static_copy`): it exists only where the widget is rendered, and
every rule is scoped to the widget's class, so nothing else on the page changes.

    box.add_class(WIDGET_CLASS); html.add_class(TEXT_CLASS); align_labels([dropdown, *fields])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..display._theme import RULE, TEXT_LINE_HEIGHT

__all__ = [
    "COLUMN_PANE_HEIGHT",
    "PANE_CLASS",
    "PLAYGROUND_PANE_HEIGHT",
    "STYLESHEET",
    "TEXT_CLASS",
    "WIDGET_CLASS",
    "align_labels",
    "label_width",
    "pane_border",
]

WIDGET_CLASS = "orq-widget"
# Small multi-line text (footers, notes, headers, the summary table): its own line height.
TEXT_CLASS = "orq-text"
# An answer pane (an Output widget).
PANE_CLASS = "orq-pane"

# One long answer must not make the widget several screens tall: a pane scrolls on its own.
PLAYGROUND_PANE_HEIGHT = "28em"
COLUMN_PANE_HEIGHT = "22em"


def pane_border() -> str:
    return f"1px solid {RULE}"


STYLESHEET = f"""
.{WIDGET_CLASS} .{TEXT_CLASS} > .widget-html-content {{
  line-height: {TEXT_LINE_HEIGHT};
  padding: 2px 0;
  min-width: 0;
}}
.{WIDGET_CLASS} .widget-textarea textarea {{
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-widgets-font-size);
  line-height: {TEXT_LINE_HEIGHT};
}}
.{WIDGET_CLASS} .{PANE_CLASS} .jp-RenderedHTMLCommon pre,
.{WIDGET_CLASS} .{PANE_CLASS} .jp-RenderedHTMLCommon pre code {{
  white-space: pre;
  word-break: normal;
  overflow-wrap: normal;
}}
.{WIDGET_CLASS} .{PANE_CLASS} .jp-RenderedHTMLCommon pre {{
  overflow-x: auto;
  padding-bottom: 2px;
}}
.{WIDGET_CLASS} .{PANE_CLASS} .jp-RenderedHTMLCommon {{
  overflow-wrap: anywhere;
  padding-right: 0;
}}
.{WIDGET_CLASS} .{PANE_CLASS} .jp-OutputArea-output {{
  min-width: 0;
}}
"""


def label_width(labels: Iterable[str]) -> str:
    """One width for a column of labels: the longest, in `ch`, between 6 and 16."""
    longest = max((len(label) for label in labels), default=0)
    return f"{min(max(longest, 6), 16) + 1}ch"


def align_labels(controls: Iterable[Any]) -> None:
    """Give every control's description the same width, so their inputs start at one x."""
    controls = [c for c in controls if getattr(c, "description", None) is not None]
    width = label_width(c.description for c in controls)
    for control in controls:
        control.style.description_width = width
