"""An experiment as asked for: its rows (inputs and references) and its targets, checked.

Everything here is checked before any request is sent, so a wrong argument fails once with
one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..batch._engine import rows_to_specs

__all__ = ["Row", "Target", "read_dataset", "read_targets"]

#: Columns that are references by default: never sent, read by evaluators.
EXPECTED = ("expected", "expected_output")


@dataclass(frozen=True)
class Target:
    """One deployment (or variant of one) the rows are run against."""

    name: str
    key: str
    context: dict[str, Any] | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # other request fields, for every row

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "context": self.context, **self.fields}


@dataclass(frozen=True)
class Row:
    """One row of the dataset: what is sent, and what evaluators compare with."""

    index: int
    inputs: dict[str, Any]
    messages: list[Any] | str | None = None  # a string is one user message, as in batch
    context: dict[str, Any] | None = None
    expected: Any = None
    reference: dict[str, Any] = field(default_factory=dict)

    def batch_row(self) -> dict[str, Any]:
        row = dict(self.inputs)
        if self.messages is not None:
            row["messages"] = self.messages
        if self.context is not None:
            row["context"] = self.context
        return row

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "inputs": self.inputs}
        for name in ("messages", "context", "expected"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.reference:
            out["reference"] = self.reference
        return out


def read_dataset(dataset: Any, reference: Sequence[str] = ()) -> tuple[list[Row], list[Any] | None]:
    """The rows of a DataFrame or a list of dicts, and the DataFrame's index labels.

    A row is flat (`{"question": ..., "expected": ...}`: every column is an input but
    `expected`/`expected_output` and the `reference` columns), or shaped like an orq
    datapoint (`{"inputs": {...}, "messages": [...], "expected_output": ...}`: the other
    columns are references).
    """
    if isinstance(reference, str):
        reference = [reference]
    if not hasattr(dataset, "__iter__") or isinstance(dataset, (str, bytes, Mapping)):
        raise TypeError(
            "the dataset must be a list of dicts or a pandas DataFrame, "
            f"not {type(dataset).__name__}"
        )
    specs, labels = rows_to_specs(dataset)
    rows = []
    for spec in specs:
        inputs = dict(spec.inputs)
        nested = inputs.pop("inputs", None)
        if nested is not None and not isinstance(nested, Mapping):
            raise TypeError(f"row {spec.index}: inputs must be a dict, not {type(nested).__name__}")
        refs: dict[str, Any] = {}
        expected = None
        for name in EXPECTED:
            if name in inputs:
                expected = inputs.pop(name)
        if nested is not None:  # a datapoint: everything beside `inputs` is a reference
            refs, inputs = inputs, {str(k): v for k, v in nested.items()}
        for name in reference:
            if name in inputs:
                refs[name] = inputs.pop(name)
        rows.append(Row(spec.index, inputs, spec.messages, spec.context, expected, refs))
    return rows, labels


def read_targets(targets: Any) -> list[Target]:
    """Targets from keys, `(key, context)` pairs and `{"name", "key", "context", ...}` dicts."""
    if isinstance(targets, (str, Mapping)) or (
        isinstance(targets, tuple) and len(targets) == 2 and isinstance(targets[1], Mapping)
    ):
        targets = [targets]
    try:
        items = list(targets)
    except TypeError:
        raise TypeError("targets must be a list of deployment keys, pairs or dicts") from None
    if not items:
        raise ValueError("an experiment needs at least one target")
    out = [_target(item, i) for i, item in enumerate(items)]
    seen: set[str] = set()
    for t in out:
        if t.name in seen:
            raise ValueError(
                f"two targets are named {t.name!r}: give each a name, "
                '{"name": "v2", "key": ..., "context": ...}'
            )
        seen.add(t.name)
    return out


def _target(item: Any, i: int) -> Target:
    if isinstance(item, str):
        return Target(_key(item, i), item)
    if isinstance(item, tuple) and len(item) == 2:
        key, context = item
        return Target(_variant_name(_key(key, i), context), key, _context(context, i))
    if isinstance(item, Mapping):
        fields = dict(item)
        key = _key(fields.pop("key", None), i)
        context = fields.pop("context", None)
        context = _context(context, i) if context is not None else None
        name = fields.pop("name", None) or (
            _variant_name(key, context) if context is not None else key
        )
        if not isinstance(name, str):
            raise TypeError(f"target {i}: name must be a string, not {type(name).__name__}")
        return Target(name, key, context, fields)
    raise TypeError(
        f"target {i} is a {type(item).__name__}: give a key, a (key, context) pair or a dict "
        'such as {"name": "v2", "key": "support-answer", "context": {"env": "prod"}}'
    )


def _key(key: Any, i: int) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"target {i} needs a deployment key (a non-empty string)")
    return key


def _context(context: Any, i: int) -> dict[str, Any]:
    if not isinstance(context, Mapping):
        raise TypeError(f"target {i}: context must be a dict, not {type(context).__name__}")
    return dict(context)


def _variant_name(key: str, context: Mapping[str, Any]) -> str:
    shown = ", ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in context.items()
    )
    return f"{key} [{shown}]"
