"""The LLM judge: another deployment reads each answer (and the expected one) and scores it.

The judge is a deployment like any other, so its prompt lives in orq (or in the local
deployments file), where it can be versioned. For each answer it is invoked with these
inputs, for its prompt's `{{variables}}`:

* `output`: the answer being judged;
* `expected`: the row's `expected` value, when the row has one;
* `input`: the row's inputs (the value itself when there is one input, else compact JSON).

Its reply is read as, in order of preference:

1. a JSON object (alone, in a code fence, or inside other text) with `passed` / `pass` /
   `verdict` (a bool, or "pass"/"fail"), or `score` / `rating` (a number), or `label`; and
   an optional `reason` / `explanation`;
2. a first word PASS / FAIL / YES / NO / TRUE / FALSE / CORRECT / INCORRECT;
3. `Score: 4` (or `Rating = 0.8`) anywhere, or a reply that starts with a number (`4/5`).

A reply none of these fit is an error in the judge's cell, quoting the start of the reply;
so is a failed judge call. Neither is the row's error: the target's answer stays as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._base import BaseEvaluator, Case, Score

__all__ = ["Judge", "parse_verdict"]

_TRUE = {"pass", "passed", "yes", "true", "correct"}
_FALSE = {"fail", "failed", "no", "false", "incorrect"}
_SCORE = re.compile(
    r"\b(?:score|rating)\b\s*(?:of|is|[:=])?\s*\**(-?\d+(?:\.\d+)?)(?:\s*/\s*\d+(?:\.\d+)?)?",
    re.IGNORECASE,
)
_LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*\d+(?:\.\d+)?)?(?:\s|$|[.,;:])")
_FIRST_WORD = re.compile(r"^[\s*_#>`\"']*([A-Za-z]+)")


class Judge(BaseEvaluator):
    """An LLM judge: deployment `key` scores each answer (see the module docstring).

    Args:
        key: the judge deployment.
        pass_at: turn numeric scores into pass/fail: a score of at least this passes (so
            the summary is a pass rate with its interval, not a mean).
        context: routing context sent with every judge call (e.g. a judge variant).
        name: the evaluator's name in tables (default `judge[key]`).
    """

    def __init__(
        self,
        key: str,
        *,
        pass_at: float | None = None,
        context: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if not _is_text(key):
            raise TypeError("judge() takes the judge deployment's key")
        self.judge = key
        self.pass_at = pass_at
        self.context = dict(context) if context is not None else None
        self.name = name or f"judge[{key}]" + (f">={pass_at:g}" if pass_at is not None else "")

    def request(self, case: Case) -> dict[str, Any]:
        """The judge's batch row for one answer: its inputs (and context)."""
        row: dict[str, Any] = {"output": case.output, "input": _compact_inputs(case.inputs)}
        if case.expected is not None:
            row["expected"] = (
                case.expected
                if isinstance(case.expected, str)
                else json.dumps(case.expected, ensure_ascii=False)
            )
        if self.context is not None:
            row["context"] = self.context
        return row

    def read(self, reply: str) -> Score:
        """The score in the judge's reply (with `pass_at` applied)."""
        score = parse_verdict(reply)
        if self.pass_at is not None and score.kind == "score":
            assert isinstance(score.value, float)
            reason = f"score {score.value:g}" + (f": {score.reason}" if score.reason else "")
            return Score(score.value >= self.pass_at, reason)
        return score

    def evaluate(self, case: Case) -> Score:
        # Judges are run as a batch by the experiment; a lone call has no client to use.
        return Score(error="a judge scores answers only inside run_experiment")


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _compact_inputs(inputs: Mapping[str, Any]) -> str:
    if len(inputs) == 1:
        (value,) = inputs.values()
        if isinstance(value, str):
            return value
    return json.dumps(dict(inputs), ensure_ascii=False, default=str)


def parse_verdict(reply: str) -> Score:
    """A `Score` from a judge's reply text (see the module docstring)."""
    found = _json_object(reply)
    if found is not None:
        score = _from_object(found)
        if score is not None:
            return score
    text = reply.strip()
    word = _FIRST_WORD.match(text)
    rest = _reason(text[word.end() :] if word else text)
    if word and word.group(1).lower() in _TRUE:
        return Score(True, rest)
    if word and word.group(1).lower() in _FALSE:
        return Score(False, rest)
    number = _SCORE.search(text) or _LEADING_NUMBER.match(text)
    if number:
        return Score(float(number.group(1)), _reason(text[number.end() :]))
    shown = " ".join(text.split())[:80]
    return Score(error=f"could not read a verdict from the judge's answer: {shown!r}")


def _reason(text: str) -> str | None:
    text = text.strip(" \n\t:-—.,*")
    return " ".join(text.split())[:300] or None


def _json_object(reply: str) -> dict[str, Any] | None:
    candidates = [reply.strip()]
    fence = re.search(r"```(?:json)?\s*(.*?)```", reply, re.DOTALL)
    if fence:
        candidates.append(fence.group(1))
    start, end = reply.find("{"), reply.rfind("}")
    if 0 <= start < end:
        candidates.append(reply[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _from_object(data: Mapping[str, Any]) -> Score | None:
    lower = {str(k).lower(): v for k, v in data.items()}
    reason = next((lower[k] for k in ("reason", "explanation", "rationale") if k in lower), None)
    reason = None if reason is None else str(reason)
    for key in ("passed", "pass", "verdict"):
        value = lower.get(key)
        if isinstance(value, bool):
            return Score(value, reason)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return Score(value.strip().lower() in _TRUE, reason)
    for key in ("score", "rating", "value"):
        value = lower.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Score(float(value), reason)
        if isinstance(value, str):
            try:
                return Score(float(value), reason)
            except ValueError:
                pass
    label = lower.get("label") or lower.get("category")
    if isinstance(label, str) and label:
        return Score(label, reason)
    return None
