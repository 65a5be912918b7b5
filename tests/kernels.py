"""Real kernels for tests: this venv's interpreter, importing this checkout.

km, kc = start_kernel(tmp_path, monkeypatch)       # jupyter_client, cwd = tmp_path
NotebookClient(nb, kernel_name=kernel_name(tmp_path, monkeypatch), ...)  # with nbclient
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def checkout_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel started from now on imports this checkout, installed or not."""
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.getenv("PYTHONPATH")]))
    )


def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`python3`, resolving to this venv's interpreter; installed into a temp dir if need be."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec("python3").argv
    except NoSuchKernel:
        argv = []
    # jupyter_client runs a spec whose command is plain `python` with sys.executable.
    if argv and argv[0] in {"python", "python3", sys.executable}:
        return "python3"
    prefix = tmp_path / "kernels"
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix)],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return "python3"


def start_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """A started kernel (manager, client) of this venv, in `tmp_path`, importing this checkout.
    The caller stops its channels and shuts it down."""
    from jupyter_client.manager import start_new_kernel

    checkout_on_path(monkeypatch)
    return start_new_kernel(kernel_name=kernel_name(tmp_path, monkeypatch), cwd=str(tmp_path))
