"""What `run_experiment` returns: every answer with its scores, summaries, tables and files.

Plain data: no I/O but `save` / `load`, no HTTP, no IPython. The display is `_view.py`, the
picture `_plot.py`, comparisons `_compare.py`.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..batch._result import percentile
from ._base import KINDS, Kind, Score
from ._plan import Row, Target
from ._stats import Interval, mean_interval, wilson_interval

if TYPE_CHECKING:
    from ._compare import Comparison

__all__ = ["Cell", "EvaluatorInfo", "ExperimentResult", "Summary"]

Status = Literal["ok", "failed", "stopped"]
FORMAT = "orq-notebook experiment"
VERSION = 1


@dataclass
class Cell:
    """One row run against one target: the answer, how it went, and each evaluator's score."""

    row: int
    target: str
    status: Status = "stopped"
    output: str = ""
    error: str | None = "not run: the experiment was stopped first"
    latency: float | None = None
    tokens: int | None = None
    scores: dict[str, Score] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "target": self.target,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "latency": self.latency,
            "tokens": self.tokens,
            "scores": {name: s.to_dict() for name, s in self.scores.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cell:
        scores = {k: Score.from_dict(v) for k, v in (data.get("scores") or {}).items()}
        return cls(
            int(data["row"]), str(data["target"]), data["status"], data.get("output") or "",
            data.get("error"), data.get("latency"), data.get("tokens"), scores,
        )  # fmt: skip


@dataclass(frozen=True)
class EvaluatorInfo:
    """An evaluator as the result remembers it: its name, the kind of its scores, its judge."""

    name: str
    kind: Kind | None = None  # None: it gave no value at all (every cell an error)
    judge: str | None = None


@dataclass(frozen=True)
class Summary:
    """One evaluator's figure for one target (`interval` for pass rates and means; `labels`
    counts for labels), over the `scored` answers; `errors` cells had no score."""

    target: str
    evaluator: str
    kind: Kind | None
    interval: Interval | None
    labels: dict[str, int]
    scored: int
    errors: int

    def describe(self) -> str:
        if self.kind == "label":
            return ", ".join(f"{k} {v}" for k, v in sorted(self.labels.items(), key=_by_count))
        if self.interval is None or self.interval.estimate is None:
            return "—"
        i = self.interval
        if self.kind == "pass":
            if i.low is None or i.high is None:
                return f"{i.estimate:.0%}"
            return f"{i.estimate:.0%} [{i.low:.0%}, {i.high:.0%}]"
        return str(i)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


class ExperimentResult:
    """Every row × target of an experiment, with each evaluator's score.

    `result.summary()` gives each target's figures; `result.to_pandas("long" | "wide" |
    "summary")` the tables; `result.compare(other)` a paired comparison with an earlier run
    (or `result.compare("v1", "v2")` between two targets of this one); `result.save(path)`
    writes JSON Lines that `ExperimentResult.load(path)` (and pandas) read back.
    `interrupted` is True when the run was stopped before every answer was scored.
    """

    def __init__(
        self,
        rows: Sequence[Row],
        targets: Sequence[Target],
        evaluators: Sequence[EvaluatorInfo],
        cells: Sequence[Cell],
        *,
        elapsed: float = 0.0,
        interrupted: bool = False,
        created: str | None = None,
        labels: Sequence[Any] | None = None,
        batches: Mapping[str, Any] | None = None,
    ) -> None:
        self.rows = list(rows)
        self.targets = list(targets)
        self.evaluators = list(evaluators)
        self.cells: dict[tuple[str, int], Cell] = {(c.target, c.row): c for c in cells}
        self.elapsed = elapsed
        self.interrupted = interrupted
        self.created = created or datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
        self.labels = list(labels) if labels is not None else None
        #: The `BatchResult` of each target's run (in memory only; not saved).
        self.batches: dict[str, Any] = dict(batches or {})

    # -- access ------------------------------------------------------------------------------

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    @property
    def evaluator_names(self) -> list[str]:
        return [e.name for e in self.evaluators]

    def cell(self, target: str, row: int) -> Cell:
        """The cell of `target` (a name) and row index `row`."""
        try:
            return self.cells[(target, row)]
        except KeyError:
            raise KeyError(f"no cell for target {target!r}, row {row}") from None

    def cells_of(self, target: str) -> list[Cell]:
        """The cells of one target, in row order."""
        if target not in self.target_names:
            raise KeyError(f"no target {target!r}; the targets are {', '.join(self.target_names)}")
        return [self.cells[(target, r.index)] for r in self.rows]

    def __iter__(self) -> Iterator[Cell]:
        return (self.cells[(t.name, r.index)] for t in self.targets for r in self.rows)

    def __len__(self) -> int:
        return len(self.cells)

    def counts(self, target: str | None = None) -> dict[str, int]:
        """How many cells are ok, failed and stopped (of one target, or all)."""
        counts = {"ok": 0, "failed": 0, "stopped": 0}
        for c in self.cells_of(target) if target is not None else self:
            counts[c.status] += 1
        return counts

    # -- figures -----------------------------------------------------------------------------

    def summarize(self, target: str, evaluator: str, confidence: float = 0.95) -> Summary:
        """One evaluator's figure for one target: Wilson interval of the pass rate, t interval
        of the mean score, or label counts."""
        info = next((e for e in self.evaluators if e.name == evaluator), None)
        if info is None:
            raise KeyError(
                f"no evaluator {evaluator!r}; they are {', '.join(self.evaluator_names)}"
            )
        scores = [c.scores[evaluator] for c in self.cells_of(target) if evaluator in c.scores]
        values = [s.value for s in scores if s.error is None and s.value is not None]
        errors = sum(1 for s in scores if s.error is not None)
        interval = None
        labels: dict[str, int] = {}
        if info.kind == "pass":
            interval = wilson_interval(sum(1 for v in values if v is True), len(values), confidence)
        elif info.kind == "score":
            interval = mean_interval([float(v) for v in values], confidence)
        elif info.kind == "label":
            labels = dict(Counter(str(v) for v in values))
        return Summary(target, evaluator, info.kind, interval, labels, len(values), errors)

    def latency(self, target: str, q: float) -> float | None:
        """The q-th percentile (0..100) of one target's latencies (answered rows), seconds."""
        return percentile(
            [c.latency for c in self.cells_of(target) if c.ok and c.latency is not None], q
        )

    def tokens(self, target: str) -> tuple[int, float | None]:
        """One target's total tokens and mean tokens per answered row (None if none known)."""
        known = [c.tokens for c in self.cells_of(target) if c.ok and c.tokens is not None]
        return sum(known), (sum(known) / len(known) if known else None)

    def summary(self, confidence: float = 0.95) -> list[dict[str, Any]]:
        """One dict per target and evaluator: the figure, its interval, the counts, latency
        p50/p95 and tokens (the rows of `to_pandas("summary")`)."""
        out = []
        for t in self.target_names:
            counts = self.counts(t)
            total, mean_tokens = self.tokens(t)
            for e in self.evaluator_names:
                s = self.summarize(t, e, confidence)
                i = s.interval
                out.append({
                    "target": t, "evaluator": e, "kind": s.kind,
                    "estimate": i.estimate if i else None,
                    "low": i.low if i else None, "high": i.high if i else None,
                    "labels": s.labels or None, "scored": s.scored, "errors": s.errors,
                    "ok": counts["ok"], "failed": counts["failed"], "stopped": counts["stopped"],
                    "latency_p50": self.latency(t, 50), "latency_p95": self.latency(t, 95),
                    "tokens": total, "tokens_per_row": mean_tokens,
                })  # fmt: skip
        return out

    # -- tables ------------------------------------------------------------------------------

    def to_pandas(self, form: str = "long") -> Any:
        """A DataFrame. Needs pandas.

        * `"long"`: one line per row, target and evaluator: `row, target, evaluator, value,
          reason, score_error, output, status, error, latency, tokens`;
        * `"wide"`: one line per row (the DataFrame's index if one was given), columns in
          two levels: `("input", name)`, `("expected", "")`, then per target `output`,
          `status`, `latency`, `tokens` and one column per evaluator;
        * `"summary"`: the figures of `summary()`.
        """
        import pandas as pd

        if form == "summary":
            return pd.DataFrame.from_records(self.summary())
        if form == "long":
            records = [
                {
                    "row": c.row, "target": c.target, "evaluator": name,
                    "value": s.value, "reason": s.reason, "score_error": s.error,
                    "output": c.output, "status": c.status, "error": c.error,
                    "latency": c.latency, "tokens": c.tokens,
                }
                for c in self
                for name, s in c.scores.items()
            ]  # fmt: skip
            columns = ["row", "target", "evaluator", "value", "reason", "score_error",
                       "output", "status", "error", "latency", "tokens"]  # fmt: skip
            return pd.DataFrame.from_records(records, columns=columns)
        if form == "wide":
            return self._wide(pd)
        raise ValueError(f"form must be 'long', 'wide' or 'summary', not {form!r}")

    def _wide(self, pd: Any) -> Any:
        inputs = list(dict.fromkeys(k for r in self.rows for k in r.inputs))
        has_expected = any(r.expected is not None for r in self.rows)
        records = []
        for r in self.rows:
            record: dict[tuple[str, str], Any] = {("input", k): r.inputs.get(k) for k in inputs}
            if has_expected:
                record[("expected", "")] = r.expected
            for t in self.target_names:
                c = self.cells[(t, r.index)]
                record.update({
                    (t, "output"): c.output, (t, "status"): c.status,
                    (t, "latency"): c.latency, (t, "tokens"): c.tokens,
                })  # fmt: skip
                for e in self.evaluator_names:
                    s = c.scores.get(e)
                    record[(t, e)] = None if s is None or s.error else s.value
            records.append(record)
        index = self.labels if self.labels is not None else [r.index for r in self.rows]
        frame = pd.DataFrame.from_records(records, index=index)
        frame.columns = pd.MultiIndex.from_tuples(frame.columns)
        return frame

    # -- comparing ---------------------------------------------------------------------------

    def compare(self, other: ExperimentResult | str, target: str | None = None) -> Comparison:
        """A paired comparison, per evaluator, of rows that changed.

        `new.compare(old)`: this run against an earlier one, target by target (same names,
        rows paired by position). `result.compare("v1", "v2")`: target v2 against v1 in this
        run. See `Comparison` for the tests used.
        """
        from ._compare import compare_runs, compare_targets

        if isinstance(other, str):
            if target is None:
                raise TypeError('compare("base", "candidate") takes two target names')
            return compare_targets(self, other, target)
        return compare_runs(other, self)

    # -- files -------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON Lines: one `experiment` line, then one line per cell.

        `ExperimentResult.load(path)` reads it back; `pandas.read_json(path, lines=True)`
        reads it too (the `record` column tells the lines apart). Returns the path.
        """
        path = Path(path)
        head = {
            "record": "experiment", "format": FORMAT, "version": VERSION,
            "created": self.created, "elapsed": self.elapsed, "interrupted": self.interrupted,
            "targets": [t.to_dict() for t in self.targets],
            "evaluators": [{"name": e.name, "kind": e.kind, "judge": e.judge}
                           for e in self.evaluators],
            "rows": [r.to_dict() for r in self.rows],
            "labels": _plain(self.labels),
        }  # fmt: skip
        lines = [_dumps(head)] + [_dumps({"record": "cell", **c.to_dict()}) for c in self]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ExperimentResult:
        """Read a result written by `save`."""
        path = Path(path)
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        if not lines or lines[0].get("format") != FORMAT:
            raise ValueError(f"{path} is not an experiment saved by ExperimentResult.save")
        head = lines[0]
        if head.get("version", 0) > VERSION:
            raise ValueError(f"{path} was saved by a newer orq_notebook (format {head['version']})")
        rows = [
            Row(r["index"], r.get("inputs") or {}, r.get("messages"), r.get("context"),
                r.get("expected"), r.get("reference") or {})
            for r in head["rows"]
        ]  # fmt: skip
        targets = []
        for t in head["targets"]:
            t = dict(t)
            targets.append(Target(t.pop("name"), t.pop("key"), t.pop("context", None), t))
        evaluators = [
            EvaluatorInfo(e["name"], e.get("kind") if e.get("kind") in KINDS else None,
                          e.get("judge"))
            for e in head["evaluators"]
        ]  # fmt: skip
        cells = [Cell.from_dict(line) for line in lines[1:] if line.get("record") == "cell"]
        return cls(
            rows, targets, evaluators, cells, elapsed=head.get("elapsed", 0.0),
            interrupted=head.get("interrupted", False), created=head.get("created"),
            labels=head.get("labels"),
        )  # fmt: skip

    # -- display -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        c = self.counts()
        flag = ", interrupted" if self.interrupted else ""
        return (
            f"<ExperimentResult: {len(self.rows)} rows × {len(self.targets)} targets × "
            f"{len(self.evaluators)} evaluators; {c['ok']} answered, {c['failed']} failed, "
            f"{c['stopped']} stopped{flag}>"
        )

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        from ._view import mimebundle_of

        return mimebundle_of(self, include=include, exclude=exclude)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
