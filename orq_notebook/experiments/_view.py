"""How an `ExperimentResult` shows: a summary per target, the picture, the rows side by side.

`text/plain` for terminals and logs (tables only); `text/html` for notebooks, with the picture
embedded as a PNG (`data:` URI) so it stays in the saved notebook; without matplotlib the
HTML says how to get the picture and shows the tables alone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from ..display._render import (
    MUTED_STYLE,
    Markup,
    Table,
    escape_html,
    escape_markdown,
    format_duration,
    format_tokens,
    mimebundle,
    shorten,
)
from ._base import Score

if TYPE_CHECKING:
    from ._result import ExperimentResult

__all__ = ["mimebundle_of", "score_mark"]

_ROWS_SHOWN = 10
PLOT_HINT = "pip install 'orq-notebook[plot]' for a picture of these figures"


def score_mark(score: Score | None) -> str:
    """A score in one short token: ✓ / ✗ for pass/fail, the number, the label, ! for an
    error, · when not scored."""
    if score is None:
        return "·"
    if score.error is not None:
        return "!"
    if isinstance(score.value, bool):
        return "✓" if score.value else "✗"
    if isinstance(score.value, float):
        return f"{score.value:g}"
    return str(score.value)


def headline(result: ExperimentResult) -> str:
    c = result.counts()
    flag = " (interrupted)" if result.interrupted else ""
    head = (
        f"Experiment: {len(result.rows)} rows × {len(result.targets)} targets × "
        f"{len(result.evaluators)} evaluators, {format_duration(result.elapsed)}{flag}"
    )
    if c["failed"] or c["stopped"]:
        head += f"; {c['failed']} answers failed, {c['stopped']} stopped"
    return head


def summary_table(result: ExperimentResult) -> Table:
    """The figures: one column per target, one line per evaluator, then latency and tokens
    (targets are few and evaluators many, so this stays narrow)."""
    targets = result.target_names
    lines: list[dict[str, Any]] = []

    def line(label: str, values: dict[str, str]) -> None:
        lines.append({"": label, **values})

    line("answered", {t: f"{result.counts(t)['ok']}/{len(result.rows)}" for t in targets})
    for e in result.evaluator_names:
        figures = {}
        for t in targets:
            s = result.summarize(t, e)
            figures[t] = s.describe() + (f" ({s.errors} !)" if s.errors else "")
        line(e, figures)
    line(
        "latency p50 / p95",
        {
            t: f"{format_duration(result.latency(t, 50))} / "
            f"{format_duration(result.latency(t, 95))}"
            for t in targets
        },
    )
    tokens = {}
    for t in targets:
        total, mean = result.tokens(t)
        tokens[t] = format_tokens(total) + (f" ({mean:.0f}/answer)" if mean is not None else "")
    line("tokens", tokens)
    note = "pass rates with 95% Wilson intervals; means with 95% t intervals; ! = errors"
    return Table(lines, columns=["", *targets], footer=note, max_width=40)


def rows_table(result: ExperimentResult, limit: int = _ROWS_SHOWN) -> Table:
    """The first rows, each target's answer and scores side by side."""
    marks = " ".join(result.evaluator_names)
    lines = []
    for r in result.rows[:limit]:
        line: dict[str, Any] = {"#": r.index, "inputs": shorten(_compact(r.inputs), 40)}
        if any(x.expected is not None for x in result.rows):
            line["expected"] = shorten(_text(r.expected), 30)
        for t in result.target_names:
            cell = result.cells[(t, r.index)]
            scored = " ".join(score_mark(cell.scores.get(e)) for e in result.evaluator_names)
            answer = shorten(cell.output if cell.ok else f"[{cell.status}] {cell.error or ''}", 80)
            line[t] = Markup(
                f"{scored} | {answer}",
                f'<b>{escape_html(scored)}</b><br><span style="{MUTED_STYLE}">'
                f"{escape_html(answer)}</span>",
                f"**{_md(scored)}** {_md(answer)}",
            )
        lines.append(line)
    more = len(result.rows) - limit
    footer = f"scores in the order: {marks}"
    if more > 0:
        footer += f" · … {more} more rows (.to_pandas('wide') has them all)"
    return Table(lines, footer=footer, max_width=60)


def _md(text: str) -> str:
    return escape_markdown(text, block=False)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else _compact(value)


def _text_plain(result: ExperimentResult) -> str:
    return "\n\n".join(
        [headline(result), summary_table(result).to_text(), rows_table(result).to_text()]
    )


def _picture_html(result: ExperimentResult) -> str:
    from ._plot import plot_png

    try:
        png = plot_png(result)
    except Exception as exc:  # a picture that cannot be drawn must not hide the figures
        note = f"(the picture could not be drawn: {type(exc).__name__}: {exc})"
        return f'<div style="{MUTED_STYLE};margin:.3em 0">{escape_html(note)}</div>'
    if png is None:
        return f'<div style="{MUTED_STYLE};margin:.3em 0">{escape_html(PLOT_HINT)}</div>'
    data = base64.b64encode(png).decode("ascii")
    alt = escape_html(f"scores, latency and tokens of {', '.join(result.target_names)}")
    return (
        f'<img src="data:image/png;base64,{data}" alt="{alt}" '
        f'style="width:100%;max-width:{_png_width(png)}px;height:auto;margin:.4em 0;'
        'border-radius:4px">'
    )


def _png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")  # the IHDR chunk's width, right after the header


def _html(result: ExperimentResult) -> str:
    return (
        f'<div class="orq-experiment"><div style="font-weight:600">'
        f"{escape_html(headline(result))}</div>"
        f"{summary_table(result).to_html()}{_picture_html(result)}"
        f"{rows_table(result).to_html()}</div>"
    )


def mimebundle_of(
    result: ExperimentResult,
    *,
    include: Collection[str] | None = None,
    exclude: Collection[str] | None = None,
) -> dict[str, str]:
    renderers = {"text/plain": lambda: _text_plain(result), "text/html": lambda: _html(result)}
    return mimebundle(renderers, include=include, exclude=exclude)
