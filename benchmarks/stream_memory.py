"""Memory while streaming a 5 MB answer through `Client.deployments.stream`.

One local server (a child process, a JSON deployments file) streams a 5 MB answer in 10,000
chunks. `tracemalloc` traces the client process from just before the request to just after
`stream.text` is read; the peak is compared with the answer's size. After the loop, the live
`InvocationChunk` objects are counted (`gc.get_objects()`): a stream keeps its first and
final chunk and the text, never a list of chunks.

For contrast, the same answer read with `list(stream)` (every chunk kept, as a careless
caller would) shows what per-chunk retention costs.

Goals: peak <= 4x the answer; no chunk retained beyond the first and the final.

    .venv/bin/python benchmarks/stream_memory.py [--mb 5] [--chunks 10000] [--quick]
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from typing import Any

import _common as c

from orq_notebook import Client
from orq_notebook.client._models import InvocationChunk

FIELDS: dict[str, Any] = {"messages": [{"role": "user", "content": "Write a long report."}]}


def deployments_json(answer: str) -> str:
    """A JSON deployments file (pyyaml would take a while to read 5 MB)."""
    deployment = {
        "key": c.KEY,
        "prompt_config": {"provider": "openai", "model": "gpt-4o-mini", "model_type": "chat"},
        "responder": {"mock": answer},
    }
    return json.dumps({"deployments": [deployment]})


def live_chunks() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, InvocationChunk))


def stream_once(client: Client, expected: str, *, keep_all: bool) -> dict[str, float]:
    """Peak and held traced bytes while streaming one answer."""
    gc.collect()
    before = live_chunks()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    kept: list[InvocationChunk] = []
    with client.deployments.stream(c.KEY, **FIELDS) as stream:
        if keep_all:
            kept = list(stream)
        else:
            for chunk in stream:
                chunk.content  # noqa: B018 -- read each piece, as a caller does
            del chunk
        text = stream.text
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if text != expected:
        raise RuntimeError(f"unexpected answer ({len(text)} chars)")
    out = {
        "peak": peak - base,
        "held": current - base,
        "live_chunks": live_chunks() - before,
        "chunk_count": stream.chunk_count,
    }
    del kept, stream, text
    return out


def main(argv: list[str] | None = None) -> int:
    p = c.parser(__doc__)
    p.add_argument("--mb", type=float, default=5.0, help="answer size in MB (default 5)")
    p.add_argument("--chunks", type=int, default=10_000, help="chunks (default 10,000)")
    p.add_argument("--no-contrast", action="store_true", help="skip the list(stream) contrast")
    args = p.parse_args(argv)
    if args.quick:
        args.mb, args.chunks = 1.0, 2_000

    width = max(2, round(args.mb * 1_000_000 / args.chunks))
    answer = c.words(args.chunks, width=width)
    size = len(answer.encode())
    c.header(
        f"memory while streaming a {size / 1e6:.1f} MB answer in {args.chunks:,} chunks",
        "tracemalloc, one traced run after a warm-up",
    )
    with c.serve(deployments_json(answer), name="deployments.json") as base_url:
        client = Client(api_key="x", base_url=base_url, timeout=120)
        stream_once(client, answer, keep_all=False)  # warm up: imports, connection, caches
        ours = stream_once(client, answer, keep_all=False)
        contrast = None if args.no_contrast else stream_once(client, answer, keep_all=True)
        client.close()

    rows = [["reading", "peak MB", "peak / answer", "held after MB", "chunks alive"]]
    runs = [("for chunk in stream (ours)", ours)]
    if contrast is not None:
        runs.append(("list(stream): every chunk kept (contrast)", contrast))
    for name, r in runs:
        rows.append(
            [
                name,
                f"{r['peak'] / 1e6:.1f}",
                f"{r['peak'] / size:.2f}x",
                f"{r['held'] / 1e6:.1f}",
                f"{r['live_chunks']:.0f}",
            ]
        )
    c.table(rows)
    print(f"\nanswer: {size / 1e6:.2f} MB in {ours['chunk_count']:.0f} chunks")
    per_chunk = (ours["held"] - size) / ours["chunk_count"]
    print(f"held beyond the text, per chunk: {per_chunk:.1f} bytes")
    print()
    ratio = ours["peak"] / size
    out = [["goal", "measured", ""]]
    out.append(["peak <= 4x the answer", f"{ratio:.2f}x", c.verdict(ratio <= 4)])
    out.append(
        [
            "chunks kept: first and final only (<= 2)",
            f"{ours['live_chunks']:.0f}",
            c.verdict(ours["live_chunks"] <= 2),
        ]
    )
    c.table(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
