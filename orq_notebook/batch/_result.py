"""What a batch run returns: one `RowResult` per input row, in input order, in a `BatchResult`.

Plain data plus rendering: this module does no I/O and imports neither httpx nor the client.
`rerun` goes through the `Rerunner` that `run_batch` hands every result it makes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from ..client._exceptions import MissingDependencyError
from ..client._models import Invocation
from ..display._render import (
    MUTED_STYLE,
    Table,
    escape_html,
    format_count,
    format_duration,
    format_tokens,
    mimebundle,
    shorten,
)

if TYPE_CHECKING:
    from ..display._result import Result
    from ._feedback import FeedbackReport

__all__ = ["BatchResult", "Rerunner", "RowResult", "Status", "percentile"]

Status = Literal["ok", "failed", "stopped"]

# Columns `to_pandas` adds after the input columns.
RESULT_COLUMNS = ("output", "latency", "tokens", "error", "status")
_TABLE_ROWS = 10


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between ranks; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, not {q!r}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class RowResult:
    """The outcome of one row.

    `status` is `"ok"`, `"failed"` (the request still failed after the client's retries;
    `error` and `error_type` say why) or `"stopped"` (the batch was interrupted before or
    while this row ran; `text` keeps any streamed text that had arrived) — the same three
    words as `Result.status`, `%orq history` and the widgets. `error` is None
    exactly when the row is ok.
    """

    index: int
    inputs: dict[str, Any]
    status: Status = "stopped"
    text: str = ""
    latency: float | None = None
    time_to_first_token: float | None = None
    tokens: int | None = None
    error: str | None = "not run: the batch was interrupted first"
    error_type: str | None = "NotRun"
    attempts: int = 0
    rate_limited: int = 0
    invocation: Invocation | None = field(default=None, repr=False)
    messages: list[Any] | str | None = field(default=None, repr=False)  # as the row gave them
    context: dict[str, Any] | None = field(default=None, repr=False)
    key: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def retries(self) -> int:
        """Attempts beyond the first (429s, 5xx and connection errors the client retried)."""
        return max(0, self.attempts - 1)

    @property
    def result(self) -> Result | None:
        """A displayable `Result` for this row's answer (partial when the row did not finish),
        or None when no answer came at all."""
        if self.invocation is None:
            return None
        from ..display._result import Result

        return Result.from_invocation(
            self.invocation,
            deployment=self.key,
            messages=as_messages(self.messages),
            latency=self.latency,
            time_to_first_token=self.time_to_first_token,
            partial=not self.ok,
            error=self.error if self.status == "failed" else None,
        )

    def row(self) -> dict[str, Any]:
        """The row as `run_batch` takes it: inputs, plus `messages`/`context` if it had them."""
        row = dict(self.inputs)
        if self.messages is not None:
            row["messages"] = self.messages
        if self.context is not None:
            row["context"] = self.context
        return row

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (no models), ready for JSON."""
        return {
            "index": self.index,
            "inputs": dict(self.inputs),
            **({"messages": self.messages} if self.messages is not None else {}),
            **({"context": self.context} if self.context is not None else {}),
            "output": self.text,
            "status": self.status,
            "error": self.error,
            "error_type": self.error_type,
            "latency": self.latency,
            "time_to_first_token": self.time_to_first_token,
            "tokens": self.tokens,
            "attempts": self.attempts,
        }


class Rerunner(Protocol):
    """Runs rows of an earlier result again and merges the outcomes in (`BatchResult.rerun`)."""

    def rerun(
        self,
        previous: BatchResult,
        targets: Sequence[RowResult],
        *,
        concurrency: int | None,
        client: Any,
        stream: bool | None,
        progress: bool,
        request_fields: Mapping[str, Any],
    ) -> BatchResult: ...

    async def arerun(
        self,
        previous: BatchResult,
        targets: Sequence[RowResult],
        *,
        concurrency: int | None,
        client: Any,
        stream: bool | None,
        progress: bool,
        request_fields: Mapping[str, Any],
    ) -> BatchResult: ...

    def send_feedback(
        self, result: BatchResult, values: Any, *, property: str, client: Any
    ) -> FeedbackReport: ...


class BatchResult:
    """Every row of a batch run, in input order, with counts, timings and re-run helpers.

    `len(result)`, `for row in result`, `result[i]` work as on a list of `RowResult`.
    `result.ok`, `result.failed` and `result.stopped` are sub-results (same type) keeping
    the original row indices; `result.failed.inputs()` gives the rows to run again, and
    `result.rerun()` runs every row that is not ok again and returns a new `BatchResult` with
    the new outcomes merged in order. `interrupted` is True when the run was stopped
    (KeyboardInterrupt or task cancellation) before every row finished.
    """

    def __init__(
        self,
        key: str,
        rows: Sequence[RowResult],
        *,
        elapsed: float = 0.0,
        interrupted: bool = False,
        concurrency: int = 8,
        min_concurrency: int | None = None,
        stream: bool = False,
        request_fields: Mapping[str, Any] | None = None,
        index_labels: Sequence[Any] | None = None,
        rerunner: Rerunner | None = None,
    ) -> None:
        self.key = key
        self.rows: list[RowResult] = list(rows)
        self.elapsed = elapsed
        self.interrupted = interrupted
        self.concurrency = concurrency
        # The lowest in-flight limit the rate-limit backoff reached (== concurrency if none).
        self.min_concurrency = concurrency if min_concurrency is None else min_concurrency
        self.stream = stream
        self.request_fields: dict[str, Any] = dict(request_fields or {})
        # Row labels of the input DataFrame, kept so `to_pandas` lines up with it.
        self.index_labels = list(index_labels) if index_labels is not None else None
        self.rerunner = rerunner  # how `rerun` runs rows again (it holds the run's client)

    # -- sequence behaviour -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[RowResult]:
        return iter(self.rows)

    @overload
    def __getitem__(self, item: int) -> RowResult: ...
    @overload
    def __getitem__(self, item: slice) -> BatchResult: ...
    def __getitem__(self, item: int | slice) -> RowResult | BatchResult:
        if isinstance(item, slice):
            return self._subset(self.rows[item])
        return self.rows[item]

    # -- counts and sub-results ------------------------------------------------------------

    @property
    def ok(self) -> BatchResult:
        return self._subset([r for r in self.rows if r.status == "ok"])

    @property
    def failed(self) -> BatchResult:
        return self._subset([r for r in self.rows if r.status == "failed"])

    @property
    def stopped(self) -> BatchResult:
        return self._subset([r for r in self.rows if r.status == "stopped"])

    @property
    def retries(self) -> int:
        """Requests the client sent again (after a 429, a 5xx or a connection error)."""
        return sum(r.retries for r in self.rows)

    @property
    def rate_limited(self) -> int:
        """429 answers received, retried or not."""
        return sum(r.rate_limited for r in self.rows)

    @property
    def total_tokens(self) -> int:
        return sum(r.tokens or 0 for r in self.rows)

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.rows]

    def latency_percentile(self, q: float) -> float | None:
        """The q-th percentile (0..100) of the latencies of the ok rows, in seconds."""
        return percentile([r.latency for r in self.rows if r.ok and r.latency is not None], q)

    def counts(self) -> dict[str, int]:
        counts = {"ok": 0, "failed": 0, "stopped": 0}
        for r in self.rows:
            counts[r.status] += 1
        return counts

    def inputs(self) -> list[dict[str, Any]]:
        """The rows as `run_batch` takes them, e.g. `run_batch(key, result.failed.inputs())`."""
        return [r.row() for r in self.rows]

    # -- re-running -------------------------------------------------------------------------

    def rerun(
        self,
        *,
        include_stopped: bool = True,
        concurrency: int | None = None,
        client: Any = None,
        stream: bool | None = None,
        progress: bool = True,
        **request_fields: Any,
    ) -> BatchResult:
        """Run the failed (and, by default, stopped) rows again; return all rows merged.

        The new outcomes replace the old ones at the same positions; this result is not
        changed. Arguments left out are taken from the original run.
        Usage: `result = result.rerun()`.
        """
        return self._rerunner().rerun(
            self,
            self._retry_targets(include_stopped),
            concurrency=concurrency,
            client=client,
            stream=stream,
            progress=progress,
            request_fields=request_fields,
        )

    async def arerun(
        self,
        *,
        include_stopped: bool = True,
        concurrency: int | None = None,
        client: Any = None,
        stream: bool | None = None,
        progress: bool = True,
        **request_fields: Any,
    ) -> BatchResult:
        """`rerun` on the running event loop: `result = await result.arerun()`."""
        return await self._rerunner().arerun(
            self,
            self._retry_targets(include_stopped),
            concurrency=concurrency,
            client=client,
            stream=stream,
            progress=progress,
            request_fields=request_fields,
        )

    # -- feedback ---------------------------------------------------------------------------

    def send_feedback(
        self, values: Any, *, property: str = "rating", client: Any = None
    ) -> FeedbackReport:
        """Send a feedback column to orq, one value per row on that row's trace.

        `values`: one per row in order (a list, or a pandas Series such as `df["rating"]`), a
        dict `{row index: value}`, or a function of a `RowResult`. None, NaN and "" leave a
        row out. `property` is `rating` (`good`/`bad`), `correction`, `defects`, ... Sent
        through the run's own client unless `client=` is given. Returns a `FeedbackReport`.
        Usage: `result.send_feedback(df["rating"])`.
        """
        return self._rerunner().send_feedback(self, values, property=property, client=client)

    def _rerunner(self) -> Rerunner:
        if self.rerunner is None:
            raise ValueError("This BatchResult was not made by run_batch: it cannot re-run rows.")
        return self.rerunner

    def _retry_targets(self, include_stopped: bool) -> list[RowResult]:
        wanted = ("failed", "stopped") if include_stopped else ("failed",)
        return [r for r in self.rows if r.status in wanted]

    def merged(self, newer: BatchResult) -> BatchResult:
        """A copy of this result with `newer`'s rows put in place of the rows of equal index."""
        by_index = {r.index: r for r in newer.rows}
        return BatchResult(
            self.key,
            [by_index.get(r.index, r) for r in self.rows],
            elapsed=self.elapsed + newer.elapsed,
            interrupted=newer.interrupted,
            concurrency=self.concurrency,
            min_concurrency=min(self.min_concurrency, newer.min_concurrency),
            stream=self.stream,
            request_fields=self.request_fields,
            index_labels=self.index_labels,
            rerunner=self.rerunner,
        )

    def _subset(self, rows: list[RowResult]) -> BatchResult:
        labels = None
        if self.index_labels is not None:
            position = {r.index: i for i, r in enumerate(self.rows)}
            labels = [self.index_labels[position[r.index]] for r in rows]
        return BatchResult(
            self.key,
            rows,
            elapsed=self.elapsed,
            interrupted=self.interrupted,
            concurrency=self.concurrency,
            min_concurrency=self.min_concurrency,
            stream=self.stream,
            request_fields=self.request_fields,
            index_labels=labels,
            rerunner=self.rerunner,
        )

    # -- conversions ------------------------------------------------------------------------

    def to_dicts(self) -> list[dict[str, Any]]:
        """One plain dict per row (see `RowResult.to_dict`)."""
        return [r.to_dict() for r in self.rows]

    def to_pandas(self) -> Any:
        """A DataFrame: the input columns, then `output, latency, tokens, error, status`.

        Rows that had `messages` or `context` get those columns too, as they were given (a
        message passed as a string stays a string), so the frame can be fed back to
        `run_batch`. `tokens` is a nullable integer column (`Int64`). An input column whose
        name clashes with a result column is renamed `input_<name>`. Needs pandas
        (`pip install 'orq-notebook[pandas]'`).
        """
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependencyError("to_pandas()", "pandas", "pandas") from None

        columns: dict[str, None] = {}
        for r in self.rows:
            columns.update(dict.fromkeys(r.inputs))
        extra = [c for c in ("messages", "context") if any(getattr(r, c) for r in self.rows)]
        names = {c: (f"input_{c}" if c in RESULT_COLUMNS else c) for c in columns}
        records = []
        for r in self.rows:
            record: dict[str, Any] = {names[c]: r.inputs.get(c) for c in columns}
            for c in extra:
                record[c] = getattr(r, c)
            record.update(
                output=r.text, latency=r.latency, tokens=r.tokens, error=r.error, status=r.status
            )
            records.append(record)
        order = [*names.values(), *extra, *RESULT_COLUMNS]
        index = self.index_labels if self.index_labels is not None else [r.index for r in self]
        frame = pd.DataFrame.from_records(records, columns=order, index=index)
        # Token counts are whole numbers, missing for failed rows: a nullable integer column
        # (39, <NA>), not floats (39.0, NaN); latency is seconds, NaN when unknown.
        frame["tokens"] = frame["tokens"].astype("Int64")
        frame["latency"] = frame["latency"].astype("float64")
        return frame

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        c = self.counts()
        flag = ", interrupted" if self.interrupted else ""
        return (
            f"<BatchResult {self.key!r}: {format_count(len(self), 'row')}, {c['ok']} ok, "
            f"{c['failed']} failed, {c['stopped']} stopped{flag}>"
        )

    def _summary_lines(self) -> list[str]:
        c = self.counts()
        head = (
            f"Batch {self.key!r}: {format_count(len(self), 'row')}: {c['ok']} ok, "
            f"{c['failed']} failed, "
            f"{c['stopped']} stopped" + (" (interrupted)" if self.interrupted else "")
        )
        stats = [
            f"latency p50 {format_duration(self.latency_percentile(50))}, "
            f"p95 {format_duration(self.latency_percentile(95))}"
        ]
        ttfts = [r.time_to_first_token for r in self.rows if r.time_to_first_token is not None]
        if ttfts:
            stats.append(f"first token p50 {format_duration(percentile(ttfts, 50))}")
        stats.append(format_tokens(self.total_tokens))
        stats.append(f"wall {format_duration(self.elapsed)}")
        stats.append(f"{format_count(self.retries, 'retry')} ({self.rate_limited} rate-limited)")
        if self.min_concurrency < self.concurrency:
            stats.append(f"concurrency {self.concurrency}, backed off to {self.min_concurrency}")
        lines = [head, " · ".join(stats)]
        failed = [r.index for r in self.rows if r.status == "failed"]
        if failed:
            shown = ", ".join(map(str, failed[:8])) + (", …" if len(failed) > 8 else "")
            lines.append(f"failed rows: {shown} (see .failed; .rerun() runs them again)")
        return lines

    def _table(self) -> Table:
        rows = [
            {
                "#": r.index,
                "status": r.status,
                "inputs": shorten(_compact(r.inputs), 40),
                "output": shorten(r.text, 100),  # a preview: .text and .to_pandas() have it all
                "latency": "" if r.latency is None else format_duration(r.latency),
                "tokens": "" if r.tokens is None else f"{r.tokens:,}",
                "error": f"{r.error_type}: {r.error}" if r.status == "failed" else r.error,
            }
            for r in self.rows[:_TABLE_ROWS]
        ]
        more = len(self) - _TABLE_ROWS
        footer = (
            f"… {format_count(more, 'more row')} (.to_pandas() has them all)" if more > 0 else None
        )
        columns = ["#", "status", "inputs", "output", "latency", "tokens", "error"]
        if not any(row["error"] for row in rows):
            columns.remove("error")  # every row shown is ok: no empty column
        nowrap = ("#", "status", "latency", "tokens")
        return Table(rows, columns=columns, footer=footer, max_width=50, nowrap=nowrap)

    def _text(self) -> str:
        return "\n".join([*self._summary_lines(), self._table().to_text()])

    def _html(self) -> str:
        head, *rest = self._summary_lines()
        lines = "".join(f"<div>{escape_html(line)}</div>" for line in rest)
        return (
            f'<div class="orq-batch"><div style="font-weight:600">{escape_html(head)}</div>'
            f'<div style="{MUTED_STYLE}">{lines}</div>{self._table().to_html()}</div>'
        )

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        renderers = {"text/plain": self._text, "text/html": self._html}
        return mimebundle(renderers, include=include, exclude=exclude)


def as_messages(messages: list[Any] | str | None) -> list[Any]:
    """A row's messages as a list: one user message for a string, none for None."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return list(messages or [])


def stopped_copy(row: RowResult, *, started: bool) -> RowResult:
    """`row` marked stopped, saying whether it had started."""
    message = (
        "stopped while running: the batch was interrupted"
        if started
        else "not run: the batch was interrupted first"
    )
    return replace(
        row,
        status="stopped",
        error=message,
        error_type="Stopped" if started else "NotRun",
    )


def _compact(value: Any) -> str:
    try:
        # With spaces after `,` and `:`, a narrow column wraps between values, not inside one.
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)
