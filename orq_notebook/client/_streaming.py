"""Streamed invocations: `InvocationStream` and its async twin.

A stream owns one HTTP response and always closes it: at the end, on `break`, on an exception,
on KeyboardInterrupt and when garbage collected. The SSE framing is decoded by `httpx-sse`;
the orq part (the `[DONE]` sentinel, data-less events, chunk parsing, what to keep) lives in
`ChunkDecoder`; the response's lifecycle and the loop over its events, in `_response_stream`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from httpx_sse import ServerSentEvent
from pydantic import ValidationError

from ._deadline import Deadline
from ._error_body import one_line
from ._exceptions import StreamError
from ._models import Invocation, InvocationChunk, Retrieval, Usage
from ._response_stream import AsyncResponseStream, ResponseStream, StreamCore

__all__ = ["AsyncInvocationStream", "ChunkDecoder", "InvocationStream"]

DONE = "[DONE]"


class ChunkDecoder:
    """Turns the data of SSE events into chunks and keeps what an answer needs.

    Only the text pieces and the first and final chunks are kept, never every chunk, so memory
    grows with the answer's length, not with the number of events.
    """

    def __init__(self, redact: Callable[[str], str] | None = None) -> None:
        self._redact = redact or _unchanged
        self._pieces: list[str] = []
        self.first: InvocationChunk | None = None
        self.final: InvocationChunk | None = None
        self.count = 0
        self.done = False
        # The model's validator itself: `model_validate_json` only adds a Python-level call.
        self._validate_json = InvocationChunk.__pydantic_validator__.validate_json

    def decode(self, data: str) -> InvocationChunk | None:
        """The chunk carried by one event's data; None for `[DONE]` and data-less events."""
        # This runs once per token: it is kept lean (measured in benchmarks/stream_throughput.py).
        if not data:  # e.g. `event: ping`: nothing for us
            return None
        if data[0] != "{" and data.strip() == DONE:
            self.done = True
            return None
        try:
            chunk: InvocationChunk = self._validate_json(data)
        except ValidationError:
            if _is_heartbeat(data):  # `data: {}` between chunks keeps a connection alive
                return None
            # Redacted whole, then cut: a cut first could leave part of a secret behind.
            shown = self._redact(data)
            snippet = shown if len(shown) <= 200 else shown[:200] + "..."
            raise StreamError(
                f"The stream sent an event that is not a chunk of an answer: {snippet!r}. "
                "The text received so far is kept in `partial_text`.",
                partial_text=self.text,
            ) from None
        self.count += 1
        if self.first is None:
            self.first = chunk
        if chunk.is_final:
            self.final = chunk
        choices = chunk.choices  # `chunk.content`, without two property calls
        if choices and (piece := choices[0].message.content):
            self._pieces.append(piece)
        return chunk

    @property
    def text(self) -> str:
        """All the text so far (joined once, then kept joined)."""
        if len(self._pieces) > 1:
            self._pieces = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""


def _unchanged(text: str) -> str:
    return text


def _is_heartbeat(data: str) -> bool:
    try:
        return json.loads(data) in ({}, None)
    except ValueError:
        return False


class _StreamState(StreamCore[InvocationChunk]):
    """What both twins share: the decoder and the read-only view of the answer."""

    def __init__(
        self,
        clock: Callable[[], float],
        redact: Callable[[str], str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(clock, deadline)
        self._redact = redact or _unchanged  # the client's: an echoed key never reaches a message
        self._decoder = ChunkDecoder(self._redact)

    @property
    def text(self) -> str:
        """All the text received so far; kept after `break`, errors and interrupts."""
        return self._decoder.text

    @property
    def completed(self) -> bool:
        """True once `[DONE]` arrived, or the connection ended after the final chunk."""
        return self._decoder.done or (self._eof and self._decoder.final is not None)

    @property
    def final(self) -> InvocationChunk | None:
        """The chunk with `is_final: true`, once it arrived."""
        return self._decoder.final

    @property
    def chunk_count(self) -> int:
        return self._decoder.count

    @property
    def usage(self) -> Usage | None:
        return self.final.usage if self.final else None

    @property
    def retrievals(self) -> list[Retrieval]:
        return (self.final.retrievals or []) if self.final else []

    @property
    def finish_reason(self) -> str | None:
        return self.final.finish_reason if self.final else None

    @property
    def id(self) -> str | None:
        return self._decoder.first.id if self._decoder.first else None

    @property
    def model(self) -> str | None:
        return self._decoder.first.model if self._decoder.first else None

    @property
    def provider(self) -> str | None:
        return self._decoder.first.provider if self._decoder.first else None

    @property
    def trace_id(self) -> str | None:
        return self._decoder.first.trace_id if self._decoder.first else None

    def to_invocation(self) -> Invocation:
        """An `Invocation` assembled from what was streamed, with the whole text as content.

        `is_final` tells whether the stream completed. Before any chunk arrived, the ids, model
        and provider are empty strings.
        """
        template = self._decoder.final or self._decoder.first
        data: dict[str, Any] = (
            template.model_dump(mode="json")
            if template
            else {
                "id": "",
                "created": "",
                "object": "chat",
                "model": "",
                "provider": "",
                "telemetry": {"trace_id": "", "span_id": ""},
                "choices": [],
            }
        )
        choice = (data["choices"] or [{"index": 0, "finish_reason": None}])[0]
        message = choice.get("message") or {"type": "content", "role": "assistant"}
        if self.text or message.get("type") == "content":
            message["content"] = self.text
        choice["message"] = message
        data.update(choices=[choice], is_final=self.completed)
        return Invocation.model_validate(data)

    def __repr__(self) -> str:
        state = "completed" if self.completed else "closed" if self._closed else "open"
        return f"<{type(self).__name__} {state}: {self.chunk_count} chunks, {len(self.text)} chars>"

    # -- used by the loops ------------------------------------------------------------------

    def _start_iteration(self) -> None:
        if self._iterated:
            raise RuntimeError("This stream was already iterated; a stream can be read once.")
        if self._closed:
            raise RuntimeError("This stream is closed; open a new one to read again.")
        self._iterated = True

    def _items(self, event: ServerSentEvent) -> tuple[InvocationChunk] | tuple[()] | None:
        chunk = self._decoder.decode(event.data)
        if chunk is not None:
            return (chunk,)
        return None if self._decoder.done else ()  # whatever follows [DONE] is never read

    def _end_of_stream(self) -> None:
        super()._end_of_stream()
        if self._decoder.final is None and not self._closed:
            raise StreamError(
                f"The stream ended before the final chunk, after {self.chunk_count} chunks: "
                "the server closed the connection early. The text received so far is kept "
                "in `partial_text`.",
                partial_text=self.text,
            )

    def _broken(self, exc: Exception) -> StreamError:
        expired = self._expired()
        if expired is not None:
            reason = expired
        elif isinstance(exc, httpx.TimeoutException):
            reason = "no data arrived within the read timeout"
        elif isinstance(exc, httpx.DecodingError):
            reason = "its bytes are not what their declared encoding says (DecodingError)"
        else:
            detail = one_line(str(exc), 200)
            reason = self._redact(f"the connection failed ({type(exc).__name__}: {detail})")
        return StreamError(
            f"The stream broke after {self.chunk_count} chunks: {reason}. "
            "The text received so far is kept in `partial_text`.",
            partial_text=self.text,
        )


class InvocationStream(_StreamState, ResponseStream[InvocationChunk]):
    """A streamed invocation: the request is sent on `__enter__` (or at the first iteration).

    ```python
    with client.deployments.stream("support-answer", inputs={"q": "Hi"}) as s:
        for chunk in s:
            print(chunk.content, end="")
    s.text, s.usage, s.completed
    ```
    """

    def __init__(
        self,
        open: Callable[[], httpx.Response],
        *,
        clock: Callable[[], float] = time.monotonic,
        redact: Callable[[str], str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(clock, redact, deadline)
        self._open = open


class AsyncInvocationStream(_StreamState, AsyncResponseStream[InvocationChunk]):
    """The async twin of `InvocationStream`.

    ```python
    async with client.deployments.stream("support-answer", inputs={"q": "Hi"}) as s:
        async for chunk in s:
            print(chunk.content, end="")
    ```
    """

    def __init__(
        self,
        open: Callable[[], Awaitable[httpx.Response]],
        *,
        clock: Callable[[], float] = time.monotonic,
        redact: Callable[[str], str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(clock, redact, deadline)
        self._open = open
