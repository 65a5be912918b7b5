"""Finding the processes a test started, so it can prove none are left behind.

A process is named by (pid, start time): a pid alone can be reused by an unrelated process.
Linux /proc only; the browser test runs on Linux.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

TOKEN, MASK = re.compile(r"(token=)\w+"), r"\1***"
Proc = tuple[int, int]  # (pid, start time in clock ticks since boot)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of `pid`, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has ended; only its parent's wait() is missing
        return None
    return int(fields[1]), int(fields[19])


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def descendants(root: int) -> set[Proc]:
    """The live processes below `root` (children, grandchildren, ...)."""
    table = {pid: st for pid in _pids() if (st := _stat(pid)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[Proc] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.add((pid, table[pid][1]))
        todo.extend(children.get(pid, []))
    return found


def mentioning(*markers: str) -> set[Proc]:
    """Live processes whose command line contains one of `markers` (e.g. a temp dir)."""
    found: set[Proc] = set()
    for pid in _pids():
        if pid == os.getpid():
            continue
        line = cmdline(pid)
        if any(m in line for m in markers) and (st := _stat(pid)) is not None:
            found.add((pid, st[1]))
    return found


def alive(procs: set[Proc]) -> set[Proc]:
    """Those of `procs` that still run (same pid and start time)."""
    return {(pid, start) for pid, start in procs if (st := _stat(pid)) and st[1] == start}


def kill(procs: set[Proc]) -> None:
    """SIGKILL what is still alive of `procs` (a last resort in teardown)."""
    for pid, _ in alive(procs):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def describe(procs: set[Proc]) -> str:
    """One line per process, for a failure message (tokens masked)."""
    lines = [f"{pid}: {TOKEN.sub(MASK, cmdline(pid))[:200]}" for pid, _ in sorted(procs)]
    return "; ".join(lines) or "none"
