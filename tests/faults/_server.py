"""`FaultServer`: a raw asyncio HTTP server on 127.0.0.1 that misbehaves on request.

Each deployment key names a `Fault`; requests for key `good` (or any fault past its `times`)
get a healthy answer. The server counts attempts per key, logs every request (method, path,
key, body size; never a header value) and tracks its open connections, so a test can tell
retries from single attempts and prove that a client left nothing open.

Bounded: it listens on loopback only, caps every stall, and stops by itself after `lifetime`
seconds even if nobody calls `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ._more import MORE_FAULTS
from ._wire import (
    PIECES,
    Request,
    chunk_json,
    chunked,
    head,
    invocation_json,
    read_request,
    sse,
)

__all__ = ["Fault", "FaultServer", "Logged"]

SSE_TYPE = "text/event-stream"
JSON_TYPE = "application/json"
HUGE_LINE = 10 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    """What the server does wrong for one deployment key.

    Args:
        kind: `drop`, `bad_json`, `non_utf8`, `huge_line`, `no_done`, `stall`, `status`,
            `wrong_type`, `close_before_headers`, `echo_key` (the `Authorization` value
            back in an error body and in a broken stream event), and those of `_more`
            (`dribble`, `dribble_head`, `gzip_lie`, `bad_chunk`, `redirect_loop`,
            `odd_case`, `heartbeats`, `no_content`, `echo_key_header`).
        after: healthy chunks streamed before the fault shows.
        statuses: for `status`: the answers in turn (the last one repeats), e.g. (502, 503).
        retry_after: for `status`: sent as `Retry-After` (seconds).
        body: for `status`: the JSON error body (default: orq's error shape).
        times: the first `times` requests for the key get the fault, the next ones a healthy
            answer; None: every request.
        config: the fault is get_config's too (by default get_config answers normally).
    """

    kind: str
    after: int = 0
    statuses: tuple[int, ...] = (500,)
    retry_after: float | None = None
    body: Mapping[str, Any] | None = None
    times: int | None = None
    config: bool = False


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    key: str | None
    size: int


class FaultServer:
    """`with FaultServer({"stall": Fault("stall", after=1)}) as server: server.base_url`."""

    def __init__(
        self,
        faults: Mapping[str, Fault],
        *,
        host: str = "127.0.0.1",
        lifetime: float = 300.0,
        stall_cap: float = 3.0,
        endless_pages: bool = False,
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("The fault server listens on loopback only.")
        self.faults = dict(faults)
        self.host, self.port = host, 0
        self.lifetime, self.stall_cap = lifetime, stall_cap
        # The list endpoint says has_more forever and ignores the cursor.
        self.endless_pages = endless_pages
        self.attempts: Counter[str] = Counter()
        self.log: list[Logged] = []
        self.open_connections = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FaultServer:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="fault-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("The fault server did not start.")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop_now)
            thread.join(10)
        self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget attempts and the log (fault `times` count from zero again)."""
        with self._lock:
            self.attempts.clear()
            self.log.clear()

    def wait_idle(self, timeout: float = 3.0) -> bool:
        """True once no client connection is open (polls; bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while self.open_connections:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _stop_now(self) -> None:
        assert self._stopped is not None
        self._stopped.set()

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._connection, self.host, 0, limit=1024 * 1024)
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.lifetime)
        finally:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()

    # -- one connection -----------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.open_connections += 1
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                self._count(request)
                if not await self._answer(request, reader, writer) or not request.keep_alive:
                    break
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self.open_connections -= 1
            self._handlers.discard(task)

    def _count(self, request: Request) -> None:
        with self._lock:
            if request.key is not None and not _is_config(request):
                self.attempts[request.key] += 1
            self.log.append(Logged(request.method, request.path, request.key, len(request.body)))

    def _fault_for(self, request: Request) -> Fault | None:
        fault = self.faults.get(request.key or "")
        if fault is None:
            return None
        if fault.times is not None and self.attempts[request.key or ""] > fault.times:
            return None
        return fault

    async def _answer(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Write the answer; False when the connection must close afterwards."""
        if request.method == "GET" and request.path.endswith("/v2/deployments"):
            listed = _deployment_list(["good", *self.faults])
            listed["has_more"] = self.endless_pages
            await _json(writer, 200, listed)
            return True
        if request.method != "POST" or request.key is None:
            body = {"message": f"Not found: {request.method} {request.path}.", "code": 404}
            await _json(writer, 404, body)
            return True
        if request.key != "good" and request.key not in self.faults:
            message = f"Deployment with key '{request.key}' was not found."
            await _json(writer, 404, {"message": message, "code": 404})
            return True
        if _is_config(request) and not self.faults.get(request.key, Fault("")).config:
            # The faults are the invocation's: the magics' and batches' look at the
            # deployment's variables (get_config) before it is answered normally.
            await _json(writer, 200, _config(request.key))
            return True
        fault = self._fault_for(request)
        if fault is None:
            await _healthy(writer, request.stream)
            return True
        return await _FAULTS[fault.kind](self, fault, request, reader, writer)

    async def stall(self, reader: asyncio.StreamReader) -> None:
        """Wait `stall_cap` seconds, or less if the client hangs up first."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(1), self.stall_cap)


# -- answers ----------------------------------------------------------------------------------


def _is_config(request: Request) -> bool:
    return request.path.endswith("/get_config")


def _config(key: str) -> dict[str, Any]:
    return {
        "id": f"id-{key}",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "version": "v1",
        "messages": [],
        "parameters": {},
    }


def _deployment_list(keys: list[str]) -> dict[str, Any]:
    data = [
        {
            "id": f"id-{key}",
            "created": "2025-05-02T09:14:11.000Z",
            "updated": "2025-06-18T16:40:03.000Z",
            "key": key,
            "description": f"fault: {key}",
            "prompt_config": {
                "tools": [],
                "model": "gpt-4o-mini",
                "model_type": "chat",
                "model_parameters": {},
                "provider": "openai",
                "messages": [],
            },
            "version": "v1",
        }
        for key in keys
    ]
    return {"object": "list", "data": data, "has_more": False}


async def _json(
    writer: asyncio.StreamWriter, status: int, body: Mapping[str, Any], **headers: str
) -> None:
    data = json.dumps(body).encode()
    writer.write(head(status, JSON_TYPE, length=len(data), **headers) + data)
    await writer.drain()


async def _stream_start(writer: asyncio.StreamWriter, pieces: int) -> None:
    writer.write(head(200, SSE_TYPE, Cache_Control="no-cache"))
    for piece in PIECES[:pieces]:
        writer.write(chunked(sse(chunk_json(piece))))
    await writer.drain()


async def _stream_end(writer: asyncio.StreamWriter, *, done: bool = True) -> None:
    if done:
        writer.write(chunked(sse(chunk_json("", final=True)) + sse("[DONE]")))
    writer.write(chunked(b""))
    await writer.drain()


async def _healthy(writer: asyncio.StreamWriter, stream: bool) -> None:
    if stream:
        await _stream_start(writer, len(PIECES))
        await _stream_end(writer)
    else:
        data = invocation_json("".join(PIECES)).encode()
        writer.write(head(200, JSON_TYPE, length=len(data)) + data)
        await writer.drain()


# -- faults: each returns whether the connection may be reused --------------------------------

Reader, Writer = asyncio.StreamReader, asyncio.StreamWriter


async def _drop(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if r.stream:
        await _stream_start(w, f.after)
    else:
        data = invocation_json("".join(PIECES)).encode()
        w.write(head(200, JSON_TYPE, length=len(data)) + data[: len(data) // 2])
        await w.drain()
    return False  # closed mid-body: no terminating chunk, fewer bytes than announced


async def _bad_json(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    broken = '{"id":"01JXQ8ZK4T7M2N3P5R6S8V9W0X","choices":[{"message":{"content":"oops'
    if r.stream:
        await _stream_start(w, f.after)
        w.write(chunked(sse(broken)))
        await _stream_end(w)
    else:
        data = broken.encode()
        w.write(head(200, JSON_TYPE, length=len(data)) + data)
        await w.drain()
    return True


async def _non_utf8(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    # A byte that is not UTF-8, inside the text of an answer (a proxy cut a character).
    bad = chunk_json("caf@@ ").encode().replace(b"@@", b"\xff")
    if r.stream:
        await _stream_start(w, f.after)
        w.write(chunked(sse(bad)))
        await _stream_end(w)
    else:
        data = invocation_json("caf@@").encode().replace(b"@@", b"\xff")
        w.write(head(200, JSON_TYPE, length=len(data)) + data)
        await w.drain()
    return True


async def _huge_line(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    line = b"x" * HUGE_LINE
    if r.stream:
        await _stream_start(w, f.after)
        w.write(chunked(b"data: " + line + b"\n\n"))
        await _stream_end(w)
    else:
        w.write(head(200, JSON_TYPE, length=len(line)) + line)
        await w.drain()
    return True


async def _no_done(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if r.stream:
        await _stream_start(w, f.after)
        await _stream_end(w, done=False)  # a clean end of the body, but no final chunk
    else:
        data = invocation_json("".join(PIECES)).encode()
        data = data[: len(data) // 2]  # framed correctly, but the JSON stops halfway
        w.write(head(200, JSON_TYPE, length=len(data)) + data)
        await w.drain()
    return True


async def _stall(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if r.stream:
        await _stream_start(w, f.after)
    await s.stall(rd)
    return False


async def _status(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    attempt = s.attempts[r.key or ""]
    status = f.statuses[min(attempt, len(f.statuses)) - 1]
    headers = {}
    if f.retry_after is not None:
        headers["Retry-After"] = f"{f.retry_after:g}"
    body = f.body or {
        "message": f"Answered {status} on purpose (attempt {attempt}).",
        "code": status,
        "error": {"code": "fault", "message": f"Answered {status} on purpose."},
    }
    await _json(w, status, body, **headers)
    return True


async def _wrong_type(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    data = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
    w.write(head(200, "text/html; charset=utf-8", length=len(data)) + data)
    await w.drain()
    return True


async def _close_before_headers(
    s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer
) -> bool:
    return False


async def _echo_key(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    # A careless server that repeats the credentials it was sent.
    sent = r.headers.get("authorization", "")
    if r.stream:
        await _stream_start(w, f.after)
        w.write(chunked(sse(f"not json; you sent {sent}")))
        await _stream_end(w)
        return True
    await _json(w, 401, {"message": f"Invalid key {sent}", "code": 16})
    return True


_FAULTS = {
    "drop": _drop,
    "bad_json": _bad_json,
    "non_utf8": _non_utf8,
    "huge_line": _huge_line,
    "no_done": _no_done,
    "stall": _stall,
    "status": _status,
    "wrong_type": _wrong_type,
    "close_before_headers": _close_before_headers,
    "echo_key": _echo_key,
}
_FAULTS.update(MORE_FAULTS)
