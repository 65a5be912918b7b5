"""`Evaluator`: the built-in evaluators by name, and how an experiment reads its `evaluators=`.

```python
from orq_notebook import Evaluator, run_experiment

run_experiment(df, ["support-v1", "support-v2"], [
    Evaluator.contains("30 days"),
    Evaluator.length(max=400),
    Evaluator.judge("answer-judge", pass_at=4),
    lambda output: "refund" in output,          # any callable
])
```

The short text forms (used by `%orq experiment --eval`) are: `exact_match`, `valid_json`,
`contains:TEXT`, `regex:PATTERN`, `length:MIN..MAX` (either bound may be left out, e.g.
`length:..400`), and `judge:KEY` (`judge:KEY>=4` passes scores of 4 and more).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._base import BaseEvaluator
from ._builtin import Check, Contains, ExactMatch, JsonSchema, Length, Regex, ValidJson
from ._judge import Judge

__all__ = ["Evaluator", "resolve_evaluators"]


class Evaluator:
    """The built-in evaluators; each method returns one, ready for `run_experiment`.

    A plain callable works as an evaluator too (see `Evaluator.check`).
    """

    exact_match = staticmethod(ExactMatch)
    contains = staticmethod(Contains)
    regex = staticmethod(Regex)
    valid_json = staticmethod(ValidJson)
    json_schema = staticmethod(JsonSchema)
    length = staticmethod(Length)
    check = staticmethod(Check)
    judge = staticmethod(Judge)

    def __init__(self) -> None:
        raise TypeError("Evaluator is a namespace: use Evaluator.contains(...), etc.")


_NAMES = ("exact_match", "valid_json", "contains:", "regex:", "length:", "judge:")
_LENGTH = re.compile(r"^(\d*)\.\.(\d*)( ?words)?$")
_JUDGE = re.compile(r"^([^\s>]+)(?:>=(-?\d+(?:\.\d+)?))?$")


def from_text(text: str) -> BaseEvaluator:
    """An evaluator from its short text form (see the module docstring)."""
    name, colon, arg = text.partition(":")
    if name == "exact_match" and not colon:
        return ExactMatch()
    if name == "valid_json" and not colon:
        return ValidJson()
    if name == "contains" and arg:
        return Contains(arg)
    if name == "regex" and arg:
        return Regex(arg)
    if name == "length" and colon:
        m = _LENGTH.match(arg)
        if m and (m.group(1) or m.group(2)):
            return Length(
                int(m.group(1)) if m.group(1) else None,
                int(m.group(2)) if m.group(2) else None,
                unit="words" if m.group(3) else "characters",
            )
        raise ValueError(f"length takes MIN..MAX, e.g. length:..400 or length:20..400, not {arg!r}")
    if name == "judge" and arg:
        m = _JUDGE.match(arg)
        if m:
            return Judge(m.group(1), pass_at=float(m.group(2)) if m.group(2) else None)
        raise ValueError(f"judge takes a deployment key, e.g. judge:my-judge>=4, not {arg!r}")
    if name == "json_schema":
        raise ValueError("json_schema needs a schema: use Evaluator.json_schema(schema) in Python")
    if name in ("contains", "regex", "judge"):
        raise ValueError(f"{name} needs a value after a colon, e.g. {name}:TEXT")
    close = difflib.get_close_matches(text, [n.rstrip(":") for n in _NAMES], n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown evaluator {text!r}.{hint} Known: exact_match, valid_json, contains:TEXT, "
        "regex:PATTERN, length:MIN..MAX, judge:KEY."
    )


def resolve_evaluators(evaluators: Any) -> list[BaseEvaluator]:
    """Evaluator objects, callables and text forms as a list of evaluators with unique names."""
    if isinstance(evaluators, (str, BaseEvaluator)) or callable(evaluators):
        evaluators = [evaluators]
    if not isinstance(evaluators, Iterable) or isinstance(evaluators, Mapping):
        raise TypeError("evaluators must be a list of evaluators, callables or names")
    out: list[BaseEvaluator] = []
    for item in evaluators:
        out.append(_one(item))
    if not out:
        raise ValueError("an experiment needs at least one evaluator")
    _unique_names(out)
    return out


def _one(item: Any) -> BaseEvaluator:
    if isinstance(item, BaseEvaluator):
        return item
    if isinstance(item, str):
        return from_text(item)
    if isinstance(item, type) and issubclass(item, BaseEvaluator):
        raise TypeError(f"{item.__name__} is a class: call it, e.g. Evaluator.valid_json()")
    if callable(item):
        return Check(item)
    raise TypeError(
        f"{type(item).__name__} is not an evaluator: give an Evaluator.*(...), a callable or "
        "a name such as 'exact_match'"
    )


def _unique_names(evaluators: Sequence[BaseEvaluator]) -> None:
    seen: dict[str, int] = {}
    for e in evaluators:
        count = seen.get(e.name, 0) + 1
        seen[e.name] = count
        if count > 1:
            e.name = f"{e.name}#{count}"
