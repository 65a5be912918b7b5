"""The `orq-notebook` command (also `python -m orq_notebook`).

    orq-notebook serve deployments.yaml [--host 127.0.0.1] [--port 8700] [--api-key KEY]
    orq-notebook serve deployments.yaml [...] [--allow-env NAME] [--allow-host HOST]
    orq-notebook serve --replay answers.jsonl [--pace] [--ignore FIELD] [--match FIELD]

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
    serve.add_argument(
        "file", metavar="FILE", nargs="?", help="the deployments file (.yaml, .yml or .json)"
    )
    serve.set_defaults(usage_error=serve.error)
    replay = serve.add_argument_group("replaying a recording (instead of a deployments file)")
    replay.add_argument(
        "--replay",
        metavar="RECORDING",
        help="answer from a recording (made with `%%orq connect --record` or ORQ_RECORD)",
    )
    replay.add_argument("--pace", action="store_true", help="answer at the recorded pace")
    replay.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="FIELD",
        help="leave a request field out of matching, e.g. inputs.today (repeatable)",
    )
    replay.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="FIELD",
        help="match a field left out by default, e.g. identity or metadata (repeatable)",
    )
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
    if (args.file is None) == (args.replay is None):
        args.usage_error("serve takes a deployments FILE or --replay RECORDING (one of them)")
    if args.file is not None and (args.pace or args.ignore or args.match):
        args.usage_error("--pace, --ignore and --match go with --replay")
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    # Imported here so `--help` stays fast and does not need the server's dependencies.
    from .local import DeploymentFileError, LocalServer

    path, host, port = args.file or args.replay, args.host, args.port

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    api_key = args.api_key or os.environ.get(API_KEY_ENV)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = LocalServer(
        args.file,
        replay=args.replay,
        pace=args.pace,
        ignore=args.ignore,
        match=args.match,
        api_key=api_key,
        allow_env=args.allow_env,
        allow_hosts=args.allow_host,
        host=host,
        port=port,
        log_level="info",
        access_log=True,
    )
    what = "recording" if args.replay else "deployments file"
    try:
        try:
            server.start()
        except (DeploymentFileError, ValueError) as exc:  # and RecordingFileError
            message = " ".join(str(exc).split())
            print(f"orq-notebook: the {what} cannot be served: {message}", file=sys.stderr)
            return 1
        except OSError as exc:  # a busy port, an address this machine does not have
            reason = exc.strerror or str(exc)
            print(
                f"orq-notebook: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr
            )
            return 2
        _log_to_stderr()
        _banner(server, path, required=bool(api_key))
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
    url, edits = server.base_url, "Edits to the file apply on the next request."
    if server.recording is not None:
        serving = f"replaying {len(server.recording)} recorded exchange(s) from {path}"
        edits = "The recording was read at start."
    else:
        assert server.store is not None
        keys = [d.key for d in server.store.deployments()]
        serving = f"serving {len(keys)} deployment(s) from {path}: {', '.join(keys) or '-'}"
    key_line = (
        "export ORQ_API_KEY=<the key this server was started with>"
        if required
        else "export ORQ_API_KEY=local      # any value: this server requires no key"
    )
    secrets = f"{server.secrets_summary}\n" if server.secrets_summary else ""
    print(
        f"orq-notebook: {serving}\n"
        f"{secrets}"
        f"Base URL: {url}\n"
        "Connect:\n"
        f"  export ORQ_BASE_URL={url}\n"
        f"  {key_line}\n"
        f'  Python:     orq_notebook.Client(base_url="{url}")\n'
        f'  orq-ai-sdk: Orq(api_key=..., server_url="{url}")\n'
        f"{edits} Press Ctrl+C to stop.",
        flush=True,
    )
