"""The built-in local evaluators: exact match, contains, regex, valid JSON, JSON schema, length
bounds, and any Python callable. None of them calls a model; the LLM judge is `_judge.py`.

Each checks its arguments when made, so a bad pattern or schema fails once, up front, and
not once per row.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._base import BaseEvaluator, Case, Score

__all__ = ["Check", "Contains", "ExactMatch", "JsonSchema", "Length", "Regex", "ValidJson"]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _expected(case: Case, column: str) -> Any:
    value = case.get(column)
    if value is None:
        raise LookupError(f"the row has no {column!r} value to compare with")
    return value


class ExactMatch(BaseEvaluator):
    """Passes when the answer equals the row's `expected` (or `column`) value.

    Whitespace at either end is ignored unless `strip=False`; case too with `ignore_case=True`.
    """

    def __init__(
        self, column: str = "expected", *, ignore_case: bool = False, strip: bool = True
    ) -> None:
        self.column, self.ignore_case, self.strip = column, ignore_case, strip
        self.name = "exact_match" if column == "expected" else f"exact_match[{column}]"

    def _norm(self, text: str) -> str:
        text = text.strip() if self.strip else text
        return text.casefold() if self.ignore_case else text

    def evaluate(self, case: Case) -> Score:
        expected = _text(_expected(case, self.column))
        if self._norm(case.output) == self._norm(expected):
            return Score(True)
        return Score(False, f"expected {expected[:80]!r}")


class Contains(BaseEvaluator):
    """Passes when the answer contains `text` (every one of a list, or any with
    `require="any"`), or the row's `column` value."""

    def __init__(
        self,
        text: str | Sequence[str] | None = None,
        *,
        column: str | None = None,
        ignore_case: bool = False,
        require: str = "all",
    ) -> None:
        if (text is None) == (column is None):
            raise TypeError("contains() takes a text (or a list of texts) or column=, not both")
        if require not in ("all", "any"):
            raise ValueError(f"require must be 'all' or 'any', not {require!r}")
        given: list[Any] = [text] if isinstance(text, str) else list(text or [])
        if text is not None and not all(isinstance(t, str) and t for t in given):
            raise TypeError("contains() takes non-empty texts")
        self.texts: list[str] = given
        self.column, self.ignore_case, self.require = column, ignore_case, require
        shown = column if column is not None else ", ".join(self.texts)
        self.name = f"contains[{shown}]" if require == "all" else f"contains_any[{shown}]"

    def evaluate(self, case: Case) -> Score:
        wanted = self.texts
        if self.column is not None:
            value = _expected(case, self.column)
            wanted = [_text(v) for v in value] if isinstance(value, list) else [_text(value)]
        fold = str.casefold if self.ignore_case else str
        output = fold(case.output)
        missing = [w for w in wanted if fold(w) not in output]
        if self.require == "any":
            ok = len(missing) < len(wanted)
            return Score(ok, None if ok else "none of the texts is in the answer")
        return Score(not missing, f"missing {missing[0]!r}" if missing else None)


class Regex(BaseEvaluator):
    """Passes when `pattern` matches somewhere in the answer (the whole answer with
    `fullmatch=True`)."""

    def __init__(self, pattern: str, *, flags: int = 0, fullmatch: bool = False) -> None:
        try:
            self.pattern = re.compile(pattern, flags)
        except re.error as exc:
            raise ValueError(f"regex {pattern!r} is not a valid pattern: {exc}") from None
        self.fullmatch = fullmatch
        self.name = f"regex[{pattern}]"

    def evaluate(self, case: Case) -> Score:
        find = self.pattern.fullmatch if self.fullmatch else self.pattern.search
        return Score(find(case.output) is not None)


def _json(output: str) -> Any:
    return json.loads(output.strip())


class ValidJson(BaseEvaluator):
    """Passes when the whole answer is one JSON value; the reason says where parsing failed."""

    name = "valid_json"

    def evaluate(self, case: Case) -> Score:
        try:
            _json(case.output)
        except ValueError as exc:
            return Score(False, f"not JSON: {exc}")
        return Score(True)


class JsonSchema(BaseEvaluator):
    """Passes when the answer is JSON that `schema` accepts (needs `jsonschema`:
    `pip install 'orq-notebook[schema]'`)."""

    def __init__(self, schema: Mapping[str, Any], *, name: str = "json_schema") -> None:
        try:
            import jsonschema
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "The json_schema evaluator needs the jsonschema package: "
                "pip install 'orq-notebook[schema]'."
            ) from None
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"json_schema: the schema is not valid: {exc.message}") from None
        self.validator = validator_class(schema)
        self.name = name

    def evaluate(self, case: Case) -> Score:
        try:
            value = _json(case.output)
        except ValueError as exc:
            return Score(False, f"not JSON: {exc}")
        error = next(iter(self.validator.iter_errors(value)), None)
        if error is None:
            return Score(True)
        where = "/".join(str(p) for p in error.absolute_path)
        return Score(False, f"{where or 'the value'}: {error.message}")


class Length(BaseEvaluator):
    """Passes when the answer's length is within `min`..`max` (either may be left out),
    counted in `unit`: "characters" or "words"."""

    def __init__(
        self, min: int | None = None, max: int | None = None, *, unit: str = "characters"
    ) -> None:
        if min is None and max is None:
            raise TypeError("length() needs min=, max= or both")
        if min is not None and max is not None and min > max:
            raise ValueError(f"length(): min ({min}) is more than max ({max})")
        if unit not in ("characters", "words"):
            raise ValueError(f"unit must be 'characters' or 'words', not {unit!r}")
        self.min, self.max, self.unit = min, max, unit
        bounds = f"{'' if min is None else min}..{'' if max is None else max}"
        self.name = f"length[{bounds}{' words' if unit == 'words' else ''}]"

    def evaluate(self, case: Case) -> Score:
        size = len(case.output.split()) if self.unit == "words" else len(case.output)
        if self.min is not None and size < self.min:
            return Score(False, f"{size} {self.unit}, fewer than {self.min}")
        if self.max is not None and size > self.max:
            return Score(False, f"{size} {self.unit}, more than {self.max}")
        return Score(True)


_BY_NAME = ("output", "expected", "inputs", "reference", "messages", "target", "case")


class Check(BaseEvaluator):
    """Any Python callable as an evaluator.

    It is called with arguments chosen by its parameter names when they all come from
    `output, expected, inputs, reference, messages, target, case`; otherwise positionally
    with `(output)`, `(output, expected)` or `(output, expected, inputs)`. It returns a bool,
    a number or a label, optionally as `(value, reason)` or `{"value": ..., "reason": ...}`.
    """

    def __init__(self, function: Callable[..., Any], name: str | None = None) -> None:
        if not callable(function):
            raise TypeError(f"an evaluator must be callable, not {type(function).__name__}")
        self.function = function
        self.name = name or getattr(function, "__name__", None) or type(function).__name__
        if self.name == "<lambda>":
            self.name = "check"
        self._call = _binder(function)

    def evaluate(self, case: Case) -> Any:
        return self._call(case)


def _binder(function: Callable[..., Any]) -> Callable[[Case], Any]:
    try:
        params = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: give it the answer
        return lambda case: function(case.output)
    named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if named and all(n in _BY_NAME for n in named):
        return lambda case: function(
            **{n: case if n == "case" else getattr(case, n) for n in named}
        )
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    count = max(1, min(3, len(required) or 1))
    if len(required) > 3:
        raise TypeError(
            f"{getattr(function, '__name__', 'the evaluator')} takes {len(required)} "
            "arguments; an evaluator takes (output), (output, expected) or "
            "(output, expected, inputs), or parameters named after those"
        )
    return lambda case: function(*(case.output, case.expected, case.inputs)[:count])
