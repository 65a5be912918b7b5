"""What every evaluator shares: the case it reads, the score it gives, and its base class.

A score is one of three kinds, and an evaluator gives scores of one kind:

* `"pass"`: True or False; a target's figure is its pass rate (Wilson interval);
* `"score"`: a number; the figure is the mean (t interval);
* `"label"`: a short text such as "polite"; the figure is how often each label came.

An evaluator that raises, or returns something else, records the error in its own cell (the
`Score` has `error` set and no value) and the experiment goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["BaseEvaluator", "Case", "Kind", "Score", "score_of"]

Kind = Literal["pass", "score", "label"]
KINDS: tuple[Kind, ...] = ("pass", "score", "label")


@dataclass(frozen=True)
class Case:
    """What an evaluator sees for one row and one target.

    `output` is the target's answer; `expected` the row's `expected` column (None if it has
    none); `inputs` the variables sent; `reference` every other reference column;
    `messages` the row's messages, if any; `target` the target's name.
    """

    output: str
    expected: Any = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    reference: Mapping[str, Any] = field(default_factory=dict)
    messages: list[Any] | None = None
    target: str = ""

    def get(self, column: str) -> Any:
        """A column of the row: `expected`, a reference column, or an input (else None)."""
        if column in ("expected", "expected_output"):
            return self.expected
        if column in self.reference:
            return self.reference[column]
        return self.inputs.get(column)


@dataclass(frozen=True)
class Score:
    """One evaluator's verdict on one answer: a value (or an error) and an optional reason."""

    value: bool | float | str | None = None
    reason: str | None = None
    error: str | None = None

    @property
    def kind(self) -> Kind | None:
        if self.error is not None or self.value is None:
            return None
        if isinstance(self.value, bool):
            return "pass"
        if isinstance(self.value, (int, float)):
            return "score"
        return "label"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Score:
        return cls(data.get("value"), data.get("reason"), data.get("error"))


def score_of(result: Any) -> Score:
    """A `Score` from what an evaluator returned.

    Accepted: a bool, a number or a string; a `(value, reason)` pair; a dict with `value`
    (or `passed` / `score` / `label`) and an optional `reason`; a `Score`. Anything else is
    an error in the cell.
    """
    if isinstance(result, Score):
        return result
    reason = None
    if isinstance(result, tuple) and len(result) == 2:
        result, reason = result
    elif isinstance(result, Mapping):
        reason = result.get("reason")
        keys = ("value", "passed", "pass", "score", "label")
        found = next((k for k in keys if k in result), None)
        if found is None:
            return Score(error=f"returned a dict without any of {', '.join(keys)}")
        result = result[found]
    if reason is not None and not isinstance(reason, str):
        reason = str(reason)
    if type(result).__module__ == "numpy" and hasattr(result, "item"):
        result = result.item()  # numpy's bool_ and float64, without importing numpy
    if isinstance(result, bool):
        return Score(result, reason)
    if isinstance(result, (int, float)):
        if result != result or result in (float("inf"), float("-inf")):
            return Score(error=f"returned {result!r}, not a finite number")
        return Score(float(result), reason)
    if isinstance(result, str):
        return Score(result, reason)
    return Score(
        error=f"returned {type(result).__name__}; expected a bool, a number or a label "
        "(optionally with a reason)"
    )


class BaseEvaluator:
    """An evaluator: a name, and `evaluate(case) -> Score`.

    Subclasses set `name` and implement `evaluate`; `judge` is set on evaluators whose scores
    come from a deployment (the experiment runs those calls as a batch of their own).
    """

    name: str = "evaluator"
    #: The deployment that scores answers, for LLM judges; None for local evaluators.
    judge: str | None = None

    def evaluate(self, case: Case) -> Score:
        raise NotImplementedError

    def __call__(self, case: Case) -> Score:
        """`evaluate`, with any exception turned into the cell's error."""
        try:
            return score_of(self.evaluate(case))
        except Exception as exc:  # an evaluator's bug is its cell's error, never the run's
            return Score(error=f"{type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
