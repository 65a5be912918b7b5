"""How a model's answer is shown: JSON as a highlighted block, Markdown through `safe_markdown`.

Also `plain_text`, the words of some Markdown on one line, for labels and table cells (the
playground's history, `%orq history`). Standard library only.
"""

from __future__ import annotations

import json
import re

from ._render import safe_markdown

__all__ = ["answer_markdown", "json_block", "longest_run", "plain_text"]


_JSON_START = re.compile(r"\s*(\{\s*(\"|\}|$)|\[\s*(\{|\[|\"|\]|$))")


def answer_markdown(text: str) -> str:
    """A model's answer as safe Markdown: JSON as a highlighted code block, the rest as prose.

    An answer that is JSON (a deployment with a JSON response format, a model asked for JSON)
    shows as a `json` code block: indented when it came as one line, kept as it is otherwise,
    and still shown as code while it streams in or when it was cut short. Anything else goes
    through `safe_markdown`, line breaks kept.
    """
    block = json_block(text)
    return block if block is not None else safe_markdown(text)


def json_block(text: str) -> str | None:
    """`text` as a fenced `json` code block if it is (or starts like) a JSON value, else None."""
    if not _JSON_START.match(text):
        return None
    body = text.strip()
    if "\n" not in body:
        try:
            body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            pass  # not complete (streaming, cut short): shown as it came
    fence = "`" * max(3, longest_run(body, "`") + 1)
    return f"{fence}json\n{body}\n{fence}"


def longest_run(text: str, char: str) -> int:
    """The length of the longest run of `char` in `text` (to pick a fence longer than it)."""
    longest = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return longest


_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|~~|\*|`+|(?<!\w)__?)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_MD_LINE_MARK = re.compile(r"^\s*(#{1,6}\s+|>\s?|[-*+]\s+|\d{1,9}[.)]\s+|(`{3,}|~{3,}).*$)", re.M)


def plain_text(markdown: str) -> str:
    """Markdown as the words a reader sees, on one line: `"**Hi** [you](u)"` -> `"Hi you"`.

    For labels and table cells that show the start of an answer as text. Not a sanitizer: the
    result is still untrusted text, to be escaped where it goes.
    """
    text = _MD_LINE_MARK.sub("", markdown)
    text = _MD_LINK.sub(r"\1", text)
    for _ in range(3):  # nested emphasis: ***x*** and **`x`**
        text = _MD_EMPHASIS.sub(r"\2", text)
    return " ".join(text.split())
