"""Time from the first SSE byte to the first display update of `%%orq`.

Runs `%%orq` in an IPython `InteractiveShell` streaming as in a notebook (see
`display_cost.py`), against one local server in a child process. The first body bytes of the
HTTP response are timed by wrapping `httpx.HTTPTransport` (the code under test is unchanged);
the first display message is timed by the shell's display publisher; both on
`time.monotonic`. The rest of the answer follows `--delay-ms` apart, as a model's would, so
the first update cannot hide behind the end of the stream.

Goal: the first update within one update interval (0.1 s) of the first byte.

    .venv/bin/python benchmarks/first_update.py [--runs 30] [--quick]
"""

from __future__ import annotations

import sys
import time

import _common as c
import _notebook as nb

INTERVAL = 0.1


def main(argv: list[str] | None = None) -> int:
    p = c.parser(__doc__)
    p.add_argument("--runs", type=int, default=30, help="invocations (default 30)")
    p.add_argument("--chunks", type=int, default=20, help="chunks per answer (20)")
    p.add_argument("--delay-ms", type=float, default=20.0, help="pause between chunks (20)")
    args = p.parse_args(argv)
    if args.quick:
        args.runs = 3

    answer = c.words(args.chunks)
    c.header(
        "first SSE byte -> first display update, %%orq in an IPython shell",
        f"{args.runs} invocations after a warm-up",
    )
    latencies, sends = [], []
    with c.serve(c.deployments_yaml(c.entry(answer, stream_delay_ms=args.delay_ms))) as url:
        shell, publisher = nb.shell_with_orq(url, interval=INTERVAL)
        first_byte = nb.FirstByte(clock=time.monotonic)
        publisher.clock = time.monotonic
        with first_byte.installed():
            for n in range(args.runs + 1):
                publisher.reset()
                first_byte.at = None
                sent = time.monotonic()
                result = nb.run_cell_magic(shell, c.KEY, "Hello")
                if result.text != answer:
                    print("unexpected answer", file=sys.stderr)
                    return 1
                if first_byte.at is None or publisher.first_at is None:
                    print("no byte or no display was seen", file=sys.stderr)
                    return 1
                if n == 0:
                    continue  # warm-up: first request, first display
                latencies.append(publisher.first_at - first_byte.at)
                sends.append(first_byte.at - sent)

    ms = [x * 1000 for x in latencies]
    rows = [["measure", "median ms", "max ms", "runs"]]
    rows.append(
        [
            "first byte -> first display update",
            f"{c.median(ms):.2f}",
            f"{max(ms):.2f}",
            str(len(ms)),
        ]
    )
    rows.append(
        [
            "(context) cell start -> first byte",
            f"{c.median(sends) * 1000:.2f}",
            f"{max(sends) * 1000:.2f}",
            str(len(sends)),
        ]
    )
    c.table(rows)
    print()
    worst = max(latencies)
    out = [["goal", "measured (max)", ""]]
    goal = f"< one update interval ({INTERVAL * 1000:.0f} ms)"
    out.append([goal, f"{worst * 1000:.2f} ms", c.verdict(worst < INTERVAL)])
    c.table(out)
    print(f"\nmedian is {c.median(latencies) / INTERVAL:.3f}x of the interval.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
