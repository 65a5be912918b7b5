"""Streaming throughput of `Client.deployments.stream`, side by side with raw httpx + httpx-sse
and the official SDK's stream.

One local server (a child process) streams the same 10,000-chunk answer (`mock` responder, no
delay between chunks) to every contender, which reads every chunk's text and joins them:

* raw: `httpx.Client.stream("POST", ...)` + `httpx_sse.EventSource(...).iter_sse()` +
  `json.loads(event.data)["choices"][0]["message"]["content"]`, stopping at `[DONE]`
* ours: `with client.deployments.stream(key, **fields) as s: for chunk in s: chunk.content`
* orq-ai-sdk: `with orq.deployments.stream(key=key, **fields) as es: for ev in es: ...`
  (slow: it runs in every `--sdk-every`th round only)

Reported per contender: chunks per second (wall) and the client's CPU time per chunk (process
time; the server's CPU is in the other process). Wall throughput is what users feel, and it
is partly bounded by the server; CPU per chunk is the client's own cost, the figure that
decides throughput once the client is the slower side.

Goal: ours >= 0.9x raw (chunks/s).

    .venv/bin/python benchmarks/stream_throughput.py [--chunks 10000] [--rounds 12] [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import _common as c
import httpx
from httpx_sse import EventSource

from orq_notebook import Client
from orq_notebook.client._models import InvokeRequest

FIELDS: dict[str, Any] = {
    "inputs": {"company": "Acme"},
    "messages": [{"role": "user", "content": "Tell me a long story."}],
}
RAW, OURS, SDK = "raw httpx + httpx-sse", "Client.stream (ours)", "orq-ai-sdk stream"


def timed(read: Callable[[], tuple[int, str]], expected: str) -> Callable[[], tuple[float, float]]:
    """One streamed answer: (chunks per second, client CPU seconds per chunk)."""

    def run() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        count, text = read()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if text != expected:
            raise RuntimeError(f"a contender got a different answer ({len(text)} chars)")
        return count / wall, cpu / count

    return run


def main(argv: list[str] | None = None) -> int:
    p = c.parser(__doc__)
    p.add_argument("--chunks", type=int, default=10_000, help="chunks per answer (10,000)")
    p.add_argument("--rounds", type=int, default=12, help="rounds (default 12)")
    p.add_argument("--sdk-every", type=int, default=4, help="the SDK runs every Nth round (4)")
    p.add_argument("--no-sdk", action="store_true", help="leave the official SDK out")
    args = p.parse_args(argv)
    if args.quick:
        args.chunks, args.rounds, args.sdk_every = 1_000, 2, 2

    answer = c.words(args.chunks)
    c.header(f"streaming throughput, {args.chunks:,}-chunk answer, zero-delay local server")
    with c.serve(c.deployments_yaml(c.entry(answer))) as base_url:
        url = base_url + "/v2/deployments/stream"
        body = InvokeRequest(key=c.KEY, stream=True, **FIELDS).to_wire()
        headers = {"Authorization": "Bearer x", "Accept": "text/event-stream"}
        raw = httpx.Client(timeout=60)
        ours = Client(api_key="x", base_url=base_url, timeout=60)

        def read_raw() -> tuple[int, str]:
            count, pieces = 0, []
            with raw.stream("POST", url, json=body, headers=headers) as response:
                response.raise_for_status()
                for event in EventSource(response).iter_sse():
                    if event.data == "[DONE]":
                        break
                    pieces.append(json.loads(event.data)["choices"][0]["message"]["content"])
                    count += 1
            return count, "".join(pieces)

        def read_ours() -> tuple[int, str]:
            count, pieces = 0, []
            with ours.deployments.stream(c.KEY, **FIELDS) as stream:
                for chunk in stream:
                    pieces.append(chunk.content)
                    count += 1
            return count, "".join(pieces)

        readers: dict[str, Callable[[], tuple[int, str]]] = {RAW: read_raw, OURS: read_ours}
        if not args.no_sdk:
            from orq_ai_sdk import Orq

            sdk = Orq(api_key="x", server_url=base_url)

            def read_sdk() -> tuple[int, str]:
                count, pieces = 0, []
                with sdk.deployments.stream(key=c.KEY, **FIELDS) as events:
                    for event in events:
                        if event.data is None:
                            continue
                        pieces.append(event.data.choices[0].message.content or "")
                        count += 1
                return count, "".join(pieces)

            readers[SDK] = read_sdk

        for read in readers.values():  # warm up; checks every contender reads the answer
            timed(read, answer)()
        results = c.rounds(
            {name: timed(read, answer) for name, read in readers.items()},
            args.rounds,
            every={SDK: args.sdk_every},
        )
        raw.close()
        ours.close()

    rate = {name: [r[0] for r in values] for name, values in results.items()}
    cpu = {name: [r[1] for r in values] for name, values in results.items()}
    rows = [["contender", "chunks/s", "range", "client CPU us/chunk", "runs"]]
    for name in results:
        rows.append(
            [
                name,
                f"{c.median(rate[name]):,.0f}",
                c.spread(rate[name]),
                f"{c.median(cpu[name]) * 1e6:.1f}",
                str(len(rate[name])),
            ]
        )
    c.table(rows)
    print()
    ratio = c.paired(rate[OURS], rate[RAW])
    out = [["comparison", "chunks/s ratio", "CPU-per-chunk ratio", "goal", ""]]
    out.append(
        [
            "ours / raw",
            f"{ratio:.3f}x",
            f"{c.paired(cpu[OURS], cpu[RAW]):.3f}x",
            ">= 0.9x",
            c.verdict(ratio >= 0.9),
        ]
    )
    if SDK in rate:
        out.append(
            [
                "ours / orq-ai-sdk",
                f"{c.median(rate[OURS]) / c.median(rate[SDK]):.1f}x",
                f"{c.median(cpu[OURS]) / c.median(cpu[SDK]):.3f}x",
                "(faster)",
                c.verdict(c.median(rate[OURS]) > c.median(rate[SDK])),
            ]
        )
    c.table(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
