"""The new fault classes through `%%orq` in a real kernel (jupyter_client, this venv's python).

The fault server runs in the test process, on loopback; the kernel connects to it with
`%orq connect --url`. Each faulty cell must end within its budget with one `UsageError` line
(no traceback), a 204 must be said in one line, a healthy answer under odd headers or with
heartbeats must arrive whole, a rate-limited cell must say it is waiting; afterwards the next
cell works and the client's pool holds no busy connection.
"""

from __future__ import annotations

import time

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.faults import ANSWER, Fault, FaultServer
from tests.test_kernel_interrupt import POOL, kernel, run

pytestmark = pytest.mark.notebook
_ = kernel  # the fixture, imported for pytest

FAULTS = {
    "dribble": Fault("dribble", after=2),
    "dribble-head": Fault("dribble_head"),
    "gzip-lie": Fault("gzip_lie"),
    "bad-chunk": Fault("bad_chunk", after=2),
    "redirect-loop": Fault("redirect_loop"),
    "huge-error": Fault("status", statuses=(404,), body={"message": "Traceback\n" + "x" * 10**6}),
    "502-once": Fault("status", statuses=(502,), times=1),
    "no-content": Fault("no_content"),
    "odd-case": Fault("odd_case"),
    "heartbeats": Fault("heartbeats"),
    "429-twice": Fault("status", statuses=(429,), retry_after=0.2, times=2),
}
FAILING = ["dribble", "dribble-head", "gzip-lie", "bad-chunk", "redirect-loop", "huge-error",
           "502-once"]  # fmt: skip
BUDGET = 20.0


@pytest.mark.timeout(300)
def test_new_fault_classes_in_a_real_kernel(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _km, kc = kernel
    with FaultServer(FAULTS, lifetime=280) as server:
        reply, _ = run(
            kc,
            "%load_ext orq_notebook\n"
            "%config OrqMagics.timeout = 1.0\n"
            "%config OrqMagics.idle_timeout = 1.0\n"
            f"%orq connect --url {server.base_url}",
        )
        assert reply["status"] == "ok", reply
        handled: list[str] = []
        for key in FAILING:
            for header in (key, f"{key} --no-stream"):
                server.reset()
                started = time.monotonic()
                reply, printed = run(kc, f"%%orq {header}\nhi", timeout=BUDGET)
                seconds = time.monotonic() - started
                assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
                line = reply["evalue"]
                assert "\n" not in line.strip() and len(line) < 700, line
                assert "Traceback (most recent" not in printed, printed
                assert seconds < BUDGET
                handled.append(header)

        server.reset()
        reply, printed = run(kc, "%%orq no-content --no-stream\nhi")
        assert reply["status"] == "ok" and "204 No Content" in printed, (reply, printed)
        handled.append("no-content --no-stream")
        for key in ("odd-case", "heartbeats", "429-twice"):
            for header in (key, f"{key} --no-stream"):
                server.reset()
                reply, printed = run(kc, f"%%orq {header} -o r\nhi")
                assert reply["status"] == "ok", reply
                _, text = run(kc, "print('TEXT:', r.text)")
                assert f"TEXT: {ANSWER}" in text, text
                if key == "429-twice":
                    assert printed.count("rate limited, retrying in") == 2, printed
                handled.append(header)

        reply, printed = run(kc, "%%orq good --no-stream\nhi")
        assert reply["status"] == "ok", reply
        reply, printed = run(
            kc,
            f"pool = {POOL}\n"
            "print(len(pool._requests), all(c.is_idle() or c.is_closed() "
            "for c in pool.connections))",
        )
        assert printed.split() == ["0", "True"], printed
    print(f"\nreal kernel: {len(handled)} fault cells, each as expected: {', '.join(handled)}")
