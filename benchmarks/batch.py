"""Batch throughput: `run_batch` at concurrency 20 against the ideal, and the official SDK's loop.

The local server answers every request after a fixed delay (`faults: {delay_ms: ...}`), so
the ideal wall time of N rows at concurrency C is N * delay / C (1.0 s for 200 rows of
100 ms at 20). The same rows then go through the official `orq-ai-sdk` one after another,
the way its docs show, for comparison (about N * delay: ~20 s for 200 rows; `--sdk-rows`
runs fewer and scales the figure up).

Usage: `.venv/bin/python benchmarks/batch.py [--rows 200] [--concurrency 20] [--delay-ms 100]
[--sdk-rows N | --no-sdk]`
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Runs from a checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orq_notebook import Client
from orq_notebook.batch._api import run_batch
from orq_notebook.local import LocalServer

KEY = "bench"
DEPLOYMENTS = """\
deployments:
  - key: {key}
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages:
        - {{role: system, content: "Answer {{{{question}}}} briefly."}}
    responder: {{mock: "A fixed answer of a few words."}}
    faults: {{delay_ms: {delay_ms}}}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=3, help="batch runs; the median is shown")
    parser.add_argument("--sdk-rows", type=int, default=None, help="rows for the SDK loop")
    parser.add_argument("--no-sdk", action="store_true", help="skip the official SDK loop")
    args = parser.parse_args(argv)

    delay = args.delay_ms / 1000
    rows = [{"question": f"question {i}"} for i in range(args.rows)]
    ideal = args.rows * delay / args.concurrency
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deployments.yaml"
        path.write_text(DEPLOYMENTS.format(key=KEY, delay_ms=args.delay_ms), encoding="utf-8")
        with LocalServer(path) as server, Client(base_url=server.base_url, api_key="x") as client:
            client.deployments.invoke(KEY, inputs=rows[0])  # warm up server and imports
            walls = []
            for _ in range(args.repeat):
                result = run_batch(
                    KEY, rows, concurrency=args.concurrency, client=client, progress=False
                )
                counts = result.counts()
                if counts["ok"] != args.rows:
                    print(f"batch run failed: {result!r}", file=sys.stderr)
                    return 1
                walls.append(result.elapsed)
            wall = statistics.median(walls)
            print(
                f"run_batch   {args.rows} rows x {args.delay_ms:g} ms, concurrency "
                f"{args.concurrency}: wall {wall:.3f} s (runs: "
                + ", ".join(f"{w:.3f}" for w in walls)
                + f"), ideal {ideal:.3f} s, ratio {wall / ideal:.2f}x (goal <= 1.30x); "
                f"p50 latency {result.latency_percentile(50) or 0:.3f} s"
            )
            if not args.no_sdk:
                sdk_rows = rows[: args.sdk_rows] if args.sdk_rows else rows
                sdk_wall = _sdk_loop(server.base_url, sdk_rows)
                scaled = sdk_wall * args.rows / len(sdk_rows)
                note = "" if len(sdk_rows) == args.rows else f" ({len(sdk_rows)} rows, scaled)"
                print(
                    f"orq-ai-sdk  sequential loop: wall {scaled:.3f} s{note}, "
                    f"ideal {args.rows * delay:.3f} s; run_batch is {scaled / wall:.1f}x faster"
                )
    return 0


def _sdk_loop(base_url: str, rows: list[dict[str, str]]) -> float:
    from orq_ai_sdk import Orq

    with Orq(api_key="x", server_url=base_url) as orq:
        orq.deployments.invoke(key=KEY, inputs=rows[0])  # warm up (lazy sub-SDK import)
        start = time.perf_counter()
        for row in rows:
            orq.deployments.invoke(key=KEY, inputs=row)
        return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
