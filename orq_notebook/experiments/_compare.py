"""Is the new version better? A paired comparison of two runs (or two targets of one run).

Rows are paired by position (the same dataset run twice), and only rows answered and
scored on both sides count. Per evaluator:

* pass/fail: the rows that went pass → fail (`worse`) and fail → pass (`better`), and the
  exact McNemar p-value of that split;
* scores: the mean change with the paired sign-flip permutation p-value;
* labels: the rows whose label changed (no test).

`significant` is p < 0.05: the difference is more than the noise of this many rows would
give. The formulas are in `_stats.py`.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..display._render import Table, mimebundle
from ._base import Kind, Score
from ._stats import mcnemar_exact, sign_flip_test

if TYPE_CHECKING:
    from ._result import Cell, ExperimentResult

__all__ = ["Change", "Comparison", "compare_runs", "compare_targets"]

ALPHA = 0.05


@dataclass(frozen=True)
class Change:
    """One evaluator on one target, before → after."""

    target: str
    evaluator: str
    kind: Kind | None
    paired: int  # rows scored on both sides
    worse: list[int]  # row indices: pass → fail, or a lower score
    better: list[int]  # fail → pass, or a higher score
    changed: list[int]  # any change (for labels, the only figure)
    mean_before: float | None
    mean_after: float | None
    p_value: float | None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA

    @property
    def verdict(self) -> str:
        if self.p_value is None or self.paired == 0:
            return "no test" if self.kind == "label" else "nothing to compare"
        if not self.significant:
            return "no clear difference"
        up = (self.mean_after or 0) > (self.mean_before or 0)
        return "better" if up else "worse"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "evaluator": self.evaluator, "kind": self.kind,
            "paired": self.paired, "before": self.mean_before, "after": self.mean_after,
            "worse": len(self.worse), "better": len(self.better), "changed": len(self.changed),
            "p_value": self.p_value, "verdict": self.verdict,
            "worse_rows": self.worse, "better_rows": self.better,
        }  # fmt: skip


class Comparison:
    """The changes between two runs, per target and evaluator (see the module docstring).

    `comparison.changes` lists them; `comparison.regressions` only those that went worse
    with p < 0.05; `to_pandas()` is a table; it displays as one.
    """

    def __init__(self, before: str, after: str, changes: list[Change]) -> None:
        self.before, self.after, self.changes = before, after, changes

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "worse"]

    def __iter__(self) -> Any:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def change(self, evaluator: str, target: str | None = None) -> Change:
        """The change of one evaluator (on `target`, when several were compared)."""
        found = [c for c in self.changes if c.evaluator == evaluator and target in (None, c.target)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} changes match evaluator {evaluator!r}, target {target!r}")
        return found[0]

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_records([c.to_dict() for c in self.changes])

    def _table(self) -> Table:
        rows = []
        for c in self.changes:
            moved = f"{_figure(c.kind, c.mean_before)} → {_figure(c.kind, c.mean_after)}"
            rows.append({
                "target": c.target, "evaluator": c.evaluator, "before → after": moved,
                "worse": _rows(c.worse), "better": _rows(c.better),
                "p": "" if c.p_value is None else f"{c.p_value:.3g}",
                "verdict": c.verdict,
            })  # fmt: skip
        return Table(
            rows,
            title=f"{self.after} compared with {self.before}",
            footer="paired by row; p: exact McNemar (pass/fail) or sign-flip permutation "
            "(scores); 'better'/'worse' need p < 0.05",
            max_width=40,
        )

    def __repr__(self) -> str:
        worse = len(self.regressions)
        return f"<Comparison {self.after!r} vs {self.before!r}: {len(self)} changes, {worse} worse>"

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        table = self._table()
        return mimebundle(
            {"text/plain": table.to_text, "text/html": table.to_html},
            include=include,
            exclude=exclude,
        )


def _figure(kind: Kind | None, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0%}" if kind == "pass" else f"{value:.3g}"


def _rows(indices: list[int]) -> str:
    shown = ", ".join(map(str, indices[:6])) + (", …" if len(indices) > 6 else "")
    return f"{len(indices)}" + (f" ({shown})" if indices else "")


def _numeric(score: Score | None) -> float | None:
    if score is None or score.error is not None or score.value is None:
        return None
    if isinstance(score.value, (bool, int, float)):
        return float(score.value)
    return None


def change(
    target: str, evaluator: str, kind: Kind | None, before: list[Cell], after: list[Cell]
) -> Change:
    """The change of one evaluator between two lists of cells, paired by position."""
    pairs: list[tuple[int, Score, Score]] = []
    for b, a in zip(before, after, strict=False):
        sb, sa = b.scores.get(evaluator), a.scores.get(evaluator)
        if sb is None or sa is None or sb.kind is None or sa.kind is None:
            continue
        pairs.append((a.row, sb, sa))
    changed = [row for row, sb, sa in pairs if sb.value != sa.value]
    if kind == "label" or not pairs:
        return Change(target, evaluator, kind, len(pairs), [], [], changed, None, None, None)
    numbers = [(row, _numeric(sb), _numeric(sa)) for row, sb, sa in pairs]
    numbers_ok = [(row, x, y) for row, x, y in numbers if x is not None and y is not None]
    worse = [row for row, x, y in numbers_ok if y < x]
    better = [row for row, x, y in numbers_ok if y > x]
    mean_before = statistics.fmean(x for _, x, _ in numbers_ok) if numbers_ok else None
    mean_after = statistics.fmean(y for _, _, y in numbers_ok) if numbers_ok else None
    if kind == "pass":
        p = mcnemar_exact(len(worse), len(better))
    else:
        p = sign_flip_test([y - x for _, x, y in numbers_ok])
    return Change(
        target, evaluator, kind, len(numbers_ok), worse, better, changed,
        mean_before, mean_after, p,
    )  # fmt: skip


def compare_runs(before: ExperimentResult, after: ExperimentResult) -> Comparison:
    """Every target and evaluator the two runs share, paired row by row."""
    if len(before.rows) != len(after.rows):
        raise ValueError(
            f"the runs have {len(before.rows)} and {len(after.rows)} rows; a paired "
            "comparison needs the same dataset"
        )
    for old, new in zip(before.rows, after.rows, strict=True):
        if old.inputs != new.inputs or old.messages != new.messages:
            raise ValueError(
                f"row {new.index} differs between the runs (inputs or messages); a paired "
                "comparison needs the same dataset in the same order"
            )
    kinds = {e.name: e.kind for e in after.evaluators}
    shared_evaluators = [e.name for e in before.evaluators if e.name in kinds]
    shared_targets = [t for t in before.target_names if t in after.target_names]
    if not shared_targets or not shared_evaluators:
        raise ValueError("the two runs share no target and evaluator to compare")
    changes = [
        change(t, e, kinds[e], before.cells_of(t), after.cells_of(t))
        for t in shared_targets
        for e in shared_evaluators
    ]
    return Comparison(f"run of {before.created}", f"run of {after.created}", changes)


def compare_targets(result: ExperimentResult, before: str, after: str) -> Comparison:
    """Target `after` against target `before` of the same run, per evaluator."""
    changes = [
        change(f"{before} → {after}", e.name, e.kind, result.cells_of(before),
               result.cells_of(after))
        for e in result.evaluators
    ]  # fmt: skip
    return Comparison(before, after, changes)
