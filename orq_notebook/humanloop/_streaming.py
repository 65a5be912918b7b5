"""Streamed Humanloop answers: `HumanloopStream` and its async twin.

Humanloop streams data-only server-sent events; each event is shaped like a whole response
whose `data[0]` is a *delta* of one sample: `output` is the new text only, `index` says which
sample, `finish_reason` is null until that sample's last event (reference §4). The server
just closes the connection at the end; no `[DONE]` is sent, but one is tolerated, and so are
payloads that are not JSON (both official SDKs skip them). Samples of `num_samples > 1` may
interleave: `SampleDecoder` keeps each sample's text apart, by `index`.

Like the orq streams (`_streaming`), a stream owns its HTTP response and always closes it: at
the end, on `break`, on an exception and on KeyboardInterrupt (the lifecycle both share is in
`_response_stream`); what arrived is kept.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import ServerSentEvent
from pydantic import ValidationError

from ..client._deadline import Deadline
from ..client._exceptions import StreamError
from ..client._response_stream import AsyncResponseStream, ResponseStream, StreamCore
from ._models import HumanloopResponse, HumanloopUsage, Sample

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


class _StreamState(StreamCore[Sample]):
    """What both twins share: the decoder and the read-only view."""

    def __init__(
        self, clock: Callable[[], float], expected: int, deadline: Deadline | None = None
    ) -> None:
        super().__init__(clock, deadline)
        self._decoder = SampleDecoder()
        self._expected = expected

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

    def _items(self, event: ServerSentEvent) -> list[Sample] | None:
        deltas = self._decoder.decode(event.data) if event.data else []
        return None if self._decoder.done else deltas

    def _broken(self, exc: Exception) -> StreamError:
        expired = self._expired()
        if expired is not None:
            reason = expired
        elif isinstance(exc, httpx.TimeoutException):
            reason = "no data arrived within the read timeout"
        else:
            detail = " ".join(str(exc).split())[:200]
            reason = f"the connection failed ({type(exc).__name__}: {detail})"
        return StreamError(
            f"The stream broke after {self.chunk_count} events: {reason}. "
            "The text received so far is kept in `partial_text`.",
            partial_text=self.text,
        )


class HumanloopStream(_StreamState, ResponseStream[Sample]):
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
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(clock, samples, deadline)
        self._open = open


class AsyncHumanloopStream(_StreamState, AsyncResponseStream[Sample]):
    """The async twin of `HumanloopStream`: `async with ... as s: async for delta in s: ...`."""

    def __init__(
        self,
        open: Callable[[], Awaitable[httpx.Response]],
        *,
        clock: Callable[[], float] = time.monotonic,
        samples: int = 1,
        deadline: Deadline | None = None,
    ) -> None:
        super().__init__(clock, samples, deadline)
        self._open = open
