"""A feedback column, sent in bulk: `result.send_feedback(df["rating"])`.

```python
result = run_batch("support-answer", rows)
df = result.to_pandas()
df["rating"] = ["good", "bad", None, "good"]        # filled in by hand, or by a check
result.send_feedback(df["rating"])                  # orq's `rating` on each row's trace
result.send_feedback({0: "Say 30 days."}, property="correction")
```

Each value goes on its row's trace (the answer's `telemetry.trace_id`). Rows with no value
(None, NaN, "") are left out, and so are rows that have no answer to rate; a row whose sending
fails keeps its error in the report while the others are still sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..client._config import Settings
from ..client._exceptions import OrqError
from ..client._sender import FeedbackSender

if TYPE_CHECKING:
    from ._result import BatchResult, RowResult

__all__ = ["FeedbackReport", "send_rows_feedback"]


@dataclass
class FeedbackReport:
    """What `BatchResult.send_feedback` did, by row index."""

    property: str
    sent: list[int] = field(default_factory=list)
    no_value: list[int] = field(default_factory=list)
    no_answer: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = [f"{len(self.sent)} sent"]
        if self.no_value:
            parts.append(f"{len(self.no_value)} without a value")
        if self.no_answer:
            parts.append(f"{len(self.no_answer)} without an answer to rate")
        if self.failed:
            first = next(iter(self.failed.items()))
            parts.append(f"{len(self.failed)} failed (row {first[0]}: {first[1]})")
        return f"<FeedbackReport {self.property!r}: {', '.join(parts)}>"


def _empty(value: Any) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return isinstance(value, float) and math.isnan(value)


def _values_by_row(result: BatchResult, values: Any) -> dict[int, Any]:
    """Row index -> value, from a mapping (by index), a callable, or a column in row order."""
    rows = result.rows
    if callable(values):
        pick: Callable[[RowResult], Any] = values
        return {r.index: pick(r) for r in rows}
    if isinstance(values, Mapping):
        known = {r.index for r in rows}
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ValueError(f"No row with index {unknown[0]!r} in this result.")
        return dict(values)
    column = values.tolist() if hasattr(values, "tolist") else list(values)
    if len(column) != len(rows):
        raise ValueError(
            f"The feedback column has {len(column)} values for {len(rows)} rows: give one per "
            "row (None to leave a row out), or a dict {row index: value}."
        )
    return {r.index: v for r, v in zip(rows, column, strict=True)}


def send_rows_feedback(
    result: BatchResult, values: Any, *, property: str, settings: Settings
) -> FeedbackReport:
    """Send `values` (see `BatchResult.send_feedback`) through the connection of `settings`."""
    report = FeedbackReport(property)
    wanted = _values_by_row(result, values)
    items: list[tuple[int, str, Any]] = []
    for row in result.rows:
        value = wanted.get(row.index)
        if _empty(value):
            report.no_value.append(row.index)
        elif row.invocation is None:
            report.no_answer.append(row.index)
        else:
            items.append((row.index, row.invocation.trace_id, value))
    outcomes = FeedbackSender(settings).send_many((t, property, v) for _, t, v in items)
    for (index, _, _), outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, OrqError):
            report.failed[index] = str(outcome)
        else:
            report.sent.append(index)
    return report
