"""Faults × layers: every way the wire can break, through every way of calling the API.

The faults come from `tests.faults.FaultServer`, a raw socket server on loopback (not a mock
of our client). The layers are `Client` and `AsyncClient` (stream and invoke), the `%orq`
magics in an InteractiveShell (`%orq connect --url`, streamed and `--no-stream`) and
`run_batch` (invoke and stream). For every cell of the table:

* the outcome is the one the retry policy promises: a successful retry where it allows one
  (a generation: only what the service cannot have started, 408/429/503 and connection
  failures; with `retry_unsafe=True` also a connection dropped after sending, 502, 504), else
  a typed error with a readable one-line message (in the magics: one `UsageError` line);
* every call ends at its deadline (`timeout`, and a stream's `idle_timeout`), however slowly
  the server dribbles its bytes;
* text that arrived before a break is kept (`StreamError.partial_text`, `%orq last`,
  `RowResult.text`), and no batch row goes missing;
* nothing is left open: no pooled connection busy or request pending in httpcore, no thread,
  and the server sees every connection closed once the client is closed;
* the next call on the same client / session works;
* every call runs under a budget (a watchdog signal, or `asyncio.wait_for`): a hang fails.

The figures are collected and printed at the end of the module (`pytest -s`), and written to
`<pytest basetemp>/fault-table.md` (and to `$ORQ_FAULT_TABLE` when set). BENCHMARKS.md quotes
a real run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.batch._api import run_batch
from orq_notebook.client import _base
from orq_notebook.client._client import AsyncClient, Client
from orq_notebook.client._exceptions import (
    APIConnectionError,
    APITimeoutError,
    InternalServerError,
    NotFoundError,
    OrqError,
    RateLimitError,
    StreamError,
    UnexpectedResponseError,
)
from orq_notebook.client._retry import RetryPolicy
from orq_notebook.notebook import _session
from tests.faults import ANSWER, PIECES, Fault, FaultServer

TIMEOUT = 1.0  # the clients' deadlines (timeout, idle_timeout); the server stalls for 3 s
BUDGET = 15.0  # seconds one call may take before it counts as a hang
ROWS = 3  # rows per batch

# -- the faults and what each path must make of them ------------------------------------------


@dataclass(frozen=True)
class Expect:
    """The outcome a fault must have on one path (streamed or not).

    kind: `recovered` (a retry succeeded), `tolerated` (success on the first attempt, the
    damage contained: U+FFFD in the text), `ok` (success on the first attempt, the whole
    answer), `empty` (a `204 No Content`: no answer, said in one line), `reported` (a typed
    error).
    """

    kind: str
    error: type[OrqError] | None = None
    attempts: int = 1
    partial: int | None = None  # healthy chunks that arrived before the break

    @property
    def partial_text(self) -> str | None:
        return None if self.partial is None else "".join(PIECES[: self.partial])


@dataclass(frozen=True)
class Case:
    title: str
    fault: Fault
    stream: Expect
    invoke: Expect
    unsafe: bool = False  # the clients opt in to retries that may bill twice


def _reported(error: type[OrqError], attempts: int = 1, partial: int | None = None) -> Expect:
    return Expect("reported", error, attempts, partial)


RECOVERED_3 = Expect("recovered", attempts=3)
OK = Expect("ok")
HONO = {"message": "The provider failed while answering", "code": "500"}
HUGE = {
    "message": 'Traceback (most recent call last):\n  File "server.py", line 1\n'
    + "KeyError: 'deployment'\n" * 2
    + "x" * 2_000_000,
    "code": 404,
}

CASES: dict[str, Case] = {
    "drop-after-3": Case(
        "connection dropped after 3 chunks",
        Fault("drop", after=3),
        stream=_reported(StreamError, partial=3),
        invoke=_reported(APIConnectionError),  # not retried: it may have billed
    ),
    "drop-once-unsafe": Case(
        "dropped after 3 chunks, once (retry_unsafe=True)",
        Fault("drop", after=3, times=1),
        stream=_reported(StreamError, partial=3),  # a stream is never retried once started
        invoke=Expect("recovered", attempts=2),
        unsafe=True,
    ),
    "bad-json": Case(
        "SSE event with bad JSON",
        Fault("bad_json", after=2),
        stream=_reported(StreamError, partial=2),
        invoke=_reported(UnexpectedResponseError),
    ),
    "non-utf8": Case(
        "a byte that is not UTF-8",
        Fault("non_utf8", after=2),
        stream=Expect("tolerated"),
        invoke=Expect("tolerated"),
    ),
    "huge-line": Case(
        "a 10 MB line",
        Fault("huge_line", after=1),
        stream=_reported(StreamError, partial=1),
        invoke=_reported(UnexpectedResponseError),
    ),
    "no-done": Case(
        "body ends: no final chunk, no [DONE]",
        Fault("no_done", after=3),
        stream=_reported(StreamError, partial=3),
        invoke=_reported(UnexpectedResponseError),
    ),
    "stall": Case(
        "stall longer than the deadline",
        Fault("stall", after=1),
        stream=_reported(StreamError, partial=1),
        invoke=_reported(APITimeoutError),
    ),
    "dribble": Case(
        "a byte every 50 ms, never ending",
        Fault("dribble", after=2),
        stream=_reported(StreamError, partial=2),
        invoke=_reported(APITimeoutError),
    ),
    "dribble-head": Case(
        "the headers, a byte every 50 ms",
        Fault("dribble_head"),
        stream=_reported(APITimeoutError),
        invoke=_reported(APITimeoutError),
    ),
    "gzip-lie": Case(
        "declared gzip, is not",
        Fault("gzip_lie"),
        stream=_reported(StreamError),
        invoke=_reported(UnexpectedResponseError),
    ),
    "bad-chunk": Case(
        "chunked framing broken after 2 chunks",
        Fault("bad_chunk", after=2),
        stream=_reported(StreamError, partial=2),
        invoke=_reported(APIConnectionError),
    ),
    "redirect-loop": Case(
        "307 to itself, forever",
        Fault("redirect_loop"),
        stream=_reported(APIConnectionError, attempts=21),  # httpx follows 20 redirects
        invoke=_reported(APIConnectionError, attempts=21),
    ),
    "odd-case": Case(
        "Text/Event-Stream, Application/JSON",
        Fault("odd_case"),
        stream=OK,
        invoke=OK,
    ),
    "heartbeats": Case(
        "data: {}, comments and pings between chunks",
        Fault("heartbeats"),
        stream=OK,
        invoke=OK,
    ),
    "no-content": Case(
        "204 No Content",
        Fault("no_content"),
        stream=_reported(UnexpectedResponseError),
        invoke=Expect("empty"),
    ),
    "huge-error": Case(
        "404 whose message is a 2 MB traceback",
        Fault("status", statuses=(404,), body=HUGE),
        stream=_reported(NotFoundError),
        invoke=_reported(NotFoundError),
    ),
    "429-twice": Case(
        "429 + Retry-After, twice",
        Fault("status", statuses=(429,), retry_after=0.05, times=2),
        stream=RECOVERED_3,
        invoke=RECOVERED_3,
    ),
    "429-always": Case(
        "429 + Retry-After, always",
        Fault("status", statuses=(429,), retry_after=0.05),
        stream=_reported(RateLimitError, attempts=3),
        invoke=_reported(RateLimitError, attempts=3),
    ),
    "500-hono": Case(
        '500 HonoAPIError {"message","code":"500"}',
        Fault("status", statuses=(500,), body=HONO),
        stream=_reported(InternalServerError),
        invoke=_reported(InternalServerError),
    ),
    "503-429-burst": Case(
        "503 then 429, then fine",
        Fault("status", statuses=(503, 429), times=2),
        stream=RECOVERED_3,
        invoke=RECOVERED_3,
    ),
    "502-once": Case(
        "502 once (the provider may have run)",
        Fault("status", statuses=(502,), times=1),
        stream=_reported(InternalServerError),
        invoke=_reported(InternalServerError),
    ),
    "502-once-unsafe": Case(
        "502 once (retry_unsafe=True)",
        Fault("status", statuses=(502,), times=1),
        stream=Expect("recovered", attempts=2),
        invoke=Expect("recovered", attempts=2),
        unsafe=True,
    ),
    "503-always": Case(
        "503, always",
        Fault("status", statuses=(503,)),
        stream=_reported(InternalServerError, attempts=3),
        invoke=_reported(InternalServerError, attempts=3),
    ),
    "wrong-type": Case(
        "200 with text/html",
        Fault("wrong_type"),
        stream=_reported(UnexpectedResponseError),
        invoke=_reported(UnexpectedResponseError),
    ),
    "close-before-headers": Case(
        "closed before the headers, always",
        Fault("close_before_headers"),
        stream=_reported(APIConnectionError),  # sent: the service may have started
        invoke=_reported(APIConnectionError),
    ),
    "close-once-unsafe": Case(
        "closed before the headers, once (retry_unsafe=True)",
        Fault("close_before_headers", times=1),
        stream=Expect("recovered", attempts=2),
        invoke=Expect("recovered", attempts=2),
        unsafe=True,
    ),
}

# What the magics' one line must say for each error type (the hint that helps).
MAGIC_HINTS: dict[type[OrqError], str] = {
    StreamError: "The stream broke",
    RateLimitError: "Rate limited (429)",
    InternalServerError: ".",  # the server's own message: checked per fault below
    NotFoundError: "more characters in the error's body",
    UnexpectedResponseError: "cannot be read",
    APITimeoutError: "timed out",
    APIConnectionError: "Could not reach",
}

# -- outcomes and the table -------------------------------------------------------------------


@dataclass
class Outcome:
    fault: str
    layer: str
    kind: str = "?"  # recovered | tolerated | reported | hang | crash
    error: str | None = None
    message: str = ""
    attempts: int = 0
    partial: str | None = None
    text: str | None = None
    rows_lost: int = 0
    seconds: float = 0.0
    checks: list[str] = field(default_factory=list)

    def cell(self) -> str:
        batch = "run_batch" in self.layer
        if self.kind == "reported":
            tries = f" ×{self.attempts}" if self.attempts > 1 else ""
            error = "1-line UsageError" if self.error == "UsageError" else self.error
            kept = ""
            if self.partial:
                where = "`%orq last`" if self.layer.startswith("%%") else "partial_text"
                kept = f", {len(self.partial)} chars kept ({'row.text' if batch else where})"
            return f"{error}{tries}{kept}"
        if self.kind == "recovered":
            if batch:
                return f"ok after retries ({self.attempts} attempts, {ROWS} rows)"
            return f"ok after retries ({self.attempts} attempts)"
        if self.kind == "tolerated":
            return "ok, U+FFFD in text"
        if self.kind == "empty":
            return "None + 1 line" if not batch else "rows failed: 204"
        return self.kind


class Table:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def render(self) -> str:
        layers = list(dict.fromkeys(o.layer for o in self.outcomes))
        by = {(o.fault, o.layer): o for o in self.outcomes}
        lines = [
            "| fault | " + " | ".join(layers) + " |",
            "|---|" + "---|" * len(layers),
        ]
        for key, case in CASES.items():
            if not any((key, layer) in by for layer in layers):
                continue
            cells = [by[(key, layer)].cell() if (key, layer) in by else "" for layer in layers]
            lines.append(f"| {case.title} (`{key}`) | " + " | ".join(cells) + " |")
        kinds = [o.kind for o in self.outcomes]
        lines += [
            "",
            f"Faults tried: {len(self.outcomes)} ({len({o.fault for o in self.outcomes})} faults "
            f"× {len(layers)} layers); recovered by retry: {kinds.count('recovered')}; "
            f"reported as a typed error: {kinds.count('reported')}; answered whole: "
            f"{kinds.count('ok')}; tolerated: {kinds.count('tolerated')}; no content: "
            f"{kinds.count('empty')}; hangs: {kinds.count('hang')}; crashes: "
            f"{kinds.count('crash')}; batch rows lost: {sum(o.rows_lost for o in self.outcomes)} "
            f"of {ROWS * sum('run_batch' in o.layer for o in self.outcomes)}; "
            f"slowest call: {max((o.seconds for o in self.outcomes), default=0):.2f} s.",
            "",
            "Every cell also checked: the message is one line; the next call on the same "
            "client / session works; no request pending and no busy connection in the httpcore "
            "pool; the server saw every connection closed after the client closed; no thread "
            "left running. `×N`: attempts per call (retries + 1).",
        ]
        return "\n".join(lines)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Table]:
    collected = Table()
    yield collected
    if not collected.outcomes:
        return
    text = collected.render()
    (tmp_path_factory.getbasetemp() / "fault-table.md").write_text(text + "\n", encoding="utf-8")
    if os.environ.get("ORQ_FAULT_TABLE"):
        Path(os.environ["ORQ_FAULT_TABLE"]).write_text(text + "\n", encoding="utf-8")
    print("\n\n## Faults × layers\n\n" + text)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer({key: case.fault for key, case in CASES.items()}, lifetime=600) as srv:
        yield srv


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real retry policy, with its waits scaled down so the table runs in seconds.

    The server's own `Retry-After` (0.05 s here) is still what a 429 waits for."""
    quick = functools.partial(RetryPolicy, initial_backoff=0.02, max_backoff=0.1)
    monkeypatch.setattr(_base, "RetryPolicy", quick)


# -- budgets: a call that does not come back is a hang, not a stuck test run ------------------


class Hang(BaseException):
    """Raised in the main thread when a call overran its budget."""


@contextlib.contextmanager
def budget(seconds: float = BUDGET) -> Iterator[None]:
    """Interrupt the main thread with a signal (which also breaks a blocking recv) after
    `seconds`; the signal handler raises `Hang`."""

    def on_signal(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGUSR1, on_signal)
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(seconds, signal.pthread_kill, args=(main, signal.SIGUSR1))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGUSR1, previous)


def _classify(outcome: Outcome, call: Callable[[], Any]) -> Any:
    """Run `call` under the budget; fill kind/error/message/seconds. Returns what it returned."""
    started = time.monotonic()
    try:
        with budget():
            value = call()
    except Hang:
        outcome.kind = "hang"
        value = None
    except OrqError as exc:
        outcome.kind, outcome.error, outcome.message = "reported", type(exc).__name__, str(exc)
        outcome.partial = getattr(exc, "partial_text", None) or None
        value = exc
    except UsageError as exc:
        outcome.kind, outcome.error, outcome.message = "reported", "UsageError", str(exc)
        value = exc
    except Exception as exc:  # anything untyped is a crash, reported by the assertions
        outcome.kind, outcome.error, outcome.message = "crash", type(exc).__name__, str(exc)
        value = exc
    else:
        outcome.kind = "?"  # a success: the layer tells `recovered` from `tolerated`
    outcome.seconds = time.monotonic() - started
    return value


def _succeeded(outcome: Outcome, calls: int = 1) -> None:
    if outcome.kind != "?":
        return
    if outcome.attempts > calls:
        outcome.kind = "recovered"
    elif outcome.text is None:
        outcome.kind = "empty"
    else:
        outcome.kind = "tolerated" if "\ufffd" in outcome.text else "ok"


def _options(key: str) -> dict[str, Any]:
    """The client settings of a case: short deadlines, and the case's retry policy."""
    unsafe = CASES[key].unsafe if key in CASES else False
    return {"timeout": TIMEOUT, "idle_timeout": TIMEOUT, "retry_unsafe": unsafe}


def _pool_is_quiet(http: Any) -> None:
    pool = http._transport._pool
    assert not pool._requests, "a request is still pending in the pool"
    busy = [c for c in pool.connections if not (c.is_idle() or c.is_closed())]
    assert not busy, f"connections still busy: {busy}"


def _threads() -> set[int]:
    return {t.ident for t in threading.enumerate() if t.ident is not None}


def _new_threads(before: set[int]) -> list[str]:
    """Threads started since `before` and still alive after a short grace period."""
    deadline = time.monotonic() + 2
    while _threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    return [t.name for t in threading.enumerate() if t.ident not in before]


# -- the layers ---------------------------------------------------------------------------------


def _consume(client: Client, key: str, stream: bool) -> str | None:
    if not stream:
        answer = client.deployments.invoke(key)
        return None if answer is None else answer.text
    with client.deployments.stream(key) as s:
        for _ in s:
            pass
    return s.text


def layer_client(server: FaultServer, key: str, stream: bool, outcome: Outcome) -> None:
    with Client(base_url=server.base_url, **_options(key)) as client:
        value = _classify(outcome, lambda: _consume(client, key, stream))
        outcome.attempts = server.attempts[key]
        if isinstance(value, str):
            outcome.text = value
        _succeeded(outcome)
        if outcome.kind == "hang":
            return
        _pool_is_quiet(client._http)
        with budget():
            assert _consume(client, "good", stream) == ANSWER, "the next call failed"
        outcome.checks.append("next call ok")


async def _aconsume(client: AsyncClient, key: str, stream: bool) -> str | None:
    if not stream:
        answer = await client.deployments.invoke(key)
        return None if answer is None else answer.text
    async with client.deployments.stream(key) as s:
        async for _ in s:
            pass
    return s.text


def layer_async(server: FaultServer, key: str, stream: bool, outcome: Outcome) -> None:
    async def main() -> Any:
        async with AsyncClient(base_url=server.base_url, **_options(key)) as client:
            try:
                value = await asyncio.wait_for(_aconsume(client, key, stream), BUDGET)
            except TimeoutError:
                return "hang"
            except OrqError as exc:
                value = exc
            _pool_is_quiet(client._http)
            next_text = await asyncio.wait_for(_aconsume(client, "good", stream), BUDGET)
            assert next_text == ANSWER, "the next call failed"
            outcome.checks.append("next call ok")
            return value

    def run() -> Any:
        value = asyncio.run(main())
        if value == "hang":
            raise Hang("asyncio.wait_for budget")
        if isinstance(value, BaseException):
            raise value
        return value

    value = _classify(outcome, run)
    outcome.attempts = server.attempts[key]
    if isinstance(value, str):
        outcome.text = value
    _succeeded(outcome)


@contextlib.contextmanager
def _shell(server: FaultServer, key: str = "good") -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    _session.set_session(_session.Session())
    shell.run_line_magic("load_ext", "orq_notebook")
    try:
        shell.run_line_magic("config", "OrqMagics.display_mode = 'notebook'")
        for name, value in _options(key).items():
            shell.run_line_magic("config", f"OrqMagics.{name} = {value!r}")
        with capture_output():
            shell.run_line_magic("orq", f"connect --url {server.base_url}")
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "orq_notebook")
        _session.set_session(None)


def layer_magics(server: FaultServer, key: str, stream: bool, outcome: Outcome) -> None:
    with _shell(server, key) as shell:
        header = key if stream else f"{key} --no-stream"
        with capture_output() as out:
            value = _classify(outcome, lambda: shell.run_cell_magic("orq", header, "hi"))
        outcome.attempts = server.attempts[key]
        if outcome.kind == "hang":
            return
        if outcome.kind != "reported":
            outcome.text = getattr(value, "text", None)
        _succeeded(outcome)
        if outcome.kind == "empty":
            assert "204 No Content" in out.stdout, "a 204 is said in one line"
            outcome.checks.append("204 said")
        if key != "redirect-loop" and outcome.attempts > 1:  # redirects are no retries
            # No silent wait: every retry said so in the cell, before it waited.
            said = out.stdout.count(", retrying in ")
            assert said == outcome.attempts - 1, out.stdout
            if CASES[key].fault.statuses[0] == 429:
                assert "rate limited, retrying in" in out.stdout
            outcome.checks.append("retries said")
        session = shell.magics_manager.registry["OrqMagics"].session
        if outcome.kind == "reported" and stream:
            last = session.last
            if last is not None and last.partial:
                outcome.partial = last.text
                shown = out.outputs[-1].data["text/plain"] if out.outputs else ""
                assert last.text in shown, "the partial answer is not in the cell's output"
                assert shell.run_line_magic("orq", "last") is last
                outcome.checks.append("%orq last")
        _pool_is_quiet(session.client._http)
        with capture_output(), budget():
            again = shell.run_cell_magic("orq", "good" if stream else "good --no-stream", "hi")
        assert again.text == ANSWER, "the next cell failed"
        outcome.checks.append("next cell ok")


def layer_batch(server: FaultServer, key: str, stream: bool, outcome: Outcome) -> None:
    rows = [{"n": i} for i in range(ROWS)]
    with Client(base_url=server.base_url, **_options(key)) as settings_from:
        kwargs: dict[str, Any] = {"client": settings_from, "stream": stream, "progress": False}
        result = _classify(outcome, lambda: run_batch(key, rows, concurrency=ROWS, **kwargs))
        outcome.attempts = server.attempts[key]
        if outcome.kind == "hang":
            return
        assert outcome.kind == "?", f"run_batch raised: {outcome.error}: {outcome.message}"
        assert len(result) == ROWS and [r.index for r in result] == list(range(ROWS))
        accounted = [r for r in result if r.ok or (r.status == "failed" and r.error)]
        outcome.rows_lost = ROWS - len(accounted)
        failed = [r for r in result if not r.ok]
        if failed:
            outcome.kind = "reported"
            outcome.error = "/".join(sorted({r.error_type or "?" for r in failed}))
            outcome.message = failed[0].error or ""
            partials = {r.text for r in failed}
            outcome.partial = partials.pop() if len(partials) == 1 and "" not in partials else None
            outcome.attempts = outcome.attempts // ROWS
        else:
            outcome.text = result[0].text
            _succeeded(outcome, calls=ROWS)
        with budget():
            again = run_batch("good", rows, concurrency=ROWS, **kwargs)
        assert [r.text for r in again] == [ANSWER] * ROWS, "the next batch failed"
        outcome.checks.append("next batch ok")


LAYERS: dict[str, tuple[Callable[[FaultServer, str, bool, Outcome], None], bool]] = {
    "Client.stream": (layer_client, True),
    "Client.invoke": (layer_client, False),
    "AsyncClient.stream": (layer_async, True),
    "AsyncClient.invoke": (layer_async, False),
    "%%orq": (layer_magics, True),
    "%%orq --no-stream": (layer_magics, False),
    "run_batch": (layer_batch, False),
    "run_batch(stream=True)": (layer_batch, True),
}

# -- the table as tests -------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("key", list(CASES))
def test_fault(key: str, layer: str, server: FaultServer, table: Table) -> None:
    case, (run, stream) = CASES[key], LAYERS[layer]
    expect = case.stream if stream else case.invoke
    if expect.kind == "empty" and "batch" in layer:
        expect = _reported(OrqError)  # a row without an answer failed, and says why
    outcome = Outcome(key, layer)
    server.reset()
    InteractiveShell.instance()  # made once per process, with IPython's own history thread
    threads = _threads()
    try:
        run(server, key, stream, outcome)
    finally:
        table.add(outcome)

    assert outcome.kind != "hang", f"{layer} hung on {key}"
    assert outcome.kind != "crash", f"{layer}: untyped {outcome.error}: {outcome.message}"
    assert outcome.kind == expect.kind, (outcome.kind, outcome.error, outcome.message)
    assert outcome.rows_lost == 0
    if expect.kind == "reported":
        assert expect.error is not None
        if layer.startswith("%%orq"):
            assert outcome.error == "UsageError"
            assert MAGIC_HINTS[_hint_class(expect.error)] in outcome.message, outcome.message
        else:
            assert outcome.error is not None and expect.error.__name__ in outcome.error
        assert "\n" not in outcome.message.strip(), f"not one line: {outcome.message!r}"
        assert len(outcome.message) < 600, "an error message should be readable, not a dump"
        assert outcome.attempts == expect.attempts, "attempts (retries + 1)"
        assert outcome.partial == expect.partial_text, "the partial text must be kept"
    elif expect.kind == "recovered":
        assert outcome.attempts >= (expect.attempts if "batch" not in layer else ROWS + 1)
        assert outcome.text == ANSWER
    elif expect.kind == "empty":
        assert outcome.text is None and outcome.attempts == 1
    else:  # ok or tolerated: one attempt; the whole answer, or the damage contained in it
        assert outcome.attempts == (ROWS if "batch" in layer else 1)
        assert outcome.text is not None
        assert ("\ufffd" in outcome.text) == (expect.kind == "tolerated")
        if expect.kind == "ok":
            assert outcome.text == ANSWER
    if key == "500-hono":
        assert HONO["message"] in outcome.message, "the message comes from the error body"
    if key == "429-always" and "batch" not in layer and not layer.startswith("%%"):
        assert "429" in outcome.message or "on purpose" in outcome.message

    assert server.wait_idle(), "a connection to the server is still open after the client closed"
    assert not _new_threads(threads), "a thread was left running"


def _hint_class(error: type[OrqError]) -> type[OrqError]:
    return next(cls for cls in MAGIC_HINTS if issubclass(error, cls))


def test_retry_after_reaches_the_error(server: FaultServer) -> None:
    """A 429 that outlasts the retries says how long the server asked to wait."""
    server.reset()
    client = Client(base_url=server.base_url, timeout=TIMEOUT)
    with client, budget(), pytest.raises(RateLimitError) as info:
        client.deployments.invoke("429-always")
    assert info.value.retry_after == pytest.approx(0.05)
    assert server.attempts["429-always"] == 3


def test_hono_body_shape_is_read(server: FaultServer) -> None:
    server.reset()
    client = Client(base_url=server.base_url, timeout=TIMEOUT)
    with client, budget(), pytest.raises(InternalServerError) as info:
        client.deployments.list()  # GET: not faulted ...
        client.deployments.invoke("500-hono")
    assert info.value.status_code == 500 and info.value.message == HONO["message"] + "."
    assert '"code": "500"' in info.value.body


# -- pages that never end, through every layer that lists ----------------------------------------


@pytest.fixture(scope="module")
def endless() -> Iterator[FaultServer]:
    """A server whose list says `has_more: true` forever and ignores the cursor."""
    with FaultServer({}, endless_pages=True, lifetime=300) as srv:
        yield srv


@pytest.mark.timeout(60)
def test_endless_pages_stop_in_every_layer(endless: FaultServer) -> None:
    client = Client(base_url=endless.base_url)
    with client, budget(), pytest.raises(UnexpectedResponseError, match="does not advance"):
        list(client.deployments.iter())

    async def walk() -> None:
        async with AsyncClient(base_url=endless.base_url) as aclient:
            with pytest.raises(UnexpectedResponseError, match="does not advance"):
                [d async for d in aclient.deployments.iter()]

    asyncio.run(asyncio.wait_for(walk(), BUDGET))
    lists = sum(1 for entry in endless.log if entry.method == "GET")
    assert lists <= 4, "the guard stops at the second page of a cursor that does not move"

    with _shell(endless) as shell, budget():
        with pytest.raises(UsageError, match="does not advance"), capture_output():
            shell.run_line_magic("orq", "list")
        # A 404's "did you mean" lists the deployments: it gives up quietly, and says the 404.
        with pytest.raises(UsageError, match="was not found"), capture_output():
            shell.run_cell_magic("orq", "missing-key --no-stream", "hi")
    with Client(base_url=endless.base_url) as client, budget():
        try:  # a batch for a missing key fails up front, or row by row: either way it ends
            rows = run_batch("missing-key", [{"n": 1}], client=client, progress=False)
        except OrqError:
            pass
        else:
            assert rows[0].status == "failed"
