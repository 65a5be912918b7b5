"""How the notebook side reads a connection: Results from answers, streams as text pieces,
and the widgets' backend over an AsyncClient.

Join layer: it builds display-side `Result`s from core objects, so neither side needs the other.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from ..client._client import AsyncClient
from ..client._config import Settings
from ..client._exceptions import OrqError
from ..client._hints import no_content
from ..client._models import Deployment, DeploymentConfig, Invocation
from ..client._sender import FeedbackSender
from ..client._streaming import InvocationStream
from ..display._result import Result

__all__ = [
    "ClientBackend",
    "OrqPieces",
    "PieceStream",
    "StreamPieces",
    "async_twin",
    "result_from_invocation",
    "result_from_stream",
]


def result_from_invocation(
    inv: Invocation,
    *,
    key: str,
    sent: list[dict[str, Any]],
    latency: float,
    version: str | None = None,
    time_to_first_token: float | None = None,
) -> Result:
    """A displayable Result for an answer, with the conversation that produced it."""
    answer = inv.choices[0].message.model_dump(exclude_none=True) if inv.choices else {}
    return Result.from_invocation(
        inv,
        deployment=key,
        messages=[*sent, answer] if answer else list(sent),
        version=version,
        latency=latency,
        time_to_first_token=time_to_first_token,
    )


def result_from_stream(
    stream: Any,
    *,
    key: str,
    sent: list[dict[str, Any]],
    version: str | None = None,
    error: str | None = None,
) -> Result:
    """A Result from a (possibly unfinished) InvocationStream; partial when it did not finish."""
    result = result_from_invocation(
        stream.to_invocation(),
        key=key,
        sent=sent,
        latency=stream.elapsed,
        version=version,
        time_to_first_token=stream.time_to_first_chunk,
    )
    if not stream.completed or error:
        result.partial = not stream.completed
        result.error = error
    return result


# -- the backend seam: what `%%orq` streams through, whichever API the session points at ----


class _Progress(Protocol):
    """What a stream tells about its answer so far (the orq and Humanloop streams alike)."""

    @property
    def text(self) -> str: ...
    @property
    def completed(self) -> bool: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def time_to_first_chunk(self) -> float | None: ...
    @property
    def chunk_count(self) -> int: ...


class PieceStream(_Progress, Protocol):
    """A stream as `%%orq` reads it: a context manager iterating pieces of text."""

    def __enter__(self) -> PieceStream: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __iter__(self) -> Iterator[str]: ...
    def to_result(
        self,
        *,
        key: str,
        sent: list[dict[str, Any]],
        version: str | None = None,
        error: str | None = None,
    ) -> Result: ...


class _ReadStream(_Progress, Protocol):
    """What `StreamPieces` forwards to: an orq or a Humanloop stream."""

    def __enter__(self) -> Any: ...
    def close(self) -> None: ...


_Stream = TypeVar("_Stream", bound=_ReadStream)
_Pieces = TypeVar("_Pieces", bound="StreamPieces[Any]")


class StreamPieces(Generic[_Stream]):
    """What a `PieceStream` forwards to `self.stream`; subclasses add `__iter__`, `to_result`."""

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream

    def __enter__(self: _Pieces) -> _Pieces:
        self.stream.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stream.close()

    @property
    def text(self) -> str:
        return self.stream.text

    @property
    def completed(self) -> bool:
        return self.stream.completed

    @property
    def elapsed(self) -> float:
        return self.stream.elapsed

    @property
    def time_to_first_chunk(self) -> float | None:
        return self.stream.time_to_first_chunk

    @property
    def chunk_count(self) -> int:
        return self.stream.chunk_count


class OrqPieces(StreamPieces[InvocationStream]):
    """`PieceStream` over an orq `InvocationStream`."""

    def __iter__(self) -> Iterator[str]:
        for chunk in self.stream:
            if chunk.content:
                yield chunk.content

    def to_result(
        self,
        *,
        key: str,
        sent: list[dict[str, Any]],
        version: str | None = None,
        error: str | None = None,
    ) -> Result:
        return result_from_stream(self.stream, key=key, sent=sent, version=version, error=error)


class ClientBackend:
    """The widgets' backend protocol (`PlaygroundBackend`) over an `AsyncClient`."""

    def __init__(self, client: AsyncClient | Callable[[], AsyncClient]) -> None:
        self._client = client

    @property
    def client(self) -> AsyncClient:
        return self._client if isinstance(self._client, AsyncClient) else self._client()

    async def list_deployments(self) -> list[Deployment]:
        return [d async for d in self.client.deployments.iter()]

    async def get_config(
        self,
        key: str,
        *,
        inputs: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> DeploymentConfig:
        config = await self.client.deployments.get_config(key, inputs=inputs, context=context)
        if config is None:  # 204 No Content: the widgets show this line where a config goes
            raise OrqError(no_content(key, "configuration"))
        return config

    async def run(
        self,
        key: str,
        *,
        inputs: dict[str, Any],
        message: str | None,
        context: dict[str, Any] | None,
        on_text: Callable[[str], None],
    ) -> Result:
        sent = [{"role": "user", "content": message}] if message else []
        stream = self.client.deployments.stream(
            key,
            inputs=inputs or None,
            context=context or None,
            messages=sent or None,
            invoke_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                if chunk.content:
                    on_text(chunk.content)
        result = result_from_stream(stream, key=key, sent=sent)
        result.attach_feedback(FeedbackSender(self.client.settings))  # the 👍 / 👎 buttons
        return result


# One twin per (settings, event loop): pooled connections belong to the loop that opened them.
_ASYNC_TWINS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Settings, AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def async_twin(settings: Settings) -> AsyncClient:
    """The AsyncClient for a Client's settings on the running loop, made once per loop."""
    twins = _ASYNC_TWINS.setdefault(asyncio.get_running_loop(), {})
    twin = twins.get(settings)
    if twin is None:
        twin = twins[settings] = AsyncClient(**settings.client_kwargs())
    return twin
