"""Client and AsyncClient against httpx.MockTransport.

Behaviour tests run once per twin: `Twin` drives either client through one sync-looking API (the
async one inside `asyncio.run`). Sleeping and the clock are fakes, so retries take no time and
their delays can be asserted exactly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from orq_notebook._version import __version__
from orq_notebook.client._client import AsyncClient, Client
from orq_notebook.client._deployments import InvokeFields
from orq_notebook.client._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidArgumentError,
    InvalidRequestError,
    MissingAPIKeyError,
    NotFoundError,
    OrqError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    StreamError,
    UnexpectedResponseError,
    UnprocessableEntityError,
)
from orq_notebook.client._models import REQUEST_FIELDS, DeploymentVersionList, InvocationChunk
from orq_notebook.client._streaming import AsyncInvocationStream, InvocationStream
from tests.test_streaming import Body, chunk, sse

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.example.test/orq"  # not orq's host, with a path prefix
KEY = "sk-test-0123456789-do-not-leak"
Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def reply(
    status: int = 200,
    body: bytes | str | dict[str, Any] | list[Any] = b"",
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict | list) else body
    all_headers = {"content-type": content_type} if content_type else {}
    return httpx.Response(status, content=content, headers={**all_headers, **(headers or {})})


def event_stream(body: Body) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)


class Replies:
    """A MockTransport handler: answers with each reply in turn and records the requests.

    A reply may be a response, an exception to raise, or a function of the request.
    """

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(item, Exception):
            raise item
        return item if isinstance(item, httpx.Response) else item(request)

    @property
    def request(self) -> httpx.Request:
        (only,) = self.requests
        return only

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Twin:
    """One test body drives Client or AsyncClient; fake sleep and clock record the waits."""

    def __init__(
        self, kind: str, handler: Callable[[httpx.Request], httpx.Response], **options: Any
    ):
        options = {"api_key": KEY, "base_url": BASE, "env": {}, **options}
        self.kind = kind
        self.sleeps: list[float] = []
        self.now = 0.0
        transport = httpx.MockTransport(handler)
        self.client: Client | AsyncClient
        if kind == "sync":
            self.client = Client(transport=transport, **options)
            self.client._sleep = self._sleep
        else:
            self.client = AsyncClient(transport=transport, **options)
            self.client._sleep = self._asleep
        self.client._clock = lambda: self.now
        self.client._retry = replace(self.client._retry, random=lambda: 0.0)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def _asleep(self, seconds: float) -> None:
        self._sleep(seconds)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """`client.deployments.<name>(...)`, awaited for the async twin."""
        result = getattr(self.client.deployments, name)(*args, **kwargs)
        return asyncio.run(_wait(result)) if self.kind == "async" else result

    def every(self, **kwargs: Any) -> list[Any]:
        if isinstance(self.client, Client):
            return list(self.client.deployments.iter(**kwargs))

        async def collect(c: AsyncClient) -> list[Any]:
            return [d async for d in c.deployments.iter(**kwargs)]

        return asyncio.run(collect(self.client))

    def stream(
        self, *args: Any, via: str = "stream", stop_after: int | None = None, **fields: Any
    ) -> tuple[InvocationStream | AsyncInvocationStream | None, list[InvocationChunk], Any]:
        """Open a stream (`stream()` or `invoke(stream=True)`) and read it inside `with`."""
        chunks: list[InvocationChunk] = []
        if isinstance(self.client, Client):
            d = self.client.deployments
            s: InvocationStream | None = None
            try:
                s = (
                    d.stream(*args, **fields)
                    if via == "stream"
                    else d.invoke(*args, stream=True, **fields)
                )
                with s:
                    for c in s:
                        chunks.append(c)
                        if stop_after and len(chunks) >= stop_after:
                            break
            except (OrqError, ValueError, TypeError) as exc:
                return s, chunks, exc
            return s, chunks, None

        async def run(d: Any) -> tuple[AsyncInvocationStream | None, Any]:
            s: AsyncInvocationStream | None = None
            try:
                s = (
                    d.stream(*args, **fields)
                    if via == "stream"
                    else await d.invoke(*args, stream=True, **fields)
                )
                async with s:
                    async for c in s:
                        chunks.append(c)
                        if stop_after and len(chunks) >= stop_after:
                            break
            except (OrqError, ValueError, TypeError) as exc:
                return s, exc
            return s, None

        opened, error = asyncio.run(run(self.client.deployments))
        return opened, chunks, error


async def _wait(result: Any) -> Any:
    return await result if isinstance(result, Coroutine) else result


def raises(twin: Twin, cls: type[BaseException], name: str, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(cls) as info:
        twin.call(name, *args, **kwargs)
    return info.value


# -- every operation on the wire ----------------------------------------------------------------


def test_list(kind: str) -> None:
    server = Replies(reply(body=fixture("list_deployments.json")))
    page = Twin(kind, server).call("list", limit=5, starting_after="d_9")
    r = server.request
    assert r.method == "GET"
    assert str(r.url) == f"{BASE}/v2/deployments?limit=5&starting_after=d_9"
    assert r.headers["authorization"] == f"Bearer {KEY}"
    assert r.headers["accept"] == "application/json"
    assert r.headers["user-agent"] == f"orq-notebook/{__version__}"
    assert "content-type" not in r.headers and r.content == b""
    assert page.data[0].key == "customer-support" and page.has_more is False


def test_list_sends_only_the_params_given_and_all_is_the_same_call(kind: str) -> None:
    server = Replies(reply(body=fixture("list_deployments.json")))
    twin = Twin(kind, server)
    twin.call("all", ending_before="d_1")
    twin.call("list")
    assert [str(r.url) for r in server.requests] == [
        f"{BASE}/v2/deployments?ending_before=d_1",
        f"{BASE}/v2/deployments",
    ]


def test_iter_walks_every_page(kind: str) -> None:
    one = json.loads(fixture("list_deployments.json"))["data"][0]
    pages = {
        None: [{**one, "id": "a"}, {**one, "id": "b"}],
        "b": [{**one, "id": "c"}],
    }

    def page(request: httpx.Request) -> httpx.Response:
        data = pages[request.url.params.get("starting_after")]
        return reply(body={"object": "list", "data": data, "has_more": len(data) == 2})

    server = Replies(page)
    ids = [d.id for d in Twin(kind, server).every(page_size=2)]
    assert ids == ["a", "b", "c"]
    assert [r.url.query.decode() for r in server.requests] == [
        "limit=2",
        "limit=2&starting_after=b",
    ]


def test_iter_stops_on_an_empty_page_even_if_more_is_announced(kind: str) -> None:
    server = Replies(reply(body={"object": "list", "data": [], "has_more": True}))
    assert Twin(kind, server).every() == []
    assert len(server.requests) == 1


def test_get_config(kind: str) -> None:
    server = Replies(reply(body=fixture("get_config.json")))
    config = Twin(kind, server).call("get_config", "customer-support", inputs={"company": "Acme"})
    r = server.request
    assert (r.method, str(r.url)) == ("POST", f"{BASE}/v2/deployments/get_config")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["accept"] == "application/json"
    # As the SDK sends it: `stream: false` on get_config too (reference §1.2).
    assert server.body() == {
        "key": "customer-support",
        "stream": False,
        "inputs": {"company": "Acme"},
    }
    assert config.parameters["maxTokens"] == 1024 and config.version == "v3"


def test_invoke(kind: str) -> None:
    server = Replies(reply(body=fixture("invoke_text.json")))
    answer = Twin(kind, server).call("invoke", "customer-support", inputs={"q": "refund?"})
    r = server.request
    assert (r.method, str(r.url)) == ("POST", f"{BASE}/v2/deployments/invoke")
    assert r.headers["accept"] == "application/json"
    assert server.body() == {"key": "customer-support", "stream": False, "inputs": {"q": "refund?"}}
    assert answer.text == "You can return items within 30 days."
    assert answer.usage.total_tokens == 57


def test_invoke_sends_the_full_reference_request(kind: str) -> None:
    expected = json.loads(fixture("invoke_request_full.json"))
    fields = {k: v for k, v in expected.items() if k not in ("key", "stream")}
    server = Replies(reply(body=fixture("invoke_minimal.json")))
    Twin(kind, server).call("invoke", "customer-support", **fields)
    assert server.body() == expected


def test_stream(kind: str) -> None:
    body = Body([fixture("stream_basic.sse")])
    server = Replies(event_stream(body))
    stream, chunks, error = Twin(kind, server).stream("customer-support", inputs={"q": "x"})
    r = server.request
    assert error is None
    assert (r.method, str(r.url)) == ("POST", f"{BASE}/v2/deployments/stream")
    assert r.headers["accept"] == "text/event-stream"
    assert server.body() == {"key": "customer-support", "stream": True, "inputs": {"q": "x"}}
    assert stream is not None and stream.completed
    assert "".join(c.content for c in chunks) == "You can return items within 30 days."
    assert body.closed


def test_invoke_with_stream_true_streams_through_invoke(kind: str) -> None:
    body = Body([fixture("stream_basic.sse")])
    server = Replies(event_stream(body))
    stream, chunks, error = Twin(kind, server).stream("customer-support", via="invoke")
    r = server.request
    assert error is None
    assert (r.method, str(r.url)) == ("POST", f"{BASE}/v2/deployments/invoke")
    assert r.headers["accept"] == "text/event-stream"
    assert server.body() == {"key": "customer-support", "stream": True}
    assert stream is not None and stream.text == "You can return items within 30 days."
    assert body.closed


def test_a_stream_sends_nothing_until_entered(kind: str) -> None:
    server = Replies(event_stream(Body([fixture("stream_basic.sse")])))
    twin = Twin(kind, server)
    stream = twin.call("invoke", "k", stream=True)
    twin.client.deployments.stream("k")
    assert isinstance(stream, InvocationStream | AsyncInvocationStream)
    assert server.requests == []


def test_invalidate(kind: str) -> None:
    server = Replies(reply(204, content_type=None))
    assert Twin(kind, server).call("invalidate", "3f0c1a52/x y") is None
    r = server.request
    assert r.method == "DELETE"
    assert str(r.url) == f"{BASE}/v2/deployments/invalidate/3f0c1a52%2Fx%20y"
    assert r.content == b""


def test_list_versions(kind: str) -> None:
    server = Replies(reply(body=fixture("list_versions.json")))
    page = Twin(kind, server).call("list_versions", "customer-support", limit=3, variant_id="v1")
    assert str(server.request.url) == (
        f"{BASE}/v2/deployments/customer-support/versions?limit=3&variant_id=v1"
    )
    wire = json.loads(fixture("list_versions.json"))
    assert isinstance(page, DeploymentVersionList) and page.has_more is True
    assert [v.id for v in page.data] == [v["_id"] for v in wire["data"]]
    assert [v.status for v in page.data] == ["live", "draft"]
    assert page.data[0].prompt_config.model == "gpt-4o-mini"
    assert page.data[0].tools[0].function.name == "get_weather"
    assert page.data[1].user_id == "user_123" and page.data[0].notes == "Lowered maxTokens"


@pytest.mark.parametrize("name", ["invalidate", "list_versions"])
def test_an_empty_path_segment_is_refused(kind: str, name: str) -> None:
    server = Replies(reply())
    for bad in ("", ".", "..", " .. "):
        error = raises(Twin(kind, server), ValueError, name, bad)
        assert isinstance(error, InvalidArgumentError)
    assert isinstance(raises(Twin(kind, server), TypeError, name, 7), OrqError)
    assert server.requests == []


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8888/orq/", "http://127.0.0.1:8888/orq"])
def test_a_base_url_path_prefix_is_kept(kind: str, base_url: str) -> None:
    server = Replies(reply(body=fixture("get_config_minimal.json")))
    Twin(kind, server, base_url=base_url).call("get_config", "k")
    assert str(server.request.url) == "http://127.0.0.1:8888/orq/v2/deployments/get_config"


def test_environment_goes_into_the_context(kind: str) -> None:
    server = Replies(reply(body=fixture("invoke_minimal.json")))
    twin = Twin(kind, server, environment="production")
    twin.call("invoke", "k")
    twin.call("invoke", "k", context={"locale": "nl"})
    twin.call("invoke", "k", context={"environments": ["staging"]})
    assert [server.body(i)["context"] for i in range(3)] == [
        {"environments": "production"},
        {"locale": "nl", "environments": "production"},
        {"environments": "production"},  # the client's wins, as in the SDK and orq's docs
    ]


def test_environment_and_contact_on_every_kind_of_request(kind: str) -> None:
    stream_reply = event_stream(Body([fixture("stream_basic.sse")]))
    server = Replies(reply(body=fixture("get_config_minimal.json")), stream_reply)
    twin = Twin(kind, server, environment="staging", contact_id="contact_1")
    twin.call("get_config", "k")
    twin.stream("k")
    assert [server.body(i)["context"] for i in range(2)] == [{"environments": "staging"}] * 2
    assert [r.headers["x-orq-contact-id"] for r in server.requests] == ["contact_1"] * 2


def test_the_timeout_reaches_the_transport(kind: str) -> None:
    server = Replies(reply(body=fixture("invoke_minimal.json")))
    twin = Twin(kind, server, timeout=30)
    twin.call("invoke", "k")
    Twin(kind, server, timeout=4).call("invoke", "k")
    assert [r.extensions["timeout"] for r in server.requests] == [
        {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0},
        {"connect": 4.0, "read": 4.0, "write": 4.0, "pool": 4.0},
    ]


# -- request fields are checked before anything is sent -----------------------------------------


@pytest.mark.parametrize("name", ["get_config", "invoke", "stream"])
def test_an_unknown_field_is_a_type_error_naming_it(kind: str, name: str) -> None:
    server = Replies(reply())
    twin = Twin(kind, server)
    with pytest.raises(TypeError, match=r"'input'; did you mean 'inputs'\?") as info:
        if name == "stream":
            twin.client.deployments.stream("k", input={})  # type: ignore[call-arg]
        else:
            twin.call(name, "k", input={})
    assert f"{name}()" in str(info.value)
    with pytest.raises(TypeError, match="the request fields are"):
        twin.call("invoke", "k", zzz=1)
    assert server.requests == []


def test_a_bad_value_is_an_orq_error_naming_the_field_before_sending(kind: str) -> None:
    server = Replies(reply())
    error = raises(Twin(kind, server), InvalidRequestError, "invoke", "k", metadata=[1])
    assert isinstance(error, ValueError) and not isinstance(error, ValidationError)
    assert error.field == "metadata" and "Invalid request field metadata" in str(error)
    error = raises(Twin(kind, server), InvalidRequestError, "invoke", "k", messages="hi")
    assert "messages takes a list of messages" in str(error)
    error = raises(Twin(kind, server), ValueError, "invoke", "k", messages=[{"role": "robot"}])
    assert "messages[0] has role 'robot'" in str(error)
    assert server.requests == []


def test_the_typed_fields_are_the_request_fields() -> None:
    assert InvokeFields.__optional_keys__ == REQUEST_FIELDS
    assert InvokeFields.__required_keys__ == frozenset()


# -- the API key ---------------------------------------------------------------------------------


def test_a_bearer_prefix_is_not_doubled(kind: str) -> None:
    server = Replies(reply(body=fixture("list_deployments.json")))
    Twin(kind, server, api_key=f"Bearer {KEY}").call("list")
    assert server.request.headers["authorization"] == f"Bearer {KEY}"


def test_the_key_comes_from_the_environment(kind: str) -> None:
    server = Replies(reply(body=fixture("list_deployments.json")))
    Twin(kind, server, api_key=None, env={"ORQ_API_KEY": KEY}).call("list")
    assert server.request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("base_url", ["https://my.orq.ai", "https://api.orq.ai/"])
def test_no_key_for_orq_fails_at_the_first_request_not_before(kind: str, base_url: str) -> None:
    server = Replies(reply())
    twin = Twin(kind, server, api_key=None, base_url=base_url)  # constructing is fine
    error = raises(twin, MissingAPIKeyError, "list")
    assert "ORQ_API_KEY" in str(error)
    with pytest.raises(MissingAPIKeyError):
        twin.client.deployments.stream("k")
    assert server.requests == []


def test_no_key_for_a_local_server_sends_none_and_a_401_names_the_variable(kind: str) -> None:
    server = Replies(reply(401, fixture("error_401.json")))
    twin = Twin(kind, server, api_key=None, base_url="http://127.0.0.1:8000")
    error = raises(twin, AuthenticationError, "invoke", "k")
    assert "authorization" not in server.request.headers
    assert str(error) == (
        "Invalid API key provided. No API key was sent: set the ORQ_API_KEY environment "
        "variable, or pass api_key= to the client."
    )


def test_the_key_never_leaks(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="orq_notebook")
    echo = reply(401, {"message": f"Key {KEY} is revoked"}, headers={"x-request-id": "req_1"})
    server = Replies(echo, httpx.ConnectError(f"refused while sending {KEY}"))
    twin = Twin(kind, server, max_retries=0)
    assert repr(twin.client) == f"{type(twin.client).__name__}(base_url='{BASE}', api_key=<set>)"
    first = raises(twin, AuthenticationError, "invoke", "k")
    second = raises(twin, APIConnectionError, "invoke", "k")
    texts = [str(first), first.body, repr(first), str(second), repr(twin.client.settings)]
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records  # one debug line per request...
    assert all(KEY not in t and "Bearer" not in t for t in texts)  # ...without the headers
    assert "Key <redacted> is revoked" in str(first) and first.request_id == "req_1"


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it(kind: str) -> None:
    server = Replies(reply())
    error = raises(Twin(kind, server, api_key=f"{KEY}\nx"), OrqError, "list")
    assert KEY not in str(error) and "copy the key again" in str(error)
    assert server.requests == []


# -- error bodies -> exceptions ------------------------------------------------------------------

OLD = "Deployment with key 'x' was not found."
INVOKE = "POST /orq/v2/deployments/invoke"


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (400, '{"message": "Bad input"}', BadRequestError, "Bad input."),
        (403, fixture("error_new_shape.json"), PermissionDeniedError, "Invalid API key provided."),
        (404, fixture("error_old_shape.json"), NotFoundError, OLD),
        (500, fixture("error_list_500.json"), InternalServerError, "Internal Server Error."),
        (422, '{"detail": "Missing {{name}}"}', UnprocessableEntityError, "Missing {{name}}."),
        (
            422,
            '{"detail": [{"loc": ["body", "key"], "msg": "Field required", "type": "missing"}]}',
            UnprocessableEntityError,
            "body.key: Field required.",
        ),
        (
            413,
            "too big",
            RequestTooLargeError,
            f"{INVOKE} failed with HTTP 413 Request Entity Too Large.",
        ),
        (418, '{"unrelated": true}', APIError, f"{INVOKE} failed with HTTP 418 I'm a teapot."),
        (
            502,
            "<html>oops</html>",
            InternalServerError,
            f"{INVOKE} failed with HTTP 502 Bad Gateway.",
        ),
    ],
    ids=[
        "message",
        "error-object",
        "error-string",
        "hono",
        "detail",
        "detail-list",
        "text",
        "418",
        "html",
    ],
)
def test_error_bodies(
    kind: str, status: int, body: str | bytes, cls: type[APIError], message: str
) -> None:
    server = Replies(reply(status, body, headers={"x-trace-id": "trace_1"}))
    error = raises(Twin(kind, server, max_retries=0), APIError, "invoke", "x")
    assert type(error) is cls
    assert error.message == message
    assert error.status_code == status and error.request_id == "trace_1"
    assert error.body == (body.decode() if isinstance(body, bytes) else body)


def test_a_401_with_a_key_says_to_check_it(kind: str) -> None:
    server = Replies(reply(401, fixture("error_401_combined.json")))
    error = raises(Twin(kind, server), AuthenticationError, "list")
    assert str(error) == "Invalid API key provided. Check the API key (ORQ_API_KEY or api_key=)."


def test_an_error_status_while_opening_a_stream(kind: str) -> None:
    body = Body([fixture("error_old_shape.json")])
    server = Replies(httpx.Response(404, headers={"content-type": "application/json"}, stream=body))
    stream, _, error = Twin(kind, server).stream("x")
    assert isinstance(error, NotFoundError) and error.message == OLD
    assert body.closed and stream is not None and stream.chunk_count == 0


def test_an_error_body_that_breaks_while_read_still_closes_the_stream(kind: str) -> None:
    body = Body([b'{"mess'], error=httpx.ReadError("reset"))
    server = Replies(httpx.Response(401, headers={"content-type": "application/json"}, stream=body))
    _, _, error = Twin(kind, server).stream("x")
    assert isinstance(error, APIConnectionError) and "ReadError: reset" in str(error)
    assert body.closed


@pytest.mark.parametrize(
    ("name", "answer", "words"),
    [
        (
            "invoke",
            {"body": fixture("invoke_text.json"), "content_type": "text/plain"},
            "'text/plain' is not JSON",
        ),
        ("list", {"body": "<html></html>", "content_type": "text/html"}, "'text/html' is not JSON"),
        ("invoke", {"body": "{not json"}, "not a valid Invocation"),
        ("invoke", {"body": {"id": "x"}}, "not a valid Invocation (created: Field required)"),
        ("list_versions", {"body": [1, 2]}, "not a valid DeploymentVersionList"),
    ],
    ids=["text-plain", "html", "bad-json", "wrong-shape", "not-an-object"],
)
def test_a_success_we_cannot_read(kind: str, name: str, answer: dict[str, Any], words: str) -> None:
    args = () if name == "list" else ("k",)
    error = raises(Twin(kind, Replies(reply(**answer))), UnexpectedResponseError, name, *args)
    assert words in str(error)
    assert f"Is {BASE} an orq.ai API?" in str(error)


def test_a_stream_answered_with_json_is_unexpected(kind: str) -> None:
    body = Body([fixture("invoke_text.json")])
    server = Replies(httpx.Response(200, headers={"content-type": "application/json"}, stream=body))
    _, _, error = Twin(kind, server).stream("k")
    assert isinstance(error, UnexpectedResponseError)
    assert "'application/json' is not text/event-stream" in str(error)
    assert error.body.startswith("{") and body.closed


@pytest.mark.parametrize(
    ("failure", "cls"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), APIConnectionError),
        (httpx.ConnectTimeout("timed out"), APITimeoutError),
        (httpx.ReadTimeout("timed out"), APITimeoutError),
        (httpx.UnsupportedProtocol("no"), APIConnectionError),
    ],
)
def test_transport_errors_are_wrapped(kind: str, failure: Exception, cls: type[Exception]) -> None:
    server = Replies(failure)
    twin = Twin(kind, server, max_retries=0)
    error = raises(twin, cls, "list")
    assert type(error) is cls and error.__cause__ is failure
    assert f"GET {BASE}/v2/deployments" in str(error)
    _, _, stream_error = twin.stream("k")
    assert type(stream_error) is cls


# -- retries -------------------------------------------------------------------------------------

OK_BODIES = {
    "list": ((), fixture("list_deployments.json")),
    "get_config": (("k",), fixture("get_config_minimal.json")),
    "invoke": (("k",), fixture("invoke_minimal.json")),
    "invalidate": (("d1",), b""),
}


@pytest.mark.parametrize("name", OK_BODIES)
def test_transient_failures_are_retried_with_backoff(kind: str, name: str) -> None:
    args, ok = OK_BODIES[name]
    # A generation is retried only when it cannot have started; the others also after 502/504.
    maybe_started = (reply(502), reply(504)) if name != "invoke" else (reply(429), reply(408))
    server = Replies(
        reply(503), maybe_started[0], httpx.ConnectError("reset"), maybe_started[1], reply(body=ok)
    )
    twin = Twin(kind, server, max_retries=4)
    twin.call(name, *args)
    assert twin.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert len(server.requests) == 5
    if name != "list":  # every attempt sends the same body
        assert len({r.content for r in server.requests}) == 1


@pytest.mark.parametrize(
    ("headers", "waits"),
    [({"Retry-After": "3"}, [3.0]), ({"retry-after-ms": "1500"}, [1.5]), ({}, [0.5])],
)
def test_the_servers_retry_advice_is_honoured(
    kind: str, headers: dict[str, str], waits: list[float]
) -> None:
    server = Replies(
        reply(429, {"message": "slow down"}, headers=headers),
        reply(body=fixture("list_deployments.json")),
    )
    twin = Twin(kind, server)
    twin.call("list")
    assert twin.sleeps == waits


def test_a_429_after_the_last_retry_is_a_rate_limit_error(kind: str) -> None:
    server = Replies(reply(429, {"message": "Too many requests"}, headers={"Retry-After": "2"}))
    twin = Twin(kind, server, max_retries=2)
    error = raises(twin, RateLimitError, "invoke", "k")
    assert error.retry_after == 2.0 and error.message == "Too many requests."
    assert twin.sleeps == [2.0, 2.0] and len(server.requests) == 3


def test_zero_retries_means_one_attempt(kind: str) -> None:
    server = Replies(reply(503))
    twin = Twin(kind, server, max_retries=0)
    raises(twin, InternalServerError, "list")
    assert twin.sleeps == [] and len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422, 500])
def test_other_statuses_are_not_retried(kind: str, status: int) -> None:
    server = Replies(reply(status))
    twin = Twin(kind, server, max_retries=3)
    raises(twin, APIError, "list")
    assert len(server.requests) == 1


def test_retries_stop_when_the_time_budget_is_spent(kind: str) -> None:
    twin: Twin

    def slow(request: httpx.Request) -> httpx.Response:
        twin.now += 25.0  # each attempt takes 25 s
        return reply(503)

    server = Replies(slow)
    twin = Twin(kind, server, max_retries=10)
    raises(twin, InternalServerError, "list")
    # 25 + 0.5 + 25 + 1.0 = 51.5 s spent; the next wait (2 s) would end after 60 s.
    assert twin.sleeps == [0.5, 1.0] and len(server.requests) == 3


def test_a_retry_after_beyond_the_budget_is_not_waited_for(kind: str) -> None:
    server = Replies(reply(429, headers={"Retry-After": "3600"}))
    twin = Twin(kind, server, max_retries=3)
    assert raises(twin, RateLimitError, "list").retry_after == 3600.0
    assert twin.sleeps == [] and len(server.requests) == 1


def test_opening_a_stream_is_retried_and_the_refused_answer_closed(kind: str) -> None:
    refused = Body([b'{"message": "busy"}'])
    busy = httpx.Response(503, headers={"content-type": "application/json"}, stream=refused)
    server = Replies(
        httpx.ConnectError("refused"), busy, event_stream(Body([fixture("stream_basic.sse")]))
    )
    twin = Twin(kind, server)
    stream, chunks, error = twin.stream("k")
    assert error is None and len(chunks) == 3
    assert twin.sleeps == [0.5, 1.0] and refused.closed


def test_the_default_sleep_is_real_and_waits_what_the_server_asked(kind: str) -> None:
    answers = (
        reply(503, headers={"retry-after-ms": "0"}),
        reply(body=fixture("list_deployments.json")),
    )
    server = Replies(*answers)
    transport = httpx.MockTransport(server)
    if kind == "sync":
        Client(api_key=KEY, base_url=BASE, transport=transport).deployments.list()
    else:
        asyncio.run(AsyncClient(api_key=KEY, base_url=BASE, transport=transport).deployments.list())
    assert len(server.requests) == 2


def test_a_stream_is_never_retried_after_its_first_byte(kind: str) -> None:
    body = Body([sse(chunk("partial"))], error=httpx.ReadError("connection reset"))
    server = Replies(event_stream(body))
    twin = Twin(kind, server, max_retries=3)
    stream, _, error = twin.stream("k")
    assert isinstance(error, StreamError) and error.partial_text == "partial"
    assert len(server.requests) == 1 and twin.sleeps == [] and body.closed


def test_break_closes_the_response_of_a_client_stream(kind: str) -> None:
    body = Body([fixture("stream_basic.sse")])
    stream, chunks, error = Twin(kind, Replies(event_stream(body))).stream("k", stop_after=1)
    assert error is None and len(chunks) == 1 and body.closed
    assert stream is not None and stream.text == "You can return"


# -- owning connections ------------------------------------------------------------------------


def test_the_clients_are_context_managers_closing_what_they_own() -> None:
    with Client(api_key=KEY, base_url=BASE, transport=httpx.MockTransport(Replies(reply()))) as c:
        pass
    assert c._http.is_closed

    async def run() -> AsyncClient:
        async with AsyncClient(api_key=KEY, transport=httpx.MockTransport(Replies(reply()))) as a:
            return a

    assert asyncio.run(run())._http.is_closed


def test_a_callers_http_client_is_used_and_left_open(kind: str) -> None:
    server = Replies(reply(body=fixture("list_deployments.json")))
    transport = httpx.MockTransport(server)
    if kind == "sync":
        mine = httpx.Client(transport=transport, headers={"x-extra": "1"})
        with Client(api_key=KEY, base_url=BASE, http_client=mine) as client:
            client.deployments.list()
        assert not mine.is_closed
    else:
        theirs = httpx.AsyncClient(transport=transport, headers={"x-extra": "1"})

        async def run() -> None:
            async with AsyncClient(api_key=KEY, base_url=BASE, http_client=theirs) as client:
                await client.deployments.list()

        asyncio.run(run())
        assert not theirs.is_closed
    assert server.request.headers["x-extra"] == "1"


def test_the_deployments_resource_is_made_once(kind: str) -> None:
    client = Twin(kind, Replies(reply())).client
    assert client.deployments is client.deployments


def test_transport_and_http_client_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        Client(transport=httpx.MockTransport(Replies(reply())), http_client=httpx.Client())
