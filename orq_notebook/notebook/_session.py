"""Per-kernel state: where the notebook points, its clients, history and threads.

This is where the core (clients, local server) meets the notebook side (results, widgets).
It never imports IPython: the magics drive it, and so can a plain script.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client._client import AsyncClient, Client
from ..client._config import Settings
from ..client._exceptions import OrqError
from ..client._models import Deployment
from ..client._variables import Variables, fetch_variables
from ..display._answer import plain_text
from ..display._render import format_duration, format_usage, shorten
from ..display._result import Result
from ._backends import ClientBackend, OrqPieces, PieceStream, result_from_invocation
from ._connection import (
    ORQ_HOSTS,
    Connection,
    new_connection,
    recording_from_env,
    replay_connection,
)
from ._feedback import attach_sender

if TYPE_CHECKING:
    from ..client._cassette import Recording
    from ._humanloop_backend import HumanloopRunner

__all__ = ["Connection", "HistoryEntry", "Session", "current_session", "set_session"]

_VARIABLES_TTL = 60.0  # seconds a deployment's variables are reused between cells


@dataclass(frozen=True)
class HistoryEntry:
    """One invocation made in this session."""

    key: str
    at: datetime
    latency: float | None
    tokens: int | None
    status: str
    thread: str | None
    result: Result
    inputs: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        """The entry as a row of `%orq history`: what was sent, and how the answer began."""
        return {
            "time": self.at.astimezone().strftime("%H:%M:%S"),
            "key": self.key,
            "status": self.status,
            "sent": shorten(self.sent(), 60),
            "answer": shorten(plain_text(self.result.text), 60),
            "latency": format_duration(self.latency) if self.latency is not None else "",
            # prompt and completion too ("57 tokens (12 in, 45 out)"), not only the total
            "tokens": format_usage(self.result.usage)
            or ("" if self.tokens is None else f"{self.tokens:,}"),
            "thread": self.thread or "",
        }

    def sent(self) -> str:
        """The user's message (its words), else the inputs as `name=value` pairs."""
        users = [m for m in self.result.messages[:-1] if m.get("role") == "user"]
        content = users[-1].get("content") if users else None
        if isinstance(content, str) and content.strip():
            return plain_text(content)
        return ", ".join(f"{k}={v}" for k, v in (self.inputs or {}).items())


class Session:
    """Everything one kernel remembers between cells."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        environment: str | None = None,
        max_history: int = 1000,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        self.environment = environment
        self.idle_timeout: float | None = None
        self.retry_unsafe = False
        self.connection: Connection | None = None
        self.history: deque[HistoryEntry] = deque(maxlen=max_history)
        self.threads: dict[str, list[dict[str, Any]]] = {}
        self.last: Result | None = None
        self._client: Client | None = None
        # One AsyncClient per event loop: its pooled connections belong to the loop that
        # opened them (the widgets run on their own loop, `await` in a cell on the kernel's).
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._loopless: AsyncClient | None = None
        self._humanloop: HumanloopRunner | None = None
        self._deployments: list[Deployment] | None = None
        self._prefetched_for: Connection | None = None
        self._listed_without: set[str] = set()  # keys a fresh list did not have
        self._variables: dict[tuple[str, str], tuple[float, Variables]] = {}

    # -- where the session points -----------------------------------------------------------

    def connect(
        self,
        *,
        url: str | None = None,
        local: str | Path | None = None,
        api_key: str | None = None,
        key_source: str | None = None,
        humanloop: bool = False,
        record: Recording | None = None,
        replay: Recording | None = None,
        pace: bool = False,
    ) -> Connection:
        """Point the session at orq.ai (default), a URL, or a deployments file served locally.

        With `humanloop=True`, at Humanloop's v4 API instead: `url`, else `HUMANLOOP_BASE_URL`,
        else the retired hosted API; `local` serves the file and uses its `/v4` routes.
        `record`: every exchange of the session's clients goes to (or comes from) it; without,
        `ORQ_RECORD` / `ORQ_REPLAY` apply to orq, a URL and Humanloop. `replay`: a recording
        (mode `none`) served by the local server, at its recorded pace with `pace`.
        If the new connection cannot be made (a local server that does not start), the
        session stays as it was.
        """
        conn = self.open_connection(
            url=url,
            local=local,
            api_key=api_key,
            key_source=key_source,
            humanloop=humanloop,
            record=record,
            replay=replay,
            pace=pace,
        )
        return self.switch_to(conn)

    def open_connection(
        self,
        *,
        url: str | None = None,
        local: str | Path | None = None,
        api_key: str | None = None,
        key_source: str | None = None,
        humanloop: bool = False,
        record: Recording | None = None,
        replay: Recording | None = None,
        pace: bool = False,
    ) -> Connection:
        """A new connection (its local server started), not yet used by the session."""
        if replay is not None:
            return replay_connection(replay, pace=pace, humanloop=humanloop)
        # ORQ_RECORD / ORQ_REPLAY apply to remote services only, never to a local server.
        from_env = recording_from_env() if record is None and local is None else None
        conn = new_connection(url, local, api_key, key_source, humanloop=humanloop)
        conn.recording = record if record is not None else from_env
        return conn

    def switch_to(self, conn: Connection) -> Connection:
        """Use `conn` from now on: the old connection's clients close, its server stops."""
        if conn is not self.connection:
            self.close()
        self.connection = conn
        return conn

    @property
    def is_humanloop(self) -> bool:
        """Whether the session points at Humanloop's v4 API (`%orq connect --humanloop`)."""
        return self.connection is not None and self.connection.kind.startswith("humanloop")

    @property
    def connected(self) -> bool:
        """Whether `%orq connect` (or a first call) has chosen where the session points."""
        return self.connection is not None

    def ensure_connection(self) -> Connection:
        """The connection; before any connect, orq.ai (or ORQ_BASE_URL) with ORQ_API_KEY."""
        if self.connection is None:
            settings = Settings.resolve()
            kind = "orq" if any(h in settings.base_url for h in ORQ_HOSTS) else "url"
            self.connection = Connection(
                kind,
                settings.base_url,
                api_key=settings.api_key,
                key_source=settings.api_key_source,
                recording=recording_from_env(),
            )
        return self.connection

    def configure(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        environment: str | None = None,
        idle_timeout: float | None = None,
        retry_unsafe: bool = False,
    ) -> None:
        """Change client settings; clients are rebuilt on next use."""
        self.timeout, self.max_retries, self.environment = timeout, max_retries, environment
        self.idle_timeout, self.retry_unsafe = idle_timeout, retry_unsafe
        self._drop_clients()

    def _client_kwargs(self) -> dict[str, Any]:
        conn = self.ensure_connection()
        if self.is_humanloop:
            raise OrqError(
                "Not available for Humanloop: this needs orq's Deployments API, and the session "
                "is connected with `%orq connect --humanloop` (`%orq connect` returns to orq)."
            )
        return {
            "api_key": conn.api_key,
            "base_url": conn.base_url,
            "environment": self.environment,
            "timeout": self.timeout,
            "idle_timeout": self.idle_timeout,
            "max_retries": self.max_retries,
            "retry_unsafe": self.retry_unsafe,
            # Resolved at connect (ORQ_RECORD included): False keeps clients from reading it again.
            "record": False if conn.recording is None else conn.recording,
        }

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(**self._client_kwargs())
        return self._client

    @property
    def aclient(self) -> AsyncClient:
        """The AsyncClient for the running event loop (one per loop, made on first use)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in a loop: a client for whichever loop uses it first
            if self._loopless is None:
                self._loopless = AsyncClient(**self._client_kwargs())
            return self._loopless
        client = self._aclients.get(loop)
        if client is None:
            client = self._aclients[loop] = AsyncClient(**self._client_kwargs())
        return client

    def backend(self) -> ClientBackend:
        return ClientBackend(lambda: self.aclient)

    def invoke(
        self,
        key: str,
        fields: dict[str, Any],
        *,
        sent: list[dict[str, Any]],
        version: str | None = None,
    ) -> Result | None:
        """Invoke `key` with orq-shaped request `fields` (`%%orq --no-stream`), as a Result;
        None when the server answered `204 No Content` (no answer, as the SDK has it)."""
        if self.is_humanloop:
            return self._humanloop_runner().invoke(key, fields, sent=sent)
        start = time.perf_counter()
        inv = self.client.deployments.invoke(key, **fields)
        latency = time.perf_counter() - start
        if inv is None:
            return None
        return result_from_invocation(inv, key=key, sent=sent, latency=latency, version=version)

    def open_stream(self, key: str, fields: dict[str, Any]) -> PieceStream:
        """An unopened stream of `key`'s answer, read as pieces of text (`%%orq`)."""
        if self.is_humanloop:
            return self._humanloop_runner().open_stream(key, fields)
        return OrqPieces(self.client.deployments.stream(key, **fields))

    def _humanloop_runner(self) -> HumanloopRunner:
        if self._humanloop is None:
            from ._humanloop_backend import HumanloopRunner

            conn = self.ensure_connection()
            self._humanloop = HumanloopRunner.connect(
                api_key=conn.api_key,
                base_url=conn.base_url,
                environment=self.environment,
                timeout=self.timeout,
                max_retries=self.max_retries,
                record=False if conn.recording is None else conn.recording,
            )
        return self._humanloop

    def _drop_clients(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._humanloop is not None:
            self._humanloop.close()
            self._humanloop = None
        # Each async client is closed on its own loop (its connections belong to it).
        for loop, aclient in list(self._aclients.items()):
            if loop.is_running() and not loop.is_closed():
                asyncio.run_coroutine_threadsafe(aclient.aclose(), loop)
        self._aclients.clear()
        self._client = self._loopless = None
        self._deployments = None
        self._listed_without = set()
        self._variables = {}

    def close(self) -> None:
        """Close clients and stop a local server this session started."""
        self._drop_clients()
        if self.connection is not None and self.connection.server is not None:
            self.connection.server.stop()
        self.connection = None

    # -- deployments, cached for suggestions and provenance ------------------------------

    def deployments(self, *, refresh: bool = False) -> list[Deployment]:
        if self._deployments is None or refresh:
            self._deployments = list(self.client.deployments.iter())
            if refresh:
                self._listed_without.clear()
        return self._deployments

    def cached_deployments(self) -> list[Deployment] | None:
        """The deployments fetched last, without asking the server (None: not fetched yet)."""
        return self._deployments

    def prefetch_deployments(self) -> threading.Thread | None:
        """Fetch the deployment list once per connection, in a background thread, so tab
        completion has keys without a keystroke waiting on the network. Returns the thread;
        None when the list is there, was already asked for, or cannot be (Humanloop)."""
        conn = self.ensure_connection()
        if self._deployments is not None or self._prefetched_for is conn or self.is_humanloop:
            return None
        self._prefetched_for = conn
        client = self.client  # made here, on the caller's thread, not by two threads at once

        def fetch() -> None:
            try:
                found = list(client.deployments.iter())
            except Exception:  # no key, no server: completion simply has no keys
                return
            if self.connection is conn and self._deployments is None:  # not reconnected since
                self._deployments = found

        thread = threading.Thread(target=fetch, name="orq-deployment-keys", daemon=True)
        thread.start()
        return thread

    def deployment(self, key: str) -> Deployment | None:
        """`key`'s deployment from the list (fetched once, again once for a key not in it)."""
        found = self.cached_deployment(key)
        if found is None and key not in self._listed_without:
            found = next((d for d in self.deployments(refresh=True) if key in (d.key, d.id)), None)
            if found is None:
                self._listed_without.add(key)
        return found

    def variables(
        self, key: str, context: dict[str, Any] | None = None, *, refresh: bool = False
    ) -> Variables:
        """`key`'s variables (template from the list, defaults from `get_config`), kept for
        a minute per key and context so a cell does not cost two extra requests each time."""
        cache_key = (key, json.dumps(context, sort_keys=True, default=str))
        cached = self._variables.get(cache_key)
        if cached is not None and not refresh and time.monotonic() - cached[0] < _VARIABLES_TTL:
            return cached[1]
        found = self.deployment(key) if not refresh else None
        if refresh:
            found = next((d for d in self.deployments(refresh=True) if key in (d.key, d.id)), None)
        templates = found.prompt_config.messages if found is not None else None
        variables = fetch_variables(
            self.client.deployments, key, context=context, templates=templates
        )
        self._variables[cache_key] = (time.monotonic(), variables)
        return variables

    def version_of(self, key: str) -> str | None:
        """The version of deployment `key` (None for Humanloop, or when it cannot be listed)."""
        if self.is_humanloop:
            return None
        try:
            found = self.deployment(key)
        except OrqError:
            return None
        return found.version if found is not None else None

    def cached_deployment(self, key: str) -> Deployment | None:
        for d in self._deployments or ():
            if key in (d.key, d.id):
                return d
        return None

    # -- conversation threads and history ---------------------------------------------------

    def thread_messages(self, name: str, max_exchanges: int) -> list[dict[str, Any]]:
        turns = self.threads.get(name, [])
        return turns[-2 * max_exchanges :] if max_exchanges > 0 else []

    def record(
        self,
        result: Result,
        *,
        thread: str | None,
        sent_user: str | None,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        self.last = result
        if self._client is not None and not self.is_humanloop:
            attach_sender(result, self._client.settings)  # `result.feedback(...)` goes there
        status = result.status
        tokens = result.total_tokens
        self.history.append(
            HistoryEntry(
                key=result.deployment,
                at=datetime.now(timezone.utc),
                latency=result.latency,
                tokens=tokens,
                status=status,
                thread=thread,
                result=result,
                inputs=inputs,
            )
        )
        if thread and status == "ok":
            turns = self.threads.setdefault(thread, [])
            if sent_user is not None:
                turns.append({"role": "user", "content": sent_user})
            turns.append({"role": "assistant", "content": result.text})

    def reset(self, thread: str | None = None) -> str:
        if thread is not None:
            if thread not in self.threads:
                known = ", ".join(sorted(self.threads)) or "none"
                raise KeyError(f"No thread named {thread!r} (threads: {known}).")
            del self.threads[thread]
            return f"Thread {thread!r} cleared."
        n = len(self.history)
        self.history.clear()
        self.threads.clear()
        self.last = None
        return f"History ({n} invocations) and all threads cleared."


_session: Session | None = None


def current_session() -> Session:
    """The kernel's session, created on first use."""
    global _session
    if _session is None:
        _session = Session()
    return _session


def set_session(session: Session | None) -> None:
    """Replace the kernel's session (tests; `%reload_ext`); the old one is closed."""
    global _session
    if _session is not None and _session is not session:
        _session.close()
    _session = session
