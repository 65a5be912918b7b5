"""A package in a venv of its own, beside the project's: an SDK whose pins would fight ours.

    python = venv_with("humanloop==0.5.18", check="import humanloop")

The venv is cached under the temp directory and reused; a half-built one (an interrupted run)
fails `check` and is built again. When pip cannot install the package the test is skipped,
with pip's last line as the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest


def _works(python: Path, check: str) -> bool:
    if not python.exists():
        return False
    return subprocess.run([python, "-c", check], capture_output=True).returncode == 0


def venv_with(requirement: str, *, check: str) -> Path:
    """The Python of a cached venv holding `requirement`, where the code `check` runs."""
    name = "".join(c if c.isalnum() or c in ".-" else "-" for c in requirement)
    cache = Path(tempfile.gettempdir()) / f"orq-notebook-venv-{name}"
    python = cache / "bin" / "python"
    if _works(python, check):
        return python
    shutil.rmtree(cache, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", cache], check=True, capture_output=True)
    try:
        pip = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(
            f"pip did not install {requirement} within 10 minutes (is the index reachable?)"
        )
    if pip.returncode != 0 or not _works(python, check):
        last = (pip.stderr.strip() or pip.stdout.strip()).splitlines()[-1:]
        pytest.skip(f"pip could not install {requirement}: {' '.join(last) or 'no output'}")
    return python
