"""Widgets made during Run All (issue 16, point 11), in a real kernel driven by jupyter_client.

A Playground cell is followed at once by a cell that keeps the kernel busy for four seconds,
as Run All does. The widget first says it is loading (not an empty dropdown), and fills its
dropdown and form while the next cell is still running: its work runs on the widgets' own
event loop, not in the gaps between cells.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = """\
deployments:
  - key: support
    variables: {company: Acme}
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      messages: [{role: system, content: "You answer for {{company}} about {{topic}}."}]
    responder: echo
"""


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[BlockingKernelClient]:
    (tmp_path / "d.yaml").write_text(DEPLOYMENTS, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.getenv("PYTHONPATH")])),
    }
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _until_idle(kc: BlockingKernelClient, msg_id: str, timeout: float = 30) -> list[Any]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        seen.append(msg)
        done = msg["parent_header"].get("msg_id") == msg_id
        if done and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return seen
    raise AssertionError("the kernel did not finish")


def test_a_playground_loads_while_the_next_cell_still_runs(kernel: BlockingKernelClient) -> None:
    setup = kernel.execute("%load_ext orq_notebook\n%orq connect --local d.yaml")
    _until_idle(kernel, setup)
    make = kernel.execute("from orq_notebook import Playground\npg = Playground('support')\npg")
    busy = kernel.execute("import time\ntime.sleep(4)")
    messages = _until_idle(kernel, make) + _until_idle(kernel, busy)

    states: dict[str, dict[str, Any]] = {}
    first_status: list[str] = []
    filled_while_busy = False
    busy_started = False
    for msg in messages:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status" and msg["parent_header"].get("msg_id") == busy:
            busy_started = busy_started or content["execution_state"] == "busy"
        if kind not in ("comm_open", "comm_msg"):
            continue
        state = content.get("data", {}).get("state", {})
        model = states.setdefault(content["comm_id"], {})
        model.update(state)
        if model.get("_model_name") == "HTMLModel" and "Loading" in str(state.get("value", "")):
            first_status.append(state["value"])
        if busy_started and state.get("_options_labels") == ["support"]:
            filled_while_busy = True  # the dropdown got its options during time.sleep(4)
    assert first_status, "the widget never said it was loading"
    assert filled_while_busy, "the dropdown was filled only after the next cell"
    placeholders = {m.get("description"): m.get("placeholder") for m in states.values()}
    assert placeholders.get("company") == "default: Acme"
    assert placeholders.get("topic") == "required (no default)"
