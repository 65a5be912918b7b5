"""Batch runs (`orq_notebook.batch._api`) against the live local server, plus their unit pieces.

Contract tests go through the real client to a real uvicorn server in a thread, whose
deployments file injects delays and 429/500/503 faults. No assertion here is about time.
"""

from __future__ import annotations

import _thread
import asyncio
import json
import logging
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orq_notebook import AsyncClient, Client
from orq_notebook.batch._api import arun_batch, run_batch, set_default_client
from orq_notebook.batch._limit import AIMDLimiter
from orq_notebook.batch._result import BatchResult, RowResult, percentile
from orq_notebook.local import LocalServer

_PROMPT = """
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages: [{role: system, content: "Q: {{q}}"}]"""

# strict_variables: a row without `q` is refused (422), so a row the server rejects can be
# tested; orq.ai itself (and the local server by default) would send it with `q` blank.
DEPLOYMENTS = f"""
strict_variables: true
deployments:
  - key: echo{_PROMPT}
    responder: echo
    variants:
      - when: {{environments: production}}
        prompt_config: {{model: gpt-4o}}
  - key: echo-default
    variables: {{q: default}}{_PROMPT}
    responder: echo
  - key: slow{_PROMPT}
    responder: echo
    faults: {{delay_ms: 20}}
  - key: streamed{_PROMPT}
    responder: echo
    stream_delay_ms: 2
  - key: limited{_PROMPT}
    responder: echo
    faults: {{status: 429, times: 3, retry_after: 0.01}}
  - key: flaky{_PROMPT}
    responder: echo
    faults: {{status: 503, times: 2, retry_after: 0}}
  - key: broken{_PROMPT}
    responder: echo
    faults: {{status: 500, times: 2}}
  - key: dropping{_PROMPT}
    responder: echo
    faults: {{drop_after_chunks: 2}}
"""
FAULTY = ("limited", "flaky", "broken")
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    path = tmp_path_factory.mktemp("batch") / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    with LocalServer(path) as server:
        yield server


@pytest.fixture
def client(server: LocalServer) -> Iterator[Client]:
    assert server.store is not None
    for key in FAULTY:  # every test sees each fault from its first request
        server.store.reset_failures(key)
    with Client(base_url=server.base_url, api_key="test", max_retries=3) as client:
        yield client


def rows(n: int) -> list[dict[str, Any]]:
    return [{"q": f"question {i}"} for i in range(n)]


def echoed(i: int) -> str:
    return f"system: Q: question {i}"


# -- the contract: order, errors, retries ----------------------------------------------------------


def test_rows_come_back_in_input_order_with_tokens(client: Client) -> None:
    result = run_batch("echo", rows(30), concurrency=8, client=client, progress=False)

    assert len(result) == 30
    assert [r.index for r in result] == list(range(30))
    assert result.texts == [echoed(i) for i in range(30)]
    assert all(r.status == "ok" and r.error is None for r in result)
    assert all(r.tokens and r.tokens > 0 for r in result)  # include_usage was turned on
    assert result.total_tokens == sum(r.tokens or 0 for r in result)
    assert result.retries == 0
    assert not result.interrupted


def test_a_row_the_server_rejects_fails_alone(client: Client) -> None:
    batch = rows(6)
    batch[3] = {"other": "no q here"}

    result = run_batch("echo", batch, client=client, progress=False)

    bad = result[3]
    assert bad.status == "failed"
    assert bad.error_type == "UnprocessableEntityError"
    assert bad.error is not None and "{{q}}" in bad.error
    assert [r.index for r in result.failed] == [3]
    assert [r.index for r in result.ok] == [0, 1, 2, 4, 5]
    assert [result[i].text for i in (0, 1, 2, 4, 5)] == [echoed(i) for i in (0, 1, 2, 4, 5)]
    assert result.counts() == {"ok": 5, "failed": 1, "stopped": 0}


def test_429s_are_retried_counted_and_lower_the_concurrency(client: Client) -> None:
    result = run_batch("limited", rows(8), concurrency=4, client=client, progress=False)

    assert result.counts()["ok"] == 8
    assert result.texts == [echoed(i) for i in range(8)]
    # The server answers 429 to its first three requests, whichever rows they carried.
    assert result.rate_limited == 3
    assert result.retries == 3
    assert sum(r.attempts for r in result) == 8 + 3
    assert result.min_concurrency < 4


def test_transient_5xx_are_retried_and_counted(client: Client) -> None:
    result = run_batch("flaky", rows(5), concurrency=2, client=client, progress=False)

    assert result.counts()["ok"] == 5
    assert result.retries == 2
    assert result.rate_limited == 0
    assert result.min_concurrency == 2  # a 503 is not a reason to slow down


def test_failed_rows_keep_their_error_and_rerun_merges_in_order(client: Client) -> None:
    # One worker takes rows in order; a 500 is not retried, so rows 0 and 1 fail.
    result = run_batch("broken", rows(5), concurrency=1, client=client, progress=False)

    assert [r.status for r in result] == ["failed", "failed", "ok", "ok", "ok"]
    assert {r.error_type for r in result.failed} == {"InternalServerError"}
    assert result.failed.inputs() == rows(2)

    again = result.rerun(progress=False)

    assert [r.status for r in again] == ["ok"] * 5
    assert again.texts == [echoed(i) for i in range(5)]
    assert [r.index for r in again] == list(range(5))
    assert [r.status for r in result][:2] == ["failed", "failed"]  # the original is unchanged
    direct = run_batch("broken", result.failed.inputs(), client=client, progress=False)
    assert direct.texts == [echoed(0), echoed(1)]


def test_a_dropped_stream_fails_its_row_and_keeps_the_partial_text(client: Client) -> None:
    result = run_batch("dropping", rows(3), client=client, stream=True, progress=False)

    for row in result:
        assert row.status == "failed"
        assert row.error_type == "StreamError"
        assert row.text and echoed(row.index).startswith(row.text)
        assert row.text != echoed(row.index)
        shown = row.result
        assert shown is not None and shown.partial and shown.text == row.text
        assert shown.error == row.error


def test_each_row_gives_a_displayable_result(client: Client) -> None:
    result = run_batch("echo", [{"q": "x", "messages": "hi"}, {}], client=client, progress=False)

    shown = result[0].result
    assert shown is not None and not shown.partial
    assert shown.text == "system: Q: x\nuser: hi"
    assert shown.deployment == "echo"
    assert shown.messages[0] == {"role": "user", "content": "hi"}
    assert shown.usage is not None and shown.usage["total_tokens"] == result[0].tokens
    assert result[1].result is None  # the server refused it: there is no answer to show


def test_stream_records_time_to_first_token(client: Client) -> None:
    result = run_batch("streamed", rows(4), client=client, stream=True, progress=False)

    assert result.texts == [echoed(i) for i in range(4)]
    for row in result:
        assert row.time_to_first_token is not None and row.latency is not None
        assert row.time_to_first_token <= row.latency
        assert row.tokens
    assert result.stream


# -- request fields --------------------------------------------------------------------------------


def test_row_messages_and_context_are_sent_and_shared_fields_apply(client: Client) -> None:
    batch: list[dict[str, Any]] = [
        {"q": "a", "messages": "hello there"},
        {"q": "b", "context": {"environments": "production"}},
        {"q": "c"},
    ]

    result = run_batch("echo", batch, client=client, progress=False, metadata={"run": "t"})

    assert result[0].text == "system: Q: a\nuser: hello there"
    assert result[0].inputs == {"q": "a"}
    assert result[0].row() == {"q": "a", "messages": "hello there"}  # as the user passed it
    models = [r.invocation.model for r in result if r.invocation is not None]
    assert models == ["gpt-4o-mini", "gpt-4o", "gpt-4o-mini"]
    assert result.request_fields["metadata"] == {"run": "t"}


def test_shared_context_applies_to_every_row(client: Client) -> None:
    result = run_batch(
        "echo", rows(2), client=client, progress=False, context={"environments": "production"}
    )
    assert [r.invocation.model for r in result if r.invocation] == ["gpt-4o", "gpt-4o"]


def test_callers_invoke_options_are_kept(client: Client) -> None:
    result = run_batch(
        "echo", rows(2), client=client, progress=False, invoke_options={"include_usage": False}
    )
    assert [r.tokens for r in result] == [None, None]


def test_bad_shared_fields_fail_before_any_request() -> None:
    with pytest.raises(TypeError, match="metdata"):
        run_batch("echo", rows(2), client=Client(base_url="http://127.0.0.1:9"), metdata={})
    with pytest.raises(ValueError):
        run_batch("echo", rows(2), client=Client(base_url="http://127.0.0.1:9"), metadata=[1])
    with pytest.raises(ValueError, match="concurrency"):
        run_batch("echo", rows(2), client=Client(base_url="http://127.0.0.1:9"), concurrency=0)
    with pytest.raises(TypeError, match="row 1"):
        run_batch("echo", [{"q": 1}, 2], client=Client(base_url="http://127.0.0.1:9"))
    with pytest.raises(TypeError, match="client"):
        run_batch("echo", rows(1), client="http://127.0.0.1:9")  # type: ignore[arg-type]


def test_no_rows_is_an_empty_result(client: Client) -> None:
    result = run_batch("echo", [], client=client, progress=False)
    assert len(result) == 0 and not result.interrupted
    assert "0 rows" in result._repr_mimebundle_()["text/plain"]


# -- DataFrames ------------------------------------------------------------------------------------


def test_dataframe_in_dataframe_out(client: Client) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"q": ["x", None, "z"], "n": [1, 2, 3]}, index=["a", "b", "c"])

    result = run_batch("echo-default", frame, client=client, progress=False)

    assert result.texts == ["system: Q: x", "system: Q: default", "system: Q: z"]
    assert result[1].inputs == {"n": 2}  # the empty cell was left out; numpy ints are plain
    assert type(result[0].inputs["n"]) is int
    out = result.to_pandas()
    assert list(out.columns) == ["q", "n", "output", "latency", "tokens", "error", "status"]
    assert list(out.index) == ["a", "b", "c"]
    assert list(out["output"]) == result.texts
    assert list(out["status"]) == ["ok", "ok", "ok"]
    assert out["tokens"].notna().all()
    assert list(result.failed.to_pandas().index) == []


def test_to_pandas_shows_errors_and_renames_clashing_inputs(client: Client) -> None:
    pytest.importorskip("pandas")
    result = run_batch("echo", [{"q": "1", "output": "x"}, {}], client=client, progress=False)

    out = result.to_pandas()
    assert list(out.columns) == [
        "q",
        "input_output",
        "output",
        "latency",
        "tokens",
        "error",
        "status",
    ]
    assert out.loc[1, "status"] == "failed"
    assert "{{q}}" in out.loc[1, "error"]
    assert out.loc[0, "input_output"] == "x"
    assert str(out["tokens"].dtype) == "Int64"  # whole numbers, missing where the row failed
    assert out.loc[0, "tokens"] == result[0].tokens and repr(out.loc[0, "tokens"]) != "39.0"
    assert out["tokens"].isna().tolist() == [False, True]
    assert str(out["latency"].dtype) == "float64"


def test_to_pandas_keeps_messages_as_they_were_given(client: Client) -> None:
    pytest.importorskip("pandas")
    given = [{"role": "user", "content": "listed"}]
    result = run_batch(
        "echo",
        [{"q": "a", "messages": "hello"}, {"q": "b", "messages": given}],
        client=client,
        progress=False,
    )
    out = result.to_pandas()
    assert out.loc[0, "messages"] == "hello"
    assert out.loc[1, "messages"] == given
    assert result[0].text.endswith("user: hello")  # still sent as one user message
    assert result.inputs()[0]["messages"] == "hello"


def test_to_dicts_is_plain_json(client: Client) -> None:
    result = run_batch("echo", rows(2), client=client, progress=False)
    dumped = json.loads(json.dumps(result.to_dicts()))
    assert dumped[1]["output"] == echoed(1)
    assert dumped[1]["inputs"] == {"q": "question 1"}
    assert dumped[1]["status"] == "ok" and dumped[1]["error"] is None


# -- interrupts ------------------------------------------------------------------------------------


def test_cancelling_the_arun_batch_task_returns_the_finished_rows(server: LocalServer) -> None:
    seen: list[int] = []

    async def main() -> tuple[BatchResult, bool, dict[str, list[Any]]]:
        async with AsyncClient(base_url=server.base_url, api_key="test") as client:
            holder: list[asyncio.Task[BatchResult]] = []

            def on_result(row: RowResult) -> None:
                seen.append(row.index)
                if len(seen) == 4:
                    holder[0].cancel()

            task = asyncio.create_task(
                arun_batch(
                    "slow", rows(30), concurrency=2, client=client, progress=False,
                    on_result=on_result,
                )
            )  # fmt: skip
            holder.append(task)
            result = await task
            return result, task.cancelled(), dict(client._http.event_hooks)

    result, cancelled, hooks = asyncio.run(main())

    assert not cancelled
    assert result.interrupted
    assert len(result) == 30 and [r.index for r in result] == list(range(30))
    done = [r for r in result if r.status == "ok"]
    assert len(done) >= 4
    assert all(r.text == echoed(r.index) for r in done)
    assert len(result.stopped) >= 20
    assert {r.error_type for r in result.stopped} <= {"Stopped", "NotRun"}
    assert all(r.error for r in result.stopped)
    assert hooks == {"request": [], "response": []}  # the batch unhooked the caller's client


def test_keyboard_interrupt_returns_the_partial_result(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    def on_result(row: RowResult) -> None:
        if row.index == 2:
            raise KeyboardInterrupt

    with caplog.at_level(logging.WARNING, logger="orq_notebook.batch"):
        result = run_batch(
            "slow", rows(20), concurrency=1, client=client, progress=False, on_result=on_result
        )

    assert result.interrupted
    assert [r.status for r in result][:3] == ["ok", "ok", "ok"]
    assert result.counts() == {"ok": 3, "failed": 0, "stopped": 17}
    assert [r.error_type for r in result][3:] == ["NotRun"] * 17
    assert len(caplog.records) == 1
    assert "interrupted: 3 of 20 rows finished" in caplog.records[0].getMessage()
    assert result.rerun(concurrency=8, progress=False).texts == [echoed(i) for i in range(20)]


def test_inside_a_running_loop_the_batch_runs_in_a_thread(client: Client) -> None:
    threads: set[str] = set()

    async def cell() -> BatchResult:  # a notebook cell calling the sync API
        return run_batch(
            "echo", rows(6), client=client, progress=False,
            on_result=lambda row: threads.add(threading.current_thread().name),
        )  # fmt: skip

    result = asyncio.run(cell())

    assert result.texts == [echoed(i) for i in range(6)]
    assert threads == {"orq-batch"}


def test_ctrl_c_in_the_waiting_thread_cancels_the_batch(client: Client) -> None:
    # A fresh loop without asyncio.run, so SIGINT keeps Python's default handler, as in a
    # kernel: the simulated Ctrl-C raises KeyboardInterrupt in the main (waiting) thread.
    finished: list[int] = []

    def on_result(row: RowResult) -> None:
        finished.append(row.index)
        if len(finished) == 2:
            _thread.interrupt_main()

    async def cell() -> BatchResult:
        return run_batch(
            "slow", rows(100), concurrency=2, client=client, progress=False, on_result=on_result
        )

    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(cell())
    finally:
        loop.close()

    assert result.interrupted
    assert [r.index for r in result] == list(range(100))
    assert len(result.ok) >= 2
    assert all(r.text == echoed(r.index) for r in result.ok)
    assert len(result.stopped) > 0


# -- clients ---------------------------------------------------------------------------------------


def test_an_async_client_works_in_both_apis(server: LocalServer) -> None:
    aclient = AsyncClient(base_url=server.base_url, api_key="test")
    result = run_batch("echo", rows(3), client=aclient, progress=False)  # its settings
    assert result.texts == [echoed(i) for i in range(3)]

    async def main() -> BatchResult:
        async with aclient:
            return await arun_batch("echo", rows(3), client=aclient, progress=False)

    assert asyncio.run(main()).texts == [echoed(i) for i in range(3)]


def test_the_default_client_factory_is_used(server: LocalServer) -> None:
    made: list[Client] = []

    def factory() -> Client:
        made.append(Client(base_url=server.base_url, api_key="test"))
        return made[-1]

    set_default_client(factory)
    try:
        result = run_batch("echo", rows(2), progress=False)
    finally:
        set_default_client(None)
    assert result.texts == [echoed(0), echoed(1)]
    assert len(made) == 1


def _minimal_answer() -> httpx.Response:
    body = json.loads((FIXTURES / "invoke_minimal.json").read_text(encoding="utf-8"))
    body["choices"] = [{"index": 0, "message": {"type": "content", "role": "assistant",
                                                "content": "hi"}}]  # fmt: skip
    return httpx.Response(200, json=body)


def test_retries_are_counted_per_row_through_any_transport() -> None:
    calls: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        # The batch's look before the first row: the list, then the config.
        if request.method == "GET":
            listed = (FIXTURES / "list_deployments.json").read_text(encoding="utf-8")
            return httpx.Response(200, content=listed)
        if request.url.path.endswith("/get_config"):
            config = (FIXTURES / "get_config_minimal.json").read_text(encoding="utf-8")
            return httpx.Response(200, content=config)
        q = json.loads(request.content)["inputs"]["q"]
        calls[q] = calls.get(q, 0) + 1
        if q == "a" and calls[q] == 1:
            raise httpx.ConnectError("refused", request=request)
        if q == "b" and calls[q] <= 2:
            return httpx.Response(429, headers={"retry-after": "0"}, json={"message": "slow"})
        return _minimal_answer()

    async def main() -> BatchResult:
        transport = httpx.MockTransport(handler)
        async with AsyncClient(base_url="http://t", api_key="k", transport=transport) as c:
            return await arun_batch("k", [{"q": "a"}, {"q": "b"}, {"q": "c"}], client=c,
                                    progress=False)  # fmt: skip

    result = asyncio.run(main())

    assert [r.attempts for r in result] == [2, 3, 1]
    assert [r.rate_limited for r in result] == [0, 2, 0]
    assert result.retries == 3 and result.rate_limited == 2
    assert result.texts == ["hi", "hi", "hi"]


# -- progress --------------------------------------------------------------------------------------


def test_progress_false_prints_nothing(client: Client, capfd: pytest.CaptureFixture[str]) -> None:
    run_batch("echo", [{"q": 1}, {"q": 2}], client=client, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_progress_shows_counts(client: Client, capfd: pytest.CaptureFixture[str]) -> None:
    run_batch("echo", [{"q": 1}, {}], client=client, concurrency=1)
    _, err = capfd.readouterr()
    last = err.replace("\n", "\r").rstrip("\r").split("\r")[-1]  # the bar's final state
    assert "2/2" in last and "1 ok, 1 failed" in last, err


# -- units: the limiter, percentiles, the display --------------------------------------------------


def test_limiter_halves_once_per_epoch_and_grows_by_one_per_round() -> None:
    limiter = AIMDLimiter(8)
    assert limiter.congested(0) is True
    assert limiter.limit == 4
    assert limiter.congested(0) is False  # same overload, already answered
    assert limiter.congested(1) is True
    assert (limiter.limit, limiter.lowest) == (2, 2)
    for _ in range(2):
        limiter.succeeded()
    assert limiter.limit == 3
    for _ in range(3):
        limiter.succeeded()
    assert limiter.limit == 4
    for epoch in range(2, 10):
        limiter.congested(epoch)
    assert limiter.limit == 1 and limiter.lowest == 1


def test_limiter_admits_at_most_its_limit_and_passes_slots_on() -> None:
    async def main() -> list[str]:
        limiter = AIMDLimiter(2)
        log: list[str] = []
        await limiter.acquire()
        await limiter.acquire()

        async def third(name: str) -> None:
            await limiter.acquire()
            log.append(name)

        waiting = asyncio.create_task(third("late"))
        doomed = asyncio.create_task(third("cancelled"))
        await asyncio.sleep(0)
        assert log == [] and limiter.in_flight == 2
        limiter.release()  # wakes "late"
        limiter.release()  # wakes "cancelled"...
        doomed.cancel()  # ...which is cancelled before it runs: its slot is passed on
        await asyncio.gather(waiting, doomed, return_exceptions=True)
        assert limiter.in_flight == 1
        again = asyncio.create_task(third("next"))
        await asyncio.sleep(0)
        await again
        return log

    assert asyncio.run(main()) == ["late", "next"]


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    assert math.isclose(percentile([1.0, 2.0, 3.0, 4.0], 95) or 0, 3.85)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def _made_up() -> BatchResult:
    rows = [
        RowResult(0, {"q": "<b>"}, "ok", "an <i>answer</i>", latency=0.1, tokens=5, error=None,
                  error_type=None, attempts=2),
        RowResult(1, {"q": "y"}, "failed", latency=0.3, error="Missing {{q}}",
                  error_type="UnprocessableEntityError", attempts=1),
        RowResult(2, {"q": "z"}),
    ]  # fmt: skip
    return BatchResult("k", rows, elapsed=1.5, interrupted=True, concurrency=4, min_concurrency=2)


def test_the_display_has_counts_percentiles_and_a_table() -> None:
    result = _made_up()
    bundle = result._repr_mimebundle_()

    text, page = bundle["text/plain"], bundle["text/html"]
    assert "3 rows: 1 ok, 1 failed, 1 stopped (interrupted)" in text
    assert "p50 100 ms" in text and "5 tokens" in text and "wall 1.50 s" in text
    assert "1 retry (0 rate-limited)" in text and "backed off to 2" in text
    assert "NotRun" not in text and "not run: the batch was interrupted first" in text
    assert "UnprocessableEntityError: Missing {{q}}" in text
    assert "<i>answer" not in page and "&lt;i&gt;answer" in page
    assert page.count("<tr ") == 4
    assert set(result._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(result._repr_mimebundle_(exclude=["text/plain"])) == {"text/html"}
    assert repr(result) == "<BatchResult 'k': 3 rows, 1 ok, 1 failed, 1 stopped, interrupted>"


def test_sub_results_and_merging_keep_indices() -> None:
    result = _made_up()
    assert [r.index for r in result.failed] == [1]
    assert [r.index for r in result[1:]] == [1, 2]
    newer = BatchResult("k", [RowResult(1, {"q": "y"}, "ok", "fixed", error=None)], elapsed=0.5)
    merged = result.merged(newer)
    assert [r.status for r in merged] == ["ok", "ok", "stopped"]
    assert merged.elapsed == 2.0
    assert [r.status for r in result] == ["ok", "failed", "stopped"]


# -- a real kernel ---------------------------------------------------------------------------------

KERNEL_CELL = """
import sys
assert sys.prefix == {prefix!r}, sys.prefix
from orq_notebook import Client
from orq_notebook.batch._api import run_batch
from orq_notebook.local import LocalServer

server = LocalServer({path!r}).start()
client = Client(base_url=server.base_url, api_key="test")

def on_result(row):
    if row.index == 1:
        print("two rows done", flush=True)

result = run_batch("slow", [{{"q": f"question {{i}}"}} for i in range(200)], concurrency=2,
                   client=client, on_result=on_result)
result
"""


@pytest.mark.notebook
def test_a_kernel_interrupt_returns_the_partial_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from tests.kernels import start_kernel

    path = tmp_path / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    km, kc = start_kernel(tmp_path, monkeypatch)
    try:
        msg_id = kc.execute(KERNEL_CELL.format(prefix=sys.prefix, path=str(path)))
        seen: list[tuple[str, str]] = []
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                seen.append((content["name"], content["text"]))
                if "two rows done" in content["text"]:
                    km.interrupt_kernel()  # what the notebook's Interrupt button does
            elif kind in ("execute_result", "error"):
                seen.append((kind, content.get("data", {}).get("text/plain", content.get("ename"))))
            elif kind == "status" and content["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    results = [text for kind, text in seen if kind == "execute_result"]
    assert len(results) == 1, seen
    assert "200 rows: " in results[0] and "(interrupted)" in results[0]
    warnings = [text for kind, text in seen if kind == "stderr" and "interrupted" in text]
    assert len(warnings) == 1 and "of 200 rows finished" in warnings[0]
    assert not [kind for kind, _ in seen if kind == "error"]


# -- errors that hold for every row fail the batch up front (issue 16, point 7) ------------------


def test_an_unknown_deployment_fails_up_front_with_did_you_mean(server: LocalServer) -> None:
    from orq_notebook import NotFoundError

    with Client(base_url=server.base_url) as client, pytest.raises(NotFoundError) as info:
        run_batch("ech", rows(3), client=client, progress=False)
    message = str(info.value)
    assert "'ech' was not found" in message and "Did you mean: echo" in message, message
    assert "Known keys" not in message  # a few close keys, never the whole list
    assert "\n" not in message


def test_no_key_an_unreachable_server_or_a_refused_key_fail_up_front(
    server: LocalServer, serve_deployments: Any
) -> None:
    from orq_notebook import APIConnectionError, AuthenticationError, MissingAPIKeyError

    with pytest.raises(MissingAPIKeyError):  # orq.ai needs a key: nothing is sent without one
        run_batch("echo", rows(3), client=Client(base_url="https://my.orq.ai"), progress=False)
    nowhere = Client(base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(APIConnectionError):
        run_batch("echo", rows(3), client=nowhere, progress=False)
    keyed = serve_deployments(DEPLOYMENTS, api_key="sk-the-right-one")
    with pytest.raises(AuthenticationError):
        run_batch("echo", rows(3), client=Client("sk-wrong", keyed.base_url), progress=False)


def test_the_async_batch_checks_up_front_too(server: LocalServer) -> None:
    from orq_notebook import NotFoundError

    async def main() -> None:
        async with AsyncClient(base_url=server.base_url) as client:
            await arun_batch("echo-defualt", rows(2), client=client, progress=False)

    with pytest.raises(NotFoundError, match="Did you mean: echo-default"):
        asyncio.run(main())


def test_errors_of_one_row_stay_with_that_row(client: Client) -> None:
    # `broken` answers 500 to its first two requests: a row's own failure, not the batch's.
    once = Client(base_url=client.settings.base_url, max_retries=0)
    result = run_batch("broken", rows(3), client=once, concurrency=1, progress=False)
    assert [r.status for r in result] == ["failed", "failed", "ok"]
    assert result[0].error_type == "InternalServerError"


def test_a_list_of_strings_is_one_user_message_per_row(client: Client) -> None:
    result = run_batch("echo-default", ["first question", "second"], client=client, progress=False)
    assert [r.status for r in result] == ["ok", "ok"]
    assert "user: first question" in result[0].text and "user: second" in result[1].text


def test_to_pandas_without_pandas_says_how_to_install_it(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from orq_notebook import MissingDependencyError, OrqError

    result = run_batch("echo", rows(1), client=client, progress=False)
    monkeypatch.setitem(sys.modules, "pandas", None)  # what `import pandas` sees uninstalled
    with pytest.raises(MissingDependencyError) as info:
        result.to_pandas()
    assert isinstance(info.value, ImportError) and isinstance(info.value, OrqError)
    assert "pip install 'orq-notebook[pandas]'" in str(info.value)


# -- the rows' inputs against the deployment's variables (issue 17) ------------------------------


def test_a_misspelt_variable_in_any_row_fails_before_anything_is_sent(
    client: Client, server: LocalServer
) -> None:
    from orq_notebook.client._variables import VariablesError

    with pytest.raises(VariablesError, match=r"'Q' is not a variable .* Did you mean: q\?"):
        run_batch("echo", [{"q": "fine"}, {"Q": "oops"}], client=client, progress=False)
    with pytest.raises(ValueError):  # a VariablesError is a ValueError too
        run_batch("echo", [{"Q": "oops"}], client=client, progress=False)


def test_open_variables_are_one_warning_line_saying_in_how_many_rows(
    client: Client, capfd: pytest.CaptureFixture[str]
) -> None:
    rows_ = [{"q": "a"}, {"other": 1}, {"q": "c"}]
    run_batch("echo-default", rows_, client=client, progress=False)  # q has a default
    assert capfd.readouterr().err == (
        "⚠ 'other' is not a variable of echo-default's prompt; "
        "sent anyway (inputs can also feed tools and knowledge bases).\n"
    )
    run_batch("echo", [{"q": "a"}, {}, {"q": "c"}], client=client, progress=False)
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "⚠ {{q}} has no value and no default in 1 of 3 rows: it is sent as empty text."
    ]


def test_strict_variables_refuses_open_ones(client: Client) -> None:
    from orq_notebook.client._variables import VariablesError

    with pytest.raises(VariablesError, match="strict_variables"):
        run_batch("echo", [{"q": "a"}, {}], client=client, progress=False, strict_variables=True)
