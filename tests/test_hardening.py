"""Hardening, client side: each class of bad input or bad server, not only one example.

Transport failures of every kind, errors that must pickle, pages that never end, arguments of
the wrong type, text that cannot be encoded, numbers JSON cannot carry, ids that move the path,
server text shown as it came, echoed keys, silent waits and the retry policy. Unit tests run
the real clients over `httpx.MockTransport`; what depends on real sockets (deadlines under a
dribbling server, httpcore's DEBUG log, a process pool) runs over loopback or in processes.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from orq_notebook.batch._api import arun_batch, run_batch
from orq_notebook.client import _exceptions as errors
from orq_notebook.client._client import AsyncClient, Client
from orq_notebook.client._content import AttachmentError
from orq_notebook.client._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ArgumentTypeError,
    InternalServerError,
    InvalidArgumentError,
    InvalidRequestError,
    OrqError,
    StreamError,
    UnexpectedResponseError,
)
from orq_notebook.client._notices import RetryNotice, retry_notices
from orq_notebook.display._format import format_retry
from tests.faults import ANSWER, Fault, FaultServer
from tests.test_streaming import Body, chunk, sse

KEY = "sk-orq-hardening-0123456789abcdef"
BASE = "http://api.test"
LIST_PAGE = {
    "object": "list",
    "data": [
        {
            "id": "d1",
            "created": "2025-01-01T00:00:00Z",
            "updated": "2025-01-01T00:00:00Z",
            "key": "k1",
            "description": "",
            "prompt_config": {
                "tools": [],
                "model": "m",
                "model_type": "chat",
                "model_parameters": {},
                "provider": "openai",
                "messages": [],
            },
            "version": "v1",
        }
    ],
    "has_more": True,
}
INVOCATION = {
    "id": "x",
    "created": "2025-01-01T00:00:00Z",
    "object": "chat",
    "model": "m",
    "provider": "openai",
    "is_final": True,
    "telemetry": {"trace_id": "t", "span_id": "s"},
    "choices": [{"index": 0, "message": {"type": "content", "role": "assistant", "content": "hi"}}],
}


def _call(
    kind: str, handler: Callable[[httpx.Request], httpx.Response], call: str, **options: Any
) -> Any:
    """Run `client.deployments.<call>` (a stream is read to its end) in the sync or async twin."""
    options = {"api_key": KEY, "base_url": BASE, "env": {}, **options}
    name, _, arg = call.partition(":")
    args = (arg,) if arg else ()
    if kind == "sync":
        with Client(transport=httpx.MockTransport(handler), **options) as client:
            client._sleep = lambda seconds: None
            d = client.deployments
            if name == "stream":
                with d.stream(*args) as s:
                    return [c.content for c in s]
            if name == "iter":
                return list(d.iter())
            return getattr(d, name)(*args)

    async def main() -> Any:
        async with AsyncClient(transport=httpx.MockTransport(handler), **options) as client:

            async def no_sleep(seconds: float) -> None:
                return None

            client._sleep = no_sleep
            d = client.deployments
            if name == "stream":
                async with d.stream(*args) as s:
                    return [c.content async for c in s]
            if name == "iter":
                return [x async for x in d.iter()]
            return await getattr(d, name)(*args)

    return asyncio.run(main())


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- 1. every failure of the transport is an OrqError ------------------------------------------

TRANSPORT_FAILURES = [
    httpx.DecodingError("Error -3 while decompressing data: incorrect header check"),
    httpx.TooManyRedirects("Exceeded maximum allowed redirects."),
    httpx.InvalidURL("Invalid non-printable ASCII character in URL"),
    httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
    httpx.LocalProtocolError("Illegal header value"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.ProxyError("407 Proxy Authentication Required"),
    httpx.ReadError("[Errno 104] Connection reset by peer"),
    httpx.WriteError("[Errno 32] Broken pipe"),
    httpx.CloseError("close failed"),
    httpx.ConnectError("[Errno -2] Name or service not known"),
    httpx.ConnectTimeout("timed out"),
    httpx.ReadTimeout("timed out"),
    httpx.WriteTimeout("timed out"),
    httpx.PoolTimeout("timed out"),
]
CALLS = ["list", "iter", "get_config:k", "invoke:k", "stream:k", "invalidate:d1",
         "list_versions:k"]  # fmt: skip


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("failure", TRANSPORT_FAILURES, ids=lambda e: type(e).__name__)
def test_every_transport_failure_is_an_orq_error(kind: str, call: str, failure: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(OrqError) as info:
        _call(kind, handler, call, max_retries=1)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600
    assert type(failure).__name__ in message or isinstance(info.value, APITimeoutError)
    assert info.value.__cause__ is failure


@pytest.mark.parametrize(
    "failure",
    [httpx.DecodingError("bad gzip"), httpx.RemoteProtocolError("bad chunk"), httpx.ReadError("x")],
    ids=lambda e: type(e).__name__,
)
def test_a_failure_inside_a_body_is_an_orq_error(kind: str, failure: Exception) -> None:
    def invoke(request: httpx.Request) -> httpx.Response:
        body = Body([b'{"id": "x", '], error=failure)
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=body)

    with pytest.raises((UnexpectedResponseError, APIConnectionError)):
        _call(kind, invoke, "invoke:k")

    def stream(request: httpx.Request) -> httpx.Response:
        body = Body([sse(chunk("partial"))], error=failure)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    with pytest.raises(StreamError) as info:
        _call(kind, stream, "stream:k")
    assert info.value.partial_text == "partial"


# -- 2. every public exception pickles, with its attributes --------------------------------------


def _examples() -> list[OrqError]:
    common = {"body": '{"x": 1}', "request_id": "req-1", "code": "quota_exceeded"}
    made: list[OrqError] = [
        errors.OrqError("plain"),
        errors.MissingAPIKeyError(env_var="HUMANLOOP_API_KEY"),
        errors.InvalidArgumentError("bad"),
        errors.InvalidRequestError("bad field", field="inputs.x", errors=[{"loc": ["inputs"]}]),
        errors.ArgumentTypeError("bad type"),
        errors.APIError("teapot", status_code=418, details={"a": [1]}, doc_url="u", **common),
        errors.RateLimitError("slow", retry_after=2.5, **common),
        errors.APIConnectionError("down"),
        errors.APITimeoutError("late"),
        errors.StreamError("broke", partial_text="half"),
        AttachmentError("chart.png is not an image"),
        errors.MissingDependencyError("to_pandas()", "pandas", "pandas"),
    ]
    for cls in errors.APIError.__subclasses__():
        if cls is not errors.RateLimitError:
            made.append(cls("status", status_code=400, details=[{"d": 1}], **common))
    nf = errors.NotFoundError("nf", status_code=404)
    nf.wanted_key = "suport"  # type: ignore[attr-defined]  # set by the magics
    made.append(nf)
    return made


def test_the_examples_cover_every_exported_exception() -> None:
    import orq_notebook

    exported = {
        obj
        for name in orq_notebook.__all__
        if isinstance(obj := getattr(orq_notebook, name), type) and issubclass(obj, Exception)
    }
    assert exported <= {type(e) for e in _examples()}


@pytest.mark.parametrize("exc", _examples(), ids=lambda e: type(e).__name__)
def test_every_error_round_trips_through_pickle(exc: OrqError) -> None:
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc) and back.args == exc.args
    assert vars(back) == vars(exc)
    if isinstance(exc, APIError):
        assert back.hint == exc.hint and repr(back) == repr(exc)


def _raise_in_worker(index: int) -> None:
    raise _examples()[index]


def test_errors_raised_in_a_process_pool_reach_the_caller_whole() -> None:
    examples = _examples()
    with ProcessPoolExecutor(max_workers=1) as pool:
        for i, expected in enumerate(examples):
            future = pool.submit(_raise_in_worker, i)
            with pytest.raises(type(expected)) as info:
                future.result(timeout=60)
            assert vars(info.value) == vars(expected)


# -- 3. pages that never end ---------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("shape", ["same-cursor", "two-cursors"])
def test_pages_that_do_not_advance_stop_with_an_error(kind: str, shape: str) -> None:
    served = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal served
        served += 1
        page = dict(LIST_PAGE)
        if shape == "two-cursors":  # d1, d2, d1, d2, ...: a cycle
            item = {**LIST_PAGE["data"][0], "id": f"d{served % 2}"}  # type: ignore[index]
            page["data"] = [item]
        return httpx.Response(200, json=page)

    with pytest.raises(UnexpectedResponseError, match="does not advance"):
        _call(kind, handler, "iter")
    assert served <= 3


@pytest.mark.timeout(30)
def test_pages_that_always_advance_are_bounded(kind: str) -> None:
    served = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal served
        served += 1
        item = {**LIST_PAGE["data"][0], "id": f"d{served}"}  # type: ignore[index]
        return httpx.Response(200, json={**LIST_PAGE, "data": [item]})

    client = Client(api_key=KEY, base_url=BASE, transport=httpx.MockTransport(handler))
    with client, pytest.raises(UnexpectedResponseError, match="after 7 pages"):
        list(client.deployments.iter(max_pages=7))
    assert served == 7


# -- 6, 7, 8, 10, 11: what is refused before sending --------------------------------------------

ARGUMENTS = [
    ({"api_key": 123}, ArgumentTypeError, "api_key"),
    ({"base_url": b"http://x"}, ArgumentTypeError, "base_url"),
    ({"base_url": "localhost:8000"}, InvalidArgumentError, "http:// or https://"),
    ({"base_url": "http://h:99999"}, InvalidArgumentError, "base_url"),
    ({"timeout": "5"}, ArgumentTypeError, "timeout takes a number of seconds"),
    ({"timeout": -1}, InvalidArgumentError, "timeout takes a positive number"),
    ({"timeout": math.nan}, InvalidArgumentError, "timeout"),
    ({"timeout": True}, ArgumentTypeError, "timeout"),
    ({"idle_timeout": 0}, InvalidArgumentError, "idle_timeout"),
    ({"max_retries": 1.5}, ArgumentTypeError, "max_retries takes a whole number"),
    ({"max_retries": -1}, InvalidArgumentError, "max_retries"),
    ({"retry_unsafe": "yes"}, ArgumentTypeError, "retry_unsafe"),
    ({"on_retry": 5}, ArgumentTypeError, "on_retry"),
    ({"environment": ["prod"]}, ArgumentTypeError, "environment"),
    ({"contact_id": "ünïcode\n"}, InvalidArgumentError, "contact_id"),
    ({"env": "ORQ_API_KEY=x"}, ArgumentTypeError, "env"),
    ({"transport": object()}, ArgumentTypeError, "transport"),
]


@pytest.mark.parametrize(("kwargs", "cls", "words"), ARGUMENTS, ids=lambda v: str(v)[:30])
@pytest.mark.parametrize("client_cls", [Client, AsyncClient])
def test_arguments_of_the_wrong_type_name_the_argument(
    client_cls: type[Client] | type[AsyncClient], kwargs: dict[str, Any], cls: type, words: str
) -> None:
    with pytest.raises(cls) as info:
        client_cls(**kwargs)
    assert isinstance(info.value, OrqError) and isinstance(info.value, (TypeError, ValueError))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_an_http_client_of_the_other_twin_is_refused() -> None:
    with pytest.raises(ArgumentTypeError, match="httpx.Client"):
        Client(http_client=httpx.AsyncClient())  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="httpx.AsyncClient"):
        AsyncClient(http_client=httpx.Client())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("concurrency", "cls"),
    [
        (1.5, ArgumentTypeError),
        ("8", ArgumentTypeError),
        (0, InvalidArgumentError),
        (True, ArgumentTypeError),
    ],  # fmt: skip
)
def test_run_batch_concurrency_names_the_argument(concurrency: Any, cls: type) -> None:
    client = Client(api_key=KEY, base_url="http://127.0.0.1:9")
    with pytest.raises(cls, match="concurrency"):
        run_batch("k", [{"a": 1}], concurrency=concurrency, client=client, progress=False)


def test_a_batch_row_of_the_wrong_shape_names_its_number() -> None:
    client = Client(api_key=KEY, base_url="http://127.0.0.1:9")
    rows = [{"messages": "fine"}, {"messages": 5}]
    with pytest.raises(InvalidRequestError, match=r"row 1: messages takes a list"):
        run_batch("k", rows, client=client, progress=False)
    with pytest.raises(InvalidRequestError, match=r"row 0: messages\[0\] is int"):
        run_batch("k", [{"messages": [1, 2]}], client=client, progress=False)


def _recorder() -> tuple[list[httpx.Request], Callable[[httpx.Request], httpx.Response]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=INVOCATION)

    return seen, handler


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"inputs": {"q": "caf\udce9"}}, "inputs.q"),
        ({"inputs": {"\ud800key": "x"}}, "inputs"),
        ({"messages": [{"role": "user", "content": "\udc80"}]}, "messages.0.content"),
        ({"prefix_messages": [{"role": "system", "content": [{"type": "text", "text": "\udfff"}]}]},
         "prefix_messages.0.content.0.text"),
        ({"metadata": {"deep": [{"x": "\ud83d"}]}}, "metadata.deep.0.x"),
        ({"context": {"environments": "prod\udc00"}}, "context.environments"),
    ],
)  # fmt: skip
def test_lone_surrogates_are_refused_naming_the_field(
    kind: str, fields: dict[str, Any], where: str
) -> None:
    seen, handler = _recorder()
    options = {"api_key": KEY, "base_url": BASE, "transport": httpx.MockTransport(handler)}
    client: Any = Client(**options) if kind == "sync" else AsyncClient(**options)
    with pytest.raises(InvalidRequestError) as info:
        value = client.deployments.invoke("k", **fields)
        if asyncio.iscoroutine(value):
            asyncio.run(value)
    assert isinstance(info.value, ValueError) and info.value.field == where
    assert "lone surrogate" in str(info.value) and seen == []


def test_nan_means_no_value_for_an_input_and_is_refused_elsewhere() -> None:
    seen, handler = _recorder()
    with Client(api_key=KEY, base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        d = client.deployments
        d.invoke("k", inputs={"x": math.nan, "y": 1})
        assert "x" not in _body(seen[-1])["inputs"] and _body(seen[-1])["inputs"]["y"] == 1
        for fields in (
            {"inputs": {"x": math.inf}},
            {"inputs": {"x": [math.nan]}},
            {"metadata": {"score": -math.inf}},
            {"extra_params": {"temperature": math.nan}},
        ):
            with pytest.raises(InvalidRequestError, match="no JSON form"):
                d.invoke("k", **fields)
    assert len(seen) == 1


def test_nan_in_a_dataframe_row_and_in_invoke_follow_one_rule() -> None:
    pd = pytest.importorskip("pandas")
    seen, handler = _recorder()
    client = AsyncClient(api_key=KEY, base_url=BASE, transport=httpx.MockTransport(handler))
    frame = pd.DataFrame({"x": [1.0, math.nan], "y": ["a", None]})

    def batch(rows: Any) -> Any:  # on the client's own transport
        return asyncio.run(arun_batch("k", rows, client=client, progress=False, concurrency=1))

    result = batch(frame)
    assert all(r.ok for r in result)
    invokes = [r for r in seen if r.url.path.endswith("/invoke")]  # not the up-front look
    assert [_body(r).get("inputs") for r in invokes] == [{"x": 1.0, "y": "a"}, None]
    infinite = batch([{"x": math.inf}])
    assert infinite[0].status == "failed" and "inputs.x" in (infinite[0].error or "")
    assert infinite[0].error_type == "InvalidRequestError"


def _body(request: httpx.Request) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(request.content)
    return data


# -- 9. server text: one bounded line ------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 422, 500])
def test_server_text_is_one_bounded_line_and_the_body_keeps_the_rest(
    kind: str, status: int
) -> None:
    message = "Traceback (most recent call last):\n  File 'x'\nValueError: no\n" + "y" * 2_000_000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": "x_y", "message": message}})

    with pytest.raises(APIError) as info:
        _call(kind, handler, "invoke:k", max_retries=0)
    shown = str(info.value)
    assert "\n" not in shown and len(shown) < 500
    assert shown.startswith("Traceback (most recent call last): File 'x' ValueError: no yyy")
    assert "more characters in the error's body" in shown
    assert len(info.value.body) > 2_000_000 and info.value.code == "x_y"


# -- 14. an echoed key, transformed, never reaches a message, an id, a repr or a log ------------

ECHOES = {
    "exact": KEY,
    "bearer": f"Bearer {KEY}",
    "upper": KEY.upper(),
    "quoted": quote(f"Bearer {KEY}", safe=""),
    "base64": base64.b64encode(f"Bearer {KEY}".encode()).decode(),
    "base64url": base64.urlsafe_b64encode(KEY.encode()).decode().rstrip("="),
}


@pytest.mark.parametrize("form", ECHOES)
def test_a_transformed_echo_of_the_key_is_redacted(kind: str, form: str) -> None:
    echo = ECHOES[form]

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"x-request-id": f"req-{echo}", "x-debug": echo}
        return httpx.Response(500, json={"message": f"bad key {echo}"}, headers=headers)

    with pytest.raises(InternalServerError) as info:
        _call(kind, handler, "invoke:k")
    exc = info.value
    for text in (str(exc), repr(exc), exc.body, exc.request_id or "", str(vars(exc))):
        assert echo not in text and KEY not in text and KEY.upper() not in text.upper()
    assert exc.request_id is not None and exc.request_id.startswith("req-")
    assert "<redacted>" in exc.request_id


@pytest.mark.timeout(60)
def test_httpcore_debug_logs_do_not_show_an_echoed_key(caplog: pytest.LogCaptureFixture) -> None:
    for name in ("httpx", "httpcore", "orq_notebook"):
        caplog.set_level(logging.DEBUG, logger=name)
    with FaultServer({"echo": Fault("echo_key_header")}) as server:
        client = Client(api_key=KEY, base_url=server.base_url)
        with client, pytest.raises(InternalServerError) as info:
            client.deployments.invoke("echo")
        assert info.value.request_id == "req-Bearer <redacted>"

        async def main() -> None:
            async with AsyncClient(api_key=KEY, base_url=server.base_url) as aclient:
                with pytest.raises(InternalServerError):
                    await aclient.deployments.invoke("echo")

        asyncio.run(main())
    assert "receive_response_headers" in caplog.text, "httpcore's DEBUG log was captured"
    assert "<redacted>" in caplog.text
    assert KEY not in caplog.text and quote(KEY, safe="") not in caplog.text


# -- deadlines, however slowly the bytes come ----------------------------------------------------


@pytest.fixture(scope="module")
def slow_server() -> Iterator[FaultServer]:
    faults = {"dribble": Fault("dribble", after=2), "head": Fault("dribble_head")}
    with FaultServer(faults, lifetime=300) as server:
        yield server


@pytest.mark.timeout(60)
@pytest.mark.parametrize("key", ["dribble", "head"])
@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_a_deadline_holds_to_a_fraction_of_a_second(
    kind: str, key: str, stream: bool, slow_server: FaultServer
) -> None:
    options = {"base_url": slow_server.base_url, "timeout": 0.6, "idle_timeout": 0.4}
    started = time.monotonic()
    expected = StreamError if stream and key == "dribble" else APITimeoutError
    with pytest.raises(expected) as info:
        _real(kind, key, stream, **options)
    elapsed = time.monotonic() - started
    window = 0.4 if stream and key == "dribble" else 0.6
    assert window <= elapsed + 0.05 and elapsed < window + 0.5, elapsed
    assert "timeout=" in str(info.value) and "\n" not in str(info.value)
    assert slow_server.attempts[key] >= 1


def _real(kind: str, key: str, stream: bool, **options: Any) -> Any:
    if kind == "sync":
        with Client(**options) as client:
            if not stream:
                return client.deployments.invoke(key)
            with client.deployments.stream(key) as s:
                return [c.content for c in s]

    async def main() -> Any:
        async with AsyncClient(**options) as client:
            if not stream:
                return await client.deployments.invoke(key)
            async with client.deployments.stream(key) as s:
                return [c.content async for c in s]

    return asyncio.run(main())


def test_a_per_call_timeout_wins_over_the_clients(kind: str) -> None:
    seen, handler = _recorder()
    _call(kind, handler, "invoke:k", timeout=900)
    with Client(api_key=KEY, base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        client.deployments.invoke("k", timeout=30)
        client.deployments.stream("k", timeout=20, idle_timeout=45)  # built, not sent
    assert seen[0].extensions["timeout"]["read"] == 900
    assert seen[1].extensions["timeout"] == {"connect": 10, "read": 30, "write": 30, "pool": 30}


def test_the_default_deadline_suits_long_generations() -> None:
    client = Client(api_key=KEY, base_url=BASE)
    assert client.settings.timeout == 600 and client.settings.idle_timeout == 300
    assert client._http.timeout.read == 600 and client._http.timeout.connect == 10


# -- 15 and issue 18.3: retries that say so, and never bill twice --------------------------------


MAYBE_STARTED = [
    httpx.ReadError("reset after the answer began"),
    httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
    httpx.ReadTimeout("timed out"),
    502,
    504,
]


@pytest.mark.parametrize("failure", MAYBE_STARTED, ids=str)
def test_a_generation_that_may_have_run_is_not_sent_again(kind: str, failure: Any) -> None:
    attempts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        if isinstance(failure, Exception):
            raise failure
        return httpx.Response(failure if len(attempts) == 1 else 200, json=INVOCATION)

    with pytest.raises(OrqError) as info:
        _call(kind, handler, "invoke:k", max_retries=3)
    assert len(attempts) == 1
    if isinstance(failure, Exception):
        assert "retry_unsafe=True" in str(info.value)
    attempts.clear()
    if isinstance(failure, Exception):
        with pytest.raises(OrqError):  # opting in: retried (and failing again here)
            _call(kind, handler, "invoke:k", max_retries=3, retry_unsafe=True)
        assert len(attempts) == 4
    else:
        assert _call(kind, handler, "invoke:k", max_retries=3, retry_unsafe=True).text == "hi"
        assert len(attempts) == 2
    attempts.clear()
    if isinstance(failure, int):
        answers = [
            httpx.Response(failure),
            httpx.Response(200, json={**LIST_PAGE, "has_more": False}),
        ]
        attempts.append("")

        def listing(request: httpx.Request) -> httpx.Response:
            attempts.append(request.url.path)
            return answers.pop(0)

        # A list generates nothing: it is retried by default.
        assert _call(kind, listing, "list", max_retries=3).data[0].key == "k1"
        assert len(attempts) == 3


def test_retries_are_announced_before_each_wait(kind: str) -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
        httpx.Response(200, json=INVOCATION),
    ]
    own: list[RetryNotice] = []
    scoped: list[RetryNotice] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    def broken(notice: RetryNotice) -> None:
        raise RuntimeError("a display that fails must not fail the call")

    with retry_notices(scoped.append), retry_notices(broken):
        assert _call(kind, handler, "invoke:k", on_retry=own.append).text == "hi"
    assert own == scoped and [n.attempt for n in own] == [2, 3]
    assert own[0].wait == 7 and own[0].retry_after == 7 and own[0].rate_limited
    assert format_retry(own[0]) == "rate limited, retrying in 7.00 s"  # the one duration format
    assert own[1].status_code == 503 and format_retry(own[1]).startswith("HTTP 503, retrying in")
    assert own[0].path == "/v2/deployments/invoke" and own[0].method == "POST"


@pytest.mark.timeout(60)
def test_the_batch_bar_says_it_is_rate_limited(capsys: pytest.CaptureFixture[str]) -> None:
    faults = {"busy": Fault("status", statuses=(429,), retry_after=0.3, times=1)}
    with FaultServer(faults) as server, Client(base_url=server.base_url) as client:
        result = run_batch("busy", [{"n": 1}], client=client, progress=True)
    assert result[0].ok and result[0].text == ANSWER
    assert "rate limited, retrying i" in capsys.readouterr().err  # "…in 300 ms", cut to the width
