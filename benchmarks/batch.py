"""Batch throughput: `run_batch` against the ideal wall time, at low and at high concurrency.

The local server (in its own process) answers every request after a fixed delay
(`faults: {delay_ms: ...}`), so the ideal wall time of N rows at concurrency C is
N * delay / C. Two workloads, each with its goal:

* 2,000 rows x 10 ms at 50 in flight (ideal 0.4 s): goal <= 3.5x ideal. Here the client's
  CPU per request is what limits, and the server's own (about 0.5 ms a request) too.
* 200 rows x 100 ms at 20 in flight (ideal 1.0 s): goal <= 1.15x ideal.

Contenders, interleaved round by round:

* `run_batch`: as shipped (its own client, one small connection pool per worker, sniffio
  installed);
* `before`: the layout of the previous release, for comparison in the same run: one pool
  shared by all workers (`arun_batch` through one `AsyncClient`) and httpcore's failed
  `import sniffio` on every lock set-up, re-created by a finder that searches `sys.path` for
  a module that is not there, as a missing sniffio did;
* `raw httpx`: the floor, a bare `httpx.AsyncClient` POST per row through the same
  per-worker pools (no request model, no retries, no hooks);
* the official `orq-ai-sdk`'s sequential loop, as its docs show it (only the 200-row
  workload, on `--sdk-rows` rows, scaled up; `--no-sdk` skips it).

Usage: `.venv/bin/python benchmarks/batch.py [--quick] [--rounds 5] [--no-sdk] [--profile]`
(`--profile` adds a cProfile of one run of each contender: the time in failed imports, in
httpcore's pool scans and in building TLS contexts)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.abc
import importlib.machinery
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from _common import header, median, paired, parser, serve, spread, table, verdict

from orq_notebook import AsyncClient, Client
from orq_notebook.batch._api import arun_batch, run_batch
from orq_notebook.batch._pool import WorkerTransport, current_worker

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


@dataclass(frozen=True)
class Workload:
    rows: int
    delay_ms: float
    concurrency: int
    goal: float

    @property
    def ideal(self) -> float:
        return self.rows * self.delay_ms / 1000 / self.concurrency

    @property
    def name(self) -> str:
        return f"{self.rows:,} x {self.delay_ms:g} ms at {self.concurrency}"


class _NoSniffio(importlib.abc.MetaPathFinder):
    """While `on`, `import sniffio` fails after the full `sys.path` search a missing module
    costs (what httpcore paid on every lock set-up before sniffio was a dependency)."""

    on = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if self.on and name == "sniffio":
            importlib.machinery.PathFinder.find_spec("sniffio_is_not_installed", path)
            raise ModuleNotFoundError("No module named 'sniffio'", name=name)
        return None


_HIDE = _NoSniffio()


@contextlib.contextmanager
def without_sniffio() -> Iterator[None]:
    saved = sys.modules.pop("sniffio", None)
    _HIDE.on = True
    try:
        yield
    finally:
        _HIDE.on = False
        if saved is not None:
            sys.modules["sniffio"] = saved


def _ours(url: str, rows: list[dict[str, str]], w: Workload) -> float:
    with Client(base_url=url, api_key="x") as client:
        result = run_batch(KEY, rows, concurrency=w.concurrency, client=client, progress=False)
    _check(result, w)
    return float(result.elapsed)


def _before(url: str, rows: list[dict[str, str]], w: Workload) -> float:
    async def main() -> float:
        async with AsyncClient(base_url=url, api_key="x") as client:  # one shared pool
            result = await arun_batch(
                KEY, rows, concurrency=w.concurrency, client=client, progress=False
            )
        _check(result, w)
        return float(result.elapsed)

    with without_sniffio():
        return asyncio.run(main())


def _raw(url: str, rows: list[dict[str, str]], w: Workload) -> float:
    """The floor: raw httpx, the same per-worker pools, a bare POST and `json()` per row."""

    async def main() -> float:
        async with httpx.AsyncClient(transport=WorkerTransport(), base_url=url) as http:
            pending = iter(rows)
            headers = {"Authorization": "Bearer x"}

            async def worker(n: int) -> None:
                current_worker.set(n)
                for row in pending:
                    body = {"key": KEY, "inputs": row, "invoke_options": {"include_usage": True}}
                    response = await http.post("/v2/deployments/invoke", json=body, headers=headers)
                    response.raise_for_status()
                    response.json()

            started = time.perf_counter()
            await asyncio.gather(*(worker(n) for n in range(w.concurrency)))
            return time.perf_counter() - started

    return asyncio.run(main())


def _check(result: Any, w: Workload) -> None:
    if result.counts()["ok"] != w.rows:
        raise SystemExit(f"batch run failed: {result!r}")


def _sdk_loop(url: str, rows: Sequence[dict[str, str]]) -> float:
    from orq_ai_sdk import Orq

    with Orq(api_key="x", server_url=url) as orq:
        orq.deployments.invoke(key=KEY, inputs=rows[0])  # warm up (lazy sub-SDK import)
        start = time.perf_counter()
        for row in rows:
            orq.deployments.invoke(key=KEY, inputs=row)
        return time.perf_counter() - start


def measure(w: Workload, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall times and client CPU seconds of each contender, `rounds` times, in rotating
    order, on one server."""
    rows = [{"question": f"question {i}"} for i in range(w.rows)]
    with serve(DEPLOYMENTS.format(key=KEY, delay_ms=w.delay_ms)) as url:
        with Client(base_url=url, api_key="x") as client:
            client.deployments.invoke(KEY, inputs=rows[0])  # warm up server and imports
        contenders: dict[str, Callable[[], float]] = {
            "run_batch": lambda: _ours(url, rows, w),
            "before": lambda: _before(url, rows, w),
            "raw httpx": lambda: _raw(url, rows, w),
        }
        out: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.process_time()  # this process only: the server is a child
                out[name].append(contenders[name]())
                cpu[name].append(time.process_time() - started)
    return out, cpu


_HOTSPOTS = {
    "failed imports (sniffio)": ("_find_and_load",),
    "pool scans (httpcore)": ("_assign_requests_to_connections",),
    "TLS contexts": ("load_verify_locations",),
}


def profile(w: Workload) -> None:
    """Where each contender's client CPU goes (cProfile, one run each): the two causes."""
    import cProfile
    import pstats

    rows = [{"question": f"question {i}"} for i in range(w.rows)]
    table_rows = [["contender", "profiled", *_HOTSPOTS]]
    with serve(DEPLOYMENTS.format(key=KEY, delay_ms=w.delay_ms)) as url:
        with Client(base_url=url, api_key="x") as client:
            client.deployments.invoke(KEY, inputs=rows[0])
        for name, run in (("run_batch", _ours), ("before", _before)):
            profiler = cProfile.Profile()
            profiler.enable()
            run(url, rows, w)
            profiler.disable()
            stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
            total = max(ct for (_, _, _, ct, _) in stats.values())
            line = [name, f"{total:.2f} s"]
            for functions in _HOTSPOTS.values():
                spent = sum(ct for (_, _, fn), (_, _, _, ct, _) in stats.items() if fn in functions)
                line.append(f"{spent:.2f} s ({spent / total:.0%})")
            table_rows.append(line)
    print(f"\ncProfile of one run each, {w.name} (cumulative time in):")
    table(table_rows)


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--rounds", type=int, default=5, help="runs of each contender (median)")
    p.add_argument("--sdk-rows", type=int, default=20, help="rows for the SDK loop")
    p.add_argument("--no-sdk", action="store_true", help="skip the official SDK loop")
    p.add_argument(
        "--profile", action="store_true", help="also profile where the client's CPU goes"
    )
    args = p.parse_args(argv)
    sys.meta_path.insert(0, _HIDE)

    workloads = [Workload(2000, 10, 50, 3.5), Workload(200, 100, 20, 1.15)]
    rounds = args.rounds
    if args.quick:
        workloads = [Workload(200, 10, 50, 3.5), Workload(40, 100, 20, 1.15)]
        rounds = 1
        args.sdk_rows = min(args.sdk_rows, 5)

    header("Batch throughput: wall time / ideal (rows x delay / concurrency)")
    rows: list[list[str]] = [
        ["workload", "contender", "wall / ideal (median)", "spread", "goal", "result",
         "÷ raw httpx (paired)", "client CPU per row"]
    ]  # fmt: skip
    sdk: str | None = None
    for w in workloads:
        walls, cpu = measure(w, rounds)
        for name, values in walls.items():
            ratios = [v / w.ideal for v in values]
            goal = f"<= {w.goal:g}x" if name == "run_batch" else ""
            result = verdict(median(ratios) <= w.goal) if name == "run_batch" else "(info)"
            per_row = f"{median(cpu[name]) / w.rows * 1000:.2f} ms"
            vs_raw = "" if name == "raw httpx" else f"{paired(values, walls['raw httpx']):.2f}x"
            rows.append(
                [w.name, name, f"{median(ratios):.2f}x", spread(ratios), goal, result, vs_raw,
                 per_row]
            )  # fmt: skip
        if w.delay_ms == 100 and not args.no_sdk:
            sdk_rows = [{"question": f"question {i}"} for i in range(min(args.sdk_rows, w.rows))]
            with serve(DEPLOYMENTS.format(key=KEY, delay_ms=w.delay_ms)) as url:
                scaled = _sdk_loop(url, sdk_rows) * w.rows / len(sdk_rows)
            faster = scaled / median(walls["run_batch"])
            sdk = (
                f"orq-ai-sdk sequential loop, {w.name}: {scaled / w.ideal:.1f}x ideal "
                f"({len(sdk_rows)} rows, scaled); run_batch is {faster:.1f}x faster"
            )
    print()
    table(rows)
    if sdk:
        print()
        print(sdk)
    if args.profile:
        profile(workloads[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
