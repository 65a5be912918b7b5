"""Replaying a recording as a server: `create_replay_app(recording)`.

Every request is answered from the recording (`client/_cassette`): the same status, the same
JSON, and for a stream the same events, optionally at their original pace. Any path works
behind any prefix, for orq's `/v2/deployments...` and Humanloop's `/v4/...` alike, so any
client can replay, the official orq SDK included.

A request the recording cannot answer gets a 404 in the service's error shape (orq's
`{message, code, error}`, Humanloop's `{detail}`) whose message is one line naming the
deployment and the fields that differ from the closest recorded request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..client._cassette import Recording
from ..client._cassette_format import Answer, Wanted, encode_event, miss_body
from ..client._matching import api_path
from ._answers import Cut, CutStream
from ._app import DEFAULT_MAX_BODY_BYTES, _Gate
from ._wire import error_body

__all__ = ["create_replay_app"]

logger = logging.getLogger("orq_notebook.local")

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_sleep = asyncio.sleep  # one name for the pacing waits (tests watch it)


class _ReplayedStream(CutStream):
    """A recorded stream, event by event; with `pace`, at the times they first came."""

    def __init__(self, answer: Answer, *, pace: bool) -> None:
        self._answer, self._pace = answer, pace
        headers = {**answer.headers, "cache-control": "no-cache", "x-accel-buffering": "no"}
        super().__init__(self._events(), status_code=answer.status, headers=headers)

    async def _events(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for event in self._answer.events or ():
            if self._pace:
                await _sleep(max(0.0, event.t - (loop.time() - started)))
            yield encode_event(event)
        if not self._answer.complete:
            raise Cut  # the recording was cut short: close the connection where it was cut


async def _read(request: Request, limit: int) -> bytes | None:
    data, size = bytearray(), 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            data += chunk
    return bytes(data) if size <= limit else None


async def _replay(request: Request) -> Response:
    recording: Recording = request.app.state.recording
    limit: int = request.app.state.max_body_bytes
    content = await _read(request, limit)
    humanloop = api_path(request.url.path).startswith("/v4/")
    if content is None:
        message = f"The request body is larger than {limit} bytes."
        body = {"detail": message} if humanloop else error_body(message, "request_too_large")
        return JSONResponse(body, 413)
    wanted = Wanted.from_wire(request.method, str(request.url), content, request.headers)
    recording.learn_secrets(request.headers)
    answer = recording.lookup(wanted)
    if answer is None:
        message = recording.miss(wanted)
        logger.info("%s", message)
        return JSONResponse(miss_body(message, humanloop=humanloop), 404)
    pace: bool = request.app.state.pace
    if pace and answer.elapsed:
        await _sleep(answer.elapsed)
    if answer.events is None:
        return Response(answer.content(), answer.status, headers=answer.headers)
    return _ReplayedStream(answer, pace=pace)


def create_replay_app(
    recording: Recording,
    *,
    api_key: str | None = None,
    pace: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """The ASGI app answering from `recording` (opened with mode `none`). With `api_key`,
    requests need it as the live server wants it (`Authorization: Bearer`, or `X-API-KEY` on
    the `/v4` routes); with `pace`, answers take as long as they first did."""
    app = Starlette(
        routes=[Route("/{path:path}", _replay, methods=_METHODS)],
        middleware=[Middleware(_Gate, api_key=api_key)],
    )
    app.state.recording, app.state.pace, app.state.max_body_bytes = recording, pace, max_body_bytes
    return app
