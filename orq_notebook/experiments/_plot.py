"""The experiment's picture: each evaluator's figure per target with its interval, then
latency and tokens. Drawn with matplotlib, an optional extra (`pip install
'orq-notebook[plot]'`), imported only here and only when a picture is asked for.

The figure is built with `matplotlib.figure.Figure` and the Agg canvas directly, never
pyplot: no global state, no backend switch, no second copy shown by the inline backend.
PNG metadata carries no software version or date, so the same result gives the same bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._result import ExperimentResult

__all__ = ["plot_png"]

_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3")


def plot_png(result: ExperimentResult, *, dpi: int = 100) -> bytes | None:
    """The picture as PNG bytes, or None when matplotlib is not installed (or nothing to
    draw)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    targets = result.target_names
    if not targets or not result.rows:
        return None
    rates = [e.name for e in result.evaluators if e.kind == "pass"]
    means = [e.name for e in result.evaluators if e.kind == "score"]
    panels: list[tuple[str, list[str]]] = []
    if rates:
        panels.append(("pass rate (95% Wilson interval)", rates))
    if means:
        panels.append(("mean score (95% t interval)", means))
    rows_tall = max([len(p[1]) for p in panels] + [1])
    score_height = 0.5 + (0.22 * len(targets) + 0.2) * rows_tall
    bar_height = 0.5 + 0.3 * len(targets)
    fig = Figure(figsize=(7.0, 0.45 + score_height + bar_height), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2, height_ratios=(score_height, bar_height))
    if len(panels) == 2:
        score_axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])]
    else:
        score_axes = [fig.add_subplot(grid[0, :])] if panels else []
    for ax, (title, names) in zip(score_axes, panels, strict=True):
        _scores(ax, result, names, targets, title, percent=title.startswith("pass"))
    _latency(fig.add_subplot(grid[1, 0]), result, targets)
    _tokens(fig.add_subplot(grid[1, 1]), result, targets)
    handles = [_patch(fig, _COLOURS[i % len(_COLOURS)], name) for i, name in enumerate(targets)]
    fig.legend(
        handles=handles, loc="upper center", ncol=min(len(targets), 4), frameon=False,
        fontsize=9, bbox_to_anchor=(0.5, 1.0),
    )  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _patch(fig: Any, colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, label=label)


def _style(ax: Any, title: str) -> None:
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", alpha=0.3)


def _scores(
    ax: Any,
    result: ExperimentResult,
    names: list[str],
    targets: list[str],
    title: str,
    *,
    percent: bool,
) -> None:
    step = 1.0 / (len(targets) + 1)
    for i, target in enumerate(targets):
        colour = _COLOURS[i % len(_COLOURS)]
        for row, name in enumerate(names):
            interval = result.summarize(target, name).interval
            if interval is None or interval.estimate is None:
                continue
            y = row + (i + 1) * step - 0.5
            x = interval.estimate
            if interval.low is not None and interval.high is not None:
                ax.errorbar(
                    x, y, xerr=[[max(0.0, x - interval.low)], [max(0.0, interval.high - x)]],
                    fmt="o",
                    color=colour, capsize=3, markersize=5, linewidth=1.5,
                )  # fmt: skip
            else:
                ax.plot(x, y, "o", color=colour, markersize=5)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([_short(n) for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    if percent:
        ax.set_xlim(-0.02, 1.02)
        ax.xaxis.set_major_formatter(_percent())
    _style(ax, title)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def _latency(ax: Any, result: ExperimentResult, targets: list[str]) -> None:
    for i, target in enumerate(targets):
        colour = _COLOURS[i % len(_COLOURS)]
        p50, p95 = result.latency(target, 50), result.latency(target, 95)
        if p50 is None or p95 is None:
            continue
        ax.barh(i, p50 * 1000, color=colour, alpha=0.85, height=0.6)
        ax.plot([p50 * 1000, p95 * 1000], [i, i], color="black", linewidth=1)
        ax.plot(p95 * 1000, i, "|", color="black", markersize=10)
    ax.set_yticks(range(len(targets)))
    ax.set_yticklabels([_short(t) for t in targets])
    ax.set_ylim(len(targets) - 0.5, -0.5)
    ax.set_xlim(left=0)
    _style(ax, "latency, ms (bar p50, tick p95)")


def _tokens(ax: Any, result: ExperimentResult, targets: list[str]) -> None:
    for i, target in enumerate(targets):
        _, mean = result.tokens(target)
        if mean is not None:
            ax.barh(i, mean, color=_COLOURS[i % len(_COLOURS)], alpha=0.85, height=0.6)
    ax.set_yticks(range(len(targets)))
    ax.set_yticklabels([_short(t) for t in targets])
    ax.set_ylim(len(targets) - 0.5, -0.5)
    ax.set_xlim(left=0)
    _style(ax, "tokens per answer (mean)")


def _short(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
