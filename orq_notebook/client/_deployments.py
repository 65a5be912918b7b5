"""`client.deployments`: the operations of the Deployments API, for both client twins.

Each method builds its request and reads its answer through the client's pure base
(`_base._BaseClient`); the twins here differ only in `await`.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload
from urllib.parse import quote

import httpx

from ._base import _AsyncClient, _SyncClient
from ._models import (
    Deployment,
    DeploymentConfig,
    DeploymentList,
    Document,
    Identity,
    Invocation,
    InvokeOptions,
    Message,
    Thread,
)
from ._streaming import AsyncInvocationStream, InvocationStream

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._variables import Variables


__all__ = ["AsyncDeployments", "Deployments", "InvokeFields"]


class InvokeFields(TypedDict, total=False):
    """The optional request fields of invoke, stream and get_config, named as on the wire."""

    inputs: Mapping[str, Any] | None
    context: Mapping[str, Any] | None
    prefix_messages: Sequence[Message | Mapping[str, Any]] | None
    messages: Sequence[Message | Mapping[str, Any]] | None
    file_ids: Sequence[str] | None
    metadata: Mapping[str, Any] | None
    identity: Identity | Mapping[str, Any] | None
    documents: Sequence[Document | Mapping[str, Any]] | None
    invoke_options: InvokeOptions | Mapping[str, Any] | None
    thread: Thread | Mapping[str, Any] | None
    knowledge_filter: Mapping[str, Any] | None
    extra_params: Mapping[str, Any] | None
    chain_id: str | None
    conversation_id: str | None
    user_id: str | None
    deployment_id: str | None
    deployment_variant_id: str | None


_LIST = "/v2/deployments"
_GET_CONFIG = "/v2/deployments/get_config"
_INVOKE = "/v2/deployments/invoke"
_STREAM = "/v2/deployments/stream"


class Deployments:
    """`client.deployments`: list, configure, invoke and stream prompt deployments.

    The request fields (`inputs`, `context`, `messages`, ...) are keyword arguments named as on
    the wire; an unknown name raises TypeError, a bad value pydantic's ValidationError.
    """

    def __init__(self, client: _SyncClient) -> None:
        self._client = client

    def _stream(self, request: httpx.Request) -> InvocationStream:
        c = self._client
        return InvocationStream(
            functools.partial(c._open_stream, request), clock=c._clock, redact=c._redact
        )

    def list(
        self,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> DeploymentList:
        """One page of deployments, newest first: `client.deployments.list(limit=10)`."""
        c = self._client
        params = _page(limit, starting_after, ending_before)
        return c._parse(c._send(c._request("GET", _LIST, params=params)), DeploymentList)

    all = list

    def iter(self, page_size: int = 50) -> Iterator[Deployment]:
        """Every deployment, fetching pages as needed: `for d in client.deployments.iter(): ...`."""
        after: str | None = None
        while True:
            page = self.list(limit=page_size, starting_after=after)
            yield from page.data
            if not (page.has_more and page.data):
                return
            after = page.data[-1].id

    def get_config(self, key: str, **fields: Unpack[InvokeFields]) -> DeploymentConfig:
        """The deployment's resolved prompt and model settings, without calling the model."""
        c = self._client
        request = c._invoke_request("get_config", _GET_CONFIG, key, fields, stream=False)
        return c._parse(c._send(request), DeploymentConfig)

    def variables(self, key: str, *, context: Mapping[str, Any] | None = None) -> Variables:
        """The deployment's `{{variables}}`: where each appears, its default, which are open.

        Usage: `client.deployments.variables("support-answer").check(inputs).warnings()`.
        One list (for the template) and one `get_config`; see `Variables`.
        """
        from ._variables import fetch_variables

        return fetch_variables(self, key, context=context)

    @overload
    def invoke(
        self, key: str, *, stream: Literal[False] = ..., **fields: Unpack[InvokeFields]
    ) -> Invocation: ...
    @overload
    def invoke(
        self, key: str, *, stream: Literal[True], **fields: Unpack[InvokeFields]
    ) -> InvocationStream: ...
    def invoke(
        self, key: str, *, stream: bool = False, **fields: Unpack[InvokeFields]
    ) -> Invocation | InvocationStream:
        """Run the deployment: `client.deployments.invoke("key", inputs={...}).text`.

        With `stream=True`, streams through `/invoke` and returns an `InvocationStream`.
        """
        c = self._client
        request = c._invoke_request("invoke", _INVOKE, key, fields, stream=stream)
        if stream:
            return self._stream(request)
        return c._parse(c._send(request), Invocation)

    def stream(self, key: str, **fields: Unpack[InvokeFields]) -> InvocationStream:
        """Stream the answer: `with client.deployments.stream("key") as s: for chunk in s: ...`."""
        c = self._client
        return self._stream(c._invoke_request("stream", _STREAM, key, fields, stream=True))

    def invalidate(self, deployment_id: str) -> None:
        """Drop the server's cache of a deployment, by its id (not its key)."""
        c = self._client
        c._check_empty(c._send(c._request("DELETE", _invalidate_path(deployment_id))))

    def list_versions(
        self,
        key_or_id: str,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> dict[str, Any]:
        """The deployment's versions, newest first, as the JSON object the API returns."""
        c = self._client
        params = _page(limit, starting_after, ending_before)
        request = c._request("GET", _versions_path(key_or_id), params=params)
        return c._parse_dict(c._send(request))


class AsyncDeployments:
    """`async_client.deployments`: the async twin of `Deployments`."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    def _stream(self, request: httpx.Request) -> AsyncInvocationStream:
        c = self._client
        return AsyncInvocationStream(
            functools.partial(c._open_stream, request), clock=c._clock, redact=c._redact
        )

    async def list(
        self,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> DeploymentList:
        """One page of deployments, newest first."""
        c = self._client
        params = _page(limit, starting_after, ending_before)
        return c._parse(await c._send(c._request("GET", _LIST, params=params)), DeploymentList)

    all = list

    async def iter(self, page_size: int = 50) -> AsyncIterator[Deployment]:
        """Every deployment: `async for d in client.deployments.iter(): ...`."""
        after: str | None = None
        while True:
            page = await self.list(limit=page_size, starting_after=after)
            for deployment in page.data:
                yield deployment
            if not (page.has_more and page.data):
                return
            after = page.data[-1].id

    async def get_config(self, key: str, **fields: Unpack[InvokeFields]) -> DeploymentConfig:
        """The deployment's resolved prompt and model settings, without calling the model."""
        c = self._client
        request = c._invoke_request("get_config", _GET_CONFIG, key, fields, stream=False)
        return c._parse(await c._send(request), DeploymentConfig)

    async def variables(self, key: str, *, context: Mapping[str, Any] | None = None) -> Variables:
        """`await client.deployments.variables(key)`: see `Deployments.variables`."""
        from ._variables import afetch_deployment_variables

        return await afetch_deployment_variables(self, key, context=context)

    @overload
    async def invoke(
        self, key: str, *, stream: Literal[False] = ..., **fields: Unpack[InvokeFields]
    ) -> Invocation: ...
    @overload
    async def invoke(
        self, key: str, *, stream: Literal[True], **fields: Unpack[InvokeFields]
    ) -> AsyncInvocationStream: ...
    async def invoke(
        self, key: str, *, stream: bool = False, **fields: Unpack[InvokeFields]
    ) -> Invocation | AsyncInvocationStream:
        """Run the deployment; with `stream=True`, an unopened `AsyncInvocationStream`."""
        c = self._client
        request = c._invoke_request("invoke", _INVOKE, key, fields, stream=stream)
        if stream:
            return self._stream(request)
        return c._parse(await c._send(request), Invocation)

    def stream(self, key: str, **fields: Unpack[InvokeFields]) -> AsyncInvocationStream:
        """Stream the answer: `async with client.deployments.stream("key") as s: ...`."""
        c = self._client
        return self._stream(c._invoke_request("stream", _STREAM, key, fields, stream=True))

    async def invalidate(self, deployment_id: str) -> None:
        """Drop the server's cache of a deployment, by its id (not its key)."""
        c = self._client
        c._check_empty(await c._send(c._request("DELETE", _invalidate_path(deployment_id))))

    async def list_versions(
        self,
        key_or_id: str,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
    ) -> dict[str, Any]:
        """The deployment's versions, newest first, as the JSON object the API returns."""
        c = self._client
        params = _page(limit, starting_after, ending_before)
        request = c._request("GET", _versions_path(key_or_id), params=params)
        return c._parse_dict(await c._send(request))


# -- paths and query parameters --------------------------------------------------------------


def _page(
    limit: int | None, starting_after: str | None, ending_before: str | None
) -> dict[str, str | int]:
    given = {"limit": limit, "starting_after": starting_after, "ending_before": ending_before}
    return {name: value for name, value in given.items() if value is not None}


def _segment(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what} must not be empty")
    return quote(value, safe="")


def _invalidate_path(deployment_id: str) -> str:
    return f"/v2/deployments/invalidate/{_segment(deployment_id, 'deployment_id')}"


def _versions_path(key_or_id: str) -> str:
    return f"/v2/deployments/{_segment(key_or_id, 'key_or_id')}/versions"
