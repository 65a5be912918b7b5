"""The recording transport: `Client(record=FILE)` sends through it.

It wraps the client's httpx transport. Depending on the recording's mode (`_cassette`) it
answers from the recording, or sends the request on and records the answer as it streams
through: the body of a JSON answer, each server-sent event of a stream with the time it came.
What reaches the caller is exactly what the service sent, chunk by chunk; recording never
holds a stream back.

Failing to write the recording (a full disk) never costs the caller the answer: it is logged
as a warning, once per recording.
"""

from __future__ import annotations

import codecs
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from ._cassette import Recording
from ._cassette_format import Answer, Event, Wanted, decode_body, encode_event, miss_body
from ._matching import api_path

__all__ = ["AsyncRecordingTransport", "RecordingTransport"]

logger = logging.getLogger("orq_notebook")

_SSE = "text/event-stream"


def _wanted(request: httpx.Request) -> Wanted:
    try:
        content = request.content
    except httpx.RequestNotRead:  # a streamed upload: recorded without its body
        content = b""
    return Wanted.from_wire(request.method, str(request.url), content, request.headers)


def _media_type(headers: httpx.Headers) -> str:
    content_type: str = headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower()


# -- answering from the recording ----------------------------------------------------------------


class _Cut(httpx.RemoteProtocolError):
    def __init__(self, request: httpx.Request) -> None:
        super().__init__("The recorded stream was cut short here.", request=request)


def _replayed(answer: Answer, request: httpx.Request, *, asynchronous: bool) -> httpx.Response:
    headers = dict(answer.headers)
    if answer.events is None:
        return httpx.Response(answer.status, headers=headers, content=answer.content())
    chunks = [encode_event(e) for e in answer.events]
    stream: httpx.SyncByteStream | httpx.AsyncByteStream = (
        _AsyncEvents(chunks, answer.complete, request)
        if asynchronous
        else _SyncEvents(chunks, answer.complete, request)
    )
    return httpx.Response(answer.status, headers=headers, stream=stream)


class _SyncEvents(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes], complete: bool, request: httpx.Request) -> None:
        self._chunks, self._complete, self._request = chunks, complete, request

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        if not self._complete:
            raise _Cut(self._request)


class _AsyncEvents(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes], complete: bool, request: httpx.Request) -> None:
        self._chunks, self._complete, self._request = chunks, complete, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk
        if not self._complete:
            raise _Cut(self._request)


def _from_recording(
    recording: Recording, request: httpx.Request, *, asynchronous: bool
) -> httpx.Response | None:
    """The recorded answer; a 404 naming what differs in mode `none`; None to send it."""
    recording.learn_secrets(request.headers)  # before matching: recorded bodies are redacted
    if recording.mode == "rewrite":
        return None
    wanted = _wanted(request)
    answer = recording.lookup(wanted)
    if answer is not None:
        return _replayed(answer, request, asynchronous=asynchronous)
    if not recording.offline:
        return None
    humanloop = api_path(request.url.path).startswith("/v4/")
    body = miss_body(recording.miss(wanted), humanloop=humanloop)
    return httpx.Response(404, json=body)


# -- recording what the service sends ------------------------------------------------------------


class _Tape:
    """Collects one answer as it passes through, then adds it to the recording."""

    def __init__(
        self,
        recording: Recording,
        request: httpx.Request,
        response: httpx.Response,
        elapsed: float,
        clock: Callable[[], float],
    ) -> None:
        self._recording, self._wanted = recording, _wanted(request)
        self._status, self._headers = response.status_code, response.headers
        self._elapsed, self._clock, self._start = elapsed, clock, clock()
        encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
        self._sse = _media_type(response.headers) == _SSE and not encoded
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._raw, self._pending, self._events = bytearray(), "", list[Event]()
        self._done = False

    def feed(self, chunk: bytes) -> None:
        if not self._sse:
            self._raw += chunk
            return
        self._pending += self._decoder.decode(chunk).replace("\r\n", "\n")
        *blocks, self._pending = self._pending.split("\n\n")
        now = self._clock() - self._start
        self._events += [e for e in (_event(block, now) for block in blocks) if e is not None]

    def finish(self, *, complete: bool) -> None:
        if self._done:
            return
        self._done = True
        try:
            answer = self._answer(complete)
            if answer is not None:
                self._recording.add(self._wanted, answer)
        except Exception as exc:  # the caller's answer matters more than the recording
            logger.warning("Could not record to %s: %s", self._recording.path, exc)

    def _answer(self, complete: bool) -> Answer | None:
        headers = dict(self._headers)
        if self._sse:
            tail = _event(self._pending, self._clock() - self._start) if complete else None
            events = tuple(self._events + ([tail] if tail else []))
            # orq ends a stream with `[DONE]`, and readers close it there, before the end.
            complete = complete or bool(events and events[-1].text == "[DONE]")
            return Answer(self._status, headers, self._elapsed, events=events, complete=complete)
        if not complete:
            return None  # half a JSON body answers nothing
        content = httpx.Response(self._status, headers=headers, content=bytes(self._raw)).content
        headers.pop("content-encoding", None)
        body = decode_body(content)
        if isinstance(body, str):
            return Answer(self._status, headers, self._elapsed, text=body)
        return Answer(self._status, headers, self._elapsed, body=body)


def _event(block: str, t: float) -> Event | None:
    data: list[str] = []
    name = ident = None
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "id":
            ident = value
    if not data and name is None:
        return None
    text = "\n".join(data)
    parsed = decode_body(text)
    if isinstance(parsed, (dict, list)):
        return Event(t, data=parsed, name=name, id=ident)
    return Event(t, text=text, name=name, id=ident)


class _SyncTee(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, tape: _Tape) -> None:
        self._inner, self._tape = inner, tape

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._tape.feed(chunk)
            yield chunk
        self._tape.finish(complete=True)

    def close(self) -> None:
        self._tape.finish(complete=False)
        self._inner.close()


class _AsyncTee(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, tape: _Tape) -> None:
        self._inner, self._tape = inner, tape

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._tape.feed(chunk)
            yield chunk
        self._tape.finish(complete=True)

    async def aclose(self) -> None:
        self._tape.finish(complete=False)
        await self._inner.aclose()


def _prepare(recording: Recording, request: httpx.Request) -> None:
    # Plain bytes, so each event is recorded at the moment it arrives.
    request.headers["Accept-Encoding"] = "identity"


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport (default: httpx's) to record to, or answer from, a `Recording`."""

    def __init__(self, inner: httpx.BaseTransport | None, recording: Recording) -> None:
        self.recording = recording
        self._inner = inner
        self._clock = time.monotonic

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        replayed = _from_recording(self.recording, request, asynchronous=False)
        if replayed is not None:
            return replayed
        if self._inner is None:
            self._inner = httpx.HTTPTransport()
        _prepare(self.recording, request)
        started = self._clock()
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        tape = _Tape(self.recording, request, response, self._clock() - started, self._clock)
        return _passed_on(response, _SyncTee(response.stream, tape))

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    """The async twin of `RecordingTransport`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None, recording: Recording) -> None:
        self.recording = recording
        self._inner = inner
        self._clock = time.monotonic

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        replayed = _from_recording(self.recording, request, asynchronous=True)
        if replayed is not None:
            return replayed
        if self._inner is None:
            self._inner = httpx.AsyncHTTPTransport()
        _prepare(self.recording, request)
        started = self._clock()
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        tape = _Tape(self.recording, request, response, self._clock() - started, self._clock)
        return _passed_on(response, _AsyncTee(response.stream, tape))

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


def _passed_on(response: httpx.Response, stream: Any) -> httpx.Response:
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=stream,
        extensions=response.extensions,
    )
