"""Interrupting a streamed `%%orq` cell in a real kernel (jupyter_client, this venv's python).

The deployment streams 300 words, 50 ms apart. Once the first words are on screen the kernel
gets a real interrupt (`km.interrupt_kernel()`: SIGINT to the kernel process). Then: the cell
ends with one UsageError line saying it was interrupted; the output keeps the words that came
(some, not all); the next cells run; `%orq last` is a partial Result; no request is left in
the client's connection pool and no thread was left behind.
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

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]
WORDS = [f"word{i}" for i in range(300)]
DEPLOYMENTS = f"""\
deployments:
  - key: slow
    description: 300 words, 50 ms apart
    prompt_config: {{provider: openai, model: gpt-4o-mini, messages: []}}
    responder: {{mock: "{" ".join(WORDS)}"}}
    stream_delay_ms: 50
"""
POOL = "get_ipython().magics_manager.registry['OrqMagics'].session.client._http._transport._pool"


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    (tmp_path / "slow.yaml").write_text(DEPLOYMENTS, encoding="utf-8")
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
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc: BlockingKernelClient, code: str, timeout: float = 30) -> tuple[dict[str, Any], str]:
    """Execute `code`; the reply's content and everything it printed."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    printed = ""
    for msg in _iopub_until_idle(kc, msg_id, timeout):
        if msg["msg_type"] == "stream":
            printed += msg["content"]["text"]
    return reply["content"], printed


def _iopub_until_idle(kc: BlockingKernelClient, msg_id: str, timeout: float) -> Iterator[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        yield msg
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return
    raise AssertionError(f"the kernel did not finish {msg_id} within {timeout} s")


@pytest.mark.timeout(120)
def test_an_interrupt_keeps_the_partial_answer_and_leaves_nothing_open(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    km, kc = kernel
    reply, printed = run(kc, "%load_ext orq_notebook\n%orq connect --local slow.yaml")
    assert reply["status"] == "ok", reply
    assert "local server" in printed
    _, threads_before = run(
        kc, "import threading; print(sorted(t.name for t in threading.enumerate()))"
    )

    msg_id = kc.execute("%%orq slow\nTell me everything.")
    shown: dict[str, str] = {}  # display id -> latest text/plain
    interrupted_at, stderr = None, ""
    for msg in _iopub_until_idle(kc, msg_id, 60):
        kind, content = msg["msg_type"], msg["content"]
        if kind in ("display_data", "update_display_data"):
            display_id = content.get("transient", {}).get("display_id", "")
            shown[display_id] = content["data"].get("text/plain", "")
            if interrupted_at is None and "word1" in shown[display_id]:
                km.interrupt_kernel()  # SIGINT, as the notebook's stop button sends
                interrupted_at = time.monotonic()
        elif kind == "stream" and content["name"] == "stderr":
            stderr += content["text"]  # IPython shows a UsageError as one stderr line
    reply = kc.get_shell_msg(timeout=10)["content"]

    assert interrupted_at is not None, "no streamed output arrived to interrupt"
    assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
    assert "Stopped after" in reply["evalue"] and "\n" not in reply["evalue"].strip(), reply
    assert f"UsageError: {reply['evalue']}" in stderr and "Traceback" not in stderr, stderr
    final = list(shown.values())[-1]
    # One message: the output keeps the text and says "stopped"; only the error line explains.
    assert "⚠ stopped" in final and "Stopped after" not in final and "`" not in final, final
    kept = [w for w in WORDS if f"{w} " in final + " " or final.rstrip().endswith(w)]
    assert 0 < len(kept) < len(WORDS), f"{len(kept)} words in the output: {final[:200]!r}"
    assert WORDS[-1] not in final
    print(f"\ninterrupt: {len(kept)} of {len(WORDS)} words kept in the output; {reply['evalue']}")

    # The next cells run: the partial result is there, and nothing is left open.
    reply, printed = run(
        kc,
        "r = get_ipython().run_line_magic('orq', 'last')\n"
        "print(type(r).__name__, r.partial, len(r.text.split()), r.text.split()[-1])",
    )
    assert reply["status"] == "ok", reply
    name, partial, count, last_word = printed.split()
    assert (name, partial) == ("Result", "True") and 0 < int(count) < len(WORDS)
    assert last_word in WORDS and int(count) >= len(kept) - 1

    reply, printed = run(
        kc,
        f"pool = {POOL}\n"
        "print(len(pool._requests), all(c.is_idle() or c.is_closed() for c in pool.connections))",
    )
    assert reply["status"] == "ok", reply
    assert printed.split() == ["0", "True"], printed

    reply, printed = run(kc, "%orq invoke slow --no-stream --mock 'all good'\nprint('next ok')")
    assert reply["status"] == "ok" and "next ok" in printed, reply
    _, threads_after = run(kc, "print(sorted(t.name for t in threading.enumerate()))")
    assert threads_after == threads_before, "a thread was left behind"
