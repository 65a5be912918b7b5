"""Run the local deployments server in a background thread.

    with LocalServer("deployments.yaml") as server:
        server.base_url            # "http://127.0.0.1:PORT"

uvicorn runs on its own event loop in a daemon thread, so it works from a notebook whose
kernel already runs a loop in the main thread, and it never installs signal handlers: Ctrl+C
and SIGTERM stay with whoever owns the main thread (the kernel, the CLI).

Stopping is prompt: the server's loop wakes at once (not on its next 100 ms tick), idle
keep-alive connections close, answers in flight get `grace` seconds to finish, and then their
connections are closed (a client sees a dropped stream, with its partial text) without a
logged traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from ._app import DEFAULT_MAX_BODY_BYTES, create_app
from ._store import DeploymentStore

if TYPE_CHECKING:
    from ..client._cassette import Recording

__all__ = ["LocalServer", "ServerThread"]


class _Stoppable:
    """The app, with the cancellation of an answer cut short by `stop()` kept quiet: uvicorn
    logs any exception of an app, a traceback for a deliberate stop included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.stopping = app, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if not self.stopping:
                raise


class _QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: _Stoppable) -> None:
        super().__init__(config)
        self._app, self.grace = app, 2.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals belong to the main thread's owner; a server in a thread must not take them.
        yield

    async def main_loop(self) -> None:
        # uvicorn's loop looks at `should_exit` every 100 ms; this one also wakes on `wake()`.
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    def request_exit(self, grace: float) -> None:
        """From any thread: stop now, giving answers in flight `grace` seconds."""
        self.grace, self.should_exit = grace, True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()  # idle: closed now; busy: closed after its answer
        deadline = time.monotonic() + self.grace
        while (state.connections or state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if state.connections or state.tasks:
            self._app.stopping = True
            for connection in list(state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.close()
            await asyncio.sleep(0)  # let the connections notice before their tasks end
            for task in list(state.tasks):
                task.cancel()
            if state.tasks:
                await asyncio.wait(list(state.tasks), timeout=1)
        if not self.force_exit:
            await self.lifespan.shutdown()


class ServerThread:
    """Any ASGI app served by uvicorn on 127.0.0.1 (by default) in a daemon thread.

    The port is bound in `start()`, in the calling thread, so a busy port raises `OSError`
    there, and `port=0` picks a free one.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        access_log: bool = False,
    ) -> None:
        self.app, self.host, self.port = app, host, port
        self._log_level, self._access_log = log_level, access_log
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
        # and without it every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OverflowError:  # a port past 65535: socket's own error is not an OSError
            sock.close()
            raise OSError(f"port {self.port} is out of range (0 to 65535)") from None
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        app = _Stoppable(self.app)
        config = uvicorn.Config(
            app,
            log_config=None,  # leave the host application's logging alone
            log_level=self._log_level,
            access_log=self._access_log,
            lifespan="auto",
            loop="asyncio",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server, self._failure = _QuietServer(config, app), None
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name=f"orq-local-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The server on {self.url} did not start: {self._failure!r}")
            time.sleep(0.005)

    def _run(self, server: _QuietServer, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from a failed lifespan, too
            self._failure = exc
        finally:
            sock.close()

    def stop(self, grace: float = 2.0, timeout: float = 5.0) -> None:
        """Stop serving: answers in flight get `grace` seconds to finish, then their
        connections are closed; waits up to `timeout` seconds more for the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.request_exit(grace)
        thread.join(grace + timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None


class LocalServer:
    """The local deployments server for a deployments file (or a `DeploymentStore`).

    Args:
        deployments: path of a YAML/JSON deployments file, or a `DeploymentStore` (which
            keeps its own `allow_env` / `allow_hosts`).
        replay: instead of deployments, a recording to answer from (`Client(record=FILE)`,
            `%orq connect --record FILE`): the same answers, the same stream events.
        pace: with `replay`, answer at the recorded pace (default: at once).
        ignore, match: with `replay`, fields left out of matching or taken into it after
            all (see `orq_notebook.Recording`).
        api_key: when set, requests need `Authorization: Bearer <api_key>`.
        allow_env, allow_hosts: the environment variables and the hosts the file may name
            for its `openai` responders (the key is sent to that host); loopback hosts need
            no allowing. Added to `ORQ_LOCAL_ALLOW_ENV` / `ORQ_LOCAL_ALLOW_HOSTS`
            (comma-separated). A file naming anything else is refused with one line.
        host, port: where to listen; `port=0` (the default) picks a free port.
        max_body_bytes: larger request bodies get 413.
        log_level, access_log: uvicorn's logging (quiet by default).

    `start()` loads the file first: an invalid file raises `DeploymentFileError` (a recording,
    `RecordingFileError`) and nothing starts. A deployments file is re-read when it changes,
    on the next request; a recording is read once.
    """

    def __init__(
        self,
        deployments: str | os.PathLike[str] | DeploymentStore | None = None,
        *,
        replay: str | os.PathLike[str] | Recording | None = None,
        pace: bool = False,
        ignore: tuple[str, ...] | list[str] = (),
        match: tuple[str, ...] | list[str] = (),
        api_key: str | None = None,
        allow_env: Iterable[str] | None = None,
        allow_hosts: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        log_level: str = "warning",
        access_log: bool = False,
    ) -> None:
        if (deployments is None) == (replay is None):
            raise ValueError("Give LocalServer a deployments file or replay=FILE (one of them).")
        if replay is not None and not isinstance(replay, (str, os.PathLike)) and not replay.offline:
            raise ValueError("A Recording to replay is opened with mode='none'.")
        given: tuple[object, object] = (host, port)  # checked as they come, whatever the hints
        if type(given[1]) is not int or not 0 <= port <= 65535:
            raise ValueError(
                f"port must be a whole number from 0 to 65535 (0 picks a free one); got {port!r}"
            )
        if not isinstance(given[0], str) or not host.strip():
            raise ValueError(f"host must be a host name or address such as 127.0.0.1; got {host!r}")
        if isinstance(deployments, DeploymentStore) and (allow_env or allow_hosts):
            raise ValueError(
                "a DeploymentStore keeps its own allowances: pass allow_env/allow_hosts to "
                "DeploymentStore.from_file(...) instead"
            )
        self._source = deployments
        self._replay, self._pace, self._match_rules = replay, pace, (tuple(ignore), tuple(match))
        self.recording: Recording | None = None
        self._api_key = api_key
        self._allow_env, self._allow_hosts = allow_env, allow_hosts
        self._max_body_bytes, self._log_level, self._access_log = (
            max_body_bytes,
            log_level,
            access_log,
        )
        self.host, self._port = host, port
        self.store: DeploymentStore | None = (
            deployments if isinstance(deployments, DeploymentStore) else None
        )
        self._thread: ServerThread | None = None

    def __repr__(self) -> str:
        source = self._source if isinstance(self._source, DeploymentStore) else str(self._source)
        if self._replay is not None:
            source = f"replaying {self.recording.path if self.recording else self._replay}"
        state = self.base_url if self.running else "stopped"
        auth = "key required" if self._api_key else "no key"
        return f"<LocalServer {source} {state} ({auth})>"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.running

    @property
    def port(self) -> int:
        return self._thread.port if self._thread else self._port

    @property
    def secrets_summary(self) -> str:
        """Which secrets the deployments file sends where, in one line (empty when it calls
        no other server); see `DeploymentStore.secrets_summary`."""
        return self.store.secrets_summary if self.store is not None else ""

    @property
    def base_url(self) -> str:
        """The URL to give a client, e.g. `http://127.0.0.1:8700`."""
        if self._thread is None:
            raise RuntimeError("The server is not running: call start() or use `with`.")
        return self._thread.url

    def start(self) -> LocalServer:
        """Load the deployments and start serving; returns the server. No-op when running."""
        if self.running:
            return self
        app = self._replay_app() if self._replay is not None else self._app()
        thread = ServerThread(
            app,
            host=self.host,
            port=self._port,
            log_level=self._log_level,
            access_log=self._access_log,
        )
        thread.start()
        self._thread = thread
        return self

    def _app(self) -> ASGIApp:
        assert self._source is not None
        if not isinstance(self._source, DeploymentStore):
            self.store = DeploymentStore.from_file(
                self._source, allow_env=self._allow_env, allow_hosts=self._allow_hosts
            )
        assert self.store is not None
        return create_app(self.store, api_key=self._api_key, max_body_bytes=self._max_body_bytes)

    def _replay_app(self) -> ASGIApp:
        # Loaded here, so serving a deployments file never imports the recording machinery.
        from ..client._cassette import Recording
        from ._replay import create_replay_app

        recording, (ignore, match) = self._replay, self._match_rules
        if not isinstance(recording, Recording):
            assert recording is not None
            # Read at each start, so a restarted server answers what was recorded since.
            recording = Recording(recording, mode="none", ignore=ignore, match=match)
        self.recording = recording
        return create_replay_app(
            recording,
            api_key=self._api_key,
            pace=self._pace,
            max_body_bytes=self._max_body_bytes,
        )

    def stop(self, grace: float = 2.0) -> None:
        """Stop serving (idempotent). Answers in flight get `grace` seconds to finish; then
        their connections are closed (a streaming client keeps the text it got)."""
        if self._thread is not None:
            self._thread.stop(grace)
            self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
