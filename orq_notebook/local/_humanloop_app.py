"""Humanloop's v4 `completion-deployed` / `chat-deployed`, served from the deployments file.

Routes (behind any path prefix, like the orq routes):

    POST /v4/completion-deployed    the deployment's prompt filled with `inputs`
    POST /v4/chat-deployed          the same, with the request's `messages` appended

* The project is a deployment: `project` is its key; `project_id` is `pr_` + a stable id
  derived from the key (`project_id_for(key)`). Unlike Humanloop, an unknown project is a 404,
  not created. `environment` selects the variant whose `when` has that `environments` value.
* `inputs` over the deployment's `variables` fill `{{variables}}`; a missing one is a 422.
* `num_samples: n` gives n samples (indexes 0..n-1), each answered by the responder.
* `stream: true` answers with data-only server-sent events, one per piece of one sample:
  `{"project_id", "data": [{id, index, output (the new piece), raw_output, inputs: {},
  finish_reason (null until the sample's last event), model_config_id}], "provider_responses":
  []}`; samples take turns (interleaved). Then the connection closes: no `[DONE]`, as
  Humanloop did. Usage is not streamed (Humanloop never documented it there).
* Usage (`prompt_tokens`, `generation_tokens`, `total_tokens`) is the same approximation as on
  the orq routes. `faults` apply to the orq routes only.
* With an API key, these routes want it in `X-API-KEY` (not `Authorization`). Errors have
  FastAPI's shapes: `{"detail": "..."}`, and for 422 `{"detail": [{"loc", "msg", "type"}]}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..client._models import InvokeRequest
from ..humanloop._models import ChatDeployedRequest, CompletionDeployedRequest
from ._inbound import lone_surrogate
from ._loader import stable_id
from ._reading import DeploymentFileError
from ._resolve import Prepared, count_tokens, prepare, usage
from ._responders import Reply, start_reply
from ._store import DeploymentStore, StoredDeployment
from ._wire import RequestError, new_ulid, sse

__all__ = [
    "HUMANLOOP_PATHS",
    "HumanloopGate",
    "humanloop_routes",
    "is_humanloop_path",
    "project_id_for",
]

logger = logging.getLogger("orq_notebook.local")

_COMPLETION = "/v4/completion-deployed"
_CHAT = "/v4/chat-deployed"
HUMANLOOP_PATHS = (_COMPLETION, _CHAT)
_Request = CompletionDeployedRequest | ChatDeployedRequest


class _Detail(Exception):
    """An error answer in FastAPI's shape: `{"detail": ...}`."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(status, detail)
        self.status, self.detail = status, detail


def _invalid(loc: list[str | int], msg: str, kind: str = "value_error") -> _Detail:
    return _Detail(422, [{"loc": ["body", *loc], "msg": msg, "type": kind}])


def project_id_for(key: str) -> str:
    """The project id of a deployment: `pr_` and 20 characters derived from its key."""
    return "pr_" + stable_id(f"humanloop-project:{key}").replace("-", "")[:20]


def _config_id(prepared: Prepared) -> str:
    text = json.dumps(dict(prepared.config), sort_keys=True, default=str)
    return "config_" + hashlib.sha256(f"{prepared.deployment.key}:{text}".encode()).hexdigest()[:20]


def is_humanloop_path(path: str) -> bool:
    return path.endswith(HUMANLOOP_PATHS)


class HumanloopGate:
    """Find the route behind any prefix, then require `X-API-KEY` (when a key is set)."""

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app, self._key = app, (api_key or "").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        suffix = next(p for p in HUMANLOOP_PATHS if path.endswith(p))
        scope = {**scope, "root_path": path[: -len(suffix)]}
        given = dict(scope["headers"]).get(b"x-api-key", b"").strip()
        problem = None
        if self._key and not given:
            problem = (
                "Missing API key: this local server was started with one; send it as X-API-KEY."
            )
        elif self._key and not hmac.compare_digest(given, self._key):
            problem = "Invalid API key: it is not the key this local server was started with."
        if problem:
            await JSONResponse({"detail": problem}, 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _body(request: Request, model: type[_Request]) -> _Request:
    limit: int = request.app.state.max_body_bytes
    raw = await request.body()
    if len(raw) > limit:
        raise _Detail(413, f"The request body is {len(raw)} bytes; at most {limit} are accepted.")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _invalid([], f"The body is not valid JSON: {exc}", "value_error.jsondecode") from None
    except RecursionError:
        message = "The body is not valid JSON: it is nested too deeply."
        raise _invalid([], message, "value_error.jsondecode") from None
    where = lone_surrogate(data)
    if where is not None:  # not valid Unicode: no answer could even quote it
        message = f"{where}: the text holds a lone surrogate, which is not valid Unicode."
        raise _invalid([], message, "value_error.unicode")
    if not isinstance(data, dict):
        raise _invalid([], "The body must be a JSON object.", "type_error.dict")
    known = {k: v for k, v in data.items() if k in model.model_fields}  # FastAPI ignores others
    try:
        request_model = model.model_validate(known)
    except ValidationError as exc:
        detail = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        raise _Detail(422, detail) from None
    if not (request_model.project or request_model.project_id):
        raise _invalid(["project"], "Either project or project_id must be given.")
    return request_model


def _deployment(store: DeploymentStore, body: _Request) -> StoredDeployment:
    if body.project_id:
        found = next(
            (d for d in store.deployments() if project_id_for(d.key) == body.project_id), None
        )
        wanted = f"with id {body.project_id!r}"
    else:
        found, wanted = store.get(body.project or ""), repr(body.project)
    if found is None:
        known = ", ".join(d.key for d in store.deployments()[:10]) or "none"
        raise _Detail(
            404,
            f"Project {wanted} was not found; this local server does not create projects: add "
            f"a deployment with that key to the deployments file. Known projects: {known}.",
        )
    return found


def _prepare(deployment: StoredDeployment, body: _Request) -> Prepared:
    messages = (
        [m.model_dump(mode="json", exclude_unset=True) for m in body.messages]
        if isinstance(body, ChatDeployedRequest)
        else None
    )
    try:
        request = InvokeRequest.model_validate(
            {
                "key": deployment.key,
                "inputs": body.inputs,
                "context": {"environments": body.environment} if body.environment else None,
                "messages": messages,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _invalid(list(first["loc"]), first["msg"], first["type"]) from None
    try:
        return prepare(deployment, request, strict=True)  # Humanloop refused open variables
    except RequestError as exc:
        raise _invalid([exc.field or "inputs"], exc.message, "value_error.missing") from None


def _item(prepared: Prepared, body: _Request, index: int, data_id: str) -> dict[str, Any]:
    used = {**prepared.deployment.spec.variables, **(body.inputs or {})}
    return {
        "id": data_id,
        "index": index,
        "inputs": used if body.return_inputs is not False else {},
        "model_config_id": _config_id(prepared),
    }


def _finish(reply: Reply) -> str:
    return "tool_call" if reply.finish_reason == "tool_calls" else reply.finish_reason


def _session_id(body: _Request) -> str | None:
    if body.session_id:
        return body.session_id
    if body.session_reference_id:
        return "sesh_" + stable_id(f"session:{body.session_reference_id}").replace("-", "")[:20]
    return None


async def _answer(request: Request, body: _Request, prepared: Prepared) -> Response:
    upstream = request.app.state.upstream
    replies = [
        await start_reply(prepared, stream=bool(body.stream), upstream=upstream)
        for _ in range(body.num_samples or 1)
    ]
    project_id = project_id_for(prepared.deployment.key)
    if body.stream:
        chat = isinstance(body, ChatDeployedRequest)
        events = _events(prepared, body, replies, project_id, chat=chat)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    data, generated = [], 0
    for index, reply in enumerate(replies):
        text = "".join([piece async for piece in reply.pieces])
        generated += (reply.usage or {}).get("completion_tokens") or count_tokens(text)
        item = _item(prepared, body, index, f"data_{new_ulid()}")
        item |= {"output": text.strip(), "raw_output": text, "finish_reason": _finish(reply)}
        item["tool_results"] = []
        if isinstance(body, ChatDeployedRequest):
            item["messages"] = prepared.messages
            item["output_message"] = {"role": "assistant", "content": text}
        data.append(item)
    prompt = usage(prepared, "")["prompt_tokens"]
    answer: dict[str, Any] = {
        "project_id": project_id,
        "num_samples": len(replies),
        "user": body.user,
        "data": data,
        "usage": {
            "prompt_tokens": prompt,
            "generation_tokens": generated,
            "total_tokens": prompt + generated,
        },
        "metadata": body.metadata,
        "provider_responses": [r.provider_response for r in replies if r.provider_response],
        "provider_request": {"model": prepared.model, **prepared.parameters},
        "session_id": _session_id(body),
    }
    if isinstance(body, ChatDeployedRequest):
        answer["tool_choice"] = body.tool_choice
    else:
        answer |= {"logprobs": body.logprobs, "suffix": body.suffix}
    # Unset optional fields are left out rather than sent as null: spec 4.0.1 allows null,
    # but the v4 SDKs of 2023 (0.5.x) reject null `user`, `logprobs`, `suffix` and the like.
    return JSONResponse({name: value for name, value in answer.items() if value is not None})


async def _events(
    prepared: Prepared, body: _Request, replies: list[Reply], project_id: str, *, chat: bool
) -> AsyncIterator[bytes]:
    """One event per piece; the samples take turns. Each piece is held back until the next
    one arrives, so the sample's last event can carry its `finish_reason`."""
    items = [
        _item(prepared, body, i, f"data_{new_ulid()}") | {"inputs": {}} for i in range(len(replies))
    ]
    pending: list[str | None] = [await anext(r.pieces, None) for r in replies]
    active = list(range(len(replies)))
    delay = max((r.delay for r in replies), default=0.0)
    try:
        while active:
            for index in list(active):
                reply, piece = replies[index], pending[index]
                following = await anext(reply.pieces, None) if piece is not None else None
                pending[index] = following
                finish = _finish(reply) if following is None else None
                delta: dict[str, Any] = {"output": piece or "", "raw_output": piece or ""}
                delta["finish_reason"] = finish
                if chat:
                    delta["output_message"] = {"role": "assistant", "content": piece or ""}
                event = {"project_id": project_id, "data": [items[index] | delta]}
                yield sse(event | {"provider_responses": []})
                if following is None:
                    active.remove(index)
            if active and delay:
                await asyncio.sleep(delay)
    except httpx.HTTPError as exc:
        logger.warning("The upstream stream of %r broke: %s", prepared.deployment.key, exc)
    finally:
        with anyio.CancelScope(shield=True):
            for reply in replies:
                await reply.aclose()


def _detail_errors(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except _Detail as exc:
            return JSONResponse({"detail": exc.detail}, exc.status)
        except RequestError as exc:  # from a responder: an upstream model that failed
            return JSONResponse({"detail": exc.message}, exc.status, exc.headers)
        except DeploymentFileError as exc:
            message = f"The deployments file cannot be used; fix it and retry: {exc}"
            return JSONResponse({"detail": message}, 500)

    return answer


def _endpoint(model: type[_Request]) -> Callable[[Request], Awaitable[Response]]:
    @_detail_errors
    async def endpoint(request: Request) -> Response:
        body = await _body(request, model)
        store: DeploymentStore = request.app.state.store
        store.refresh()
        prepared = _prepare(_deployment(store, body), body)
        return await _answer(request, body, prepared)

    return endpoint


def humanloop_routes() -> list[Route]:
    """The two routes, for `create_app`."""
    return [
        Route(_COMPLETION, _endpoint(CompletionDeployedRequest), methods=["POST"]),
        Route(_CHAT, _endpoint(ChatDeployedRequest), methods=["POST"]),
    ]
