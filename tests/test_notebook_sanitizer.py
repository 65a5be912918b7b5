"""The nbval sanitizer hides what legitimately differs between two runs of a notebook.

A result shown at any speed must sanitize to the same output, or a saved notebook fails on a
machine faster or slower than the one that saved it (a sub-millisecond call shows "<1 ms",
which Markdown and HTML escape as "&lt;1 ms").
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from orq_notebook import Result

CONFIG = Path(__file__).parent.parent / "notebooks" / "nbval-sanitize.cfg"
SPEEDS = [0.0002, 0.004, 0.312, 1.237, 12.5]  # "<1 ms", "4 ms", "312 ms", "1.24 s", "12.5 s"


def _rules() -> list[tuple[re.Pattern[str], str]]:
    # nbval reads the same file with configparser and applies the sections in order.
    parser = configparser.ConfigParser()
    parser.read(CONFIG, encoding="utf-8")
    return [
        (re.compile(sec["regex"]), sec["replace"].strip('"'))
        for sec in parser.values()
        if "regex" in sec
    ]


RULES = _rules()


def sanitize(text: str) -> str:
    for pattern, replace in RULES:
        text = pattern.sub(replace, text)
    return text


def result(latency: float) -> Result:
    return Result(
        text="Hello Ada.",
        deployment="greeting",
        model="gpt-4o-mini",
        provider="openai",
        latency=latency,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        usage={"total_tokens": 25, "prompt_tokens": 7, "completion_tokens": 18},
    )


@pytest.mark.parametrize(
    "render",
    [Result.to_text, Result.to_markdown, Result.to_html],
    ids=["text", "markdown", "html"],
)
def test_a_result_sanitizes_the_same_at_every_speed(render: Callable[[Result], str]) -> None:
    shown = {sanitize(render(result(latency))) for latency in SPEEDS}
    assert len(shown) == 1, shown
    (only,) = shown
    assert "LATENCY" in only and "TRACE_ID" in only and "Hello Ada" in only


def test_timestamps_ports_and_ids_are_hidden_and_answers_are_not() -> None:
    line = "at 2026-11-29T19:00:11.123Z on http://127.0.0.1:54321 id 01JXQ8ZK4T7M2N3P5R6S8V9W0Y"
    assert sanitize(line) == "at TIMESTAMP on http://127.0.0.1:PORT id ULID"
    assert sanitize("Hello Ada, in 3 days.") == "Hello Ada, in 3 days."
