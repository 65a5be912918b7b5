"""More ways to break an answer: slowness, encodings, framing, redirects, echoes.

Each handler has the signature of the ones in `_server` and is registered in its table:

* `dribble`: the answer starts, then one byte at a time, far apart, never finishing (a stream:
  one SSE line that never ends; an answer: its body);
* `dribble_head`: the status line and headers themselves, one byte at a time;
* `gzip_lie`: `Content-Encoding: gzip` on a body that is not gzip;
* `bad_chunk`: a chunked body whose next frame size is not hexadecimal;
* `redirect_loop`: `307` to the very same URL, every time;
* `odd_case`: a healthy answer under `Text/Event-Stream; Charset=UTF-8` (`Application/JSON`);
* `heartbeats`: a healthy stream with `data: {}`, comments and `event: ping` between chunks;
* `no_content`: `204 No Content`;
* `echo_key_header`: a 500 that echoes the credentials in `X-Request-Id` and, URL-quoted, in
  its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING
from urllib.parse import quote

from ._wire import PIECES, Request, chunk_json, chunked, head, invocation_json, sse

if TYPE_CHECKING:
    from ._server import Fault, FaultServer

__all__ = ["MORE_FAULTS"]

Reader, Writer = asyncio.StreamReader, asyncio.StreamWriter
SSE_TYPE = "text/event-stream"
JSON_TYPE = "application/json"
DRIBBLE_EVERY = 0.05  # seconds between two bytes: far below any read timeout


async def _hung_up(reader: Reader) -> bool:
    """True once the client closed its end (a read that returns at once with EOF)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader.read(1), DRIBBLE_EVERY)
        return True
    return reader.at_eof()


async def _trickle(s: FaultServer, rd: Reader, w: Writer, data: bytes, *, frame: bool) -> None:
    """Send `data` one byte at a time until the client hangs up or `stall_cap` × 10 passes."""
    steps = int(s.stall_cap * 10 / DRIBBLE_EVERY)
    for i in range(min(steps, len(data))):
        byte = data[i : i + 1]
        w.write(chunked(byte) if frame else byte)
        try:
            await w.drain()
        except ConnectionError:
            return
        if await _hung_up(rd):
            return


async def _dribble(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if r.stream:
        w.write(head(200, SSE_TYPE))
        for piece in PIECES[: f.after]:
            w.write(chunked(sse(chunk_json(piece))))
        await w.drain()
        await _trickle(s, rd, w, b"data: " + b"x" * 100_000, frame=True)
    else:
        data = invocation_json("".join(PIECES)).encode()
        w.write(head(200, JSON_TYPE, length=len(data)))
        await w.drain()
        await _trickle(s, rd, w, data, frame=False)
    return False


async def _dribble_head(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    padding = "X-Padding: " + "p" * 2000 + "\r\n"
    lines = head(200, SSE_TYPE if r.stream else JSON_TYPE, length=0 if not r.stream else None)
    await _trickle(s, rd, w, lines[:-2] + padding.encode() + b"\r\n", frame=False)
    return False


async def _gzip_lie(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if r.stream:
        w.write(head(200, SSE_TYPE, Content_Encoding="gzip"))
        w.write(chunked(sse(chunk_json(PIECES[0]))) + chunked(b""))
    else:
        data = invocation_json("".join(PIECES)).encode()
        w.write(head(200, JSON_TYPE, length=len(data), Content_Encoding="gzip") + data)
    await w.drain()
    return False


async def _bad_chunk(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if r.stream:
        w.write(head(200, SSE_TYPE))
        for piece in PIECES[: f.after]:
            w.write(chunked(sse(chunk_json(piece))))
    else:
        w.write(head(200, JSON_TYPE))
        w.write(chunked(invocation_json("".join(PIECES)).encode()[:40]))
    w.write(b"zz-not-a-size\r\noops\r\n")
    await w.drain()
    return False


async def _redirect_loop(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    w.write(head(307, None, length=0, Location=r.path))
    await w.drain()
    return True


async def _odd_case(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if r.stream:
        w.write(head(200, "Text/Event-Stream; Charset=UTF-8"))
        for piece in PIECES:
            w.write(chunked(sse(chunk_json(piece))))
        w.write(chunked(sse(chunk_json("", final=True)) + sse("[DONE]")) + chunked(b""))
    else:
        data = invocation_json("".join(PIECES)).encode()
        w.write(head(200, "Application/JSON; Charset=UTF-8", length=len(data)) + data)
    await w.drain()
    return True


async def _heartbeats(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    if not r.stream:
        data = invocation_json("".join(PIECES)).encode()
        w.write(head(200, JSON_TYPE, length=len(data)) + data)
        await w.drain()
        return True
    beats = b"data: {}\n\n: keep-alive\n\nevent: ping\n\n"
    w.write(head(200, SSE_TYPE) + chunked(beats))
    for piece in PIECES:
        w.write(chunked(sse(chunk_json(piece)) + beats))
    w.write(chunked(sse(chunk_json("", final=True)) + beats + sse("[DONE]")) + chunked(b""))
    await w.drain()
    return True


async def _no_content(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    w.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    await w.drain()
    return True


async def _echo_key_header(s: FaultServer, f: Fault, r: Request, rd: Reader, w: Writer) -> bool:
    sent = r.headers.get("authorization", "")
    key = sent.removeprefix("Bearer ")
    body = json.dumps({"message": f"Upstream refused {quote(key, safe='')}", "code": 500})
    data = body.encode()
    w.write(head(500, JSON_TYPE, length=len(data), X_Request_Id=f"req-{sent}") + data)
    await w.drain()
    return True


MORE_FAULTS = {
    "dribble": _dribble,
    "dribble_head": _dribble_head,
    "gzip_lie": _gzip_lie,
    "bad_chunk": _bad_chunk,
    "redirect_loop": _redirect_loop,
    "odd_case": _odd_case,
    "heartbeats": _heartbeats,
    "no_content": _no_content,
    "echo_key_header": _echo_key_header,
}
