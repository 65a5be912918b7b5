"""Colours and small styles for everything the package shows, from JupyterLab's theme.

Every colour is one of JupyterLab's CSS variables (`--jp-…`), so outputs and widgets follow
the light, dark and high-contrast themes, with a neutral fallback for frontends that do not
define them (VS Code, nbconvert's classic template, GitHub). Styles are inline: an output
cannot rely on a stylesheet being there. Pairs are chosen for contrast: muted text is
`--jp-content-font-color2` on the output's own background (4.6:1 in the light theme, 9:1 in
the dark one), never on a tinted one; marked text is the strongest text colour on
`--jp-layout-color2`.

Usage: `f'<div style="{MUTED_STYLE}">…</div>'`, `muted_html("3 rows")`.
"""

from __future__ import annotations

from html import escape

__all__ = [
    "BORDER",
    "CODE_FONT",
    "ERROR",
    "MARK_STYLE",
    "MUTED",
    "MUTED_SMALL",
    "MUTED_STYLE",
    "NOTE_STYLE",
    "RULE",
    "SUCCESS",
    "TABLE_CELL_STYLE",
    "TABLE_HEAD_STYLE",
    "TABLE_ROW_STYLE",
    "TABLE_STYLE",
    "TEXT_LINE_HEIGHT",
    "TINT",
    "WARN",
    "muted_html",
]

# Secondary text: footers, notes, counts.
MUTED = "var(--jp-content-font-color2, color-mix(in srgb, currentColor 70%, transparent))"
# The strongest text colour, for text on a tinted background.
STRONG = "var(--jp-content-font-color0, currentColor)"
# A tinted background (marks) and the lines of tables and panes.
TINT = "var(--jp-layout-color2, rgba(127, 127, 127, 0.18))"
BORDER = "var(--jp-border-color1, rgba(127, 127, 127, 0.5))"
RULE = "var(--jp-border-color2, rgba(127, 127, 127, 0.25))"
# Outcome colours (bars, the left edge of a warning).
WARN = "var(--jp-warn-color1, #f57c00)"
ERROR = "var(--jp-error-color1, #d32f2f)"
SUCCESS = "var(--jp-success-color1, #388e3c)"
CODE_FONT = "var(--jp-code-font-family, monospace)"

# Small multi-line text sets its own line height: inside a widget it would otherwise inherit
# the 28 px of a one-line control and read double-spaced.
TEXT_LINE_HEIGHT = "1.45"

MUTED_STYLE = f"color:{MUTED};font-size:.85em;line-height:{TEXT_LINE_HEIGHT}"
# Secondary text in Markdown (a Result's footer): `<small style="…">`, sized by the tag.
MUTED_SMALL = f'<small style="color:{MUTED}">'

# A short note inside an answer pane ("Stopped.", "…").
NOTE_STYLE = f"color:{MUTED};font-style:italic;line-height:{TEXT_LINE_HEIGHT}"
# A `{{variable}}` still open in a prompt: a chip in the strongest colour on a tint, with a
# warning-coloured underline saying that it needs a value.
MARK_STYLE = (
    f"background:{TINT};color:{STRONG};font-family:{CODE_FONT};font-size:.9em;"
    f"border-radius:3px;padding:0 .25em;box-shadow:inset 0 -2px 0 {WARN}"
)

# One table style for every table the package shows. JupyterLab's own table style
# right-aligns cells, centres the table, and stripes rows; cells here are left-aligned and
# top-aligned, rows are separated by a thin rule, and no stripe is inherited.
TABLE_STYLE = "border-collapse:collapse;margin:.2em 0;table-layout:auto;color:inherit"
TABLE_ROW_STYLE = "background:none"
_CELL = (
    "text-align:left;vertical-align:top;padding:.25em .9em .25em 0;"
    f"line-height:{TEXT_LINE_HEIGHT};border:none"
)
TABLE_HEAD_STYLE = f"{_CELL};font-weight:600;border-bottom:1px solid {BORDER}"
TABLE_CELL_STYLE = f"{_CELL};border-bottom:1px solid {RULE}"


def muted_html(text: str, *, tag: str = "div") -> str:
    """`text`, escaped, as secondary text in a `div` (or the `tag` given)."""
    return f'<{tag} style="{MUTED_STYLE}">{escape(text)}</{tag}>'
