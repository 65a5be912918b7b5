"""The `orq-notebook` command (also `python -m orq_notebook`).

    orq-notebook serve deployments.yaml [--host 127.0.0.1] [--port 8700] [--api-key KEY]
                                        [--allow-env NAME] [--allow-host HOST]

serves the local deployments server until Ctrl+C or SIGTERM, then stops at once (exit 0).
A mistake on the command line (a port out of range, a host that cannot be bound) is one line
and exit status 2; a deployments file that cannot be served is one line and exit status 1.
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
from typing import TYPE_CHECKING, NoReturn

from ._version import __version__

if TYPE_CHECKING:
    from .local import LocalServer

__all__ = ["main"]

API_KEY_ENV = "ORQ_LOCAL_API_KEY"
STOP_GRACE = 0.25  # seconds an answer in flight gets to finish after Ctrl+C

_DESCRIPTION = """\
Serve the orq.ai Deployments API locally from a deployments file (YAML or JSON), for
notebooks that must work offline, for teaching and for CI. Point a client at the printed
base URL. The file is re-read when it changes; no restart needed."""

_ALLOW_EPILOG = """\
A deployments file may call another server (`responder: {openai: {base_url, api_key_env}}`)
and send it the value of an environment variable as its key. It may name only the variables
and hosts you allow here (or in ORQ_LOCAL_ALLOW_ENV / ORQ_LOCAL_ALLOW_HOSTS, comma-separated);
loopback hosts need no allowing. Example:
  orq-notebook serve deployments.yaml --allow-env OPENAI_API_KEY --allow-host api.openai.com"""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (and exit status 2, as argparse does)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return port


def _host(text: str) -> str:
    host = text.strip().removeprefix("[").removesuffix("]")  # [::1] as in a URL
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise argparse.ArgumentTypeError(
            f"expected a host name or address such as 127.0.0.1 or ::1, got {text!r}"
        )
    return host


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="orq-notebook", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    serve = commands.add_parser(
        "serve",
        help="serve a deployments file as the orq.ai Deployments API",
        description=_DESCRIPTION,
        epilog=_ALLOW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("file", metavar="FILE", help="the deployments file (.yaml, .yml or .json)")
    serve.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=8700,
        help="port to bind, 0 to 65535; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"require `Authorization: Bearer KEY` (default: ${API_KEY_ENV}; unset accepts any "
        "request). Prefer the variable: a command-line argument is visible to other users.",
    )
    serve.add_argument(
        "--allow-env",
        metavar="NAME",
        action="append",
        default=[],
        help="an environment variable the file may send to a server it calls (repeatable)",
    )
    serve.add_argument(
        "--allow-host",
        metavar="HOST",
        action="append",
        default=[],
        help="a host the file may call (repeatable; loopback is always allowed)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    # Imported here so `--help` stays fast and does not need the server's dependencies.
    from .local import DeploymentFileError, LocalServer

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    api_key = args.api_key or os.environ.get(API_KEY_ENV)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = LocalServer(
        args.file,
        api_key=api_key,
        allow_env=args.allow_env,
        allow_hosts=args.allow_host,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=True,
    )
    try:
        try:
            server.start()
        except DeploymentFileError as exc:
            message = " ".join(str(exc).split())
            print(
                f"orq-notebook: the deployments file cannot be served: {message}", file=sys.stderr
            )
            return 1
        except OSError as exc:  # a busy port, an address this machine does not have
            reason = exc.strerror or str(exc)
            print(
                f"orq-notebook: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr
            )
            return 2
        _log_to_stderr()
        _banner(server, args.file, required=bool(api_key))
        while not stop.wait(0.25):
            if not server.running:
                print("orq-notebook: the server stopped unexpectedly.", file=sys.stderr)
                return 1
    finally:
        server.stop(grace=STOP_GRACE)
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
    secrets = f"{server.secrets_summary}\n" if server.secrets_summary else ""
    print(
        f"orq-notebook: serving {len(keys)} deployment(s) from {path}: {', '.join(keys) or '-'}\n"
        f"{secrets}"
        f"Base URL: {url}\n"
        "Connect:\n"
        f"  export ORQ_BASE_URL={url}\n"
        f"  {key_line}\n"
        f'  Python:     orq_notebook.Client(base_url="{url}")\n'
        f'  orq-ai-sdk: Orq(api_key=..., server_url="{url}")\n'
        "Edits to the file apply on the next request. Press Ctrl+C to stop.",
        flush=True,
    )
