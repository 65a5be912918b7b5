"""The local deployments server as a Starlette app: `create_app(store)`.

Routes (behind any path prefix: `/some/prefix/v2/deployments` works as well):

    GET    /v2/deployments                      list, newest first; limit 1-50, cursors
    POST   /v2/deployments/get_config           the resolved prompt, without answering
    POST   /v2/deployments/invoke               JSON answer; SSE when the body has "stream": true
    POST   /v2/deployments/stream               SSE answer, ending with `data: [DONE]`
    DELETE /v2/deployments/invalidate/{id}      204; reloads the file, resets fault counters
    GET    /v2/deployments/{key_or_id}/versions the deployment's versions, newest first

and Humanloop's v4 `POST /v4/completion-deployed` and `/v4/chat-deployed` (`_humanloop_app`),
orq's files API (`/v2/files`, `_files`) and feedback API (`/v2/feedback`, `_feedback`).
Another module adds its routes with one line in `create_app` (`*its_routes()`); raising
`RequestError` from a route gives orq's error envelope with its status.

Errors are orq.ai's (`_wire.error_body`): a body that cannot be used is 400
`invalid_request_body`, an unknown key 404 `deployment_not_found`, a missing or wrong key 401
`authentication_required` / `invalid_api_key`, an open variable under `strict_variables` 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..client._models import InvokeRequest
from ._answers import EventStream, json_answer
from ._feedback import FeedbackStore, feedback_routes
from ._files import FileStore, file_routes
from ._humanloop_app import HumanloopGate, humanloop_routes, is_humanloop_path
from ._inbound import check_name, decode_json, page_of, quoted
from ._reading import DeploymentFileError
from ._resolve import config_message, parse_request, prepare
from ._responders import Upstream, start_reply
from ._spec import NAME_RULE, STREAMED_TYPES
from ._store import DeploymentStore, StoredDeployment
from ._wire import (
    RequestError,
    deployment_body,
    error_body,
    invalid_body,
    new_ulid,
    tool_for_config,
    variant_id,
    version_body,
    version_id,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app", "deployment_routes"]

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
_API = "/v2/deployments"


def _store(request: Request) -> DeploymentStore:
    store: DeploymentStore = request.app.state.store
    store.refresh()
    return store


def _deployment(request: Request, key: str) -> StoredDeployment:
    if key in (".", ".."):  # never a key: in a path it would change the endpoint
        check_name(key, "key")
    store = _store(request)
    found = store.get(key)
    if found is None:
        known = ", ".join(d.key for d in store.deployments()[:10]) or "none"
        message = f"Deployment with key {quoted(key)} was not found. Known keys: {known}."
        raise RequestError(404, message, "deployment_not_found")
    return found


async def _body(request: Request) -> InvokeRequest:
    limit: int = request.app.state.max_body_bytes
    data, size = bytearray(), 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            data += chunk
    # Read to the end even when too large, so the client sees the 413 rather than a reset.
    if size > limit:
        message = f"The request body is {size} bytes; this server accepts at most {limit}."
        raise RequestError(413, message, "request_too_large")
    return parse_request(decode_json(bytes(data)))


async def list_deployments(request: Request) -> Response:
    deployments = _store(request).deployments()
    page, more = page_of(request, deployments, lambda d: (d.id, d.key), max_limit=50)
    return JSONResponse(
        {"object": "list", "data": [deployment_body(d) for d in page], "has_more": more}
    )


async def list_versions(request: Request) -> Response:
    wanted = check_name(request.path_params["key_or_id"], "key or id", field="key_or_id")
    deployment = _store(request).find(wanted)
    if deployment is None:
        message = f"Deployment with key or id {quoted(wanted)} was not found."
        raise RequestError(404, message, "deployment_not_found")
    history = list(deployment.history)
    wanted_variant = request.query_params.get("variant_id")
    if wanted_variant and wanted_variant != variant_id(deployment):
        history = []
    page, more = page_of(
        request, history, lambda v: (version_id(deployment, v), v.name), max_limit=50
    )
    return JSONResponse(
        {"object": "list", "data": [version_body(deployment, v) for v in page], "has_more": more}
    )


async def get_config(request: Request) -> Response:
    body = await _body(request)
    prepared = prepare(_deployment(request, body.key), body)
    config = prepared.config
    return JSONResponse(
        {
            "id": new_ulid(),
            "provider": prepared.provider,
            "model": prepared.model,
            "type": config["model_type"],
            "version": prepared.deployment.version,
            "messages": [config_message(m) for m in prepared.messages],
            "parameters": prepared.parameters,
            "tools": [tool_for_config(t) for t in config["tools"]],
        }
    )


async def invoke(request: Request) -> Response:
    body = await _body(request)
    return await _answer(request, body, stream=bool(body.stream))


async def stream(request: Request) -> Response:
    return await _answer(request, await _body(request), stream=True)


async def invalidate(request: Request) -> Response:
    store: DeploymentStore = request.app.state.store
    wanted = check_name(request.path_params["deployment_id"], "id", field="deployment_id")
    store.reload()
    found = next((d for d in store.deployments() if d.id == wanted), None)
    if found is None:
        by_key = store.get(wanted)
        hint = f" '{wanted}' is a key; invalidate takes the id: {by_key.id}." if by_key else ""
        raise RequestError(
            404,
            f"Deployment with id {quoted(wanted)} was not found.{hint}",
            "deployment_not_found",
        )
    store.reset_failures(found.key)
    return Response(status_code=204)


async def _answer(request: Request, body: InvokeRequest, *, stream: bool) -> Response:
    deployment = _deployment(request, body.key)
    prepared = prepare(deployment, body)
    if stream and prepared.model_type not in STREAMED_TYPES:
        # orq.ai: "Stream deployment generation. Only supported for completions and chat
        # completions." What it answers otherwise is not documented; this is a clear 400.
        raise invalid_body(
            f"Deployment {body.key!r} is a {prepared.model_type} deployment; streaming serves "
            "only chat and completion deployments, as on orq.ai: call "
            "/v2/deployments/invoke without `stream`.",
            field="key",
        )
    faults = deployment.spec.faults
    if faults is not None and faults.delay_ms:
        await asyncio.sleep(faults.delay_ms / 1000)
    if faults is not None and faults.status and request.app.state.store.take_failure(body.key):
        headers = {}
        if faults.retry_after is not None:
            # Fractions are allowed (not standard HTTP) so that tests of retries stay fast.
            headers["Retry-After"] = f"{faults.retry_after:f}".rstrip("0").rstrip(".")
            headers["retry-after-ms"] = str(round(faults.retry_after * 1000))
        message = (
            f"Deployment {body.key!r} answered {faults.status} on purpose "
            "(faults.status in the deployments file)."
        )
        code = faults.code or "internal_error"
        raise RequestError(faults.status, message, code, headers=headers)
    reply = await start_reply(prepared, stream=stream, upstream=request.app.state.upstream)
    if stream:
        return EventStream(prepared, reply, drop_after=faults.drop_after_chunks if faults else None)
    return JSONResponse(await json_answer(prepared, reply))


def _path_problem(scope: Scope) -> str | None:
    """Why the request's path is refused: a `.` or `..` segment, or an encoded `/`, `\\` or
    NUL (either would make a key or id change which endpoint is meant)."""
    segments = str(scope["path"]).split("/")
    raw = bytes(scope.get("raw_path") or b"").lower()
    if any(s in (".", "..") for s in segments) or any(c in raw for c in (b"%2f", b"%5c", b"%00")):
        shown = quoted(raw.decode("latin-1") or str(scope["path"]), 120)
        return (
            f"Invalid request: the path {shown} holds a `.` or `..` segment or an encoded `/`, "
            f"`\\` or NUL; deployment keys and ids are {NAME_RULE}."
        )
    return None


class _Gate:
    """Find the API path behind any prefix, then require the bearer key (when one is set)."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app, self._key = app, (api_key or "").encode()
        self._humanloop = HumanloopGate(app, api_key)  # X-API-KEY and {"detail"} bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_humanloop_path(scope["path"]):
            await self._humanloop(scope, receive, send)
            return
        if scope["type"] == "http":
            bad_path = _path_problem(scope)
            if bad_path:
                await JSONResponse(error_body(bad_path, "invalid_request_body"), 400)(
                    scope, receive, send
                )
                return
            at = scope["path"].rfind(_API)
            if at > 0:
                scope = {**scope, "root_path": scope["path"][:at]}
            problem = self._check(scope)
            if problem:
                body = error_body(*problem)
                await JSONResponse(body, 401, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> tuple[str, str] | None:
        """(message, orq error code) when the request may not pass."""
        if not self._key:
            return None
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            return (
                "Missing API key: this local server was started with an API key; send it as "
                "`Authorization: Bearer <key>`.",
                "authentication_required",
            )
        if not hmac.compare_digest(token.strip(), self._key):
            message = "Invalid API key: it is not the key this local server was started with."
            return message, "invalid_api_key"
        return None


def _on_request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return JSONResponse(exc.body(), exc.status, exc.headers)


def _on_file_error(request: Request, exc: Exception) -> Response:
    message = f"The deployments file cannot be used; fix it and retry (no restart needed): {exc}"
    return JSONResponse(error_body(message, "internal_error"), 500)


def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = quoted(request.url.path, 120)
    message = f"{exc.detail}: {request.method} {path}."
    code = "method_not_allowed" if exc.status_code == 405 else "invalid_request_body"
    if exc.status_code == 404:
        message = f"Not found: {request.method} {path}. This server answers under {_API}."
        code = "not_found"
    return JSONResponse(error_body(message, code), exc.status_code, exc.headers)


def _on_crash(request: Request, exc: Exception) -> Response:
    message = f"The local deployments server failed: {type(exc).__name__}: {exc}"
    return JSONResponse(error_body(message, "internal_error"), 500)


def deployment_routes() -> list[Route]:
    """orq's Deployments API (see the module docstring)."""
    return [
        Route(_API, list_deployments, methods=["GET"]),
        Route(f"{_API}/get_config", get_config, methods=["POST"]),
        Route(f"{_API}/invoke", invoke, methods=["POST"]),
        Route(f"{_API}/stream", stream, methods=["POST"]),
        Route(f"{_API}/invalidate/{{deployment_id}}", invalidate, methods=["DELETE"]),
        Route(f"{_API}/{{key_or_id}}/versions", list_versions, methods=["GET"]),
    ]


def create_app(
    store: DeploymentStore,
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """The ASGI app serving `store`. With `api_key`, every request needs `Authorization:
    Bearer <api_key>`; without, any request is accepted. Bodies over `max_body_bytes` get 413."""
    upstream = Upstream()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await upstream.aclose()

    app = Starlette(
        routes=[
            *deployment_routes(),
            *humanloop_routes(),
            *file_routes(),
            *feedback_routes(),
        ],
        middleware=[Middleware(_Gate, api_key=api_key)],
        exception_handlers={
            RequestError: _on_request_error,
            DeploymentFileError: _on_file_error,
            HTTPException: _on_http_error,
            Exception: _on_crash,
        },
        lifespan=lifespan,
    )
    app.state.store, app.state.upstream, app.state.max_body_bytes = store, upstream, max_body_bytes
    app.state.files, app.state.feedback = FileStore(), FeedbackStore()
    return app
