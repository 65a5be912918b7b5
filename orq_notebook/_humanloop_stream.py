"""Streamed Humanloop answers: `HumanloopStream` and its async twin.

Humanloop streams data-only server-sent events; each event is shaped like a whole response
whose `data[0]` is a *delta* of one sample: `output` is the new text only, `index` says which
sample, `finish_reason` is null until that sample's last event (reference §4). The server
just closes the connection at the end; no `[DONE]` is sent, but one is tolerated, and so are
payloads that are not JSON (both official SDKs skip them). Samples of `num_samples > 1` may
interleave: `SampleDecoder` keeps each sample's text apart, by `index`.

Like the orq streams (`_streaming`), a stream owns its HTTP response and always closes it: at
the end, on `break`, on an exception and on KeyboardInterrupt; what arrived is kept.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import ServerSentEvent
from pydantic import ValidationError

from ._exceptions import StreamError
from ._humanloop_models import HumanloopResponse, HumanloopUsage, Sample
from ._streaming import _events

__all__ = ["AsyncHumanloopStream", "HumanloopStream", "SampleDecoder", "SampleText"]

DONE = "[DONE]"


@dataclass
class SampleText:
    """What one sample has streamed so far: its text, ids and (once done) finish reason."""

    index: int
    id: str = ""
    model_config_id: str | None = None
    finish_reason: str | None = None
    inputs: dict[str, Any] | None = None
    tool_results: list[dict[str, Any]] | None = None
    chat: bool = False
    pieces: list[str] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """The sample's text so far (the deltas joined; whitespace as sent)."""
        if len(self.pieces) > 1:
            self.pieces[:] = ["".join(self.pieces)]
        return self.pieces[0] if self.pieces else ""

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def add(self, delta: Sample) -> None:
        if delta.output:
            self.pieces.append(delta.output)
        self.id = delta.id or self.id
        self.model_config_id = delta.model_config_id or self.model_config_id
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.inputs = delta.inputs if delta.inputs is not None else self.inputs
        self.tool_results = delta.tool_results or self.tool_results
        self.chat = self.chat or delta.output_message is not None

    def to_sample(self) -> Sample:
        """The sample as a non-streamed response has it (`output` stripped, `raw_output` not)."""
        text = self.text
        sample = Sample(
            id=self.id,
            index=self.index,
            output=text.strip(),
            raw_output=text,
            inputs=self.inputs,
            finish_reason=self.finish_reason,
            model_config_id=self.model_config_id,
            tool_results=self.tool_results,
        )
        if self.chat:
            sample.output_message = {"role": "assistant", "content": text}
        return sample


class SampleDecoder:
    """Turns the data of events into sample deltas and keeps each sample's text (pure)."""

    def __init__(self) -> None:
        self.samples: dict[int, SampleText] = {}
        self.count = 0
        self.done = False
        self.project_id: str | None = None
        self.session_id: str | None = None
        self.usage: HumanloopUsage | None = None

    def decode(self, data: str) -> list[Sample]:
        """The deltas of one event (usually one); none for `[DONE]` and non-JSON payloads."""
        if data.strip() == DONE:
            self.done = True
            return []
        try:
            event = HumanloopResponse.model_validate_json(data)
        except ValidationError:
            return []
        self.count += 1
        self.project_id = event.project_id or self.project_id
        self.session_id = event.session_id or self.session_id
        self.usage = event.usage or self.usage
        for delta in event.data:
            self.samples.setdefault(delta.index, SampleText(delta.index)).add(delta)
        return event.data

    def first(self) -> SampleText | None:
        """Sample 0 (or the lowest index seen)."""
        return self.samples[min(self.samples)] if self.samples else None

    def to_response(self) -> HumanloopResponse:
        return HumanloopResponse(
            project_id=self.project_id,
            session_id=self.session_id,
            usage=self.usage,
            data=[self.samples[i].to_sample() for i in sorted(self.samples)],
            provider_responses=[],
        )


class _StreamState:
    """What both twins share: the decoder, the timings and the read-only view."""

    def __init__(self, clock: Callable[[], float], expected: int) -> None:
        self._decoder = SampleDecoder()
        self._clock = clock
        self._expected = expected
        self._sent_at: float | None = None
        self._first_at: float | None = None
        self._ended_at: float | None = None
        self._eof = False
        self._iterated = False
        self._closed = False

    @property
    def samples(self) -> list[SampleText]:
        """Every sample seen so far, by index."""
        return [self._decoder.samples[i] for i in sorted(self._decoder.samples)]

    @property
    def texts(self) -> list[str]:
        """Each sample's text so far, by index."""
        return [s.text for s in self.samples]

    @property
    def text(self) -> str:
        """Sample 0's text so far; kept after `break`, errors and interrupts."""
        first = self._decoder.first()
        return first.text if first else ""

    @property
    def completed(self) -> bool:
        """True once the stream ended and every expected sample had its `finish_reason`."""
        finished = [s for s in self._decoder.samples.values() if s.finished]
        ended = self._eof or self._decoder.done
        return ended and len(finished) >= self._expected and len(finished) == len(self.samples)

    @property
    def finish_reason(self) -> str | None:
        first = self._decoder.first()
        return first.finish_reason if first else None

    @property
    def id(self) -> str | None:
        """Sample 0's log id (`data_…`)."""
        first = self._decoder.first()
        return (first.id or None) if first else None

    @property
    def project_id(self) -> str | None:
        return self._decoder.project_id

    @property
    def usage(self) -> HumanloopUsage | None:
        """Usage, if an event carried it (Humanloop did not document it for streams)."""
        return self._decoder.usage

    @property
    def chunk_count(self) -> int:
        """Events that carried a response (the name matches the orq streams)."""
        return self._decoder.count

    @property
    def time_to_first_chunk(self) -> float | None:
        if self._sent_at is None or self._first_at is None:
            return None
        return self._first_at - self._sent_at

    @property
    def elapsed(self) -> float:
        """Seconds from sending the request to the end of the stream (or to now)."""
        if self._sent_at is None:
            return 0.0
        return (self._clock() if self._ended_at is None else self._ended_at) - self._sent_at

    def to_response(self) -> HumanloopResponse:
        """A `HumanloopResponse` assembled from what was streamed, one sample per index."""
        return self._decoder.to_response()

    def __repr__(self) -> str:
        state = "completed" if self.completed else "closed" if self._closed else "open"
        return (
            f"<{type(self).__name__} {state}: {self.chunk_count} events, "
            f"{len(self._decoder.samples)} samples>"
        )

    def _start_iteration(self) -> None:
        if self._iterated or self._closed:
            raise RuntimeError("This stream was already read or closed; a stream is read once.")
        self._iterated = True

    def _opening(self) -> None:
        if self._closed:
            raise RuntimeError("This stream is closed; open a new one to read again.")
        self._sent_at = self._clock()

    def _decode(self, event: ServerSentEvent) -> list[Sample]:
        deltas = self._decoder.decode(event.data) if event.data else []
        if deltas and self._first_at is None:
            self._first_at = self._clock()
        return deltas

    def _broken(self, exc: Exception) -> StreamError:
        if isinstance(exc, httpx.TimeoutException):
            reason = "no data arrived within the read timeout"
        else:
            reason = f"the connection failed ({type(exc).__name__}: {exc})"
        return StreamError(
            f"The stream broke after {self.chunk_count} events: {reason}. "
            "The text received so far is kept in `partial_text`.",
            partial_text=self.text,
        )

    def _mark_closed(self) -> bool:
        if self._closed:
            return False
        self._closed = True
        if self._sent_at is not None and self._ended_at is None:
            self._ended_at = self._clock()
        return True


class HumanloopStream(_StreamState):
    """A streamed `complete_deployed` / `chat_deployed`; the request is sent on `__enter__`.

    ```python
    with client.complete_deployed(project="summariser", inputs={...}, stream=True) as s:
        for delta in s:                 # a `Sample` whose `output` is the new piece
            print(delta.output, end="")
    s.text, s.texts, s.completed, s.to_response()
    ```
    """

    def __init__(
        self,
        open: Callable[[], httpx.Response],
        *,
        clock: Callable[[], float] = time.monotonic,
        samples: int = 1,
    ) -> None:
        super().__init__(clock, samples)
        self._open = open
        self._response: httpx.Response | None = None

    def __enter__(self) -> HumanloopStream:
        self._ensure_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Sample]:
        self._start_iteration()
        response = self._ensure_open()
        try:
            for event in _events(response).iter_sse():
                yield from self._decode(event)
                if self._decoder.done:
                    break
            self._eof = True
        except (httpx.TransportError, httpx.StreamError) as exc:
            if not self._closed:  # closed by its owner: just end
                raise self._broken(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        """Close the HTTP response; safe to call more than once."""
        if self._mark_closed() and self._response is not None:
            self._response.close()

    def _ensure_open(self) -> httpx.Response:
        if self._response is None:
            self._opening()
            try:
                self._response = self._open()
            except BaseException:
                self._mark_closed()
                raise
        return self._response

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class AsyncHumanloopStream(_StreamState):
    """The async twin of `HumanloopStream`: `async with ... as s: async for delta in s: ...`."""

    def __init__(
        self,
        open: Callable[[], Awaitable[httpx.Response]],
        *,
        clock: Callable[[], float] = time.monotonic,
        samples: int = 1,
    ) -> None:
        super().__init__(clock, samples)
        self._open = open
        self._response: httpx.Response | None = None

    async def __aenter__(self) -> AsyncHumanloopStream:
        await self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def __aiter__(self) -> AsyncIterator[Sample]:
        self._start_iteration()
        response = await self._ensure_open()
        try:
            async with aclosing(_events(response).aiter_sse()) as events:
                async for event in events:
                    for delta in self._decode(event):
                        yield delta
                    if self._decoder.done:
                        break
            self._eof = True
        except (httpx.TransportError, httpx.StreamError) as exc:
            if not self._closed:
                raise self._broken(exc) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP response; safe to call more than once."""
        if self._mark_closed() and self._response is not None:
            await self._response.aclose()

    async def _ensure_open(self) -> httpx.Response:
        if self._response is None:
            self._opening()
            try:
                self._response = await self._open()
            except BaseException:
                self._mark_closed()
                raise
        return self._response
