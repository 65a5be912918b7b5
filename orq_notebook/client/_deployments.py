"""`client.deployments`: the operations of the Deployments API, for both client twins.

Each method builds its request and reads its answer through the client's pure base
(`_base._BaseClient`); the twins here differ only in `await`. Every method takes `timeout=`
(seconds for the whole answer; for a stream, for its first chunk), and streams also
`idle_timeout=` (the longest silence between chunks); None means the client's setting.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, overload
from urllib.parse import quote

import httpx

from ._base import _is_orq_host, body_text
from ._checks import key_or_id, whole_number
from ._error_body import parse_error_body
from ._exceptions import UnexpectedResponseError
from ._io import _AsyncClient, _SyncClient
from ._models import (
    Deployment,
    DeploymentConfig,
    DeploymentList,
    DeploymentVersionList,
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


__all__ = ["MAX_PAGES", "AsyncDeployments", "Deployments", "InvokeFields"]


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
MAX_PAGES = 1000  # `iter()` stops (with an error) after this many pages: 50,000 deployments


class Deployments:
    """`client.deployments`: list, configure, invoke and stream prompt deployments.

    The request fields (`inputs`, `context`, `messages`, ...) are keyword arguments named as on
    the wire; an unknown name raises `ArgumentTypeError` (a TypeError), a bad value
    `InvalidRequestError` (a ValueError) naming the field. Both are `OrqError`s.
    """

    def __init__(self, client: _SyncClient) -> None:
        self._client = client

    def _stream(
        self, operation: str, path: str, key: str, fields: Any, timeout: Any, idle: Any
    ) -> InvocationStream:
        c = self._client
        deadline = c._deadline(timeout, idle, streaming=True, owner=f"{operation}()")
        request = c._invoke_request(operation, path, key, fields, stream=True, deadline=deadline)
        return InvocationStream(
            functools.partial(c._open_stream, request, deadline),
            clock=c._clock,
            redact=c._redact,
            deadline=deadline,
        )

    def list(
        self,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        timeout: float | None = None,
    ) -> DeploymentList:
        """One page of deployments, newest first: `client.deployments.list(limit=10)`."""
        c = self._client
        deadline = c._deadline(timeout, owner="list()")
        params = _page(limit, starting_after, ending_before)
        request = c._request("GET", _LIST, params=params, deadline=deadline)
        return c._parse(c._send(request, deadline=deadline), DeploymentList)

    all = list

    def iter(self, page_size: int = 50, *, max_pages: int = MAX_PAGES) -> Iterator[Deployment]:
        """Every deployment, fetching pages as needed: `for d in client.deployments.iter(): ...`.

        A server whose pages do not advance (the same cursor again) or never end (more than
        `max_pages`) raises `UnexpectedResponseError` instead of looping forever.
        """
        pages = _Pages(page_size, max_pages)
        while (after := pages.next_cursor()) is not False:
            page = self.list(limit=page_size, starting_after=after)
            yield from page.data
            pages.read(page.has_more, [d.id for d in page.data])

    def get_config(
        self, key: str, *, timeout: float | None = None, **fields: Unpack[InvokeFields]
    ) -> DeploymentConfig | None:
        """The deployment's resolved prompt and model settings, without calling the model.

        None when the server answers `204 No Content`, as the official SDK has it.
        """
        c = self._client
        deadline = c._deadline(timeout, owner="get_config()")
        request = c._invoke_request(
            "get_config", _GET_CONFIG, key, fields, stream=False, deadline=deadline
        )
        response = c._send(request, deadline=deadline, generation=False)
        return c._parse_optional(response, DeploymentConfig)

    def variables(self, key: str, *, context: Mapping[str, Any] | None = None) -> Variables:
        """The deployment's `{{variables}}`: where each appears, its default, which are open.

        Usage: `client.deployments.variables("support-answer").check(inputs).warnings()`.
        One list (for the template) and one `get_config`; see `Variables`.
        """
        from ._variables import fetch_variables

        return fetch_variables(self, key, context=context)

    @overload
    def invoke(
        self,
        key: str,
        *,
        stream: Literal[False] = ...,
        timeout: float | None = ...,
        **fields: Unpack[InvokeFields],
    ) -> Invocation | None: ...
    @overload
    def invoke(
        self,
        key: str,
        *,
        stream: Literal[True],
        timeout: float | None = ...,
        idle_timeout: float | None = ...,
        **fields: Unpack[InvokeFields],
    ) -> InvocationStream: ...
    def invoke(
        self,
        key: str,
        *,
        stream: bool = False,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        **fields: Unpack[InvokeFields],
    ) -> Invocation | InvocationStream | None:
        """Run the deployment: `client.deployments.invoke("key", inputs={...}).text`.

        None when the server answers `204 No Content`, as the official SDK has it. With
        `stream=True`, streams through `/invoke` and returns an `InvocationStream`.
        """
        if stream:
            return self._stream("invoke", _INVOKE, key, fields, timeout, idle_timeout)
        c = self._client
        deadline = c._deadline(timeout, owner="invoke()")
        request = c._invoke_request("invoke", _INVOKE, key, fields, stream=False, deadline=deadline)
        return c._parse_optional(c._send(request, deadline=deadline), Invocation)

    def stream(
        self,
        key: str,
        *,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        **fields: Unpack[InvokeFields],
    ) -> InvocationStream:
        """Stream the answer: `with client.deployments.stream("key") as s: for chunk in s: ...`."""
        return self._stream("stream", _STREAM, key, fields, timeout, idle_timeout)

    def invalidate(self, deployment_id: str, *, timeout: float | None = None) -> None:
        """Drop the server's cache of a deployment, by its id (not its key).

        orq.ai has no such endpoint today (its web app invalidates caches); this works on
        servers that have `DELETE /v2/deployments/invalidate/{id}`, such as the local server.
        """
        c = self._client
        deadline = c._deadline(timeout, owner="invalidate()")
        path = _invalidate_path(deployment_id)
        response = c._send(c._request("DELETE", path, deadline=deadline), deadline=deadline)
        _check_invalidated(c, response, deployment_id)

    def list_versions(
        self,
        key_or_id: str,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        variant_id: str | None = None,
        timeout: float | None = None,
    ) -> DeploymentVersionList:
        """One page of the deployment's saved versions, newest first, drafts included.

        `variant_id` keeps the versions of that variant only.
        """
        c = self._client
        deadline = c._deadline(timeout, owner="list_versions()")
        params = _page(limit, starting_after, ending_before, variant_id)
        request = c._request("GET", _versions_path(key_or_id), params=params, deadline=deadline)
        return c._parse(c._send(request, deadline=deadline), DeploymentVersionList)


class AsyncDeployments:
    """`async_client.deployments`: the async twin of `Deployments`."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    def _stream(
        self, operation: str, path: str, key: str, fields: Any, timeout: Any, idle: Any
    ) -> AsyncInvocationStream:
        c = self._client
        deadline = c._deadline(timeout, idle, streaming=True, owner=f"{operation}()")
        request = c._invoke_request(operation, path, key, fields, stream=True, deadline=deadline)
        return AsyncInvocationStream(
            functools.partial(c._open_stream, request, deadline),
            clock=c._clock,
            redact=c._redact,
            deadline=deadline,
        )

    async def list(
        self,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        timeout: float | None = None,
    ) -> DeploymentList:
        """One page of deployments, newest first."""
        c = self._client
        deadline = c._deadline(timeout, owner="list()")
        params = _page(limit, starting_after, ending_before)
        request = c._request("GET", _LIST, params=params, deadline=deadline)
        return c._parse(await c._send(request, deadline=deadline), DeploymentList)

    all = list

    async def iter(
        self, page_size: int = 50, *, max_pages: int = MAX_PAGES
    ) -> AsyncIterator[Deployment]:
        """Every deployment: `async for d in client.deployments.iter(): ...` (bounded as
        `Deployments.iter`)."""
        pages = _Pages(page_size, max_pages)
        while (after := pages.next_cursor()) is not False:
            page = await self.list(limit=page_size, starting_after=after)
            for deployment in page.data:
                yield deployment
            pages.read(page.has_more, [d.id for d in page.data])

    async def get_config(
        self, key: str, *, timeout: float | None = None, **fields: Unpack[InvokeFields]
    ) -> DeploymentConfig | None:
        """The deployment's resolved prompt and model settings (None on `204 No Content`)."""
        c = self._client
        deadline = c._deadline(timeout, owner="get_config()")
        request = c._invoke_request(
            "get_config", _GET_CONFIG, key, fields, stream=False, deadline=deadline
        )
        response = await c._send(request, deadline=deadline, generation=False)
        return c._parse_optional(response, DeploymentConfig)

    async def variables(self, key: str, *, context: Mapping[str, Any] | None = None) -> Variables:
        """`await client.deployments.variables(key)`: see `Deployments.variables`."""
        from ._variables import afetch_deployment_variables

        return await afetch_deployment_variables(self, key, context=context)

    @overload
    async def invoke(
        self,
        key: str,
        *,
        stream: Literal[False] = ...,
        timeout: float | None = ...,
        **fields: Unpack[InvokeFields],
    ) -> Invocation | None: ...
    @overload
    async def invoke(
        self,
        key: str,
        *,
        stream: Literal[True],
        timeout: float | None = ...,
        idle_timeout: float | None = ...,
        **fields: Unpack[InvokeFields],
    ) -> AsyncInvocationStream: ...
    async def invoke(
        self,
        key: str,
        *,
        stream: bool = False,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        **fields: Unpack[InvokeFields],
    ) -> Invocation | AsyncInvocationStream | None:
        """Run the deployment (None on `204 No Content`); with `stream=True`, an unopened
        `AsyncInvocationStream`."""
        if stream:
            return self._stream("invoke", _INVOKE, key, fields, timeout, idle_timeout)
        c = self._client
        deadline = c._deadline(timeout, owner="invoke()")
        request = c._invoke_request("invoke", _INVOKE, key, fields, stream=False, deadline=deadline)
        return c._parse_optional(await c._send(request, deadline=deadline), Invocation)

    def stream(
        self,
        key: str,
        *,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        **fields: Unpack[InvokeFields],
    ) -> AsyncInvocationStream:
        """Stream the answer: `async with client.deployments.stream("key") as s: ...`."""
        return self._stream("stream", _STREAM, key, fields, timeout, idle_timeout)

    async def invalidate(self, deployment_id: str, *, timeout: float | None = None) -> None:
        """Drop the server's cache of a deployment, by its id (see `Deployments.invalidate`)."""
        c = self._client
        deadline = c._deadline(timeout, owner="invalidate()")
        path = _invalidate_path(deployment_id)
        response = await c._send(c._request("DELETE", path, deadline=deadline), deadline=deadline)
        _check_invalidated(c, response, deployment_id)

    async def list_versions(
        self,
        key_or_id: str,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        variant_id: str | None = None,
        timeout: float | None = None,
    ) -> DeploymentVersionList:
        """One page of the deployment's saved versions, newest first, drafts included."""
        c = self._client
        deadline = c._deadline(timeout, owner="list_versions()")
        params = _page(limit, starting_after, ending_before, variant_id)
        request = c._request("GET", _versions_path(key_or_id), params=params, deadline=deadline)
        return c._parse(await c._send(request, deadline=deadline), DeploymentVersionList)


# -- pages ----------------------------------------------------------------------------------


class _Pages:
    """The cursor of `iter()`, and the guard against pages that never end."""

    def __init__(self, page_size: int, max_pages: int) -> None:
        whole_number("iter()", "page_size", page_size, minimum=1)
        self.max_pages = whole_number("iter()", "max_pages", max_pages, minimum=1)
        self.count = 0
        self.after: str | None | Literal[False] = None
        self.seen: set[str] = set()

    def next_cursor(self) -> str | None | Literal[False]:
        """The cursor of the next page (None: the first), or False when the walk is over."""
        return self.after

    def read(self, has_more: bool, ids: list[str]) -> None:
        self.count += 1
        if not (has_more and ids):
            self.after = False
            return
        cursor = ids[-1]
        if cursor in self.seen:
            raise _pages_error(
                f"page {self.count} ends with {cursor!r} again, so the cursor does not advance"
            )
        if self.count >= self.max_pages:
            raise _pages_error(f"it still says has_more after {self.count} pages (max_pages)")
        self.seen.add(cursor)
        self.after = cursor


def _pages_error(why: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        f"Listing deployments stopped: {why}. The server's pagination is broken; the "
        "deployments read so far were returned.",
        status_code=200,
    )


# -- paths, query parameters and the invalidate endpoint -------------------------------------


def _page(
    limit: int | None,
    starting_after: str | None,
    ending_before: str | None,
    variant_id: str | None = None,
) -> dict[str, str | int]:
    if limit is not None:
        whole_number("list()", "limit", limit, minimum=1)
    given = {
        "limit": limit,
        "starting_after": starting_after,
        "ending_before": ending_before,
        "variant_id": variant_id,
    }
    return {name: value for name, value in given.items() if value is not None}


def _segment(value: str, what: str) -> str:
    return quote(key_or_id(value, what), safe="")


def _invalidate_path(deployment_id: str) -> str:
    return f"/v2/deployments/invalidate/{_segment(deployment_id, 'invalidate() deployment_id')}"


def _versions_path(key_or_id: str) -> str:
    return f"/v2/deployments/{_segment(key_or_id, 'list_versions() key_or_id')}/versions"


NO_INVALIDATE = (
    "{where} has no cache-invalidation endpoint (HTTP {status}): orq.ai's API has none today, "
    "its web app invalidates a deployment's cache. `invalidate` works on servers that have "
    "DELETE /v2/deployments/invalidate/{{id}}, such as the local server."
)


def _check_invalidated(
    client: _SyncClient | _AsyncClient, response: httpx.Response, deployment_id: str
) -> None:
    if response.is_success:
        return
    error = client._status_error(response)
    if _endpoint_missing(client, response, deployment_id):
        where = "orq.ai" if _is_orq_host(client.settings.base_url) else client.settings.base_url
        error.message = NO_INVALIDATE.format(where=where, status=response.status_code)
        error.args = (error.message,)
    raise error


def _endpoint_missing(
    client: _SyncClient | _AsyncClient, response: httpx.Response, deployment_id: str
) -> bool:
    """A 405, or a 404 that is about the path rather than about the deployment."""
    if response.status_code == 405:
        return True
    if response.status_code != 404:
        return False
    if _is_orq_host(client.settings.base_url):
        return True
    said = parse_error_body(body_text(response))
    about_it = said.code == "deployment_not_found" or (
        said.message is not None and deployment_id in said.message
    )
    return not about_it
