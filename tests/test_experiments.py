"""Experiments (`orq_notebook.experiments`) against the live local server.

The deployments are deterministic (echo and mock responders, with injected faults), so every
answer, and therefore every score and interval, is known in advance. No assertion here is
about time.
"""

from __future__ import annotations

import _thread
import asyncio
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orq_notebook import (
    AsyncClient,
    Client,
    Evaluator,
    ExperimentResult,
    NotFoundError,
    arun_experiment,
    run_experiment,
)
from orq_notebook.batch import _api as batch_api
from orq_notebook.experiments import _run
from orq_notebook.experiments._stats import mean_interval, wilson_interval
from orq_notebook.local import LocalServer

_PROMPT = """
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages: [{{role: system, content: "{text}"}}]"""

DEPLOYMENTS = f"""
deployments:
  - key: answer{_PROMPT.format(text="A: {{q}}")}
    responder: echo
    variants:
      - when: {{environments: production}}
        prompt_config: {{messages: [{{role: system, content: "Formal A: {{{{q}}}}"}}]}}
  - key: answer-v2{_PROMPT.format(text="B: {{q}}")}
    responder: echo
  - key: slow{_PROMPT.format(text="A: {{q}}")}
    responder: echo
    faults: {{delay_ms: 20}}
  - key: limited{_PROMPT.format(text="A: {{q}}")}
    responder: echo
    faults: {{status: 429, times: 3, retry_after: 0.01}}
  - key: down{_PROMPT.format(text="A: {{q}}")}
    responder: echo
    faults: {{status: 500}}
  - key: judge-json{_PROMPT.format(text="Judge {{output}} against {{expected}}")}
    responder: {{mock: '{{"score": 4, "reason": "clear and polite"}}'}}
  - key: judge-echo{_PROMPT.format(text="Verdict: PASS for {{output}}")}
    responder: echo
  - key: judge-mumbles{_PROMPT.format(text="x")}
    responder: {{mock: "I would rather not say."}}
  - key: judge-down{_PROMPT.format(text="x")}
    responder: echo
    faults: {{status: 500}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    path = tmp_path_factory.mktemp("experiments") / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    with LocalServer(path) as server:
        yield server


@pytest.fixture
def client(server: LocalServer) -> Iterator[Client]:
    assert server.store is not None
    server.store.reset_failures("limited")
    with Client(base_url=server.base_url, api_key="test", max_retries=3) as client:
        yield client


def data(n: int, right: int) -> list[dict[str, Any]]:
    """n rows whose `expected` is the echo answer of `answer` for the first `right` rows."""
    return [
        {"q": f"question {i}", "expected": f"system: A: question {i}" if i < right else "?"}
        for i in range(n)
    ]


def run(client: Client, dataset: Any, targets: Any, evaluators: Any, **kw: Any) -> Any:
    return run_experiment(dataset, targets, evaluators, client=client, progress=False, **kw)


# -- scores with a known answer --------------------------------------------------------------------


def test_pass_rates_and_means_are_the_known_ones(client: Client) -> None:
    evaluators = ["exact_match", "contains:A:", Evaluator.check(lambda output: len(output))]
    result = run(client, data(10, 7), ["answer", "answer-v2"], evaluators)

    assert result.counts() == {"ok": 20, "failed": 0, "stopped": 0}
    assert result.cell("answer", 3).output == "system: A: question 3"
    v1 = result.summarize("answer", "exact_match")
    assert v1.kind == "pass" and v1.interval == wilson_interval(7, 10)
    assert result.summarize("answer-v2", "exact_match").interval == wilson_interval(0, 10)
    assert result.summarize("answer-v2", "contains[A:]").interval == wilson_interval(0, 10)
    lengths = [len(f"system: A: question {i}") for i in range(10)]
    assert result.summarize("answer", "check").interval == (mean_interval(lengths))
    assert all(c.tokens for c in result)  # usage asked for, as in run_batch
    assert result.latency("answer", 50) is not None


def test_variants_by_context_and_named_targets(client: Client) -> None:
    targets = [
        ("answer", {"environments": "production"}),
        {"name": "plain", "key": "answer", "metadata": {"run": "t"}},
    ]
    result = run(client, data(4, 4), targets, ["exact_match"])

    assert result.target_names == ["answer [environments=production]", "plain"]
    assert result.cell("answer [environments=production]", 0).output == (
        "system: Formal A: question 0"
    )
    assert result.summarize("plain", "exact_match").interval == wilson_interval(4, 4)
    assert result.summarize(result.target_names[0], "exact_match").interval == (
        wilson_interval(0, 4)
    )


def test_an_evaluator_that_raises_records_its_error_and_the_rest_goes_on(client: Client) -> None:
    def picky(output: str) -> bool:
        if output.endswith("2"):
            raise ValueError("cannot judge row 2")
        return True

    result = run(client, data(4, 4), ["answer"], [picky, "exact_match"])

    cell = result.cell("answer", 2)
    assert cell.ok and cell.scores["picky"].error == "ValueError: cannot judge row 2"
    assert cell.scores["exact_match"].value is True
    summary = result.summarize("answer", "picky")
    assert summary.scored == 3 and summary.errors == 1


def test_an_llm_judge_scores_every_answer(client: Client) -> None:
    result = run(client, data(3, 3), ["answer"],
                 ["judge:judge-json", Evaluator.judge("judge-json", pass_at=5),
                  "judge:judge-echo"])  # fmt: skip

    assert [c.scores["judge[judge-json]"].value for c in result] == [4.0, 4.0, 4.0]
    assert result.cell("answer", 0).scores["judge[judge-json]"].reason == "clear and polite"
    assert result.summarize("answer", "judge[judge-json]>=5").interval == wilson_interval(0, 3)
    # The echo judge answers with what it was sent: the answer under review as {{output}}
    # (echo's "system: " prefix leaves no verdict to read, so it shows in the error).
    echoed = result.cell("answer", 1).scores["judge[judge-echo]"]
    assert echoed.value is None
    assert "'system: Verdict: PASS for system: A: question 1'" in (echoed.error or "")


def test_a_failed_or_unreadable_judge_is_the_judges_error_not_the_rows(client: Client) -> None:
    result = run(client, data(3, 3), ["answer"],
                 ["exact_match", "judge:judge-down", "judge:judge-mumbles"])  # fmt: skip

    for cell in result:
        assert cell.ok and cell.error is None
        assert cell.scores["exact_match"].value is True
        assert (cell.scores["judge[judge-down]"].error or "").startswith("judge call failed")
        assert "could not read a verdict" in (cell.scores["judge[judge-mumbles]"].error or "")
    summary = result.summarize("answer", "judge[judge-down]")
    assert summary.errors == 3 and summary.scored == 0 and summary.describe() == "—"


def test_failed_rows_are_not_scored_and_the_next_target_still_runs(client: Client) -> None:
    result = run(client, data(3, 3), ["down", "answer"], ["exact_match"])

    assert result.counts("down") == {"ok": 0, "failed": 3, "stopped": 0}
    assert (result.cell("down", 0).error or "").startswith("InternalServerError")
    assert result.cell("down", 0).scores == {}
    assert result.summarize("down", "exact_match").scored == 0
    assert result.summarize("answer", "exact_match").interval == wilson_interval(3, 3)


def test_429s_are_retried_as_in_a_batch(client: Client) -> None:
    result = run(client, data(6, 6), ["limited"], ["contains:A:"])

    assert result.counts() == {"ok": 6, "failed": 0, "stopped": 0}
    assert result.batches["limited"].rate_limited == 3


def test_an_unknown_target_loses_nothing(client: Client) -> None:
    # Today the batch records a 404 per row; a batch that checks deployments up front raises
    # instead, which the experiment passes on only while nothing has run yet.
    try:
        result = run(client, data(2, 2), ["no-such", "answer"], ["exact_match"])
    except NotFoundError:
        return
    assert all("NotFoundError" in (c.error or "") for c in result.cells_of("no-such"))
    assert result.counts("answer")["ok"] == 2


def test_a_batch_refused_up_front_after_others_ran_is_recorded_in_its_cells(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_api.run_batch

    def run_batch(key: str, rows: Any, **kw: Any) -> Any:
        if key == "answer-v2":
            raise NotFoundError("Deployment with key 'answer-v2' was not found.", status_code=404)
        return real(key, rows, **kw)

    monkeypatch.setattr(_run, "run_batch", run_batch)
    result = run(client, data(2, 2), ["answer", "answer-v2"], ["exact_match"])

    assert result.counts("answer")["ok"] == 2
    assert result.counts("answer-v2")["failed"] == 2
    assert "was not found" in (result.cell("answer-v2", 0).error or "")
    with pytest.raises(NotFoundError):  # first: nothing to keep, so the error is raised
        run(client, data(2, 2), ["answer-v2", "answer"], ["exact_match"])


def test_bad_arguments_fail_before_any_request() -> None:
    nowhere = Client(base_url="http://127.0.0.1:9", api_key="x", max_retries=0)
    cases: list[tuple[Any, Any, Any, type[Exception], str]] = [
        (data(1, 1), ["answer"], ["exact_mach"], ValueError, "Did you mean exact_match"),
        (data(1, 1), [42], ["exact_match"], TypeError, "target 0 is a int"),
        (data(1, 1), ["a", "a"], ["exact_match"], ValueError, "two targets are named 'a'"),
        (data(1, 1), [], ["exact_match"], ValueError, "at least one target"),
        (data(1, 1), ["answer"], [], ValueError, "at least one evaluator"),
        ("rows", ["answer"], ["exact_match"], TypeError, "list of dicts"),
        (7, ["answer"], ["exact_match"], TypeError, "DataFrame, not int"),
        ([{"inputs": 3}], ["answer"], ["exact_match"], TypeError, "inputs must be a dict"),
    ]
    for dataset, targets, evaluators, kind, message in cases:
        with pytest.raises(kind, match=message):
            run_experiment(dataset, targets, evaluators, client=nowhere, progress=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        run_experiment(data(1, 1), ["answer"], ["valid_json"], client=nowhere, bogus=1)


def test_orq_datapoints_and_reference_columns(client: Client) -> None:
    rows = [
        {"inputs": {"q": "question 0"}, "expected_output": "system: A: question 0",
         "topic": "returns"},
        {"q": "question 1", "must": "question 1", "expected": "?"},
    ]  # fmt: skip
    result = run(client, rows, ["answer"], ["exact_match", Evaluator.contains(column="must")],
                 reference=["must"])  # fmt: skip

    assert result.rows[0].inputs == {"q": "question 0"}
    assert result.rows[0].reference == {"topic": "returns"}
    assert result.rows[1].inputs == {"q": "question 1"}  # `must` was not sent
    assert result.cell("answer", 0).scores["exact_match"].value is True
    assert result.cell("answer", 1).scores["contains[must]"].value is True


# -- interrupts ------------------------------------------------------------------------------------


def _interrupting_batches(monkeypatch: pytest.MonkeyPatch, *, job: int, row: int) -> list[str]:
    """Make batch number `job` (0-based) of the experiment be interrupted after `row` rows,
    the way run_batch's own interrupt works (its on_result raising KeyboardInterrupt)."""
    seen: list[str] = []
    real = batch_api.run_batch

    def run_batch(key: str, rows: Any, **kw: Any) -> Any:
        seen.append(key)
        if len(seen) - 1 == job:

            def on_result(r: Any) -> None:
                if r.index == row:
                    raise KeyboardInterrupt

            kw["on_result"] = on_result
            kw["concurrency"] = 1
        return real(key, rows, **kw)

    monkeypatch.setattr(_run, "run_batch", run_batch)
    return seen


def test_an_interrupt_keeps_every_finished_answer_and_score(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _interrupting_batches(monkeypatch, job=0, row=2)
    result = run(client, data(20, 20), ["slow", "answer"], ["exact_match", "judge:judge-json"])

    assert result.interrupted
    assert seen == ["slow"]  # nothing ran after the interrupt
    assert result.counts("slow") == {"ok": 3, "failed": 0, "stopped": 17}
    assert [result.cell("slow", i).scores["exact_match"].value for i in range(3)] == [True] * 3
    assert result.counts("answer") == {"ok": 0, "failed": 0, "stopped": 20}
    assert "stopped" in (result.cell("answer", 0).error or "")
    assert "interrupted" in repr(result)


def test_an_interrupt_during_a_judge_keeps_the_answers(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _interrupting_batches(monkeypatch, job=1, row=1)
    result = run(client, data(6, 6), ["answer", "answer-v2"], ["exact_match", "judge:judge-json"])

    assert seen == ["answer", "judge-json"]
    assert result.interrupted and result.counts("answer")["ok"] == 6
    judged = [result.cell("answer", i).scores["judge[judge-json]"] for i in range(6)]
    assert [s.value for s in judged[:2]] == [4.0, 4.0]
    assert all(s.error and "stopped" in s.error for s in judged[2:])
    assert all(c.scores["exact_match"].value is True for c in result.cells_of("answer"))


def test_ctrl_c_between_batches_returns_what_finished(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_api.run_batch
    calls: list[str] = []

    def run_batch(key: str, rows: Any, **kw: Any) -> Any:
        calls.append(key)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(key, rows, **kw)

    monkeypatch.setattr(_run, "run_batch", run_batch)
    result = run(client, data(3, 3), ["answer", "answer-v2"], ["exact_match"])

    assert result.interrupted
    assert result.counts("answer")["ok"] == 3 and result.counts("answer-v2")["stopped"] == 3


def test_a_real_ctrl_c_in_the_waiting_thread(client: Client) -> None:
    # As in a kernel: the experiment runs inside a running loop (so each batch runs in a
    # worker thread), and SIGINT raises KeyboardInterrupt in the main, waiting thread.
    async def cell() -> ExperimentResult:
        timer = threading.Timer(0.3, _thread.interrupt_main)
        timer.start()
        try:
            return run(client, data(400, 400), ["slow", "answer"], ["exact_match"],
                       concurrency=2)  # fmt: skip
        finally:
            timer.cancel()

    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(cell())
    finally:
        loop.close()

    assert result.interrupted
    assert result.counts("slow")["stopped"] > 0
    assert result.counts("answer")["stopped"] == 400
    assert all(c.scores["exact_match"].value is True for c in result.cells_of("slow") if c.ok)


def test_cancelling_arun_experiment_returns_the_partial_result(server: LocalServer) -> None:
    async def main() -> tuple[ExperimentResult, bool]:
        async with AsyncClient(base_url=server.base_url, api_key="test") as aclient:
            task = asyncio.create_task(arun_experiment(
                data(400, 400), ["slow", "answer"], ["exact_match"], client=aclient,
                concurrency=2, progress=False,
            ))  # fmt: skip
            await asyncio.sleep(0.3)
            task.cancel()
            result = await task
            return result, task.cancelled()

    result, cancelled = asyncio.run(main())
    assert not cancelled and result.interrupted
    assert result.counts("answer")["stopped"] == 400


def test_arun_experiment_with_an_async_client(server: LocalServer) -> None:
    async def main() -> ExperimentResult:
        async with AsyncClient(base_url=server.base_url, api_key="test") as aclient:
            return await arun_experiment(
                data(4, 2), ["answer"], ["exact_match", "judge:judge-json"], client=aclient,
                progress=False,
            )  # fmt: skip

    result = asyncio.run(main())
    assert result.summarize("answer", "exact_match").interval == wilson_interval(2, 4)
    assert result.summarize("answer", "judge[judge-json]").interval == mean_interval([4.0] * 4)


# -- tables, files, display, comparisons -----------------------------------------------------------


def test_tables_long_wide_and_summary(client: Client) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(data(3, 2), index=["a", "b", "c"])
    result = run(client, frame, ["answer", "answer-v2"], ["exact_match", "valid_json"])

    long = result.to_pandas()
    assert len(long) == 3 * 2 * 2
    assert list(long.columns[:4]) == ["row", "target", "evaluator", "value"]
    wide = result.to_pandas("wide")
    assert list(wide.index) == ["a", "b", "c"]
    assert list(wide[("answer", "exact_match")]) == [True, True, False]
    assert wide[("input", "q")].tolist() == ["question 0", "question 1", "question 2"]
    summary = result.to_pandas("summary")
    assert len(summary) == 4
    assert summary.loc[0, "estimate"] == pytest.approx(2 / 3)


def test_save_and_load_round_trip_and_pandas_reads_the_file(client: Client, tmp_path: Path) -> None:
    result = run(client, data(4, 3), ["answer", ("answer", {"environments": "production"})],
                 ["exact_match", "judge:judge-json"])  # fmt: skip
    path = result.save(tmp_path / "run.jsonl")

    loaded = ExperimentResult.load(path)
    assert loaded.summary() == result.summary()
    assert [c.to_dict() for c in loaded] == [c.to_dict() for c in result]
    assert loaded.targets == result.targets and loaded.rows == result.rows
    pd = pytest.importorskip("pandas")
    frame = pd.read_json(path, lines=True)
    assert list(frame["record"]) == ["experiment"] + ["cell"] * 8
    bad = tmp_path / "other.jsonl"
    bad.write_text(json.dumps({"a": 1}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an experiment"):
        ExperimentResult.load(bad)


def test_the_display_has_figures_a_picture_and_the_rows(client: Client) -> None:
    result = run(client, data(12, 6), ["answer", "answer-v2"], ["exact_match"])
    bundle = result._repr_mimebundle_()

    text = bundle["text/plain"]
    assert text.startswith("Experiment: 12 rows × 2 targets × 1 evaluators")
    assert "50% [25%, 75%]" in text and "0% [0%, 24%]" in text
    assert "… 2 more rows" in text
    html = bundle["text/html"]
    assert '<img src="data:image/png;base64,' in html
    assert "orq-notebook[plot]" not in html


def test_without_matplotlib_the_display_is_tables_and_a_hint(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(client, data(2, 1), ["answer"], ["exact_match"])
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # the import now fails

    html = result._repr_mimebundle_()["text/html"]
    assert "<img" not in html
    assert "pip install &#x27;orq-notebook[plot]&#x27;" in html
    assert "50% [" in html


def test_comparing_runs_and_targets(client: Client) -> None:
    before = run(client, data(10, 10), ["answer"], ["exact_match"])
    after = run(client, data(10, 10), [{"name": "answer", "key": "answer-v2"}], ["exact_match"])

    comparison = after.compare(before)
    change = comparison.change("exact_match")
    assert change.worse == list(range(10)) and change.better == []
    assert change.p_value == pytest.approx(2 / 2**10)  # exact McNemar, 10 rows vs 0
    assert change.verdict == "worse" and comparison.regressions == [change]
    same = before.compare(before).change("exact_match")
    assert same.verdict == "no clear difference" and same.p_value == 1.0
    within = run(client, data(10, 10), ["answer", "answer-v2"], ["exact_match"])
    between = within.compare("answer", "answer-v2").change("exact_match")
    assert between.worse == list(range(10))
    assert "worse" in comparison._repr_mimebundle_()["text/plain"]
    shuffled = run(client, data(10, 10)[::-1], ["answer"], ["exact_match"])
    with pytest.raises(ValueError, match="row 0 differs between the runs"):
        shuffled.compare(before)
    with pytest.raises(ValueError, match="the same dataset"):
        run(client, data(3, 3), ["answer"], ["exact_match"]).compare(before)


# -- a real kernel ---------------------------------------------------------------------------------

KERNEL_CELL = """
import sys
assert sys.prefix == {prefix!r}, sys.prefix
from orq_notebook import Client, run_experiment
from orq_notebook.local import LocalServer

server = LocalServer({path!r}).start()
client = Client(base_url=server.base_url, api_key="test")

print("starting", flush=True)
result = run_experiment([{{"q": f"question {{i}}"}} for i in range(300)], ["slow", "answer"],
                        ["contains:A:"], concurrency=2, client=client, progress=False)
result
"""


@pytest.mark.notebook
def test_a_kernel_interrupt_returns_the_partial_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

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
                if "starting" in content["text"]:
                    time.sleep(0.5)  # 300 rows x 20 ms at 2 in flight take about 3 s
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
    assert "(interrupted)" in results[0]
    assert "300 rows × 2 targets" in results[0]
    import re

    stopped = re.search(r"(\d+) stopped", results[0])
    assert stopped and int(stopped.group(1)) >= 300  # the second target never started
    assert not [kind for kind, _ in seen if kind == "error"]


def test_a_picture_that_fails_leaves_the_figures(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orq_notebook.experiments import _plot

    def broken(result: Any, **kw: Any) -> bytes:
        raise ValueError("no room")

    result = run(client, data(40, 40), ["answer"], ["exact_match"])
    assert "<img" in result._repr_mimebundle_()["text/html"]  # 40 of 40: bounds exactly 1
    monkeypatch.setattr(_plot, "plot_png", broken)
    html = result._repr_mimebundle_()["text/html"]
    assert "the picture could not be drawn: ValueError: no room" in html
    assert "100% [91%, 100%]" in html
