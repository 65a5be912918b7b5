"""The engine of a batch run: rows in, `RowResult`s out, with the HTTP attempts observed.

`BatchRun` keeps its state outside the coroutine that drives it, so an interrupt (from the
loop's own thread or another) can stop it and still hand back every row that finished.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ..client._checks import check_messages, validated, whole_number
from ..client._client import AsyncClient
from ..client._exceptions import ArgumentTypeError, OrqError
from ..client._hints import no_content
from ..client._models import REQUEST_FIELDS, Invocation, InvokeRequest
from ..client._notices import RetryNotice
from ..display._format import format_retry
from ._limit import AIMDLimiter, RowTrack, current_row
from ._pool import current_worker
from ._result import BatchResult, Rerunner, RowResult, as_messages, stopped_copy

__all__ = ["BatchRun", "Observed", "OnResult", "RowSpec", "rows_to_specs", "shared_fields"]

OnResult = Callable[[RowResult], object]


# -- rows ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowSpec:
    """One row to run: its position in the result, its inputs, and its own messages/context."""

    index: int
    inputs: dict[str, Any]
    messages: list[Any] | str | None = None  # as the row gave them: a string is one user message
    context: dict[str, Any] | None = None

    def blank(self, key: str) -> RowResult:
        return RowResult(
            self.index, self.inputs, messages=self.messages, context=self.context, key=key
        )


def rows_to_specs(rows: Any) -> tuple[list[RowSpec], list[Any] | None]:
    """Rows (a list of dicts, a list of strings, or a DataFrame) as specs, and the DataFrame's
    index labels. A string row is one user message (a deployment whose prompt needs only it)."""
    labels: list[Any] | None = None
    if type(rows).__module__.startswith("pandas") and hasattr(rows, "columns"):  # a DataFrame
        labels = list(rows.index)
        records: list[Any] = [_drop_missing(r) for r in rows.to_dict(orient="records")]
    elif isinstance(rows, (Mapping, str, bytes)):
        raise ArgumentTypeError(
            "rows must be a list of dicts, a list of strings (one user message each) or a "
            "pandas DataFrame, not a single value"
        )
    else:
        try:
            records = list(rows)
        except TypeError:
            raise ArgumentTypeError(
                f"rows must be a list of dicts or a pandas DataFrame, not {type(rows).__name__}"
            ) from None
    specs = []
    for i, record in enumerate(records):
        if isinstance(record, str):
            record = {"messages": record}
        if not isinstance(record, Mapping):
            raise ArgumentTypeError(
                f"row {i} is a {type(record).__name__}, not a dict of inputs (or a string: "
                "one user message)"
            )
        inputs = {str(k): v for k, v in record.items()}
        messages = inputs.pop("messages", None)
        if messages is not None and not isinstance(messages, str):  # a string: one user message
            messages = check_messages(messages, f"row {i}: messages")
        context = inputs.pop("context", None)
        if context is not None and not isinstance(context, Mapping):
            raise ArgumentTypeError(
                f"row {i}: context must be a dict, not {type(context).__name__}"
            )
        specs.append(
            RowSpec(
                i,
                inputs,
                messages if messages is None or isinstance(messages, str) else list(messages),
                dict(context) if context is not None else None,
            )
        )
    return specs, labels


_NA = ("NaTType", "NAType")  # pandas' missing-value singletons, named to avoid importing pandas


def _drop_missing(record: Mapping[Any, Any]) -> dict[Any, Any]:
    # An empty DataFrame cell (NaN, None, NaT) means "no value": leave the variable out so the
    # deployment's default applies; numpy scalars and timestamps become plain JSON values.
    out = {}
    for k, v in record.items():
        if v is None or (isinstance(v, float) and math.isnan(v)) or type(v).__name__ in _NA:
            continue
        if type(v).__module__ == "numpy" and hasattr(v, "item"):
            v = v.item()
        elif hasattr(v, "isoformat") and not isinstance(v, str):
            v = v.isoformat()
        out[k] = v
    return out


def shared_fields(key: str, request_fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check the shared request fields once, before any row runs; add `include_usage`."""
    for name in request_fields:
        if name not in REQUEST_FIELDS:
            raise ArgumentTypeError(
                f"run_batch() got an unexpected keyword argument {name!r}; request fields are: "
                + ", ".join(sorted(REQUEST_FIELDS))
            )
    fields = {k: v for k, v in request_fields.items() if v is not None}
    # Token counts come back only when asked for; a caller's own invoke_options are kept as is.
    fields.setdefault("invoke_options", {"include_usage": True})
    validated(lambda: InvokeRequest(key=key, **fields))  # a bad shared value fails here, once
    return fields


# -- one run -------------------------------------------------------------------------------------


class BatchRun:
    """The state of one batch run, kept outside its coroutine so an interrupt cannot lose it."""

    def __init__(
        self,
        key: str,
        specs: Sequence[RowSpec],
        *,
        concurrency: int,
        stream: bool,
        fields: Mapping[str, Any],
        bar: Any = None,
        on_result: OnResult | None = None,
    ) -> None:
        whole_number("run_batch()", "concurrency", concurrency, minimum=1)
        self.key = key
        self.specs = list(specs)
        self.concurrency = concurrency
        self.stream = stream
        self.fields = dict(fields)
        self.bar = bar
        self.on_result = on_result
        self.limiter = AIMDLimiter(concurrency)
        self.done: dict[int, RowResult] = {}  # by position in `specs`
        self.interrupted = False
        self.counts = {"ok": 0, "failed": 0, "retries": 0}
        self._stop = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._started = time.perf_counter()
        self._ended: float | None = None

    # Interrupting, from the loop's thread or any other.

    def interrupt(self) -> None:
        """Stop the run: nothing new starts, what is in flight is cancelled."""
        self._stop = True
        loop, task = self._loop, self._task
        if loop is None or task is None or task.done():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task.cancel()
            return
        try:
            loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:  # the loop closed meanwhile: the run is over anyway
            pass

    async def execute(self, client: AsyncClient) -> None:
        """Run every row. Returns normally when cancelled, with `interrupted` set."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._started = time.perf_counter()
        positions = iter(range(len(self.specs)))
        workers = [
            asyncio.create_task(self._worker(client, positions, n))
            for n in range(min(self.concurrency, len(self.specs)))
        ]
        try:
            if self._stop:
                raise asyncio.CancelledError
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.interrupted = True
            # We return instead of re-raising (see run_batch), so withdraw the cancel request
            # (Python 3.11+ counts them; 3.10 does not).
            uncancel = getattr(self._task, "uncancel", None)
            if uncancel is not None:
                uncancel()
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self._ended = time.perf_counter()

    async def _worker(self, client: AsyncClient, positions: Iterator[int], n: int) -> None:
        current_worker.set(n)  # its own connection pool, when the client's transport has them
        for pos in positions:
            if self._stop:
                return
            epoch = await self.limiter.acquire()
            try:
                row = await self._run_row(client, pos, epoch)
            finally:
                self.limiter.release()
            self._record(pos, row)

    async def _run_row(self, client: AsyncClient, pos: int, epoch: int) -> RowResult:
        spec = self.specs[pos]
        track = RowTrack(self.limiter, epoch)
        token = current_row.set(track)
        fields = dict(self.fields)
        fields["inputs"] = {**fields.get("inputs", {}), **spec.inputs} or None
        if spec.context is not None:
            fields["context"] = {**fields.get("context", {}), **spec.context}
        if spec.messages is not None:
            fields["messages"] = as_messages(spec.messages)
        row = spec.blank(self.key)
        streamed: Any = None
        started = time.perf_counter()
        try:
            if self.stream:
                streamed = client.deployments.stream(self.key, **fields)
                async with streamed:
                    async for _ in streamed:
                        pass
                inv: Invocation = streamed.to_invocation()
                row.time_to_first_token = streamed.time_to_first_chunk
            else:
                answer = await client.deployments.invoke(self.key, **fields)
                if answer is None:  # 204 No Content: no answer to keep, so the row failed
                    raise OrqError(no_content(self.key))
                inv = answer
            row.status, row.error, row.error_type = "ok", None, None
            row.invocation, row.text = inv, inv.text
            row.tokens = _tokens(inv)
            self.limiter.succeeded()
        except asyncio.CancelledError:
            row = stopped_copy(row, started=True)
            _keep_partial(row, streamed, None)
            self.done[pos] = _finish(row, track, started)
            row.latency = None  # not an answer's latency: it would skew the figures
            raise
        except Exception as exc:  # every failure is recorded; the batch goes on
            row.status, row.error, row.error_type = "failed", str(exc), type(exc).__name__
            _keep_partial(row, streamed, exc)
        finally:
            current_row.reset(token)
        return _finish(row, track, started)

    def show_retry(self, notice: RetryNotice) -> None:
        """Say a coming retry in the progress bar ("rate limited, retrying in 20 s")."""
        if self.bar is not None:
            self.bar.note(format_retry(notice))

    def _record(self, pos: int, row: RowResult) -> None:
        self.done[pos] = row
        self.counts["ok" if row.ok else "failed"] += 1
        self.counts["retries"] += row.retries
        if self.bar is not None:
            shown = {"ok": self.counts["ok"], "failed": self.counts["failed"]}
            if self.counts["retries"]:
                shown["retries"] = self.counts["retries"]
            if self.limiter.limit < self.concurrency:
                shown["in_flight_limit"] = self.limiter.limit
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        if self.on_result is not None:
            try:
                self.on_result(row)
            except KeyboardInterrupt:
                self.interrupt()

    def result(
        self, *, rerunner: Rerunner | None = None, labels: Sequence[Any] | None = None
    ) -> BatchResult:
        """Every row in input order; rows that never finished are marked stopped."""
        done = dict(self.done)  # a copy: the loop's thread may still be writing
        rows = [done.get(pos) or spec.blank(self.key) for pos, spec in enumerate(self.specs)]
        ended = self._ended if self._ended is not None else time.perf_counter()
        interrupted = self.interrupted or self._stop
        return BatchResult(
            self.key,
            rows,
            elapsed=ended - self._started,
            interrupted=interrupted,
            concurrency=self.concurrency,
            min_concurrency=self.limiter.lowest,
            stream=self.stream,
            request_fields=self.fields,
            index_labels=labels,
            rerunner=rerunner,
        )


def _finish(row: RowResult, track: RowTrack, started: float) -> RowResult:
    row.latency = time.perf_counter() - started
    row.attempts = track.attempts
    row.rate_limited = track.rate_limited
    return row


def _tokens(inv: Invocation) -> int | None:
    usage = inv.usage
    if usage is None:
        return None
    if usage.total_tokens is not None:
        return int(usage.total_tokens)
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None
    return int((usage.prompt_tokens or 0) + (usage.completion_tokens or 0))


def _keep_partial(row: RowResult, streamed: Any, exc: BaseException | None) -> None:
    # Whatever streamed before a failure or a cancel is kept, text and provenance both.
    if streamed is not None and streamed.chunk_count:
        row.invocation = streamed.to_invocation()
        row.time_to_first_token = streamed.time_to_first_chunk
    text = streamed.text if streamed is not None else ""
    row.text = text or getattr(exc, "partial_text", "") or ""


# -- observing the client's attempts ------------------------------------------------------------
#
# The client's retry loop sits above its httpx client, so httpx's event hooks see every attempt:
# a request hook per attempt (connection errors included), a response hook per answer. Hooks run
# in the task that sent the request, so `current_row` tells them which row it was for; requests
# sent for anyone else (no current row) are ignored.


async def _on_request(request: httpx.Request) -> None:
    track = current_row.get()
    if track is not None:
        track.on_request()


async def _on_response(response: httpx.Response) -> None:
    track = current_row.get()
    if track is not None:
        track.on_status(response.status_code)


# How many runs observe each httpx client: hooks go in once and leave with the last run, so
# batches sharing one client neither count twice nor unhook each other.
_observers: weakref.WeakKeyDictionary[httpx.AsyncClient, int] = weakref.WeakKeyDictionary()


class Observed:
    """Context manager: the batch's hooks on `client`'s httpx client for the duration."""

    def __init__(self, client: AsyncClient) -> None:
        self.http: httpx.AsyncClient = client._http

    def __enter__(self) -> None:
        count = _observers.get(self.http, 0)
        if count == 0:
            hooks = self.http.event_hooks
            hooks["request"] = [*hooks.get("request", []), _on_request]
            hooks["response"] = [*hooks.get("response", []), _on_response]
            self.http.event_hooks = hooks
        _observers[self.http] = count + 1

    def __exit__(self, *exc: object) -> None:
        count = _observers.pop(self.http, 1) - 1
        if count:
            _observers[self.http] = count
            return
        hooks = self.http.event_hooks
        hooks["request"] = [h for h in hooks.get("request", []) if h is not _on_request]
        hooks["response"] = [h for h in hooks.get("response", []) if h is not _on_response]
        self.http.event_hooks = hooks
