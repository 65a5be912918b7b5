"""Bytes on the wire for the fault server: requests in, responses and answers out.

Hand-written HTTP/1.1 on purpose: the faults are things a well-behaved framework would not
let us do (close before the headers, a body shorter than its framing, a byte that is not
UTF-8, a 10 MB line).
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ANSWER",
    "PIECES",
    "Request",
    "chunk_json",
    "chunked",
    "head",
    "invocation_json",
    "raw_request",
    "read_request",
    "sse",
]

# The answer every healthy request gets, one piece per streamed chunk.
PIECES = ["Faults ", "are ", "tried, ", "counted, ", "and ", "nothing ", "is ", "lost."]
ANSWER = "".join(PIECES)

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024

_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    411: "Length Required",
    413: "Content Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Request:
    """One parsed request. `key` is the deployment key from a JSON body, when there is one."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    key: str | None = None
    stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a connection, or None when the client closed it."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the (idle) connection
    except asyncio.LimitOverrunError:
        raise ValueError("request head too large") from None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length > MAX_BODY:
        raise ValueError("request body too large")
    body = await reader.readexactly(length) if length else b""
    request = Request(method, target.split("?", 1)[0], headers, body)
    if body:
        try:
            request.json = json.loads(body)
        except ValueError:
            request.json = None
    if isinstance(request.json, dict):
        key = request.json.get("key")
        request.key = key if isinstance(key, str) else None
        request.stream = request.path.endswith("/stream") or request.json.get("stream") is True
    return request


def head(
    status: int, content_type: str | None, *, length: int | None = None, **extra: str
) -> bytes:
    """A response head; without `length` the body is chunked."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(data: bytes) -> bytes:
    """One frame of a chunked body (an empty `data` ends the body)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def chunk_json(content: str, *, final: bool = False) -> str:
    """One streamed chunk, shaped as the API sends it."""
    body = {
        "id": "01JXQ8ZK4T7M2N3P5R6S8V9W0X",
        "created": "2025-06-18T16:41:00.000Z",
        "object": "chat",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "is_final": final,
        "telemetry": {
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
        },
        "choices": [
            {
                "index": 0,
                "message": {"type": "content", "role": "assistant", "content": content},
                "finish_reason": "stop" if final else None,
            }
        ],
    }
    if final:
        body["usage"] = {"prompt_tokens": 5, "completion_tokens": 8, "total_tokens": 13}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def invocation_json(content: str) -> str:
    """A whole (non-streamed) answer."""
    return chunk_json(content, final=True)


def sse(data: str | bytes) -> bytes:
    raw = data if isinstance(data, bytes) else data.encode()
    return b"data: " + raw + b"\n\n"


def raw_request(port: int, data: bytes, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send exact request bytes to 127.0.0.1:`port`; the status and the body that came back.

    For request targets an HTTP client would normalise (`..`, `%2F`, NUL). Sends
    `Connection: close` semantics: reads until the server closes or the body is complete.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            try:
                part = sock.recv(65536)
            except TimeoutError:
                break
            if not part:
                break
            received += part
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0:
                head_text = received[:head_end].decode("latin-1").lower()
                if "content-length:" in head_text:
                    length = int(head_text.split("content-length:")[1].split("\r\n")[0])
                    if len(received) - head_end - 4 >= length:
                        break
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/") else 0
    body = received.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in received else b""
    return status, body
