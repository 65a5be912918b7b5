"""Tests of orq_notebook.display._format and _theme: one way to write a figure, one palette."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orq_notebook.display import _render
from orq_notebook.display._format import (
    format_count,
    format_duration,
    format_tokens,
    format_usage,
    plural,
)
from orq_notebook.display._theme import MARK_STYLE, MUTED_STYLE, TABLE_CELL_STYLE

PACKAGE = Path(__file__).resolve().parents[1] / "orq_notebook"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "<1 ms"),
        (0.0009, "<1 ms"),
        (0.0041, "4 ms"),
        (0.9996, "1.00 s"),  # not "1000 ms"
        (1.1, "1.10 s"),
        (9.996, "10.0 s"),  # not "10.00 s"
        (59.96, "1 min 00 s"),  # not "60.0 s"
        (3600, "60 min 00 s"),
    ],
)
def test_durations_at_the_edges_of_each_unit(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_counts_and_plurals() -> None:
    assert format_count(1, "invocation") == "1 invocation"
    assert format_count(2, "row") == "2 rows"
    assert format_count(0, "row") == "0 rows"
    assert format_count(1234, "row") == "1,234 rows"
    assert format_count(1, "retry") == "1 retry"
    assert format_count(3, "retry") == "3 retries"
    assert plural("row", 1) == "row" and plural("row", 1.0) == "row"
    assert format_tokens(39.0) == "39 tokens"


def test_usage_with_a_zero_side_still_shows_the_split() -> None:
    assert format_usage({"prompt_tokens": 0, "completion_tokens": 5}) == "5 tokens (0 in, 5 out)"
    assert format_usage({"prompt_tokens": 0, "completion_tokens": 0}) == "0 tokens"


def test_render_re_exports_the_one_formatter() -> None:
    assert _render.format_duration is format_duration
    assert _render.format_count is format_count


def test_no_module_formats_latency_or_plurals_by_hand() -> None:
    """Durations and plurals go through the formatter: no `:.1f}s` or `"s" if n != 1` elsewhere."""
    by_hand = re.compile(r":\.\d+f\}\s?s\b|\(\"\" if \w+ == 1 else \"s\"\)|'y' if \w+ == 1")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "_format.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if by_hand.search(line)
    ]
    assert offenders == []


def test_theme_colours_come_from_jupyterlab_variables() -> None:
    for style in (MUTED_STYLE, MARK_STYLE, TABLE_CELL_STYLE):
        assert "var(--jp-" in style, style
    assert "opacity" not in MUTED_STYLE  # a colour whose contrast can be measured
