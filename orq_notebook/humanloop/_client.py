"""Humanloop's v4 deployed prompts: `HumanloopClient`, and `AsyncHumanloopClient` for loops.

A thin secondary backend for notebooks written against Humanloop. **Humanloop's hosted API
was retired on 2025-09-08** (the platform shut down), so point it at a compatible server: the
local server answers `/v4/completion-deployed` and `/v4/chat-deployed` from a deployments file
(`orq-notebook serve FILE`, then `base_url="http://127.0.0.1:PORT/v4"`).

```python
with HumanloopClient(base_url="http://127.0.0.1:8700/v4") as hl:
    answer = hl.complete_deployed(project="support-summariser", inputs={"ticket": "E42"})
    answer.text, answer.data[0].id, answer.usage
```

It reuses the orq client's machinery (`_client`): retries with backoff, the same `OrqError`
tree (Humanloop's `{"detail": [...]}`, `{"detail": {...}}` and `{"detail": "..."}` bodies give
the message), redaction of the key. Only what differs is here: `X-API-KEY` auth, the
`HUMANLOOP_*` settings, the request fields and the answers.
"""

from __future__ import annotations

import difflib
import functools
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload

import httpx

from ..client._base import JSON_TYPE, SSE_TYPE, _BaseClient
from ..client._checks import validated
from ..client._config import Settings
from ..client._deadline import Deadline
from ..client._exceptions import ArgumentTypeError, InvalidArgumentError, OrqError
from ..client._io import _AsyncClient, _SyncClient
from ._models import (
    CHAT_FIELDS,
    COMPLETION_FIELDS,
    ChatDeployedRequest,
    ChatMessage,
    CompletionDeployedRequest,
    HumanloopResponse,
)
from ._streaming import AsyncHumanloopStream, HumanloopStream

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_HUMANLOOP_URL",
    "AsyncHumanloopClient",
    "ChatDeployedFields",
    "CompletionDeployedFields",
    "HumanloopClient",
    "humanloop_settings",
]

DEFAULT_HUMANLOOP_URL = "https://api.humanloop.com/v4"
API_KEY_ENV = "HUMANLOOP_API_KEY"
BASE_URL_ENV = "HUMANLOOP_BASE_URL"
RETIRED_HOST = "api.humanloop.com"
RETIRED_NOTE = (
    "Humanloop's hosted API was retired on 2025-09-08 (the platform shut down) and "
    f"{RETIRED_HOST} no longer answers: point base_url= (or {BASE_URL_ENV}) at a compatible "
    "server, e.g. the local one (`orq-notebook serve FILE`, then its URL + /v4)."
)
_COMPLETION = "/completion-deployed"
_CHAT = "/chat-deployed"


class _Fields(TypedDict, total=False):
    project: str | None
    project_id: str | None
    inputs: Mapping[str, Any] | None
    environment: str | None
    num_samples: int | None
    session_id: str | None
    session_reference_id: str | None
    parent_id: str | None
    parent_reference_id: str | None
    metadata: Mapping[str, Any] | None
    save: bool | None
    provider_api_keys: Mapping[str, str] | None
    return_inputs: bool | None
    user: str | None
    source: str | None
    source_datapoint_id: str | None
    seed: int | None


class CompletionDeployedFields(_Fields, total=False):
    """The fields of `complete_deployed`, named as on the wire (reference §2)."""

    logprobs: int | None
    suffix: str | None


class ChatDeployedFields(_Fields, total=False):
    """The fields of `chat_deployed` besides `messages` (reference §6)."""

    tool_choice: str | Mapping[str, Any] | None
    response_format: Mapping[str, Any] | None


def humanloop_settings(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    environment: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    env: Mapping[str, str] | None = None,
    **more: Any,
) -> Settings:
    """Settings from arguments, then `HUMANLOOP_API_KEY` / `HUMANLOOP_BASE_URL`, then defaults.

    The orq variables are never read: an orq key must not travel to another service.
    """
    env = os.environ if env is None else env
    source = "argument" if api_key else API_KEY_ENV if env.get(API_KEY_ENV) else "none"
    settings = Settings.resolve(
        api_key or env.get(API_KEY_ENV) or None,
        base_url or env.get(BASE_URL_ENV) or DEFAULT_HUMANLOOP_URL,
        environment=environment,
        timeout=timeout,
        max_retries=max_retries,
        env={},
        **more,
    )
    return replace(settings, api_key_source=source)


class _Humanloop(_BaseClient[Any, Any]):
    """What the Humanloop twins change in the orq client's pure base; no I/O here."""

    _key_env = API_KEY_ENV
    _service = "a Humanloop v4 API"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        environment: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        transport: Any = None,
        http_client: Any = None,
        env: Mapping[str, str] | None = None,
        **more: Any,
    ) -> None:
        super().__init__(
            api_key,
            base_url,
            environment=environment,
            timeout=timeout,
            max_retries=max_retries,
            transport=transport,
            http_client=http_client,
            env=env,
            **more,
        )

    def _resolve_settings(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        environment: str | None,
        contact_id: str | None,
        timeout: float | None,
        max_retries: int | None,
        env: Mapping[str, str] | None,
        **more: Any,
    ) -> Settings:
        return humanloop_settings(
            api_key,
            base_url,
            environment=environment,
            timeout=timeout,
            max_retries=max_retries,
            env=env,
            **more,
        )

    def _auth_headers(self, key: str) -> dict[str, str]:
        return {"X-API-KEY": key}

    def _transport_error(
        self,
        exc: Exception,
        request: httpx.Request,
        deadline: Deadline | None = None,
        *,
        unsafe_refused: bool = False,
    ) -> OrqError:
        error = super()._transport_error(exc, request, deadline, unsafe_refused=unsafe_refused)
        if request.url.host == RETIRED_HOST:
            error.message = f"{error.message} {RETIRED_NOTE}"
            error.args = (error.message,)
        return error

    def _deployed(
        self,
        operation: str,
        fields: Mapping[str, Any],
        *,
        stream: bool,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
    ) -> tuple[httpx.Request, int]:
        """The request of a deployed call, and how many samples it asks for."""
        chat = messages is not None
        allowed = CHAT_FIELDS if chat else COMPLETION_FIELDS
        for name in fields:
            if name not in allowed:
                close = difflib.get_close_matches(name, sorted(allowed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ArgumentTypeError(
                    f"{operation}() got an unexpected keyword argument {name!r}{hint}"
                )
        given = {name: value for name, value in fields.items() if value is not None}
        if not (given.get("project") or given.get("project_id")):
            raise InvalidArgumentError(
                f"{operation}() needs project= (the project's name) or project_id= (its pr_… id)."
            )
        if "seed" in given:
            warnings.warn(
                "Humanloop deprecated `seed` on deployed calls: set it in the model config.",
                DeprecationWarning,
                stacklevel=3,
            )
        if self.settings.environment is not None:
            given.setdefault("environment", self.settings.environment)
        if stream:
            given["stream"] = True
        if chat:
            assert messages is not None
            sent = [m if isinstance(m, ChatMessage) else dict(m) for m in messages]
            chat_body = {**given, "messages": sent}
            body = validated(lambda: ChatDeployedRequest.model_validate(chat_body)).to_wire()
        else:
            body = validated(lambda: CompletionDeployedRequest.model_validate(given)).to_wire()
        path, accept = (_CHAT if chat else _COMPLETION), (SSE_TYPE if stream else JSON_TYPE)
        return self._request("POST", path, body=body, accept=accept), body.get("num_samples", 1)


class HumanloopClient(_Humanloop, _SyncClient):
    """A client of Humanloop's v4 deployed-prompt API (or of a server speaking it).

    `HumanloopClient(api_key=None, base_url=None)`: the key (sent as `X-API-KEY`) defaults to
    `HUMANLOOP_API_KEY`, the base URL to `HUMANLOOP_BASE_URL`, else the retired
    `https://api.humanloop.com/v4`. Use it as a context manager, or call `close()`.

    Args:
        environment: the environment name sent with every call that does not give one.
        timeout, max_retries, transport, http_client, env, record: as for
            `orq_notebook.Client`.
    """

    @overload
    def complete_deployed(
        self, *, stream: Literal[False] = ..., **fields: Unpack[CompletionDeployedFields]
    ) -> HumanloopResponse: ...
    @overload
    def complete_deployed(
        self, *, stream: Literal[True], **fields: Unpack[CompletionDeployedFields]
    ) -> HumanloopStream: ...
    def complete_deployed(
        self, *, stream: bool = False, **fields: Unpack[CompletionDeployedFields]
    ) -> HumanloopResponse | HumanloopStream:
        """Run the project's deployed prompt: `hl.complete_deployed(project="p", inputs={...})`.

        Give `project` (name) or `project_id`. With `stream=True`, a `HumanloopStream`.
        """
        request, samples = self._deployed("complete_deployed", fields, stream=stream)
        if stream:
            return self._stream(request, samples)
        return self._parse(self._send(request), HumanloopResponse)

    @overload
    def chat_deployed(
        self,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[False] = ...,
        **fields: Unpack[ChatDeployedFields],
    ) -> HumanloopResponse: ...
    @overload
    def chat_deployed(
        self,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[True],
        **fields: Unpack[ChatDeployedFields],
    ) -> HumanloopStream: ...
    def chat_deployed(
        self,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: bool = False,
        **fields: Unpack[ChatDeployedFields],
    ) -> HumanloopResponse | HumanloopStream:
        """Chat with the project's deployed prompt; `messages` follow its template."""
        request, samples = self._deployed("chat_deployed", fields, stream=stream, messages=messages)
        if stream:
            return self._stream(request, samples)
        return self._parse(self._send(request), HumanloopResponse)

    def _stream(self, request: httpx.Request, samples: int) -> HumanloopStream:
        deadline = self._deadline(None, None, streaming=True)
        opener = functools.partial(self._open_stream, request, deadline)
        return HumanloopStream(opener, clock=self._clock, samples=samples, deadline=deadline)


class AsyncHumanloopClient(_Humanloop, _AsyncClient):
    """The async twin of `HumanloopClient`: same arguments, `await` on every call.

    `stream=True` returns an unopened `AsyncHumanloopStream`:
    `async with await hl.complete_deployed(project="p", stream=True) as s: async for d in s`.
    """

    @overload
    async def complete_deployed(
        self, *, stream: Literal[False] = ..., **fields: Unpack[CompletionDeployedFields]
    ) -> HumanloopResponse: ...
    @overload
    async def complete_deployed(
        self, *, stream: Literal[True], **fields: Unpack[CompletionDeployedFields]
    ) -> AsyncHumanloopStream: ...
    async def complete_deployed(
        self, *, stream: bool = False, **fields: Unpack[CompletionDeployedFields]
    ) -> HumanloopResponse | AsyncHumanloopStream:
        """Run the project's deployed prompt (awaitable); see `HumanloopClient`."""
        request, samples = self._deployed("complete_deployed", fields, stream=stream)
        if stream:
            return self._stream(request, samples)
        return self._parse(await self._send(request), HumanloopResponse)

    @overload
    async def chat_deployed(
        self,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[False] = ...,
        **fields: Unpack[ChatDeployedFields],
    ) -> HumanloopResponse: ...
    @overload
    async def chat_deployed(
        self,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: Literal[True],
        **fields: Unpack[ChatDeployedFields],
    ) -> AsyncHumanloopStream: ...
    async def chat_deployed(
        self,
        *,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        stream: bool = False,
        **fields: Unpack[ChatDeployedFields],
    ) -> HumanloopResponse | AsyncHumanloopStream:
        """Chat with the project's deployed prompt (awaitable); see `HumanloopClient`."""
        request, samples = self._deployed("chat_deployed", fields, stream=stream, messages=messages)
        if stream:
            return self._stream(request, samples)
        return self._parse(await self._send(request), HumanloopResponse)

    def _stream(self, request: httpx.Request, samples: int) -> AsyncHumanloopStream:
        deadline = self._deadline(None, None, streaming=True)
        opener = functools.partial(self._open_stream, request, deadline)
        return AsyncHumanloopStream(opener, clock=self._clock, samples=samples, deadline=deadline)
