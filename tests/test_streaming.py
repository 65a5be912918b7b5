"""InvocationStream and AsyncInvocationStream over hand-made SSE bodies.

Each behaviour test runs once per twin: `consume()` drives either stream through the same steps
(the async one inside `asyncio.run`) and hands back the stream, the chunks and any exception.
"""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from itertools import pairwise
from typing import Any

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from orq_notebook.client._exceptions import StreamError
from orq_notebook.client._models import InvocationChunk
from orq_notebook.client._streaming import AsyncInvocationStream, ChunkDecoder, InvocationStream

Stream = InvocationStream | AsyncInvocationStream

# -- building SSE bodies ------------------------------------------------------------------------


def chunk(content: str | None, *, final: bool = False, **extra: Any) -> str:
    """One chunk as compact JSON, shaped as in the reference's transcript (§8.1)."""
    body: dict[str, Any] = {
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
    body.update(extra)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


FINAL = chunk(
    "",
    final=True,
    finalized="2025-06-18T16:41:01.250Z",
    usage={"total_tokens": 57, "prompt_tokens": 45, "completion_tokens": 12},
    retrievals=[
        {
            "document": "Items can be returned within 30 days.",
            "metadata": {
                "file_name": "refund_policy.pdf",
                "page_number": 1,
                "file_type": "application/pdf",
                "search_score": 0.82,
            },
        }
    ],
)


def sse(*datas: str, newline: str = "\n") -> bytes:
    """Data-only events, each followed by a blank line."""
    return "".join(f"data: {d}{newline}{newline}" for d in datas).encode()


TRANSCRIPT = sse(chunk("You can return"), chunk(" items within 30 days."), FINAL, "[DONE]")
ANSWER = "You can return items within 30 days."


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body served in the given pieces, then optionally an error; records closing."""

    def __init__(self, parts: Sequence[bytes], error: Exception | None = None) -> None:
        self.parts = list(parts)
        self.error = error
        self.closed = False
        self.closed_in_loop: bool | None = None

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        if self.error is not None:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def event_stream(body: Body, content_type: str = "text/event-stream") -> httpx.Response:
    return httpx.Response(200, headers={"content-type": content_type}, stream=body)


class Clock:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


# -- driving both twins the same way ------------------------------------------------------------


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_stream(kind: str, body: Body, clock: Clock | None = None) -> Stream:
    response = event_stream(body)
    extra = {"clock": clock} if clock else {}
    if kind == "sync":
        return InvocationStream(lambda: response, **extra)

    async def open_async() -> httpx.Response:
        return response

    return AsyncInvocationStream(open_async, **extra)


def consume(
    kind: str,
    body: Body,
    *,
    stop_after: int | None = None,
    raise_after: tuple[int, BaseException] | None = None,
    clock: Clock | None = None,
) -> tuple[Stream, list[InvocationChunk], BaseException | None]:
    """Read the stream inside `with`; `break` or raise from the loop body when asked.

    `body.closed_in_loop` tells whether the response was closed before `with` ended.
    """
    stream = make_stream(kind, body, clock)
    chunks: list[InvocationChunk] = []

    def step(c: InvocationChunk) -> bool:
        chunks.append(c)
        if raise_after and len(chunks) == raise_after[0]:
            raise raise_after[1]
        return stop_after is not None and len(chunks) >= stop_after

    if isinstance(stream, InvocationStream):
        try:
            with stream:
                try:
                    for c in stream:
                        if step(c):
                            break
                finally:
                    body.closed_in_loop = body.closed
        except BaseException as exc:
            return stream, chunks, exc
        return stream, chunks, None

    async def run(s: AsyncInvocationStream) -> BaseException | None:
        try:
            async with s:
                try:
                    async for c in s:
                        if step(c):
                            break
                finally:
                    body.closed_in_loop = body.closed
        except BaseException as exc:
            return exc
        return None

    return stream, chunks, asyncio.run(run(stream))


def texts(chunks: list[InvocationChunk]) -> list[str]:
    return [c.content for c in chunks]


# -- the happy path -----------------------------------------------------------------------------


def test_the_reference_transcript(kind: str) -> None:
    body = Body([TRANSCRIPT])
    stream, chunks, error = consume(kind, body)
    assert error is None
    assert texts(chunks) == ["You can return", " items within 30 days.", ""]
    assert stream.text == ANSWER
    assert stream.completed and stream.chunk_count == 3
    assert stream.final is chunks[-1]
    assert stream.finish_reason == "stop"
    assert stream.usage is not None and stream.usage.total_tokens == 57
    assert [r.metadata.file_name for r in stream.retrievals] == ["refund_policy.pdf"]
    assert (stream.id, stream.model, stream.provider) == (
        "01JXQ8ZK4T7M2N3P5R6S8V9W0X",
        "gpt-4o-mini",
        "openai",
    )
    assert stream.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert body.closed_in_loop  # by the end of the stream itself, not by `with`


def test_crlf_and_lone_cr_line_endings(kind: str) -> None:
    crlf = sse(chunk("a"), chunk("b"), newline="\r\n")
    cr = sse(FINAL, "[DONE]", newline="\r")
    stream, chunks, error = consume(kind, Body(split(crlf + cr, 7)))
    assert error is None
    assert texts(chunks) == ["a", "b", ""]
    assert stream.completed


def test_multi_line_data_is_joined_with_newlines(kind: str) -> None:
    pretty = json.dumps(json.loads(chunk("multi\nline", final=True)), indent=2)
    event = "".join(f"data: {line}\n" for line in pretty.splitlines()) + "\n"
    stream, chunks, error = consume(kind, Body([event.encode(), sse("[DONE]")]))
    assert error is None
    assert stream.text == "multi\nline"


def test_comments_pings_and_unknown_fields_are_skipped(kind: str) -> None:
    noise = b": keep-alive\n\nevent: ping\n\nid: 7\nretry: 1000\n\nfoo: bar\n\ndata:\n\n"
    body = Body([noise, sse(chunk("Hi")), b": again\n\nevent: ping\n\n", sse(FINAL, "[DONE]")])
    stream, chunks, error = consume(kind, body)
    assert error is None
    assert texts(chunks) == ["Hi", ""]
    assert stream.chunk_count == 2


def test_a_utf8_character_split_between_network_chunks(kind: str) -> None:
    text = "héllo ✓ 🎉 日本"
    stream, chunks, error = consume(kind, Body(split(sse(chunk(text), FINAL, "[DONE]"), 1)))
    assert error is None
    assert stream.text == text


def test_a_leading_byte_order_mark_is_ignored(kind: str) -> None:
    stream, _, error = consume(kind, Body([b"\xef\xbb\xbf" + TRANSCRIPT]))
    assert error is None
    assert stream.text == ANSWER


def test_the_done_sentinel_without_a_space(kind: str) -> None:
    stream, _, error = consume(kind, Body([sse(chunk("x", final=True)) + b"data:[DONE]\n\n"]))
    assert error is None and stream.completed


def test_nothing_after_done_is_read(kind: str) -> None:
    body = Body([sse(chunk("ok"), "[DONE]"), b"data: {not json\n\n", sse(chunk("late"))])
    stream, chunks, error = consume(kind, body)
    assert error is None
    assert texts(chunks) == ["ok"]
    assert stream.completed and stream.final is None
    assert body.closed_in_loop


def test_the_end_after_a_final_chunk_but_no_done_is_fine(kind: str) -> None:
    stream, chunks, error = consume(kind, Body([sse(chunk("a"), FINAL)]))
    assert error is None
    assert stream.completed and len(chunks) == 2


# -- broken streams -----------------------------------------------------------------------------


def test_the_end_before_the_final_chunk_is_an_error(kind: str) -> None:
    body = Body([sse(chunk("half an"), chunk(" answer"))])
    stream, chunks, error = consume(kind, body)
    assert isinstance(error, StreamError)
    assert "ended before the final chunk" in str(error)
    assert error.partial_text == "half an answer" == stream.text
    assert not stream.completed and len(chunks) == 2
    assert body.closed_in_loop


def test_an_unterminated_last_event_is_dropped_as_the_sse_spec_says(kind: str) -> None:
    body = Body([sse(chunk("a")) + f"data: {FINAL}".encode()])
    stream, _, error = consume(kind, body)
    assert isinstance(error, StreamError) and error.partial_text == "a"


def test_a_malformed_payload_is_a_stream_error_keeping_the_text(kind: str) -> None:
    body = Body([sse(chunk("kept"), '{"error": "model overloaded"}', FINAL)])
    stream, chunks, error = consume(kind, body)
    assert isinstance(error, StreamError)
    assert "not a chunk" in str(error) and "model overloaded" in str(error)
    assert error.partial_text == "kept"
    assert texts(chunks) == ["kept"]
    assert body.closed_in_loop


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (httpx.ReadError("connection reset"), "ReadError: connection reset"),
        (httpx.RemoteProtocolError("peer closed"), "RemoteProtocolError"),
        (httpx.ReadTimeout("timed out"), "read timeout"),
    ],
    ids=["read-error", "protocol-error", "read-timeout"],
)
def test_a_dropped_connection_mid_stream(kind: str, failure: Exception, words: str) -> None:
    body = Body([sse(chunk("so far"))], error=failure)
    stream, _, error = consume(kind, body)
    assert isinstance(error, StreamError)
    assert words in str(error)
    assert error.__cause__ is failure
    assert error.partial_text == "so far" == stream.text
    assert body.closed_in_loop


# -- the response is always closed --------------------------------------------------------------


def test_break_closes_the_response_and_keeps_the_text(kind: str) -> None:
    body = Body([sse(chunk("one"), chunk(" two"), chunk(" three"), FINAL, "[DONE]")])
    stream, chunks, error = consume(kind, body, stop_after=2)
    assert error is None
    assert body.closed
    assert stream.text == "one two" and not stream.completed


@pytest.mark.parametrize("raised", [ValueError("consumer bug"), KeyboardInterrupt()])
def test_an_exception_in_the_consumer_closes_the_response(kind: str, raised: BaseException) -> None:
    body = Body([TRANSCRIPT])
    stream, _, error = consume(kind, body, raise_after=(1, raised))
    assert error is raised
    assert body.closed
    assert stream.text == "You can return"


@pytest.mark.parametrize("raised", [None, ValueError("consumer bug"), KeyboardInterrupt()])
def test_break_or_raise_without_with_closes_the_response(raised: BaseException | None) -> None:
    body = Body([TRANSCRIPT])
    stream = InvocationStream(lambda: event_stream(body))  # kept alive: no help from __del__
    try:
        for _ in stream:
            if raised:
                raise raised
            break
    except BaseException as exc:
        assert exc is raised
    assert body.closed and stream.text == "You can return"


def test_async_break_without_with_is_closed_by_the_event_loop() -> None:
    body = Body([TRANSCRIPT])
    stream = make_stream("async", body)
    assert isinstance(stream, AsyncInvocationStream)

    async def run() -> None:
        async for _ in stream:
            break

    asyncio.run(run())  # asyncio.run finalizes the abandoned async generator
    assert body.closed


def test_an_entered_stream_dropped_without_exit_is_closed_when_collected() -> None:
    body = Body([TRANSCRIPT])
    stream = InvocationStream(lambda: event_stream(body)).__enter__()
    del stream
    gc.collect()
    assert body.closed


def test_reading_without_with_opens_lazily_and_once(kind: str) -> None:
    opened: list[int] = []
    response = event_stream(Body([TRANSCRIPT]))

    def open_sync() -> httpx.Response:
        opened.append(1)
        return response

    async def open_async() -> httpx.Response:
        return open_sync()

    async def collect(s: AsyncInvocationStream) -> list[InvocationChunk]:
        return [c async for c in s]

    if kind == "sync":
        chunks = list(InvocationStream(open_sync))
    else:
        chunks = asyncio.run(collect(AsyncInvocationStream(open_async)))
    assert opened == [1] and len(chunks) == 3


def test_a_stream_is_read_once(kind: str) -> None:
    stream, _, _ = consume(kind, Body([TRANSCRIPT]))
    with pytest.raises(RuntimeError, match="read once|closed"):
        if isinstance(stream, InvocationStream):
            list(stream)
        else:

            async def again(s: AsyncInvocationStream) -> None:
                async for _ in s:
                    pass

            asyncio.run(again(stream))


def test_a_failure_to_open_leaves_the_stream_closed() -> None:
    def refuse() -> httpx.Response:
        raise RuntimeError("no")

    stream = InvocationStream(refuse)
    with pytest.raises(RuntimeError, match="no"):
        stream.__enter__()
    with pytest.raises(RuntimeError, match="closed"):
        list(stream)


# -- timings and the assembled answer -----------------------------------------------------------


def test_time_to_first_chunk_and_elapsed(kind: str) -> None:
    clock = Clock()  # 101: sent, 102: first chunk, 103: closed
    stream, _, _ = consume(kind, Body([TRANSCRIPT]), clock=clock)
    assert stream.time_to_first_chunk == 1.0
    assert stream.elapsed == 2.0
    assert stream.elapsed == 2.0  # frozen once the stream ended


def test_an_unsent_stream_has_no_timings() -> None:
    stream = InvocationStream(lambda: event_stream(Body([])))
    assert stream.time_to_first_chunk is None and stream.elapsed == 0.0
    assert stream.text == "" and stream.id is None and stream.usage is None
    assert stream.retrievals == [] and stream.finish_reason is None


def test_to_invocation_of_a_completed_stream(kind: str) -> None:
    stream, _, _ = consume(kind, Body([TRANSCRIPT]))
    inv = stream.to_invocation()
    assert inv.text == ANSWER and inv.is_final
    assert inv.finish_reason == "stop" and inv.usage is not None
    assert inv.retrievals is not None and len(inv.retrievals) == 1
    assert inv.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert len(inv.choices) == 1


def test_to_invocation_of_a_partial_stream(kind: str) -> None:
    stream, _, _ = consume(kind, Body([sse(chunk("so"), chunk(" far"))]))
    inv = stream.to_invocation()
    assert inv.text == "so far" and not inv.is_final and inv.finish_reason is None


def test_to_invocation_before_any_chunk() -> None:
    inv = InvocationStream(lambda: event_stream(Body([]))).to_invocation()
    assert inv.text == "" and not inv.is_final and inv.id == ""


def test_to_invocation_keeps_a_streamed_tool_call(kind: str) -> None:
    call = {
        "type": "tool_calls",
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    final = chunk(None, final=True)
    final = final.replace('{"type":"content","role":"assistant","content":null}', json.dumps(call))
    stream, _, error = consume(kind, Body([sse(final, "[DONE]")]))
    assert error is None
    message = stream.to_invocation().choices[0].message
    assert message.type == "tool_calls" and message.content is None
    assert message.tool_calls is not None and message.tool_calls[0].function.name == "f"


def test_chunks_are_not_retained_by_the_stream() -> None:
    body = Body([sse(chunk("a"), chunk("b"), chunk("c"), FINAL, "[DONE]")])
    refs: list[weakref.ref[InvocationChunk]] = []
    with InvocationStream(lambda: event_stream(body)) as stream:
        for c in stream:
            refs.append(weakref.ref(c))
        del c
    gc.collect()
    alive = [r() is not None for r in refs]
    # Only the first (ids) and the final (usage, retrievals) chunks are kept.
    assert alive == [True, False, False, True]
    assert stream.text == "abc"


def test_repr_shows_progress_only() -> None:
    stream, _, _ = consume("sync", Body([TRANSCRIPT]))
    assert repr(stream) == f"<InvocationStream completed: 3 chunks, {len(ANSWER)} chars>"


# -- the decoder alone --------------------------------------------------------------------------


def test_decoder_skips_empty_data_and_stops_at_done() -> None:
    decoder = ChunkDecoder()
    assert decoder.decode("") is None and not decoder.done
    assert decoder.decode(" [DONE] ") is None and decoder.done


# -- any chunking of one byte stream gives the same answer -------------------------------------

MIXED = (
    sse(chunk("Grüße, "), newline="\r\n")
    + b": comment\n\nevent: ping\n\n"
    + sse(chunk("мир 🌍"), newline="\r")
    + sse(chunk("!\n"), FINAL, "[DONE]")
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(MIXED) - 1), unique=True, max_size=40))
def test_any_chunking_gives_the_same_chunks(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(MIXED)]
    parts = [MIXED[a:b] for a, b in pairwise(points)]
    body = Body(parts)
    with InvocationStream(lambda: event_stream(body)) as stream:
        pieces = [c.content for c in stream]
    assert pieces == ["Grüße, ", "мир 🌍", "!\n", ""]
    assert stream.text == "Grüße, мир 🌍!\n" and stream.completed and body.closed
