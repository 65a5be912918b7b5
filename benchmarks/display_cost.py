"""The cost of showing a stream in a cell: `%%orq` against a naive per-token display update.

Runs in an IPython `InteractiveShell` with `%load_ext orq_notebook`, streaming as in a
notebook (`OrqMagics.display_mode = 'notebook'`, one display handle, updates coalesced to
`update_interval` = 0.1 s). Its display publisher counts the messages a kernel would send and
pays a kernel's serialization cost for each (JSON + HMAC signature; see `_notebook.py`).
One local server (a child process) streams the same answer to every contender:

* `%%orq` (ours): `shell.run_cell_magic("orq", "bench", cell)`
* naive: `h = display(Markdown(""), display_id=True)`, then for every chunk of
  `client.deployments.stream(...)`: `text += chunk.content; h.update(Markdown(text))`
* bare stream: the same loop with no display at all, the floor both share

Kernel CPU per chunk is process CPU time (the server runs in another process) over the
chunks. What showing costs is a contender's CPU beyond the bare stream's; the whole cell's CPU
is printed too (its floor, the stream itself, is the same for both, so that ratio can never
exceed naive / bare). Part 1 streams as fast as the server can (CPU); part 2 paces the chunks
(`stream_delay_ms`) to check that ours sends at most one message per interval.

Goals: display CPU >= 10x less than naive; messages <= elapsed / interval + 2.

    .venv/bin/python benchmarks/display_cost.py [--chunks 2000] [--rounds 7] [--quick]
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import _common as c
import _notebook as nb
from IPython.display import Markdown, display

from orq_notebook import Client

CELL = "Tell me a long story."
INTERVAL = 0.1
FIELDS: dict[str, Any] = {
    # What `%%orq bench` sends for this cell (include_usage is on by default in the magic).
    "messages": [{"role": "user", "content": CELL}],
    "invoke_options": {"include_usage": True},
}
OURS, NAIVE, BARE = "%%orq (ours)", "naive per-token update", "bare stream, no display"


def measure(
    run: Callable[[], str], publisher: nb.CountingPublisher, chunks: int, expected: str
) -> Callable[[], dict[str, float]]:
    def once() -> dict[str, float]:
        publisher.reset()
        wall, cpu = time.perf_counter(), time.process_time()
        text = run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if text != expected:
            raise RuntimeError(f"a contender got a different answer ({len(text)} chars)")
        return {
            "cpu_per_chunk": cpu / chunks,
            "wall": wall,
            "messages": publisher.messages,
            "bytes": publisher.bytes,
        }

    return once


def contenders(shell: Any, client: Client, key: str) -> dict[str, Callable[[], str]]:
    def ours() -> str:
        result = nb.run_cell_magic(shell, key, CELL)
        return str(result.text)

    def naive() -> str:
        handle = display(Markdown(""), display_id=True)
        text = ""
        with client.deployments.stream(key, **FIELDS) as stream:
            for chunk in stream:
                text += chunk.content
                handle.update(Markdown(text))
        return text

    def bare() -> str:
        text = ""
        with client.deployments.stream(key, **FIELDS) as stream:
            for chunk in stream:
                text += chunk.content
        return text

    return {OURS: ours, NAIVE: naive, BARE: bare}


def main(argv: list[str] | None = None) -> int:
    p = c.parser(__doc__)
    p.add_argument("--chunks", type=int, default=2000, help="chunks per answer (2000)")
    p.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    p.add_argument("--paced-chunks", type=int, default=400, help="chunks of the paced answer")
    p.add_argument("--delay-ms", type=float, default=5.0, help="pause between paced chunks")
    args = p.parse_args(argv)
    if args.quick:
        args.chunks, args.rounds, args.paced_chunks = 300, 2, 60

    answer, paced = c.words(args.chunks), c.words(args.paced_chunks)
    deployments = c.deployments_yaml(
        c.entry(answer, key="bench"),
        c.entry(paced, key="paced", stream_delay_ms=args.delay_ms),
    )
    c.header(f"showing a stream in a cell: {args.chunks:,} chunks, update interval {INTERVAL} s")
    with c.serve(deployments) as base_url:
        shell, publisher = nb.shell_with_orq(base_url, interval=INTERVAL)
        client = Client(api_key="x", base_url=base_url)
        runs = contenders(shell, client, "bench")
        for run in runs.values():  # warm up (connections, imports, first-use caches)
            run()
        results = c.rounds(
            {name: measure(run, publisher, args.chunks, answer) for name, run in runs.items()},
            args.rounds,
        )
        paced_runs = contenders(shell, client, "paced")
        pacing = {
            name: measure(paced_runs[name], publisher, args.paced_chunks, paced)()
            for name in (OURS, NAIVE)
        }
        client.close()

    def med(name: str, field: str) -> float:
        return c.median([r[field] for r in results[name]])

    print(f"\n1. as fast as the server streams ({args.chunks:,} chunks, medians):")
    rows = [["contender", "kernel CPU us/chunk", "display messages", "bytes sent", "wall s"]]
    for name in results:
        rows.append(
            [
                name,
                f"{med(name, 'cpu_per_chunk') * 1e6:.1f}",
                f"{med(name, 'messages'):.0f}",
                f"{med(name, 'bytes'):,.0f}",
                f"{med(name, 'wall'):.3f}",
            ]
        )
    c.table(rows)

    cpu = {name: [r["cpu_per_chunk"] for r in results[name]] for name in results}
    whole = c.paired(cpu[NAIVE], cpu[OURS])
    # What showing costs: each contender's CPU beyond the bare stream's (same chunks, same
    # decoding), per chunk. Ours includes its final rich display, the Result and the history.
    display_ours = med(OURS, "cpu_per_chunk") - med(BARE, "cpu_per_chunk")
    display_naive = med(NAIVE, "cpu_per_chunk") - med(BARE, "cpu_per_chunk")

    print(f"\n2. paced: {args.paced_chunks} chunks, {args.delay_ms:g} ms apart:")
    rows = [["contender", "display messages", "wall s", "bound: wall / interval + 2"]]
    bound_ok = True
    for name, r in pacing.items():
        bound = math.ceil(r["wall"] / INTERVAL) + 2
        rows.append([name, f"{r['messages']:.0f}", f"{r['wall']:.2f}", str(bound)])
        if name == OURS:
            bound_ok = r["messages"] <= bound
    c.table(rows)

    print()
    out = [["comparison", "measured", "goal", ""]]
    if display_ours > 0:
        ratio = display_naive / display_ours
        out.append(
            [
                "display CPU per chunk (beyond the bare stream), naive / ours",
                f"{ratio:.0f}x",
                ">= 10x",
                c.verdict(ratio >= 10),
            ]
        )
    else:
        out.append(["display CPU per chunk, naive / ours", "ours ~0 (noise)", ">= 10x", "PASS"])
    out.append(
        [
            "whole-cell kernel CPU per chunk, naive / ours",
            f"{whole:.1f}x",
            f"(info; at most {med(NAIVE, 'cpu_per_chunk') / med(BARE, 'cpu_per_chunk'):.1f}x)",
            "",
        ]
    )
    out.append(
        [
            "display messages, naive / ours",
            f"{med(NAIVE, 'messages') / med(OURS, 'messages'):.0f}x",
            "(info)",
            "",
        ]
    )
    out.append(
        [
            "paced: ours' messages within the rate bound",
            f"{pacing[OURS]['messages']:.0f}",
            "<= bound",
            c.verdict(bound_ok),
        ]
    )
    c.table(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
