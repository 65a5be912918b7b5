"""JupyterLab in a temporary home: its own config, data, runtime, settings and kernelspec.

Nothing of the user's Jupyter setup is read or written: every Jupyter and IPython directory
points into the temporary home, and the `python3` kernelspec there runs this interpreter
(the project's .venv), whatever other kernels the machine has.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# Debian's Chromium, driven by Playwright (never a browser Playwright downloads), with the
# flags this machine's closed network wants: no background requests to refuse.
CHROMIUM = os.environ.get("ORQ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# JupyterLab settings for a test run: every cell stays in the DOM (no windowing), and no news
# or update check reaches out of the machine or pops a toast over the notebook.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab server (in its own process group)."""

    process: subprocess.Popen[bytes]
    base_url: str
    token: str
    root: Path
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}?token={self.token}"

    def api(self, method: str, path: str) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=10,
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """POST /api/shutdown (which also shuts the kernels down), then make sure it is gone."""
        if self.process.poll() is None:
            try:
                self.api("POST", "/api/shutdown")
            except httpx.HTTPError:
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.process.wait(timeout=10)
        # Anything still in the server's group (it was started as a session leader).
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def prepare_home(home: Path) -> dict[str, str]:
    """Create the Jupyter directories under `home`; returns the environment that uses them."""
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "IPYTHONDIR": home / "ipython",
        "JUPYTERLAB_SETTINGS_DIR": home / "config" / "lab" / "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "config" / "lab" / "workspaces",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)

    kernel = dirs["JUPYTER_DATA_DIR"] / "kernels" / "python3"
    kernel.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (orq_notebook)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (kernel / "kernel.json").write_text(json.dumps(spec, indent=1))

    for plugin, values in LAB_SETTINGS.items():
        path = dirs["JUPYTERLAB_SETTINGS_DIR"] / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update({name: str(path) for name, path in dirs.items()})
    env["HOME"] = str(home)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_lab(home: Path, root: Path, *, timeout: float = 90) -> Lab:
    """Start `jupyter lab` over `root` with a random token on a free loopback port."""
    env = prepare_home(home)
    token = secrets.token_hex(16)
    port = free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    log = home / "jupyter-lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(jupyter),
                "lab",
                "--no-browser",
                f"--IdentityProvider.token={token}",
                "--ServerApp.ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.terminals_enabled=False",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing escapes the teardown
        )
    lab = Lab(process, f"http://127.0.0.1:{port}", token, root, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{lab.log_tail()}")
        try:
            if lab.api("GET", "/api/status").status_code == 200:
                return lab
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            lab.stop()
            raise RuntimeError(f"jupyter lab did not answer in {timeout:g} s:\n{lab.log_tail()}")
        time.sleep(0.25)
