"""Widgets clicked from other threads and event loops than the one that made them.

JupyterLab 4.4+ and Notebook 7 send widget messages over a kernel subshell (ipykernel 7), so
a click runs in another thread, on another event loop, than the cell that made the widget;
ipykernel 6 runs it on the main loop. Here the widgets are made on one loop (a cell's) and
clicked from threads that each run their own loop (subshells), against the real local server
through a notebook session's shared connection: the sequence of issue 16, which failed with
"... is bound to a different event loop" when runs used whichever loop delivered the click.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orq_notebook.display._result import Result
from orq_notebook.local import LocalServer
from orq_notebook.notebook._session import Session
from orq_notebook.widgets._compare import CompareWidget
from orq_notebook.widgets._playground import PlaygroundWidget

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def session(local_server: LocalServer) -> Iterator[Session]:
    session = Session()
    session.connect(url=local_server.base_url)
    yield session
    session.close()


def click_from_another_loop(action: Callable[[], Any]) -> None:
    """Call `action` in a new thread that runs its own event loop, as a subshell does."""
    failures: list[BaseException] = []

    async def in_loop() -> None:
        action()
        await asyncio.sleep(0)

    def target() -> None:
        try:
            asyncio.run(in_loop())
        except BaseException as exc:  # handed back to the test
            failures.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and not failures, failures


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_playground_then_compare_from_different_loops_share_one_connection(
    session: Session,
) -> None:
    made: dict[str, Any] = {}

    async def cell() -> None:  # the cell that makes the widgets, on the kernel's loop
        backend = session.backend()
        made["pg"] = PlaygroundWidget(backend, key="counter", interval=0.01)
        made["cmp"] = CompareWidget(backend, ["support-answer", "fixed"], message="Hi")
        await made["pg"].wait()

    asyncio.run(cell())
    pg: PlaygroundWidget = made["pg"]
    cmp: CompareWidget = made["cmp"]

    # Run, then Stop once a few words are in: clicks from a subshell's thread and loop.
    click_from_another_loop(pg.run_button.click)
    wait_for(lambda: len(pg.output.text.split()) >= 3)
    click_from_another_loop(pg.stop_button.click)
    wait_for(lambda: pg.result is not None and not pg.run_button.disabled)
    stopped = pg.result
    assert isinstance(stopped, Result) and stopped.status == "stopped", stopped
    assert 3 <= len(stopped.text.split()) < 20

    # Another deployment, with a variable left open, run from yet another loop.
    click_from_another_loop(lambda: setattr(pg.deployment, "value", "ask"))
    wait_for(lambda: "question" in pg.fields)
    click_from_another_loop(pg.run_button.click)
    wait_for(lambda: len(pg.history) == 2 and not pg.run_button.disabled)
    assert pg.history[-1][2].status in ("ok", "failed")  # 422 on a strict server

    # The Compare, made in the first cell, run from a fourth loop: both columns answer.
    click_from_another_loop(cmp.run_button.click)
    wait_for(lambda: len(cmp.results) == 2, timeout=30)
    for item in cmp.results:
        assert isinstance(item, Result) and item.status == "ok", item
    assert "different event loop" not in cmp.summary.value
    assert "You can return items within 30 days." in cmp.columns[1].pane.text


def test_wait_and_run_work_from_any_loop_and_from_none(session: Session) -> None:
    pg = PlaygroundWidget(session.backend(), key="fixed", interval=0)  # no loop here at all
    job = pg.run()
    result = job.result(timeout=20)  # a plain thread blocks on the job
    assert isinstance(result, Result) and result.text == "You can return items within 30 days."
    assert result.version == "v1"  # the deployment's, as the widget looked it up

    async def from_a_cell() -> Result | None:
        pg.run()
        return await pg.wait()  # an `await` in a cell, on the cell's loop

    again = asyncio.run(from_a_cell())
    assert again is not None and again.status == "ok" and len(pg.history) == 2


def test_a_rate_limited_run_says_its_wait_in_the_pane(tmp_path: Any) -> None:
    # The local server answers the first call with 429 and `Retry-After: 0.5`; the client
    # waits, then retries. The wait is shown in the pane, then replaced by the answer.
    path = tmp_path / "deployments.yaml"
    path.write_text(
        "deployments:\n"
        "  - key: busy\n"
        "    prompt_config: {model: gpt-4o-mini}\n"
        "    responder: {mock: Fine now.}\n"
        "    faults: {status: 429, times: 1, retry_after: 0.5}\n",
        encoding="utf-8",
    )
    shown: list[str] = []
    with LocalServer(path) as server:
        session = Session()
        session.connect(url=server.base_url)
        try:

            async def cell() -> Result | None:
                pg = PlaygroundWidget(session.backend(), key="busy", interval=0.01)
                await pg.wait()
                pg.output.widget.observe(
                    lambda change: shown.append(repr(change["new"])), names="outputs"
                )
                await pg.run()
                return pg.result

            result = asyncio.run(cell())
        finally:
            session.close()
    assert result is not None and result.text == "Fine now."
    waits = [s for s in shown if "rate limited, retrying in" in s]
    assert waits and "500 ms" in waits[0], shown  # said while waiting, in the one format
    assert "rate limited" not in shown[-1]  # the answer took its place
