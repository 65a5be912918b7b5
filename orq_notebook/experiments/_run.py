"""Running an experiment: one batch per target, local evaluators, then one batch per judge.

Everything that talks to the API goes through `run_batch` / `arun_batch`, so an experiment
has a batch's robustness: per-row errors, 429 back-off, retries, nothing lost on interrupt.
The plan is a generator of batch jobs (`_Driver.steps`); the sync and async functions only
differ in how they run each job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..batch._api import arun_batch, run_batch
from ..batch._engine import shared_fields
from ..batch._result import as_messages
from ..client._exceptions import OrqError
from ._base import BaseEvaluator, Case, Kind, Score
from ._catalog import resolve_evaluators
from ._judge import Judge
from ._plan import Row, Target, read_dataset, read_targets
from ._result import Cell, EvaluatorInfo, ExperimentResult

__all__ = ["arun_experiment", "run_experiment"]

_STOPPED_JUDGE = "not judged: the experiment was stopped first"


@dataclass(frozen=True)
class _Job:
    """One batch to run: a deployment over rows, with shared request fields."""

    key: str
    rows: list[dict[str, Any]]
    fields: dict[str, Any]


class _Driver:
    """The state of one experiment, kept outside the loop that runs it (interrupt-safe)."""

    def __init__(
        self,
        rows: list[Row],
        labels: list[Any] | None,
        targets: list[Target],
        evaluators: list[BaseEvaluator],
        request_fields: Mapping[str, Any],
    ) -> None:
        self.rows, self.labels, self.targets = rows, labels, targets
        self.evaluators = evaluators
        self.local = [e for e in evaluators if e.judge is None]
        self.judges = [e for e in evaluators if isinstance(e, Judge)]
        self.request_fields = dict(request_fields)
        self.cells: dict[tuple[str, int], Cell] = {
            (t.name, r.index): Cell(r.index, t.name) for t in targets for r in rows
        }
        self.batches: dict[str, Any] = {}
        self.interrupted = False
        self.started = time.perf_counter()
        self.ran_any = False
        for job in self._all_fields():  # bad request fields fail here, before any request
            shared_fields(*job)

    def _all_fields(self) -> list[tuple[str, dict[str, Any]]]:
        out = [(t.key, self._target_fields(t)) for t in self.targets]
        out += [(j.judge or "", self._judge_fields(j)) for j in self.judges]
        return out

    def _target_fields(self, target: Target) -> dict[str, Any]:
        fields = {**self.request_fields, **target.fields}
        if target.context is not None:
            fields["context"] = {**fields.get("context", {}), **target.context}
        return fields

    def _judge_fields(self, judge: Judge) -> dict[str, Any]:
        # The shared fields are for the targets; only metadata also goes with judge calls.
        meta = self.request_fields.get("metadata")
        return {"metadata": meta} if meta is not None else {}

    # -- the plan ----------------------------------------------------------------------------

    def steps(self) -> Generator[_Job, Any, None]:
        """Yields each batch to run and receives its `BatchResult` (or an `OrqError`)."""
        for target in self.targets:
            outcome = yield _Job(
                target.key, [r.batch_row() for r in self.rows], self._target_fields(target)
            )
            self._take_answers(target, outcome)
            self._score_locally(target)  # what finished is scored, interrupted or not
            if self.interrupted:
                return
            for judge in self.judges:
                cells = [self.cells[(target.name, r.index)] for r in self.rows]
                cells = [c for c in cells if c.ok]
                if not cells:
                    continue
                rows = [judge.request(self._case(target, c)) for c in cells]
                outcome = yield _Job(judge.judge or "", rows, self._judge_fields(judge))
                self._take_verdicts(judge, cells, outcome)
                if self._stopped():
                    return

    def _stopped(self) -> bool:
        return self.interrupted

    def _case(self, target: Target, cell: Cell) -> Case:
        row = self.rows[cell.row]
        messages = None if row.messages is None else as_messages(row.messages)
        return Case(cell.output, row.expected, row.inputs, row.reference, messages, target.name)

    def _take_answers(self, target: Target, outcome: Any) -> None:
        if isinstance(outcome, OrqError):
            for r in self.rows:
                cell = self.cells[(target.name, r.index)]
                cell.status, cell.error = "failed", f"{type(outcome).__name__}: {outcome}"
            return
        self.batches[target.name] = outcome
        self.interrupted = self.interrupted or bool(outcome.interrupted)
        for row, answer in zip(self.rows, outcome.rows, strict=True):
            cell = self.cells[(target.name, row.index)]
            cell.output = answer.text
            cell.latency, cell.tokens = answer.latency, answer.tokens
            if answer.status in ("ok", "failed"):
                cell.status = answer.status
                cell.error = f"{answer.error_type}: {answer.error}" if answer.error else None
            else:  # "cancelled" in older batches, "stopped" from now on
                cell.status, cell.error = "stopped", answer.error

    def _score_locally(self, target: Target) -> None:
        for r in self.rows:
            cell = self.cells[(target.name, r.index)]
            if not cell.ok:
                continue
            case = self._case(target, cell)
            for e in self.local:
                cell.scores[e.name] = e(case)

    def _take_verdicts(self, judge: Judge, cells: Sequence[Cell], outcome: Any) -> None:
        if isinstance(outcome, OrqError):
            for cell in cells:
                cell.scores[judge.name] = Score(error=f"judge call failed: {outcome}")
            return
        self.interrupted = self.interrupted or bool(outcome.interrupted)
        for cell, verdict in zip(cells, outcome.rows, strict=True):
            if verdict.status == "ok":
                score = judge.read(verdict.text)
            elif verdict.status == "failed":
                score = Score(error=f"judge call failed: {verdict.error_type}: {verdict.error}")
            else:
                score = Score(error=_STOPPED_JUDGE)
            cell.scores[judge.name] = score

    # -- the result --------------------------------------------------------------------------

    def result(self) -> ExperimentResult:
        infos = []
        for e in self.evaluators:
            kind = _settle_kind(e.name, self.cells.values())
            infos.append(EvaluatorInfo(e.name, kind, e.judge))
        return ExperimentResult(
            self.rows, self.targets, infos, list(self.cells.values()),
            elapsed=time.perf_counter() - self.started, interrupted=self.interrupted,
            labels=self.labels, batches=self.batches,
        )  # fmt: skip


def _settle_kind(name: str, cells: Any) -> Kind | None:
    """The kind of an evaluator's scores: that of its first value. A value of another kind
    (a number after booleans) becomes an error in its cell, so figures never mix kinds."""
    kind: Kind | None = None
    for cell in cells:
        score = cell.scores.get(name)
        if score is None or score.kind is None:
            continue
        if kind is None:
            kind = score.kind
        elif score.kind != kind:
            cell.scores[name] = Score(
                error=f"gave a {score.kind} ({score.value!r}) where its other answers got "
                f"a {kind}: an evaluator gives one kind of score"
            )
    return kind


def _driver(
    dataset: Any,
    targets: Any,
    evaluators: Any,
    reference: Sequence[str],
    request_fields: Mapping[str, Any],
) -> _Driver:
    rows, labels = read_dataset(dataset, reference)
    return _Driver(
        rows, labels, read_targets(targets), resolve_evaluators(evaluators), request_fields
    )


def run_experiment(
    dataset: Any,
    targets: Any,
    evaluators: Any,
    *,
    concurrency: int = 8,
    client: Any = None,
    reference: Sequence[str] = (),
    progress: bool = True,
    **request_fields: Any,
) -> ExperimentResult:
    """Run every row of `dataset` against every target and score each answer.

    Usage: `result = run_experiment(df, ["support-v1", "support-v2"], ["exact_match"])`

    Args:
        dataset: a DataFrame or a list of dicts. Columns are inputs, except `messages` and
            `context` (as in `run_batch`), `expected` / `expected_output`, and the columns
            named in `reference`, which evaluators read and are never sent. A row may also
            be an orq datapoint, `{"inputs": {...}, "expected_output": ...}`.
        targets: deployment keys, `(key, context)` pairs for variants of one deployment, or
            dicts `{"name": "v2", "key": ..., "context": {...}, ...}` (other entries are
            request fields for that target, e.g. `metadata`).
        evaluators: `Evaluator.*(...)`, plain callables, or names (`"exact_match"`,
            `"contains:30 days"`, `"judge:my-judge"`, ...; see `Evaluator`).
        concurrency: requests in flight per batch (targets run one after another).
        client: as for `run_batch` (None: the notebook's connection, else the environment).
        reference: more columns that are references, not inputs.
        progress: a progress bar per batch.
        **request_fields: request fields sent with every target call (`metadata`, ...).

    A row whose call fails is recorded as failed and not scored; an evaluator that raises
    records its error in its cell; a judge call that fails is the judge's error, not the
    row's. Ctrl-C (or a kernel interrupt) stops the experiment and *returns* what finished
    (`result.interrupted` is True), like `run_batch`.
    """
    driver = _driver(dataset, targets, evaluators, reference, request_fields)
    steps = driver.steps()
    try:
        job = next(steps)
        while True:
            outcome = _attempt(driver, lambda j=job: run_batch(
                j.key, j.rows, concurrency=concurrency, client=client, progress=progress,
                **j.fields,
            ))  # fmt: skip
            job = steps.send(outcome)
    except StopIteration:
        pass
    except KeyboardInterrupt:
        driver.interrupted = True
    return driver.result()


def _attempt(driver: _Driver, run: Any) -> Any:
    # An API error before a batch could start (unknown deployment, ...) fails the experiment
    # when nothing has run yet, so nothing is lost; later it is recorded in that batch's cells.
    try:
        outcome = run()
    except OrqError as exc:
        if not driver.ran_any:
            raise
        return exc
    driver.ran_any = True
    return outcome


async def arun_experiment(
    dataset: Any,
    targets: Any,
    evaluators: Any,
    *,
    concurrency: int = 8,
    client: Any = None,
    reference: Sequence[str] = (),
    progress: bool = True,
    **request_fields: Any,
) -> ExperimentResult:
    """`run_experiment` on the running event loop: `result = await arun_experiment(...)`.

    Cancelling the awaiting task stops the experiment and returns what finished
    (`result.interrupted` is True), like `arun_batch`.
    """
    driver = _driver(dataset, targets, evaluators, reference, request_fields)
    steps = driver.steps()
    try:
        job = next(steps)
        while True:
            try:
                outcome: Any = await arun_batch(
                    job.key, job.rows, concurrency=concurrency, client=client,
                    progress=progress, **job.fields,
                )  # fmt: skip
            except OrqError as exc:
                if not driver.ran_any:
                    raise
                outcome = exc
            driver.ran_any = True
            job = steps.send(outcome)
    except StopIteration:
        pass
    except asyncio.CancelledError:
        driver.interrupted = True
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()
    return driver.result()
