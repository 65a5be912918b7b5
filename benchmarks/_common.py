"""What the benchmark scripts share: a local server in its own process, interleaved rounds,
medians and the printed table.

Why the server runs in a child process: the client's CPU time (`time.process_time`) must not
include the server's, and a server thread would compete with the client for the GIL, which
would make every contender look alike. The child is an ordinary `LocalServer`; on a 2 vCPU
machine it gets the other core.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
# Runs from a checkout, installed or not.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KEY = "bench"
T = TypeVar("T")

_SERVE = """\
import sys
from orq_notebook.local import LocalServer
server = LocalServer(sys.argv[1])
server.start()
print(server.base_url, flush=True)
sys.stdin.read()  # until the parent closes our stdin
server.stop()
"""


def entry(text: str | None = None, *, key: str = KEY, stream_delay_ms: float = 0.0) -> str:
    """One deployment of a deployments file: `mock` text, or `echo` when text is None."""
    responder = "echo" if text is None else "{mock: " + _yaml_string(text) + "}"
    return (
        f"  - key: {key}\n"
        "    prompt_config:\n"
        "      provider: openai\n"
        "      model: gpt-4o-mini\n"
        "      model_type: chat\n"
        "      messages:\n"
        '        - {role: system, content: "You answer for {{company}}."}\n'
        "    variables: {company: Acme}\n"
        f"    responder: {responder}\n"
        f"    stream_delay_ms: {stream_delay_ms:g}\n"
    )


def deployments_yaml(*entries: str) -> str:
    """A deployments file of `entry()` blocks."""
    return "deployments:\n" + "".join(entries)


def _yaml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def words(n: int, *, width: int = 0) -> str:
    """n words that the server streams as n chunks (its responders split on whitespace).

    With `width`, every word is padded to that many characters (for answers of a set size).
    """
    vocab = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
    out = []
    for i in range(n):
        word = vocab[i % len(vocab)]
        if width:
            word = (word * (width // len(word) + 1))[: width - 1]
        out.append(word if i == 0 else " " + word)
    return "".join(out)


@contextlib.contextmanager
def serve(text: str, *, name: str = "deployments.yaml") -> Iterator[str]:
    """A `LocalServer` over a deployments file (YAML, or JSON when `name` ends in .json) in
    a child process; yields its base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert child.stdout is not None
            base_url = child.stdout.readline().strip()
            if not base_url.startswith("http"):
                raise RuntimeError("the local server did not start")
            yield base_url
        finally:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose description is the script's docstring."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a few seconds, for the smoke test")
    return p


def rounds(
    contenders: dict[str, Callable[[], T]], repeat: int, *, every: dict[str, int] | None = None
) -> dict[str, list[T]]:
    """Run every contender once per round, in an order that rotates; what each returned.

    `every={"slow one": 3}` runs that contender only in every third round (a slow contender
    would otherwise dominate the run time); its list is then shorter, so compare it by
    medians, not with `paired()`.
    """
    names = list(contenders)
    every = every or {}
    out: dict[str, list[T]] = {name: [] for name in names}
    for r in range(repeat):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if r % every.get(name, 1) == 0:
                out[name].append(contenders[name]())
    return out


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def paired(a: Sequence[float], b: Sequence[float]) -> float:
    """The median of the per-round ratios a[i] / b[i].

    The two figures of one round were measured a moment apart, so a slow patch of a shared
    machine affects both; the median then drops the rounds that were disturbed anyway.
    """
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def spread(values: Sequence[float]) -> str:
    """min..max of a series, for the reader to judge the noise."""
    return f"{min(values):.4g}..{max(values):.4g}"


def header(title: str, method: str = "medians of interleaved rounds") -> None:
    """The first lines of a report: what, when, on what, how."""
    today = datetime.date.today().isoformat()
    print(f"# {title}")
    print(
        f"# {today} · Python {platform.python_version()} · {platform.machine()} · "
        f"{os.cpu_count()} CPU · {method}; ratios hold across machines, times do not"
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(rows: Sequence[Sequence[str]]) -> None:
    """Print rows as aligned columns; the first row is the heading."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if n == 0:
            print("  ".join("-" * width for width in widths))
