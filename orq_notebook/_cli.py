"""The `orq-notebook` command (also `python -m orq_notebook`).

    orq-notebook serve deployments.yaml [--host 127.0.0.1] [--port 8700] [--api-key KEY]

serves the local deployments server until Ctrl+C or SIGTERM, then stops cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .local import LocalServer

__all__ = ["main"]

API_KEY_ENV = "ORQ_LOCAL_API_KEY"

_DESCRIPTION = """\
Serve the orq.ai Deployments API locally from a deployments file (YAML or JSON), for
notebooks that must work offline, for teaching and for CI. Point a client at the printed
base URL. The file is re-read when it changes; no restart needed."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orq-notebook", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a deployments file as the orq.ai Deployments API",
        description=_DESCRIPTION,
    )
    serve.add_argument("file", metavar="FILE", help="the deployments file (.yaml, .yml or .json)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port",
        type=int,
        default=8700,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"require `Authorization: Bearer KEY` (default: ${API_KEY_ENV}; unset accepts any "
        "request). Prefer the variable: a command-line argument is visible to other users.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    return _serve(args.file, args.host, args.port, args.api_key or os.environ.get(API_KEY_ENV))


def _serve(path: str, host: str, port: int, api_key: str | None) -> int:
    # Imported here so `--help` stays fast and does not need the server's dependencies.
    from .local import DeploymentFileError, LocalServer

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = LocalServer(
        path, api_key=api_key, host=host, port=port, log_level="info", access_log=True
    )
    try:
        try:
            server.start()
        except DeploymentFileError as exc:
            print(f"orq-notebook: the deployments file cannot be served:\n  {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"orq-notebook: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
            return 1
        _log_to_stderr()
        _banner(server, path, required=bool(api_key))
        while not stop.wait(0.25):
            if not server.running:
                print("orq-notebook: the server stopped unexpectedly.", file=sys.stderr)
                return 1
    finally:
        server.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
    print("orq-notebook: stopped.", file=sys.stderr)
    return 0


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    # uvicorn's start-up chatter stays out; its access log and our warnings go to stderr.
    handler.addFilter(lambda r: r.name != "uvicorn.error" or r.levelno >= logging.WARNING)
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _banner(server: LocalServer, path: str, *, required: bool) -> None:
    assert server.store is not None
    url, keys = server.base_url, [d.key for d in server.store.deployments()]
    key_line = (
        "export ORQ_API_KEY=<the key this server was started with>"
        if required
        else "export ORQ_API_KEY=local      # any value: this server requires no key"
    )
    print(
        f"orq-notebook: serving {len(keys)} deployment(s) from {path}: {', '.join(keys) or '-'}\n"
        f"Base URL: {url}\n"
        "Connect:\n"
        f"  export ORQ_BASE_URL={url}\n"
        f"  {key_line}\n"
        f'  Python:     orq_notebook.Client(base_url="{url}")\n'
        f'  orq-ai-sdk: Orq(api_key=..., server_url="{url}")\n'
        "Edits to the file apply on the next request. Press Ctrl+C to stop.",
        flush=True,
    )
