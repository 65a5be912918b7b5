"""Invoke answers on the wire: one JSON object, or a `text/event-stream` of chunks.

An image deployment answers invoke with `object: "image"` and one message `{type: "image",
role: "assistant", url}` (reference: orq-api-additions §5); it is never streamed (`_app`).

Every chunk is a complete invoke-shaped object (reference §6.1, §8.1) with the same `id`,
`created` and `telemetry`; `content` is the new piece only. The final chunk has `is_final:
true`, the `finish_reason`, `finalized`, and `usage` / `retrievals` when the request asked for
them; then `data: [DONE]`. `usage` is sent only when `invoke_options.include_usage` is true,
as the API does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from starlette.responses import StreamingResponse
from starlette.types import Send

from ._resolve import Prepared, retrievals, usage
from ._responders import Reply
from ._wire import DONE, new_ulid, now_iso, sse, telemetry

__all__ = ["Cut", "CutStream", "EventStream", "json_answer"]

logger = logging.getLogger("orq_notebook.local")


def _head(prepared: Prepared, reply: Reply) -> dict[str, Any]:
    return {
        "id": new_ulid(),
        "created": now_iso(),
        "object": prepared.object,
        "model": reply.model or prepared.model,
        "provider": prepared.provider,
        "telemetry": telemetry(),
    }


def _choice(
    content: str, finish_reason: str | None, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "content", "role": "assistant", "content": content}
    if tool_calls:  # reference §7.4: the model asks for tools; the calls come whole, at the end
        message |= {"type": "tool_calls", "content": content or None, "tool_calls": tool_calls}
    return {"index": 0, "message": message, "finish_reason": finish_reason}


def _image_choice(url: str, finish_reason: str) -> dict[str, Any]:
    message = {"type": "image", "role": "assistant", "url": url}  # reference: additions §5
    return {"index": 0, "message": message, "finish_reason": finish_reason}


def _final_fields(prepared: Prepared, reply: Reply, text: str) -> dict[str, Any]:
    options = prepared.request.invoke_options
    out: dict[str, Any] = {"finalized": now_iso()}
    if options is not None and options.include_usage:
        answered = "" if prepared.model_type == "image" else text  # a url is not generated text
        out["usage"] = reply.usage or usage(prepared, answered)
    if options is not None and options.include_retrievals:
        out["retrievals"] = retrievals(prepared)
    return out


async def json_answer(prepared: Prepared, reply: Reply) -> dict[str, Any]:
    """The whole answer as one invoke response (`is_final: true`)."""
    text = "".join([piece async for piece in reply.pieces])
    head = _head(prepared, reply)
    choice = (
        _image_choice(text, reply.finish_reason)
        if prepared.model_type == "image"
        else _choice(text, reply.finish_reason, reply.tool_calls)
    )
    answer = {**head, "is_final": True, "choices": [choice]}
    answer |= _final_fields(prepared, reply, text)
    if reply.provider_response is not None:
        answer["provider_response"] = reply.provider_response
    return answer


class Cut(Exception):
    """Raised inside a `CutStream`'s body to cut the connection where it is (fault injection,
    upstream loss, a recording that was cut short)."""


class CutStream(StreamingResponse):
    """A streamed response whose body may end by raising `Cut`: the connection then closes
    without the body's end, as a dropped connection would."""

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send(start | {"headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
                await send({"type": "http.response.body", "body": data, "more_body": True})
        except Cut:
            return  # an unfinished response: the server closes the connection
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _events(prepared: Prepared, reply: Reply, drop_after: int | None) -> AsyncIterator[bytes]:
    head, sent, text = _head(prepared, reply), 0, ""

    async def pace() -> None:
        if drop_after is not None and sent >= drop_after:
            key = prepared.deployment.key
            logger.warning("Dropping the stream of %r after %d chunk(s) (faults).", key, sent)
            raise Cut
        if sent and reply.delay:
            await asyncio.sleep(reply.delay)

    try:
        async for piece in reply.pieces:
            await pace()
            text += piece
            yield sse({**head, "is_final": False, "choices": [_choice(piece, None)]})
            sent += 1
        await pace()
        choice = _choice("", reply.finish_reason, reply.tool_calls)
        final = {**head, "is_final": True, "choices": [choice]}
        yield sse(final | _final_fields(prepared, reply, text))
        yield DONE
    except httpx.HTTPError as exc:
        logger.warning("The upstream stream of %r broke: %s", prepared.deployment.key, exc)
        raise Cut from None
    finally:
        # Runs on client disconnect too, inside a cancelled scope: shield the cleanup.
        with anyio.CancelScope(shield=True):
            await reply.aclose()


class EventStream(CutStream):
    """The answer as server-sent events, each flushed as soon as it exists. With
    `drop_after`, the connection is closed after that many chunks, without `[DONE]`."""

    media_type = "text/event-stream"

    def __init__(self, prepared: Prepared, reply: Reply, *, drop_after: int | None = None) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(_events(prepared, reply, drop_after), headers=headers)
