"""Where answers come from: `echo`, `mock` and `openai` responders.

* **echo** answers with the final message list, one message per line, so you see exactly
  what would be sent: ``system: You answer for Acme.`` / ``user: Hi``. Non-text parts appear
  as ``[image: url]`` (``[image: image/png, 2048 bytes inline]`` for a data URI),
  ``[audio: wav]``, ``[file: name]``; tool calls as
  ``[tool call: name(arguments)]``; a tool message as ``tool (call_1): ...``. When model
  parameters are set, a line shows them: ``(parameters: temperature=0.2, maxTokens=256)``;
  uploaded files sent in `file_ids` a last one: ``(file_ids: file_01J…)``.
* **mock** answers with fixed text. `invoke_options.mock_response` overrides any responder.
* For an image deployment (`model_type: image`) the text is the picture's url: `mock` gives
  it as is, `echo` draws the message list into an SVG data URI (`_images`).
* **openai** posts to ``{base_url}/chat/completions`` of any OpenAI-compatible server
  (Ollama, vLLM, LM Studio, OpenAI) and streams its `choices[0].delta.content` through.
  The deployment's `tools` go with the request; tool calls the model makes come back whole
  on the final message (`type: "tool_calls"`), streamed or not.

Generated text (echo, mock) streams in word-sized pieces that join to the exact text, with
`stream_delay_ms` between chunks; an upstream's pieces are passed on as they arrive.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._images import echo_image
from ._resolve import Prepared, content_text
from ._spec import MockResponder, OpenAIResponder
from ._wire import RequestError

__all__ = ["Reply", "Upstream", "echo_text", "split_words", "start_reply"]

_PIECE = re.compile(r"\s*\S+|\s+")
_OPENAI_ROLES = {"system", "developer", "user", "assistant", "tool"}
# Configured parameters (camelCase) that OpenAI's chat completions API understands.
_OPENAI_PARAMETERS = {
    "temperature": "temperature",
    "maxTokens": "max_tokens",
    "topP": "top_p",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "seed": "seed",
    "responseFormat": "response_format",
    "reasoningEffort": "reasoning_effort",
}
_TIMEOUT = httpx.Timeout(600.0, connect=10.0)


def split_words(text: str) -> list[str]:
    """Word-sized pieces, each with its leading whitespace: `"".join(pieces) == text`."""
    return _PIECE.findall(text)


def echo_text(prepared: Prepared) -> str:
    """The echo responder's answer (see the module docstring)."""
    lines = []
    for message in prepared.messages:
        role = message["role"]
        if role == "tool" and message.get("tool_call_id"):
            role = f"tool ({message['tool_call_id']})"
        lines.append(f"{role}: {content_text(message, describe=True)}")
    if prepared.parameters:
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in prepared.parameters.items())
        lines.append(f"(parameters: {shown})")
    if prepared.request.file_ids:
        lines.append(f"(file_ids: {', '.join(prepared.request.file_ids)})")
    return "\n".join(lines)


class Upstream:
    """One shared `httpx.AsyncClient` for the openai responder, created on first use."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=_TIMEOUT)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


@dataclass
class Reply:
    """An answer being produced. `finish_reason` and `usage` (an upstream's own counts) are
    final once `pieces` is exhausted. `delay` is the pause between chunks; `model` the model
    that answers, when it is not the configured one."""

    pieces: AsyncGenerator[str, None]
    delay: float = 0.0
    model: str | None = None
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None
    provider_response: Any = None
    response: httpx.Response | None = None  # an upstream stream to close, even if never read
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # final with `finish_reason`

    async def aclose(self) -> None:
        await self.pieces.aclose()
        if self.response is not None:
            await self.response.aclose()


async def _iterate(pieces: list[str]) -> AsyncGenerator[str, None]:
    for piece in pieces:
        yield piece


async def start_reply(prepared: Prepared, *, stream: bool, upstream: Upstream) -> Reply:
    """Start answering. Errors that happen before any text exist raise `RequestError`."""
    spec = prepared.deployment.spec
    options = prepared.request.invoke_options
    responder = spec.responder
    if options is not None and options.mock_response is not None:
        text = options.mock_response
    elif isinstance(responder, MockResponder):
        text = responder.text
    elif isinstance(responder, OpenAIResponder):
        return await _openai(prepared, responder, stream, upstream.client())
    elif prepared.model_type == "image":
        text = echo_image(echo_text(prepared), prepared.parameters.get("dimensions"))
    else:
        text = echo_text(prepared)
    pieces = split_words(text) if stream else [text]
    return Reply(_iterate(pieces), delay=spec.stream_delay_ms / 1000)


def _openai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k in ("role", "content", "name", "tool_call_id")}
    if isinstance(message.get("content"), list):
        out["content"] = [_openai_part(p) for p in message["content"]]
        out["content"] = [p for p in out["content"] if p]
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"id": c.get("id"), "type": "function", "function": dict(c["function"])}
            for c in message["tool_calls"]
        ]
    return out


def _openai_part(part: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "image_url":
        image = {k: v for k, v in part["image_url"].items() if k in ("url", "detail")}
        return {"type": "image_url", "image_url": image}
    if kind == "file":
        file = {k: v for k, v in part["file"].items() if k in ("file_data", "file_id", "filename")}
        return {"type": "file", "file": file}
    if kind in ("text", "input_audio", "refusal"):
        return {k: v for k, v in part.items() if k != "cache_control"}
    return None  # reasoning parts are provider-specific replay data


def _openai_body(prepared: Prepared, model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [_openai_message(m) for m in prepared.messages if m["role"] in _OPENAI_ROLES],
    }
    extra = prepared.request.extra_params or {}
    for name, value in prepared.parameters.items():
        if name in _OPENAI_PARAMETERS:
            if name != "responseFormat" or isinstance(value, Mapping):
                body[_OPENAI_PARAMETERS[name]] = value
        elif name in extra:
            body[name] = value  # extra_params are passed through to the provider as given
    tools = [
        {"type": "function", "function": dict(t["function"])} for t in prepared.config["tools"]
    ]
    if tools:
        body["tools"] = tools
    return body | {"stream": stream}


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    """An upstream message's `tool_calls`, as orq's `choices[].message.tool_calls`."""
    out: list[dict[str, Any]] = []
    for index, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not function.get("name"):
            continue
        arguments = function.get("arguments")
        if not isinstance(arguments, str):  # some servers send an object
            arguments = json.dumps(arguments if arguments is not None else {})
        entry = {"index": call.get("index", index), "type": "function"}
        if call.get("id"):
            entry["id"] = str(call["id"])
        out.append(entry | {"function": {"name": str(function["name"]), "arguments": arguments}})
    return out


class _CallPieces:
    """Streamed tool calls, put together from their `delta.tool_calls` fragments by index."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, fragments: Any) -> None:
        for fragment in fragments if isinstance(fragments, list) else []:
            if not isinstance(fragment, Mapping):
                continue
            index = fragment.get("index")
            call = self.calls.setdefault(
                index if isinstance(index, int) else len(self.calls),
                {"id": None, "function": {"name": "", "arguments": ""}},
            )
            call["id"] = fragment.get("id") or call["id"]
            function = fragment.get("function") or {}
            for part in ("name", "arguments"):
                if isinstance(function.get(part), str):
                    call["function"][part] += function[part]

    def result(self) -> list[dict[str, Any]]:
        return _tool_calls([{"index": i} | c for i, c in sorted(self.calls.items())])


def _upstream_usage(data: Any) -> dict[str, int] | None:
    if not isinstance(data, Mapping):
        return None
    names = ("total_tokens", "prompt_tokens", "completion_tokens")
    found = {n: int(data[n]) for n in names if isinstance(data.get(n), (int, float))}
    return found or None


async def _openai(
    prepared: Prepared, responder: OpenAIResponder, stream: bool, client: httpx.AsyncClient
) -> Reply:
    where = f"the OpenAI-compatible server at {responder.base_url}"
    headers, key = {}, None
    if responder.api_key_env:
        key = os.environ.get(responder.api_key_env)
        if not key:
            message = (
                f"The environment variable {responder.api_key_env} (named by `api_key_env` of "
                f"deployment {prepared.deployment.key!r}) is not set in the local server's process."
            )
            raise RequestError(422, message, "provider_credential_invalid")
        headers["Authorization"] = f"Bearer {key}"
    body = _openai_body(prepared, responder.model or prepared.model, stream)
    request = client.build_request(
        "POST", f"{responder.base_url}/chat/completions", json=body, headers=headers
    )
    try:
        response = await client.send(request, stream=stream)
    except httpx.TimeoutException as exc:
        message = f"{where[0].upper()}{where[1:]} did not answer in time: {type(exc).__name__}"
        raise RequestError(504, message, "provider_timeout") from None
    except httpx.HTTPError as exc:
        message = f"Could not reach {where}: {type(exc).__name__}: {exc}"
        raise RequestError(502, message, "provider_error") from None
    if response.status_code >= 400:
        await response.aread()
        raise _upstream_error(response, where, key)
    if not stream:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            message = f"Could not read the answer of {where}: {response.text[:200]!r}"
            raise RequestError(502, message, "provider_error") from None
        reply = Reply(_iterate([text]), model=body["model"])
        reply.finish_reason = choice.get("finish_reason") or "stop"
        reply.tool_calls = _tool_calls(choice["message"].get("tool_calls"))
        reply.usage, reply.provider_response = _upstream_usage(data.get("usage")), data
        return reply
    reply = Reply(_iterate([]), model=body["model"], response=response)
    reply.pieces = _stream_pieces(response, reply)
    return reply


def _upstream_error(response: httpx.Response, where: str, key: str | None) -> RequestError:
    status = response.status_code
    if status in (401, 403):
        detail = "it rejected the API key (check the variable named by `api_key_env`)"
    else:
        try:
            detail = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            detail = response.text[:300]
        if key:
            detail = detail.replace(key, "***")
    headers = {
        k: response.headers[k] for k in ("retry-after", "retry-after-ms") if k in response.headers
    }
    # orq.ai's codes for what a provider answers (reference: orq-api-additions §1.2).
    ours, code = {
        401: (422, "provider_credential_invalid"),
        403: (422, "provider_credential_invalid"),
        429: (429, "rate_limit_exceeded"),
        503: (503, "provider_overloaded"),
        504: (504, "provider_timeout"),
    }.get(status, (502, "provider_error"))
    message = f"{where[0].upper()}{where[1:]} answered {status}: {detail}"
    return RequestError(ours, message, code, headers=headers)


async def _stream_pieces(response: httpx.Response, reply: Reply) -> AsyncGenerator[str, None]:
    calls = _CallPieces()
    try:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
            except ValueError:
                continue
            reply.usage = _upstream_usage(event.get("usage")) or reply.usage
            for choice in event.get("choices") or []:
                if choice.get("index", 0) != 0:
                    continue
                reply.finish_reason = choice.get("finish_reason") or reply.finish_reason
                delta = choice.get("delta") or {}
                calls.add(delta.get("tool_calls"))
                if piece := delta.get("content"):
                    yield piece
        reply.tool_calls = calls.result()
    finally:
        await response.aclose()
