"""Per-call overhead of `Client.deployments.invoke`, side by side with raw httpx and the SDK.

One local server (a child process, `mock` responder, no delay) answers all three contenders,
which send the same body to the same deployment over a kept-alive connection:

* raw httpx: `httpx.Client.post(url, json=body)` then `response.json()` and the text
* ours: `Client(...).deployments.invoke(key, **fields).text`
* orq-ai-sdk: `Orq(...).deployments.invoke(key=key, **fields)` and its text

The contenders take turns in blocks of calls (the order rotates each round); each block gives
the mean wall time and the mean process CPU time per call (the server's CPU is in another
process, so this is the client's own work). Ratios are medians of the per-round ratios.

Goals: ours <= 1.15x raw httpx (wall); faster than the SDK.

    .venv/bin/python benchmarks/call_overhead.py [--rounds 20] [--calls 50] [--quick]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import _common as c
import httpx

from orq_notebook import Client
from orq_notebook.client._models import InvokeRequest

ANSWER = "A short fixed answer."
FIELDS: dict[str, Any] = {
    "inputs": {"company": "Acme"},
    "messages": [{"role": "user", "content": "What are your opening hours?"}],
}


def block(call: Callable[[], str], n: int) -> Callable[[], tuple[float, float]]:
    """A contender's turn: n calls; (wall s per call, CPU s per call)."""

    def run() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            call()
        return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n

    return run


def main(argv: list[str] | None = None) -> int:
    p = c.parser(__doc__)
    p.add_argument("--rounds", type=int, default=20, help="rounds (default 20)")
    p.add_argument("--calls", type=int, default=50, help="calls per block (default 50)")
    p.add_argument("--sdk-calls", type=int, default=10, help="SDK calls per block (default 10)")
    p.add_argument("--no-sdk", action="store_true", help="leave the official SDK out")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.calls, args.sdk_calls = 3, 10, 3

    c.header("per-call overhead of invoke, local server, zero-delay responder")
    with c.serve(c.deployments_yaml(c.entry(ANSWER))) as base_url:
        url = base_url + "/v2/deployments/invoke"
        # Exactly the body our client sends (the SDK sends the same fields).
        body = InvokeRequest(key=c.KEY, stream=False, **FIELDS).to_wire()
        headers = {"Authorization": "Bearer x"}
        raw = httpx.Client()
        ours = Client(api_key="x", base_url=base_url)

        def call_raw() -> str:
            response = raw.post(url, json=body, headers=headers)
            response.raise_for_status()
            text: str = response.json()["choices"][0]["message"]["content"]
            return text

        def call_ours() -> str:
            return ours.deployments.invoke(c.KEY, **FIELDS).text

        calls: dict[str, tuple[Callable[[], str], int]] = {
            "raw httpx": (call_raw, args.calls),
            "Client.invoke (ours)": (call_ours, args.calls),
        }
        if not args.no_sdk:
            from orq_ai_sdk import Orq

            sdk = Orq(api_key="x", server_url=base_url)

            def call_sdk() -> str:
                answer = sdk.deployments.invoke(key=c.KEY, **FIELDS)
                assert answer is not None
                return str(answer.choices[0].message.content)

            calls["orq-ai-sdk"] = (call_sdk, args.sdk_calls)

        for name, (call, _) in calls.items():  # warm up: connections, lazy imports, caches
            for _ in range(5 if args.quick else 20):
                if call() != ANSWER:
                    print(f"{name} got an unexpected answer", file=sys.stderr)
                    return 1
        results = c.rounds({name: block(call, n) for name, (call, n) in calls.items()}, args.rounds)
        raw.close()
        ours.close()

    wall = {name: [r[0] for r in values] for name, values in results.items()}
    cpu = {name: [r[1] for r in values] for name, values in results.items()}
    rows = [["contender", "wall ms/call", "range", "client CPU ms/call"]]
    for name in results:
        ms = [w * 1000 for w in wall[name]]
        rows.append(
            [name, f"{c.median(ms):.3f}", c.spread(ms), f"{c.median(cpu[name]) * 1000:.3f}"]
        )
    c.table(rows)
    print()
    ours_name, raw_name = "Client.invoke (ours)", "raw httpx"
    ratio = c.paired(wall[ours_name], wall[raw_name])
    out = [["comparison", "wall ratio", "CPU ratio", "goal", ""]]
    out.append(
        [
            "ours / raw httpx",
            f"{ratio:.3f}x",
            f"{c.paired(cpu[ours_name], cpu[raw_name]):.3f}x",
            "<= 1.15x",
            c.verdict(ratio <= 1.15),
        ]
    )
    if "orq-ai-sdk" in wall:
        sdk_ratio = c.paired(wall[ours_name], wall["orq-ai-sdk"])
        out.append(
            [
                "ours / orq-ai-sdk",
                f"{sdk_ratio:.3f}x",
                f"{c.paired(cpu[ours_name], cpu['orq-ai-sdk']):.3f}x",
                "< 1x",
                c.verdict(sdk_ratio < 1),
            ]
        )
    c.table(out)
    overhead = c.median(wall[ours_name]) - c.median(wall[raw_name])
    print(f"\nours adds {overhead * 1e6:.0f} us per call over raw httpx (median wall).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
