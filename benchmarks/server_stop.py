"""Ctrl+C to exit: how long `orq-notebook serve` takes to stop, next to stock uvicorn.

Both serve the same app (`orq_notebook.local.create_app`) over the same deployments file in a
child process; the child gets SIGINT (what Ctrl+C sends) and the time until it has exited is
measured, in three situations: idle; after an answer on a kept-alive connection; and while a
client reads a stream that has seconds left to run. Stock uvicorn (`uvicorn.run`, its own
signal handling, `timeout_graceful_shutdown=2` as the server had before) is the reference:
the ratio is ours / uvicorn's. The contenders take turns; medians of the rounds.

Goal: prompt, and quiet. With a stream in flight, at most 0.5x the reference's time (the
stream is cut after `orq-notebook serve`'s 0.25 s grace instead of being waited for); idle or
after a request, no slower than the reference; never a traceback on stderr.

With `--baseline DIR` the reference is `orq-notebook serve` from another checkout instead
(for a before/after: `git archive OLD orq_notebook | tar -x -C DIR`).

    .venv/bin/python benchmarks/server_stop.py [--rounds 5] [--baseline DIR] [--quick]
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common as c
import httpx

_UVICORN = """\
import sys, uvicorn
from orq_notebook.local import DeploymentStore, create_app
app = create_app(DeploymentStore.from_file(sys.argv[1]))
config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                        timeout_graceful_shutdown=2)
server = uvicorn.Server(config)
import socket
sock = socket.socket(); sock.bind(("127.0.0.1", 0))
print(f"Base URL: http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
print("Ctrl+C", flush=True)
server.run(sockets=[sock])
"""

SITUATIONS = ("idle", "keep-alive", "streaming")


def _start(kind: str, path: Path) -> tuple[subprocess.Popen[str], str]:
    serve = [sys.executable, "-m", "orq_notebook", "serve", str(path), "--port", "0"]
    where = c.ROOT
    if kind == "uvicorn.run":
        command = [sys.executable, "-c", _UVICORN, str(path)]
    else:
        command = serve
        if kind.startswith("baseline "):  # `-m` imports from the working directory first
            where = Path(kind.removeprefix("baseline "))
    process = subprocess.Popen(
        command, cwd=where, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    url = ""
    for line in process.stdout:
        if line.startswith("Base URL: "):
            url = line.split()[-1]
        if "Ctrl+C" in line:
            break
    return process, url


def _one(kind: str, situation: str, path: Path) -> tuple[float, bool]:
    """Seconds from SIGINT to exit, and whether stderr held a traceback."""
    process, url = _start(kind, path)
    client = httpx.Client(base_url=url, timeout=30)
    if situation == "keep-alive":
        client.post("/v2/deployments/invoke", json={"key": c.KEY})
    elif situation == "streaming":
        reading = threading.Event()

        def read() -> None:
            try:
                with client.stream("POST", "/v2/deployments/stream", json={"key": "slow"}) as r:
                    for _ in r.iter_bytes():
                        reading.set()
            except httpx.HTTPError:
                pass

        threading.Thread(target=read, daemon=True).start()
        reading.wait(10)
    time.sleep(0.2)
    started = time.perf_counter()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed, "Traceback" in stderr


def main(argv: list[str] | None = None) -> int:
    p = c.parser(__doc__)
    p.add_argument("--rounds", type=int, default=5, help="rounds per situation (default 5)")
    p.add_argument(
        "--baseline",
        metavar="DIR",
        type=Path,
        help="compare with `orq-notebook serve` from the orq_notebook package in DIR",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.rounds = 1
    text = c.deployments_yaml(c.entry("ok"), c.entry(c.words(60), key="slow", stream_delay_ms=100))
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "deployments.yaml"
        path.write_text(text, encoding="utf-8")
        reference = f"baseline {args.baseline.resolve()}" if args.baseline else "uvicorn.run"
        c.header(f"SIGINT -> process exit, `orq-notebook serve` vs {reference}", "medians")
        contenders = ("orq-notebook serve", reference)
        rows = [["situation", *(f"{k} (s)" for k in contenders), "ratio", "tracebacks", "verdict"]]
        for situation in SITUATIONS:
            times: dict[str, list[float]] = {k: [] for k in contenders}
            tracebacks = dict.fromkeys(contenders, 0)
            for n in range(args.rounds):
                for kind in contenders[n % 2 :] + contenders[: n % 2]:
                    elapsed, traceback = _one(kind, situation, path)
                    times[kind].append(elapsed)
                    tracebacks[kind] += traceback
            ours, theirs = (c.median(times[k]) for k in contenders)
            goal = 0.5 if situation == "streaming" else 1.0
            ok = ours / theirs <= goal and tracebacks[contenders[0]] == 0
            rows.append(
                [
                    situation,
                    f"{ours:.3f} {c.spread(times[contenders[0]])}",
                    f"{theirs:.3f} {c.spread(times[contenders[1]])}",
                    f"{ours / theirs:.2f}x",
                    " / ".join(f"{tracebacks[k]}/{args.rounds}" for k in contenders),
                    f"{c.verdict(ok)} (<= {goal:g}x, no traceback)",
                ]
            )
        c.table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
