"""Pure rendering helpers for the display side: escaping, formatting, tables.

Standard library only; nothing here knows about HTTP, IPython or the client. Every helper returns
strings, and `Table` / `Markup` are small objects with `_repr_mimebundle_`.

HTML uses inline styles only, coloured with JupyterLab's theme variables (`_theme.py`), so it
reads in light and dark JupyterLab, Notebook 7 and VS Code without external CSS or JavaScript.
Figures (durations, counts, tokens) are written by `_format.py`, re-exported here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orq_notebook.client._templating import _VARIABLE  # one grammar for `{{name}}` everywhere
from orq_notebook.display._format import (  # the one formatter, re-exported for callers here
    format_count,
    format_duration,
    format_tokens,
    format_usage,
    plural,
)
from orq_notebook.display._theme import (
    MARK_STYLE,
    MUTED_SMALL,
    MUTED_STYLE,
    TABLE_CELL_STYLE,
    TABLE_HEAD_STYLE,
    TABLE_ROW_STYLE,
    TABLE_STYLE,
)

__all__ = [
    "MUTED_STYLE",
    "Markup",
    "Table",
    "escape_html",
    "escape_markdown",
    "format_count",
    "format_duration",
    "format_tokens",
    "format_usage",
    "highlight_variables",
    "mimebundle",
    "plural",
    "safe_markdown",
    "shorten",
]

Renderers = Mapping[str, Callable[[], str]]


def mimebundle(
    renderers: Renderers,
    *,
    default: Collection[str] | None = None,
    include: Collection[str] | None = None,
    exclude: Collection[str] | None = None,
) -> dict[str, str]:
    """Render only the mimetypes asked for, honouring IPython's `include` / `exclude`.

    Args:
        renderers: mimetype -> a function producing that representation (called lazily).
        default: the mimetypes produced when `include` is not given (all of them if None).
        include: only these mimetypes (any that `renderers` knows, even outside `default`).
        exclude: never these.
    """
    wanted = include if include is not None else (default if default is not None else renderers)
    excluded = exclude or ()
    return {m: render() for m, render in renderers.items() if m in wanted and m not in excluded}


# ---------------------------------------------------------------------------------------------
# Escaping


def escape_html(text: str) -> str:
    """Escape `&`, `<`, `>` and both quotes, so text can go into HTML content or attributes."""
    return html.escape(text, quote=True)


_MD_INLINE = re.compile(r"[\\`*_\[\]|~$<&]")
_MD_LINE_START = re.compile(r"^([ ]*)(#|>|-|\+|=|\d+(?=[.)]))")


def _escape_md_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return {"<": "&lt;", "&": "&amp;"}.get(char, "\\" + char)


def escape_markdown(text: str, *, newline: str = "  \n", block: bool = True) -> str:
    """Make `text` show literally in Markdown (also JupyterLab's `$` math and GFM tables).

    Args:
        text: any text.
        newline: what a line break becomes (a hard break by default; `"<br>"` in a table
            cell, `" "` for one line).
        block: the text starts lines, so line-start markers (`#`, `>`, `-`, `1.`) are escaped
            and leading spaces kept; false for text placed inside a line or a table cell.
    """
    lines = []
    for line in text.split("\n"):
        line = _MD_INLINE.sub(_escape_md_char, line.rstrip("\r"))
        if block:
            line = _MD_LINE_START.sub(_escape_line_start, line, count=1)
            stripped = line.lstrip(" ")
            line = "&#160;" * (len(line) - len(stripped)) + stripped
        lines.append(line)
    return newline.join(lines)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker[0].isdigit():  # "1." / "1)" starts an ordered list: escape the punctuation after it
        return indent + marker + "\\"
    return indent + "\\" + marker


# Model output is untrusted. JupyterLab renders outputs of the running session as *trusted*:
# HTML inside text/markdown is not sanitized and `<script>` tags are executed. So `safe_markdown`
# keeps Markdown formatting but lets no raw `<` (tags, comments, autolinks) or character
# reference (`&#106;avascript:`) through outside fenced code, turns remote images (which load by
# themselves, a known exfiltration channel) into plain links, and breaks `javascript:` links.
# Safety never depends on parsing Markdown exactly: fences are recognised conservatively (a
# fence we miss is only escaped needlessly), and an inline code span containing `<` or `&` is
# rewritten as escaped `<code>` HTML, so a code span we misjudge cannot leak a tag either.
_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r"^\s*(`{3,}|~{3,})\s*$")
_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_IMAGE = re.compile(r"!(?=\[)")
_UNSAFE_LINK = re.compile(r"\](\s*)\((\s*)(?=(?:javascript|vbscript|data)\s*:)", re.IGNORECASE)
_UNSAFE_REF = re.compile(
    r"^(\s*)\[(?=[^\]\n]*\]:\s*(?:javascript|vbscript|data)\s*:)", re.IGNORECASE | re.MULTILINE
)


def safe_markdown(text: str) -> str:
    """Model text as Markdown that renders its formatting but no HTML of its own.

    An unclosed code fence is closed at the end, so whatever follows (a footer, a marker)
    is not swallowed into the code block; this also makes partial streamed text render well.
    """
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    fence_indent = 0
    for line in text.split("\n"):
        if fence is not None:
            indent = len(line) - len(line.lstrip(" "))
            closing = _FENCE_CLOSE.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                fence = None
                out.append(line)
                continue
            if line.strip() and indent < fence_indent:
                # In a list item, a line left of the fence ends the item and the fence with it;
                # at top level it would not. Closing the fence here is right in both readings.
                out.append(" " * fence_indent + fence)
                fence = None
            else:
                out.append(line)
                continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            out.extend(_safe_prose(prose))
            prose = []
            fence, fence_indent = opening.group(2), len(opening.group(1))
            out.append(opening.group(1) + fence + _escape_text(opening.group(3)))
            continue
        prose.append(line)
    out.extend(_safe_prose(prose))
    if fence is not None:
        out.append(" " * fence_indent + fence)
    return "\n".join(out)


def _safe_prose(lines: list[str]) -> list[str]:
    if not lines:
        return []
    region = "\n".join(lines)
    region = _IMAGE.sub(r"\\!", region)
    region = _UNSAFE_LINK.sub(r"]\1\\(\2", region)
    region = _UNSAFE_REF.sub(r"\1\\[", region)
    safe = [_safe_line(line) for line in region.split("\n")]
    return _keep_line_breaks(safe)


def _keep_line_breaks(lines: list[str]) -> list[str]:
    # Markdown joins a paragraph's lines into one; a model's single newline is meant as a line
    # break ("system: …" / "user: …"). Two trailing spaces make it a hard break, and where a
    # line ends a block (a list item, a heading, a table row) Markdown ignores them.
    # Lines that start or are blocks of their own are left as they are.
    out = []
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        joined = line.strip() and after.strip() and not _BLOCK_LINE.match(after)
        if joined and not _BLOCK_LINE.match(line) and not line.endswith(("  ", "\\")):
            line += "  "
        out.append(line)
    return out


# A list item, heading, quote, table row, rule or setext underline.
_BLOCK_LINE = re.compile(r"\s*([-*+]\s|\d{1,9}[.)]\s|#{1,6}(\s|$)|>|\||(-{3,}|={3,}|\*{3,})\s*$)")


def _safe_line(line: str) -> str:
    parts: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(line):
        parts.append(_escape_text(line[last : span.start()]))
        code = span.group(2)
        if "<" in code or "&" in code:
            parts.append(f"<code>{_escape_code(code)}</code>")
        else:
            parts.append(span.group(0))
        last = span.end()
    parts.append(_escape_text(line[last:]))
    return "".join(parts)


def _escape_text(text: str) -> str:
    return _ENTITY.sub("&amp;", text).replace("<", "&lt;")


def _escape_code(code: str) -> str:
    # Inside raw HTML Markdown still applies emphasis, escapes and (in JupyterLab) math.
    if len(code) > 2 and code[0] == code[-1] == " " and code.strip():
        code = code[1:-1]
    return re.sub(r"[\\*_\[\]~$|`]", lambda m: "\\" + m.group(0), html.escape(code))


# ---------------------------------------------------------------------------------------------
# Short text


def shorten(text: str, width: int = 40) -> str:
    """Whitespace collapsed to single spaces, cut to `width` characters with `…`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)].rstrip() + "…"


# ---------------------------------------------------------------------------------------------
# Markup: one piece of content, rendered three ways


@dataclass(frozen=True)
class Markup:
    """Content already rendered as plain text, HTML and Markdown (a table cell or a display)."""

    text: str
    html: str
    markdown: str

    def __str__(self) -> str:
        return self.text

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        renderers = {
            "text/plain": lambda: self.text,
            "text/html": lambda: self.html,
            "text/markdown": lambda: self.markdown,
        }
        return mimebundle(renderers, include=include, exclude=exclude)


def highlight_variables(text: str) -> Markup:
    """Prompt text with each `{{variable}}` highlighted (a tinted span in HTML, code in Markdown).

    Usage: `highlight_variables("You answer for {{company}}.").html`
    """
    html_parts: list[str] = []
    last = 0
    for match in _VARIABLE.finditer(text):
        html_parts.append(escape_html(text[last : match.start()]))
        html_parts.append(f'<mark style="{MARK_STYLE}">{escape_html(match.group(0))}</mark>')
        last = match.end()
    html_parts.append(escape_html(text[last:]))
    body = "".join(html_parts)
    # Markdown is escaped as a whole, since line starts and indents are only known there; each
    # variable waits behind a private-use placeholder that escaping leaves alone.
    names = [m.group(1) for m in _VARIABLE.finditer(text)]
    held = _VARIABLE.sub("\ue000", text.replace("\ue000", ""))
    pieces = escape_markdown(held).split("\ue000")
    markdown = pieces[0] + "".join(
        f"`{{{{{name}}}}}`{piece}" for name, piece in zip(names, pieces[1:], strict=True)
    )
    return Markup(
        text=text,
        html=f'<div style="white-space:pre-wrap;overflow-wrap:anywhere">{body}</div>',
        markdown=markdown,
    )


# ---------------------------------------------------------------------------------------------
# Table


class Table:
    """Rows of dicts shown as an aligned text table, an HTML table and a Markdown table.

    Usage: `Table([{"key": "support-answer", "model": "gpt-4o-mini"}], title="Deployments")`

    Args:
        rows: one mapping per row; a missing key is an empty cell. A `Markup` cell keeps its
            own HTML and Markdown; anything else is shown with `str()` (None as empty).
        columns: the columns, in order (default: every key, in order of first appearance).
        title: shown above the table.
        footer: a muted note under the table (for example "20 of 57 shown").
        empty: what is shown when there are no rows.
        max_width: the widest a cell may be in the text table (longer text is cut with `…`).
        nowrap: columns whose cells never wrap in HTML (keys, timestamps, figures); the
            others wrap at spaces, and anywhere only when a word is wider than the window.
    """

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        columns: Sequence[str] | None = None,
        title: str | None = None,
        footer: str | None = None,
        empty: str = "(no rows)",
        max_width: int = 60,
        nowrap: Collection[str] = (),
    ) -> None:
        self.rows: list[Mapping[str, Any]] = list(rows)
        self.columns: list[str] = (
            list(columns)
            if columns is not None
            else list(dict.fromkeys(key for row in self.rows for key in row))
        )
        self.title = title
        self.footer = footer
        self.empty = empty
        self.max_width = max_width
        self.nowrap = frozenset(nowrap)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        name = f" {self.title!r}" if self.title else ""
        return f"<Table{name}: {len(self.rows)} rows × {len(self.columns)} columns>"

    def _cells(self, row: Mapping[str, Any]) -> list[Any]:
        return [row.get(column) for column in self.columns]

    def to_text(self) -> str:
        """An aligned plain-text table (for terminals, logs and `text/plain`)."""
        lines = [self.title] if self.title else []
        if not self.rows:
            lines.append(self.empty)
        else:
            grid = [self.columns] + [
                [shorten(_plain(cell), self.max_width) for cell in self._cells(row)]
                for row in self.rows
            ]
            widths = [max(len(line[i]) for line in grid) for i in range(len(self.columns))]
            rule = ["-" * width for width in widths]
            for line in [grid[0], rule, *grid[1:]]:
                lines.append(
                    "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                )
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML table with inline styles only (see `_theme.py`)."""
        parts = ['<div class="orq-table">']
        if self.title:
            parts.append(
                f'<div style="font-weight:600;margin:.2em 0">{escape_html(self.title)}</div>'
            )
        if not self.rows:
            parts.append(f'<div style="{MUTED_STYLE}">{escape_html(self.empty)}</div>')
        else:
            # Too wide for the window: the table scrolls sideways in its own box.
            parts.append(
                '<div style="overflow-x:auto">'
                f'<table style="{TABLE_STYLE}"><thead><tr style="{TABLE_ROW_STYLE}">'
            )
            # Headers wrap at their spaces ("first token"); a nowrap column's cells do not, and
            # a wrapping column keeps room for a few words rather than one per line.
            parts += [
                f'<th style="{TABLE_HEAD_STYLE}{"" if c in self.nowrap else ";min-width:8em"}">'
                f"{escape_html(c)}</th>"
                for c in self.columns
            ]
            parts.append("</tr></thead><tbody>")
            cells = [self._style(TABLE_CELL_STYLE, c) for c in self.columns]
            for row in self.rows:
                tds = [
                    f'<td style="{style}">{_html(value)}</td>'
                    for style, value in zip(cells, self._cells(row), strict=True)
                ]
                parts.append(f'<tr style="{TABLE_ROW_STYLE}">' + "".join(tds) + "</tr>")
            parts.append("</tbody></table></div>")
        if self.footer:
            parts.append(
                f'<div style="{MUTED_STYLE};margin-top:.3em">{escape_html(self.footer)}</div>'
            )
        parts.append("</div>")
        return "".join(parts)

    def _style(self, base: str, column: str) -> str:
        if column in self.nowrap:
            return f"{base};white-space:nowrap"
        # A word longer than the column breaks; words are never split to make room for others.
        return f"{base};white-space:pre-wrap;overflow-wrap:break-word"

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table."""
        blocks = (
            [f"**{escape_markdown(self.title, newline=' ', block=False)}**"] if self.title else []
        )
        if not self.rows:
            blocks.append(f"*{escape_markdown(self.empty, newline=' ', block=False)}*")
        else:
            lines = [_md_row(escape_markdown(c, newline=" ", block=False) for c in self.columns)]
            # `:---` left-aligns: a bare `---` takes JupyterLab's right alignment.
            lines.append(_md_row(":---" for _ in self.columns))
            lines += [_md_row(_markdown(value) for value in self._cells(row)) for row in self.rows]
            blocks.append("\n".join(lines))
        if self.footer:
            footer = escape_markdown(self.footer, newline=" ", block=False)
            blocks.append(f"{MUTED_SMALL}{footer}</small>")
        return "\n\n".join(blocks)

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        renderers = {
            "text/plain": self.to_text,
            "text/html": self.to_html,
            "text/markdown": self.to_markdown,
        }
        return mimebundle(renderers, include=include, exclude=exclude)


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def _html(value: Any) -> str:
    return value.html if isinstance(value, Markup) else escape_html(_plain(value))


def _markdown(value: Any) -> str:
    if isinstance(value, Markup):
        return value.markdown.replace("  \n", "<br>").replace("\n", " ")
    return escape_markdown(_plain(value), newline="<br>", block=False)


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
