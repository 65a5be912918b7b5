"""Batch runs: one deployment over many rows, concurrently, with progress, and nothing lost.

```python
result = run_batch("support-answer", [{"question": q} for q in questions], concurrency=8)
result.to_pandas()           # inputs, output, latency, tokens, error, status
result = result.rerun()      # the failed rows again, merged back in order
```

Requests go through an `AsyncClient` with at most `concurrency` in flight. The client retries
429s (after `Retry-After`), 5xx and connection errors; the batch also lowers its own in-flight
limit while 429s keep coming (see `_batch_limit`). A row that still fails keeps its error and
the batch goes on. An interrupt (Ctrl-C, a kernel interrupt, cancelling the task) stops the
batch and returns what finished: see `run_batch`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ..client._client import AsyncClient, Client
from ..client._config import Settings
from ..client._exceptions import ArgumentTypeError
from ..client._notices import retry_notices
from ._checks import acheck_up_front, check_up_front
from ._engine import BatchRun, Observed, OnResult, RowSpec, rows_to_specs, shared_fields
from ._feedback import FeedbackReport, send_rows_feedback
from ._pool import WorkerTransport
from ._result import BatchResult, RowResult

if TYPE_CHECKING:
    from ..display._progress import ProgressBar

__all__ = [
    "BatchResult",
    "RowResult",
    "arun_batch",
    "run_batch",
    "set_default_client",
]

logger = logging.getLogger("orq_notebook.batch")

AnyClient = Client | AsyncClient

# Where `client=None` comes from. The notebook session installs its connection here; with
# nothing installed, a client is built from the environment (ORQ_API_KEY, ORQ_BASE_URL).
_default_client: Callable[[], AnyClient] | None = None


def set_default_client(factory: Callable[[], AnyClient] | None) -> None:
    """Make `client=None` mean `factory()` (a `Client` or `AsyncClient`); None resets it."""
    global _default_client
    _default_client = factory


# -- clients -------------------------------------------------------------------------------------


def twin_of(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncClient:
    """A new AsyncClient with the same settings (its connections belong to the current loop)."""
    return AsyncClient(transport=transport, **settings.client_kwargs())


def _given(client: AnyClient | None) -> AnyClient | None:
    if client is None and _default_client is not None:
        return _default_client()
    if client is not None and not isinstance(client, (Client, AsyncClient)):
        raise ArgumentTypeError(
            f"client must be a Client or an AsyncClient, not {type(client).__name__}"
        )
    return client


async def _execute(run: BatchRun, client: AsyncClient | None, settings: Settings | None) -> None:
    """Run on the current loop with `client`, or with a client built from `settings` and closed."""
    owned = client is None
    if client is None:
        # A client of our own gets one small pool per worker (see `_pool`): much less CPU
        # per request at high concurrency than one shared pool.
        pools = WorkerTransport()
        client = (
            twin_of(settings, transport=pools)
            if settings is not None
            else AsyncClient(transport=pools)
        )
    try:
        with Observed(client), retry_notices(run.show_retry):
            await run.execute(client)
    finally:
        if owned:
            await client.aclose()


# -- progress ------------------------------------------------------------------------------------


def _progress_bar(enabled: bool, total: int, key: str) -> ProgressBar | None:
    if not enabled or not total:
        return None
    from ..display._progress import ProgressBar

    return ProgressBar(total=total, desc=key)


def _finish_bar(bar: ProgressBar, run: BatchRun) -> None:
    """The bar's last state says how the run ended: "26 ok, 4 failed", coloured to match."""
    ok, failed = run.counts["ok"], run.counts["failed"]
    bar.finish(ok=ok, failed=failed, interrupted=ok + failed < len(run.specs))


def _report_interrupt(result: BatchResult) -> None:
    c = result.counts()
    logger.warning(
        "Batch %r interrupted: %d of %d rows finished (%d ok, %d failed), %d stopped; "
        "the finished rows are in the returned result.",
        result.key,
        c["ok"] + c["failed"],
        len(result),
        c["ok"],
        c["failed"],
        c["stopped"],
    )


# -- one run, sync or async ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """One batch run as asked for: the rows and every option, sync or async alike."""

    key: str
    specs: list[RowSpec]
    labels: list[Any] | None
    concurrency: int
    client: AnyClient | None
    stream: bool
    progress: bool
    on_result: OnResult | None
    request_fields: Mapping[str, Any]
    strict_variables: bool = False

    def prepare(self) -> tuple[BatchRun, AnyClient | None]:
        """The run (its shared fields checked, no request made) and the client it goes through."""
        run = BatchRun(
            self.key,
            self.specs,
            concurrency=self.concurrency,
            stream=self.stream,
            fields=shared_fields(self.key, self.request_fields),
            on_result=self.on_result,
        )
        return run, _given(self.client)

    @contextmanager
    def showing_progress(self, run: BatchRun) -> Iterator[None]:
        """The run's progress bar, closed however the run ends."""
        bar = run.bar = _progress_bar(self.progress, len(self.specs), self.key)
        try:
            yield
        finally:
            if bar is not None:
                _finish_bar(bar, run)

    def row_inputs(self) -> list[dict[str, Any]]:
        """The inputs each row sends (shared ones merged in), for the up-front check."""
        shared = self.request_fields.get("inputs") or {}
        return [{**shared, **spec.inputs} for spec in self.specs]

    def first_context(self) -> dict[str, Any] | None:
        """The context the first row routes with (the variant whose prompt is checked)."""
        if not self.specs:
            return None
        first = self.specs[0].context
        return first if first is not None else self.request_fields.get("context")

    def outcome(self, run: BatchRun) -> BatchResult:
        result = run.result(rerunner=_Rerun(self.client), labels=self.labels)
        if result.interrupted:
            _report_interrupt(result)
        return result


# -- the public functions ------------------------------------------------------------------------


async def arun_batch(
    key: str,
    rows: Any,
    *,
    concurrency: int = 8,
    client: AnyClient | None = None,
    stream: bool = False,
    progress: bool = True,
    on_result: OnResult | None = None,
    strict_variables: bool = False,
    **request_fields: Any,
) -> BatchResult:
    """`run_batch` on the running event loop: `result = await arun_batch(key, rows)`.

    An `AsyncClient` passed as `client` is used as is (a `Client` gives its settings to a new
    `AsyncClient`, closed at the end). Cancelling the task that awaits this stops the batch,
    and the call *returns* the partial result (`result.interrupted` is True) instead of raising
    `CancelledError`, so the finished rows are not lost; check `interrupted` if the cancellation
    must go on (e.g. inside a `TaskGroup`). `asyncio.timeout(...)` around it thus time-boxes a
    batch.
    """
    specs, labels = rows_to_specs(rows)
    plan = _Plan(
        key,
        specs,
        labels,
        concurrency,
        client,
        stream,
        progress,
        on_result,
        request_fields,
        strict_variables,
    )
    return await _arun(plan)


async def _arun(plan: _Plan) -> BatchResult:
    run, given = plan.prepare()
    if isinstance(given, AsyncClient):
        await acheck_up_front(
            plan.key,
            plan.row_inputs(),
            plan.first_context(),
            given,
            strict_variables=plan.strict_variables,
        )
        with plan.showing_progress(run):
            await _execute(run, given, None)
    else:
        settings = given.settings if given is not None else None
        async with twin_of(settings) if settings is not None else AsyncClient() as probe:
            await acheck_up_front(
                plan.key,
                plan.row_inputs(),
                plan.first_context(),
                probe,
                strict_variables=plan.strict_variables,
            )
        with plan.showing_progress(run):
            await _execute(run, None, settings)
    return plan.outcome(run)


def run_batch(
    key: str,
    rows: Any,
    *,
    concurrency: int = 8,
    client: AnyClient | None = None,
    stream: bool = False,
    progress: bool = True,
    on_result: OnResult | None = None,
    strict_variables: bool = False,
    **request_fields: Any,
) -> BatchResult:
    """Run deployment `key` once per row, `concurrency` at a time; results in input order.

    Usage: `result = run_batch("support-answer", df, concurrency=8, metadata={"run": "eval-3"})`

    Args:
        key: the deployment key.
        rows: a list of dicts, each the row's `inputs` (an optional `messages` entry, a list
            of messages or one user message as a string, and an optional `context` dict are
            taken out of the inputs), or a pandas DataFrame (columns become inputs; an empty
            cell leaves its variable out, so the deployment's default applies).
        concurrency: at most this many requests in flight. While the server answers 429, the
            batch lets fewer in (halving, then growing back by one per round of successes).
        client: a `Client` or `AsyncClient` (its settings are used), or None for the
            notebook's connection, else a client configured from the environment.
        stream: use the streaming endpoint per row (records time to first token).
        progress: show a progress bar (tqdm: a widget in notebooks, a text bar elsewhere)
            with ok/failed counts and the rate. False shows nothing at all.
        on_result: called with each finished `RowResult`, in completion order, on the batch's
            event loop. Raising KeyboardInterrupt from it interrupts the batch.
        strict_variables: a deployment variable with no value and no default in some row is
            an error before anything is sent (by default: one warning line, and orq.ai sends
            it as empty text). A row input named like a variable but misspelt is always an
            error ("Did you mean").
        **request_fields: request fields sent with every row (`metadata`, `context`,
            `invoke_options`, `inputs` defaults, ...). A row's own inputs and context keys win
            over shared ones; a row's messages replace shared ones. Unless `invoke_options` is
            given, `include_usage` is turned on so token counts are known.

    Before the first row, one `get_config` checks what would fail every row alike: an
    unknown deployment (the error says "Did you mean"), no API key or a refused one, a server
    that cannot be reached. Those raise at once, as `%orq invoke` would. A row whose request
    still fails after the client's retries is recorded with its error (`status="failed"`)
    and the batch goes on.

    Interrupts: Ctrl-C / a kernel interrupt stops scheduling, cancels the requests in flight,
    logs one line, and *returns* the `BatchResult` with every row finished so far
    (`result.interrupted` is True; unfinished rows have `status="stopped"`), rather than
    raising KeyboardInterrupt, so the work already paid for is kept. `%orq batch` still fails
    its cell after keeping the result. A second Ctrl-C stops waiting at once.

    Event loops: from a plain script this runs its own loop (`asyncio.run`). Inside a running
    loop (a notebook cell) it runs the batch on a new loop in a worker thread while this
    thread waits, and turns Ctrl-C here into cancelling the batch there. Either way the
    requests go through a new `AsyncClient` made from `client.settings` and closed at the
    end, because pooled connections belong to the loop that opened them; to use an
    `AsyncClient` as it is (its transport, its pool), `await arun_batch(...)` on its loop.
    """
    specs, labels = rows_to_specs(rows)
    plan = _Plan(
        key,
        specs,
        labels,
        concurrency,
        client,
        stream,
        progress,
        on_result,
        request_fields,
        strict_variables,
    )
    return _run_sync(plan)


def _run_sync(plan: _Plan) -> BatchResult:
    run, given = plan.prepare()
    settings = given.settings if given is not None else None
    check_up_front(
        plan.key,
        plan.row_inputs(),
        plan.first_context(),
        # A client closed since (`result.rerun()` after its `with` block) lends its settings.
        given if isinstance(given, Client) and not given.closed else None,
        settings,
        strict_variables=plan.strict_variables,
    )
    with plan.showing_progress(run):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            _run_here(run, settings)
        else:
            _run_in_thread(run, settings)
    return plan.outcome(run)


def _run_here(run: BatchRun, settings: Settings | None) -> None:
    # A fresh client per run: an httpx AsyncClient's pooled connections belong to the loop
    # that opened them, and asyncio.run makes a new loop each time.
    try:
        asyncio.run(_execute(run, None, settings))
    except KeyboardInterrupt:
        # Python < 3.11 (or a second Ctrl-C): the interrupt came out of the loop, which has
        # cancelled the run's tasks already; what finished is in `run`.
        run.interrupted = True


def _run_in_thread(run: BatchRun, settings: Settings | None) -> None:
    failure: list[BaseException] = []
    finished = threading.Event()

    def target() -> None:
        try:
            asyncio.run(_execute(run, None, settings))
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)
        finally:
            finished.set()

    threading.Thread(target=target, name="orq-batch", daemon=True).start()
    interrupts = 0
    while True:
        try:
            if finished.wait(0.2):
                break
        except KeyboardInterrupt:
            interrupts += 1
            run.interrupt()
            if interrupts > 1:
                break  # stop waiting; the daemon thread finishes cancelling on its own
    if failure:
        raise failure[0]


# -- re-running (BatchResult.rerun) --------------------------------------------------------------


@dataclass(frozen=True)
class _Rerun:
    """The `Rerunner` of a result made here: runs rows again (and sends their feedback)
    through the run's own client."""

    client: AnyClient | None  # what the caller passed as client=; never shown

    def _plan(
        self,
        previous: BatchResult,
        targets: Sequence[RowResult],
        concurrency: int | None,
        client: Any,
        stream: bool | None,
        progress: bool,
        request_fields: Mapping[str, Any],
    ) -> _Plan:
        return _Plan(
            previous.key,
            [RowSpec(r.index, r.inputs, r.messages, r.context) for r in targets],
            labels=None,
            concurrency=concurrency or previous.concurrency,
            client=client if client is not None else self.client,
            stream=previous.stream if stream is None else stream,
            progress=progress,
            on_result=None,
            request_fields={**previous.request_fields, **request_fields},
        )

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
    ) -> BatchResult:
        """Run `targets` (rows of `previous`) again and merge the outcomes into `previous`."""
        plan = self._plan(previous, targets, concurrency, client, stream, progress, request_fields)
        return previous.merged(_run_sync(plan))

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
    ) -> BatchResult:
        """`rerun` on the running loop."""
        plan = self._plan(previous, targets, concurrency, client, stream, progress, request_fields)
        return previous.merged(await _arun(plan))

    def send_feedback(
        self, result: BatchResult, values: Any, *, property: str, client: Any
    ) -> FeedbackReport:
        """Send a feedback column through `client`, else the run's client, else the default."""
        chosen = _given(client if client is not None else self.client)
        settings = chosen.settings if chosen is not None else Settings.resolve()
        return send_rows_feedback(result, values, property=property, settings=settings)
