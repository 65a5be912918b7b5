"""`%orq connect` and `%orq status`: where the session points, changed only when it works.

A connect is made in full before the session lets go of its old connection: the deployments
file is read and its server started, the key is found (or typed), and a URL is tried with one
small request. Whatever fails on the way leaves the session exactly as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..client._client import Client
from ..client._config import Settings
from ..client._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    NotFoundError,
    OrqError,
)
from ..display._errors import explain
from ..display._format import format_count
from ._magic_args import ArgumentError, MagicParser
from ._recording_options import add_record_options, open_recordings

if TYPE_CHECKING:
    from ._commands import Host, Namespace
    from ._connection import Connection

__all__ = ["build_connect_parser", "connect", "status"]

# A connect tries the server once, briefly, without retries: it answers or it does not.
_PROBE_TIMEOUT = 10.0


def build_connect_parser(p: MagicParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", metavar="FILE", help="serve FILE with the local server")
    where.add_argument("--url", metavar="URL", help="an orq-compatible API at URL")
    where.add_argument(
        "--replay",
        metavar="RECORDING",
        help="answer from a recording, served by the local server (no key, no network)",
    )
    p.option(
        "--humanloop",
        flag=True,
        help="Humanloop's v4 API (completion-deployed / chat-deployed) instead of orq's; "
        "key from HUMANLOOP_API_KEY; with --local, the local server's /v4 routes",
    )
    add_record_options(p)


def connect(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    # Files are read before the session lets go of its connection: a broken one changes nothing.
    record, replay = open_recordings(a)
    if a.local:
        _check_deployments_file(a.local)
    if a.url is not None:
        _check_url(a.url)
    session = m.session
    if replay is not None:
        conn = session.open_connection(replay=replay, pace=a.pace, humanloop=a.humanloop)
    elif not a.humanloop and not a.local:
        # orq.ai (or a URL) that needs a key: ask for it before anything changes.
        settings = Settings.resolve(base_url=a.url)
        key, source = settings.api_key, None
        offline = record is not None and record.offline  # replaying: no key, no network
        if key is None and a.url is None and not offline:
            key, source = m.ask_key(), "prompt"
            if key is None:
                raise ArgumentError(
                    "No API key: set ORQ_API_KEY before starting Jupyter (no prompt is possible "
                    "here), or use `%orq connect --local FILE` to work offline. "
                    + _unchanged(session.connection)
                )
        conn = session.open_connection(url=a.url, api_key=key, key_source=source, record=record)
        if not conn.offline:
            _probe(m, conn)
    else:
        conn = session.open_connection(
            url=a.url, local=a.local, humanloop=a.humanloop, record=record
        )
    session.switch_to(conn)
    m.apply_client_settings()
    print(conn.describe())
    if conn.server is not None and conn.server.secrets_summary:  # what leaves this machine
        print(conn.server.secrets_summary)


def _probe(m: Host, conn: Connection) -> None:
    """One small request (`GET /v2/deployments?limit=1`); refuse a server that is not there."""
    try:
        with Client(conn.api_key, conn.base_url, timeout=_PROBE_TIMEOUT, max_retries=0) as client:
            client.deployments.list(limit=1)
    except (APIConnectionError, AuthenticationError, NotFoundError) as exc:
        if isinstance(exc, NotFoundError):
            line = (
                f"{conn.base_url} answered 404 at /v2/deployments: it does not serve the orq "
                "Deployments API (check the URL and its path prefix)."
            )
        elif isinstance(exc, APIConnectionError):
            line = f"Could not reach {conn.base_url}: {exc.message}"
        else:
            line = explain(exc, where=conn.base_url)
        raise ArgumentError(f"{line} {_unchanged(m.session.connection)}") from None
    except APIError:
        pass  # it answered (403, 5xx ...): connected; the calls themselves will say more
    except OrqError as exc:
        raise ArgumentError(
            f"{explain(exc, where=conn.base_url)} {_unchanged(m.session.connection)}"
        ) from None


def _unchanged(previous: Connection | None) -> str:
    if previous is None:
        return "Nothing was changed."
    return "The session is unchanged (`%orq status`)."


def _check_deployments_file(path: str) -> None:
    # Read the file before the session lets go of its connection: a broken file then leaves
    # the session as it was, and reads as one line naming the line and field.
    from ..local import DeploymentStore

    try:
        DeploymentStore.from_file(path)
    except ValueError as exc:  # DeploymentFileError
        message = " ".join(str(exc).split())
        raise ArgumentError(f"The local server did not start: {message}") from None


def _check_url(url: str) -> None:
    # A URL that cannot be parsed would otherwise fail at the first request, with a bare
    # ValueError from deep inside the HTTP stack.
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading the port is what refuses "http://h:99999"
    except ValueError as exc:
        raise ArgumentError(f"--url {url!r} is not a valid URL: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ArgumentError(
            f"--url takes an http:// or https:// URL such as http://127.0.0.1:8700, not {url!r}."
        )


def status(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    session = m.session
    if not session.connected:
        settings = Settings.resolve()
        key = f"{settings.api_key_source} is set" if settings.api_key else "no API key is set"
        lines = [
            f"Not connected yet: the first call will go to {settings.base_url} ({key}). "
            "`%orq connect` connects now (and asks for a key); "
            "`%orq connect --local FILE` works offline."
        ]
    else:
        lines = [session.ensure_connection().describe()]
    if m.default_deployment:
        lines.append(f"Default deployment: {m.default_deployment}.")
    lines.append(f"{format_count(len(session.history), 'invocation')} in this session.")
    print("\n".join(lines))
