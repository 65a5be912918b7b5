"""Every benchmark script runs end to end in its `--quick` mode and answers `--help`.

Smoke tests only: the figures the scripts print are never checked here (benchmarks are not
timed assertions; BENCHMARKS.md holds the measurements).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = [
    "import_time.py",
    "call_overhead.py",
    "stream_throughput.py",
    "display_cost.py",
    "first_update.py",
    "stream_memory.py",
    "server_stop.py",
    "batch.py",
]


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=110,  # a hang guard, not a measurement
        cwd=BENCHMARKS.parent,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_run_prints_a_verdict(script: str) -> None:
    done = run(script, "--quick")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# "), done.stdout
    # The last table gives a verdict for each goal: the script ran to its end.
    assert "PASS" in done.stdout or "MISS" in done.stdout, done.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_the_script_and_quick_mode(script: str) -> None:
    done = run(script, "--help")
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout
    assert f"benchmarks/{script}" in done.stdout  # the command to run it, from the docstring


def test_every_script_is_smoke_tested() -> None:
    found = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    assert found == set(SCRIPTS)
