"""Import cost: `import orq_notebook` and `%load_ext orq_notebook` against the official SDK.

Every measurement is a fresh `python` process, the contenders taking turns; each process times
its own step with `time.perf_counter` (interpreter start-up excluded), and the median of the
runs is reported. The SDK's figure is what a user waits for before the first call:
`import orq_ai_sdk`, `Orq(api_key=...)` and the first `.deployments` (its sub-SDK loads lazily).

* fresh process: `import orq_notebook`  vs  `import orq_ai_sdk; Orq(); .deployments`
* in IPython (an `InteractiveShell` already running, as in a kernel): `%load_ext orq_notebook`
  vs the same SDK lines run in that shell.

Goal: ours <= 0.5x the SDK. `--detail` adds `python -X importtime`'s largest contributors.

    .venv/bin/python benchmarks/import_time.py [--runs 15] [--detail] [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys

import _common as c

SDK = "import orq_ai_sdk; orq_ai_sdk.Orq(api_key='x').deployments"
TIMED = """\
import time
{setup}
t = time.perf_counter()
{step}
print(time.perf_counter() - t)
"""
SHELL = (
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "shell = InteractiveShell.instance()"
)
CONTENDERS = {
    "import orq_notebook": ("", "import orq_notebook"),
    "orq-ai-sdk: import + Orq() + .deployments": ("", SDK),
    "%load_ext orq_notebook (in IPython)": (
        SHELL,
        "shell.run_line_magic('load_ext', 'orq_notebook')",
    ),
    "orq-ai-sdk in IPython": (SHELL, SDK),
}
PAIRS = [
    ("import orq_notebook", "orq-ai-sdk: import + Orq() + .deployments"),
    ("%load_ext orq_notebook (in IPython)", "orq-ai-sdk in IPython"),
]


def _env() -> dict[str, str]:
    # Bytecode is written (by the untimed first round), so no contender pays for compiling.
    env = {**os.environ, "PYTHONPATH": str(c.ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(setup: str, step: str) -> float:
    """Seconds the step took in a fresh interpreter."""
    code = TIMED.format(setup=setup, step=step)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def importtime_detail(top: int = 12) -> None:
    """The largest entries of `python -X importtime -c 'import orq_notebook'`."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import orq_notebook"],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = (part.strip() for part in line[12:].split("|"))
        rows.append((int(self_us), int(cumulative), name))
    ours = [r for r in rows if r[2].startswith("orq_notebook")]
    print("\n-X importtime (one run; its own overhead inflates every figure):")
    print("  ours, by cumulative ms (self ms):")
    for self_us, cumulative, name in sorted(ours, key=lambda r: -r[1])[:top]:
        print(f"    {cumulative / 1000:7.1f}  ({self_us / 1000:5.1f})  {name.strip()}")
    print("  every module, by self ms:")
    for self_us, _, name in sorted(rows, key=lambda r: -r[0])[:top]:
        print(f"    {self_us / 1000:7.1f}  {name.strip()}")


def main(argv: list[str] | None = None) -> int:
    p = c.parser(__doc__)
    p.add_argument("--runs", type=int, default=15, help="processes per contender (default 15)")
    p.add_argument("--detail", action="store_true", help="show -X importtime's top entries")
    args = p.parse_args(argv)
    runs = 2 if args.quick else args.runs

    c.header("import cost, fresh processes")
    # One untimed round first: .pyc files and the page cache are warm for every contender.
    if not args.quick:
        for setup, step in CONTENDERS.values():
            run_once(setup, step)
    contenders = {
        name: (lambda s=setup, t=step: run_once(s, t)) for name, (setup, step) in CONTENDERS.items()
    }
    times = c.rounds(contenders, runs)

    rows = [["contender", "median ms", "range ms"]]
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        rows.append([name, f"{c.median(ms):.1f}", c.spread(ms)])
    c.table(rows)
    print()
    result = [["ours vs the SDK (median of per-round ratios)", "ratio", "goal", ""]]
    for ours, theirs in PAIRS:
        ratio = c.paired(times[ours], times[theirs])
        ok = ratio <= 0.5
        result.append([ours, f"{ratio:.2f}x", "<= 0.50x", c.verdict(ok)])
    c.table(result)
    if args.detail:
        importtime_detail()
    return 0


if __name__ == "__main__":
    sys.exit(main())
