"""Bad input: through the magics, the Python API and into the local server.

Every mistake gets one clear line (magics: a `UsageError` without a newline; Python API: a
typed exception naming the culprit), nothing crashes, and nothing is sent that should not be:
the magics run against a local server wrapped in a request log, the Python API against a
counting transport. The local server's own input (malformed bodies, path tricks, broken
deployments files) is tried over real sockets, and a short load test ends the module.

The tables are printed at the end of the module (`pytest -s`) and written to
`<pytest basetemp>/bad-input.md`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from pydantic import ValidationError

from orq_notebook.batch._result import percentile
from orq_notebook.client._client import AsyncClient, Client
from orq_notebook.client._exceptions import (
    ArgumentTypeError,
    InvalidArgumentError,
    InvalidRequestError,
    MissingAPIKeyError,
    OrqError,
    RequestTooLargeError,
)
from orq_notebook.local import DeploymentFileError, DeploymentStore, LocalServer, create_app
from orq_notebook.local._server import ServerThread
from orq_notebook.notebook import _session
from tests.faults import raw_request

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
SMALL_LIMIT = 1_000_000  # body limit of the server that must refuse a 2 MB cell

# -- summary ------------------------------------------------------------------------------------


class Summary:
    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {}

    def row(self, section: str, *cells: object) -> None:
        self.sections.setdefault(section, []).append(
            "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
        )

    def text(self, section: str, text: str) -> None:
        self.sections.setdefault(section, []).append(text)


HEADERS = {
    "Magics": "| input | outcome (one line) | requests sent |\n|---|---|---|",
    "Python API": "| input | outcome | requests sent |\n|---|---|---|",
    "Local server": "| request | status | answer |\n|---|---|---|",
    "Deployments file": "| broken file | refused at start-up with |\n|---|---|",
}


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Summary]:
    collected = Summary()
    yield collected
    parts = []
    for name, lines in collected.sections.items():
        header = HEADERS.get(name)
        parts.append(f"### {name}\n\n" + (header + "\n" if header else "") + "\n".join(lines))
    if not parts:
        return
    text = "\n\n".join(parts)
    (tmp_path_factory.getbasetemp() / "bad-input.md").write_text(text + "\n", encoding="utf-8")
    print("\n\n" + text)


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- a local server with a request log ----------------------------------------------------------


class LoggedServer:
    """The real local server app behind a middleware that logs (method, path) per request."""

    def __init__(self, path: Path, *, api_key: str | None = None, max_body_bytes: int) -> None:
        self.log: list[tuple[str, str]] = []
        app = create_app(
            DeploymentStore.from_file(path), api_key=api_key, max_body_bytes=max_body_bytes
        )

        async def logged(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.log.append((scope["method"], scope["path"]))
            await app(scope, receive, send)

        self.thread = ServerThread(logged)

    def __enter__(self) -> LoggedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.stop()

    @property
    def url(self) -> str:
        return self.thread.url


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LoggedServer]]:
    magics = FIXTURES / "magics.yaml"
    with (
        LoggedServer(magics, max_body_bytes=10 * 1024 * 1024) as open_server,
        LoggedServer(magics, max_body_bytes=SMALL_LIMIT) as small,
        LoggedServer(magics, api_key="sk-required-key-0123456789", max_body_bytes=10**7) as keyed,
    ):
        yield {"open": open_server, "small": small, "keyed": keyed}


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    _session.set_session(_session.Session())
    ip.run_line_magic("load_ext", "orq_notebook")
    ip.run_line_magic("config", "OrqMagics.display_mode = 'notebook'")
    ip.user_ns.update(
        test_obj={"company": object()}, test_text="just text", test_ints=[1, 2], test_rows=[{}]
    )
    yield ip
    ip.run_line_magic("unload_ext", "orq_notebook")
    _session.set_session(None)
    for name in [n for n in ip.user_ns if n.startswith("test_")]:
        del ip.user_ns[name]


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name resolved during the test: proof that nothing went to orq.ai."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    return seen


def invocations(server: LoggedServer | None) -> int:
    """How many invocations `server` has seen (lookups of lists and configs aside)."""
    if server is None:
        return 0
    return sum(1 for method, path in server.log if path.endswith(("/invoke", "/stream")))


# -- the magics ---------------------------------------------------------------------------------

HUGE_CELL = "x" * 2_000_000


@dataclass(frozen=True)
class MagicCase:
    name: str
    line: str  # the magic line (a cell magic when `cell` is given)
    cell: str | None
    says: str  # expected in the one-line error; "" = no error expected
    sent: int  # invocations (POST .../invoke or .../stream) the server must see
    server: str = "open"  # open | small | keyed | orq


MAGIC_CASES = [
    MagicCase("unknown subcommand", "lst", None, "Unknown subcommand 'lst'", 0),
    MagicCase("unknown flag", "list --bogus", None, "unrecognized arguments: --bogus", 0),
    MagicCase("unknown flag (cell)", "echo-bot --bogus", "hi", "unrecognized arguments", 0),
    MagicCase("flag given twice", "echo-bot --mock a --mock b", "hi", "more than once", 0),
    MagicCase("unclosed quote", "echo-bot --system 'oops", "hi", "unclosed quote", 0),
    MagicCase("no ORQ_API_KEY, server needs one", "list", None, "ORQ_API_KEY", 0, "keyed"),
    MagicCase("no ORQ_API_KEY, orq.ai", "echo-bot --no-stream", "hi", "No API key", 0, "orq"),
    MagicCase("malformed --inputs", "echo-bot --inputs '{bad'", "hi", "neither valid JSON", 0),
    MagicCase("malformed --context", "echo-bot --context '{\"a\":'", "x", "neither valid JSON", 0),
    MagicCase("--context not a dict", "echo-bot --context '[1]'", "hi", "must be a dict", 0),
    MagicCase("--var without =", "echo-bot --var company", "hi", "NAME=VALUE", 0),
    MagicCase("unknown {{name}}", "echo-bot", "Hi {{test_nobody}}", "no value", 0),
    MagicCase("empty cell", "echo-bot", "  \n\t\n", "cell is empty", 0),
    MagicCase("2 MB cell, 1 MB limit", "echo-bot --no-stream", HUGE_CELL, "at most", 1, "small"),
    MagicCase("2 MB cell, default 10 MB limit", "echo-bot --no-stream", HUGE_CELL, "", 1),
    # (Found out before any invocation: the look at the deployment's variables says 404.)
    MagicCase("key with spaces", "'my key' --no-stream", "hi", "'my key' was not found", 0),
    MagicCase("unicode key", "ключ --no-stream", "hi", "'ключ' was not found", 0),
    MagicCase(
        "number as input value", "echo-bot --no-stream --inputs '{\"company\": 3}'", "hi", "", 1
    ),
    MagicCase("non-JSON input value", "echo-bot --inputs test_obj", "hi", "inputs.company", 0),
    MagicCase(
        "wrong type: identity.id", "echo-bot --identity '{\"id\": 5}'", "hi", "identity.id", 0
    ),
    MagicCase("wrong type: documents", "echo-bot --documents '[1]'", "hi", "documents.0", 0),
    MagicCase(
        "--inputs names a missing attribute",
        "echo-bot --inputs test_rows.nope",
        "hi",
        "could not be looked up",
        0,
    ),
    MagicCase("wrong type: -n", "history -n many", None, "a whole number", 0),
    MagicCase("negative -n", "history -n -5", None, "a whole number", 0),
    MagicCase("batch rows not a list", "batch echo-bot --from test_text", None, "list of dicts", 0),
    MagicCase("batch row not a dict", "batch echo-bot --from test_ints", None, "not a dict", 0),
    MagicCase(
        "batch --concurrency 0",
        "batch echo-bot --from test_rows --concurrency 0",
        None,
        "1 or more",
        0,
    ),
    MagicCase("batch without --from", "batch echo-bot", None, "required: --from", 0),
    MagicCase(
        "connect to a missing file",
        "connect --local /nonexistent/d.yaml",
        None,
        "does not exist",
        0,
    ),
    MagicCase("connect to a bad URL", "connect --url http://[::1", None, "not a valid URL", 0),
    MagicCase(
        "connect to a non-URL", "connect --url localhost:8700", None, "http:// or https://", 0
    ),
]


@pytest.mark.parametrize("case", MAGIC_CASES, ids=[c.name for c in MAGIC_CASES])
def test_magic_bad_input(
    case: MagicCase,
    shell: InteractiveShell,
    servers: dict[str, LoggedServer],
    lookups: list[str],
    summary: Summary,
) -> None:
    target = servers.get(case.server)
    url = target.url if target else "https://my.orq.ai"
    # Point the session there without `%orq connect`, which tries the server first (and
    # refuses one that wants a key it does not have): these cases are about what comes after.
    session = _session.current_session()
    session.switch_to(session.open_connection(url=url))
    before = invocations(target)
    message, value = "", None
    with capture_output():
        try:
            if case.cell is None:
                value = shell.run_line_magic("orq", case.line)
            else:
                value = shell.run_cell_magic("orq", case.line, case.cell)
        except UsageError as exc:
            message = str(exc)
    sent = (invocations(target) - before) if target else len(lookups)
    outcome = _short(message) if message else f"answered ({len(getattr(value, 'text', ''))} chars)"
    summary.row("Magics", case.name, outcome, sent)

    if case.says:
        assert case.says in message, message
        assert "\n" not in message.strip(), f"not one line: {message!r}"
        assert len(message) < 400, "one readable line, not a dump"
    else:
        assert not message, message
    assert sent == case.sent, f"{sent} requests sent; expected {case.sent}"
    if case.server == "orq":
        assert not [h for h in lookups if "orq.ai" in h], "nothing may leave for orq.ai"


def test_a_failed_connect_keeps_the_working_connection(
    shell: InteractiveShell, servers: dict[str, LoggedServer], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("deployments:\n  - key: a\n    prompt_config: {model: 5}\n")
    with capture_output():
        shell.run_line_magic("orq", f"connect --url {servers['open'].url}")
        with pytest.raises(UsageError, match=r"line 3: deployments\[0\]\.prompt_config\.model"):
            shell.run_line_magic("orq", f"connect --local {broken}")
        result = shell.run_cell_magic("orq", "fixed --no-stream", "still there?")
    assert result.text == "The answer is **42**."


# -- the Python API -----------------------------------------------------------------------------


class Counting:
    """A transport that answers every request with a valid invocation, and counts them."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = {
            "id": "1",
            "created": "2025-01-01T00:00:00Z",
            "object": "chat",
            "model": "m",
            "provider": "openai",
            "is_final": True,
            "telemetry": {"trace_id": "t", "span_id": "s"},
            "choices": [
                {
                    "index": 0,
                    "message": {"type": "content", "role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
        }
        if request.url.path.endswith("/versions"):
            body = {"object": "list", "data": [], "has_more": False}
        return httpx.Response(200, json=body)


@dataclass(frozen=True)
class ApiCase:
    name: str
    call: Callable[[Any], Any]  # given `client.deployments`
    error: type[Exception] | None
    names: str  # what the error must name ("" when no error)
    sent: int
    base_url: str = "http://127.0.0.1:9"
    api_key: str | None = None


KEY_WITH_NEWLINE = "sk-line-one\nline-two-0123456789"

API_CASES = [
    ApiCase(
        "inputs not a dict", lambda d: d.invoke("k", inputs="x"), InvalidRequestError, "inputs", 0
    ),
    ApiCase(
        "non-JSON input value",
        lambda d: d.invoke("k", inputs={"n": object()}),
        InvalidRequestError,
        "inputs.n",
        0,
    ),
    ApiCase(
        "metadata a list", lambda d: d.invoke("k", metadata=[1]), InvalidRequestError, "metadata", 0
    ),
    ApiCase(
        "message with an unknown role",
        lambda d: d.invoke("k", messages=[{"role": "wizard", "content": "x"}]),
        InvalidRequestError,
        "messages[0]",
        0,
    ),
    ApiCase(
        "messages a string",
        lambda d: d.invoke("k", messages="hi"),
        InvalidRequestError,
        "messages takes a list",
        0,
    ),
    ApiCase(
        "messages of numbers",
        lambda d: d.invoke("k", messages=[1, 2]),
        InvalidRequestError,
        "messages[0] is int",
        0,
    ),
    ApiCase(
        "messages of strings",
        lambda d: d.stream("k", messages=["hello"]),
        InvalidRequestError,
        "messages[0] is str",
        0,
    ),
    ApiCase(
        "a message without a role",
        lambda d: d.invoke("k", messages=[{"content": "x"}]),
        InvalidRequestError,
        "has no 'role'",
        0,
    ),
    ApiCase("key not a string", lambda d: d.invoke(123), ArgumentTypeError, "key", 0),
    ApiCase("key '..'", lambda d: d.invoke(".."), InvalidArgumentError, "'..'", 0),
    ApiCase("versions of '..'", lambda d: d.list_versions(".."), InvalidArgumentError, "'..'", 0),
    ApiCase("invalidate '.'", lambda d: d.invalidate("."), InvalidArgumentError, "'.'", 0),
    ApiCase(
        "lone surrogate in an input",
        lambda d: d.invoke("k", inputs={"q": "a\udc80"}),
        InvalidRequestError,
        "inputs.q",
        0,
    ),
    ApiCase(
        "lone surrogate in a message",
        lambda d: d.stream("k", messages=[{"role": "user", "content": "\ud800"}]),
        InvalidRequestError,
        "lone surrogate",
        0,
    ),
    ApiCase(
        "infinity in an input",
        lambda d: d.invoke("k", inputs={"x": float("inf")}),
        InvalidRequestError,
        "inputs.x",
        0,
    ),
    ApiCase(
        "NaN in metadata",
        lambda d: d.invoke("k", metadata={"x": float("nan")}),
        InvalidRequestError,
        "metadata.x",
        0,
    ),
    ApiCase(
        "NaN as an input value (left out)",
        lambda d: d.invoke("k", inputs={"x": float("nan")}),
        None,
        "",
        1,
    ),
    ApiCase(
        "per-call timeout as text",
        lambda d: d.invoke("k", timeout="5"),
        ArgumentTypeError,
        "timeout",
        0,
    ),
    ApiCase("limit 0", lambda d: d.list(limit=0), InvalidArgumentError, "1 or more", 0),
    ApiCase("unknown field", lambda d: d.invoke("k", bogus=1), ArgumentTypeError, "'bogus'", 0),
    ApiCase(
        "misspelt field", lambda d: d.invoke("k", imputs={}), TypeError, "did you mean 'inputs'", 0
    ),
    ApiCase(
        "stream with a wrong type",
        lambda d: d.stream("k", file_ids="f"),
        InvalidRequestError,
        "file_ids",
        0,
    ),
    ApiCase("empty invalidate id", lambda d: d.invalidate(""), ValueError, "must not be empty", 0),
    ApiCase(
        "no key, orq.ai host",
        lambda d: d.invoke("k"),
        MissingAPIKeyError,
        "ORQ_API_KEY",
        0,
        base_url="https://my.orq.ai",
    ),
    ApiCase(
        "key with a line break",
        lambda d: d.invoke("k"),
        OrqError,
        "copy the key again",
        0,
        api_key=KEY_WITH_NEWLINE,
    ),
    ApiCase("number as input value", lambda d: d.invoke("k", inputs={"n": 3}), None, "", 1),
    ApiCase("unicode key", lambda d: d.invoke("ключ 🔑"), None, "", 1),
    ApiCase("path tricks in a key", lambda d: d.list_versions("../../etc/passwd"), None, "", 1),
]


def _run_api(case: ApiCase, kind: str, counting: Counting) -> Any:
    if kind == "sync":
        with Client(case.api_key, case.base_url, transport=httpx.MockTransport(counting)) as c:
            return case.call(c.deployments)

    async def main() -> Any:
        transport = httpx.MockTransport(counting)
        async with AsyncClient(case.api_key, case.base_url, transport=transport) as c:
            value = case.call(c.deployments)
            return await value if asyncio.iscoroutine(value) else value

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("case", API_CASES, ids=[c.name for c in API_CASES])
def test_python_api_bad_input(case: ApiCase, kind: str, summary: Summary) -> None:
    counting = Counting()
    try:
        value, error = _run_api(case, kind, counting), None
    except Exception as exc:
        value, error = None, exc
    sent = len(counting.requests)
    if kind == "sync":
        shown = f"{type(error).__name__}: {_short(str(error))}" if error else "sent"
        if isinstance(error, ValidationError):
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            shown = f"ValidationError at `{where}`: {_short(first['msg'], 80)}"
        summary.row("Python API", case.name, shown, sent)

    if case.error is None:
        assert error is None, error
    else:
        assert isinstance(error, case.error), error
        assert isinstance(error, OrqError), f"not an OrqError: {error!r}"
        assert "\n" not in str(error), "one line"
        assert case.names in str(error), str(error)
        if isinstance(error, ValidationError):
            # The field is named where a program can find it, too.
            assert case.names.split(".")[0] in {str(e["loc"][0]) for e in error.errors()}
        assert KEY_WITH_NEWLINE not in str(error) and "line-two" not in str(error)
    assert sent == case.sent
    if case.name == "path tricks in a key":
        assert counting.requests[0].url.raw_path.startswith(b"/v2/deployments/..%2F..%2Fetc")
    if case.name == "unicode key":
        assert json.loads(counting.requests[0].content)["key"] == "ключ 🔑"
    if case.name.startswith("NaN as an input"):
        assert "x" not in json.loads(counting.requests[0].content).get("inputs", {})
    del value


# -- the local server's own input ---------------------------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalServer, Path]]:
    """A local server over a copy of the fixtures, next to a file it must never read."""
    where = tmp_path_factory.mktemp("served")
    (where / "deployments.yaml").write_text(
        (FIXTURES / "deployments.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (where / "secret.yaml").write_text(
        "deployments:\n  - key: secret-canary-4f1d\n    prompt_config: {model: m}\n"
        "    responder: {mock: SECRET-CANARY-4f1d}\n",
        encoding="utf-8",
    )
    with LocalServer(where / "deployments.yaml") as server:
        yield server, where


BODY_CASES: list[tuple[str, bytes, int, str]] = [
    ("malformed JSON", b"{not json", 400, "not valid JSON"),
    ("empty body", b"", 400, "not valid JSON"),
    ("a JSON array", b"[1, 2]", 400, "must be a JSON object"),
    ("nested 100,000 deep", b"[" * 100_000, 400, "nested too deeply"),
    (
        "inputs nested 400 deep",
        b'{"key": "fixed", "inputs": {"a": ' + b"[" * 400 + b"]" * 400 + b"}}",
        400,
        "depth",
    ),
    ("NaN", b'{"key": "fixed", "inputs": {"a": NaN}}', 400, "NaN"),
    ("not UTF-8", b'{"key": "\xff"}', 400, "not valid JSON"),
    ("key a number", b'{"key": 5}', 400, "key"),
    ("inputs a list", b'{"key": "fixed", "inputs": []}', 400, "inputs"),
    ("messages a string", b'{"key": "fixed", "messages": "hi"}', 400, "messages"),
    (
        "unknown fields (ignored)",
        b'{"key": "fixed", "stream": false, "sdk_extra": {"a": 1}}',
        200,
        "within 30 days",
    ),
    ("key with a NUL", b'{"key": "fixed\\u0000"}', 404, "was not found"),
    ("key ../secret.yaml", b'{"key": "../secret.yaml"}', 404, "was not found"),
    ("key secret-canary-4f1d", b'{"key": "secret-canary-4f1d"}', 404, "was not found"),
    # orq.ai's shape and statuses (400 invalid_request_body), never a 500:
    ("lone surrogate in inputs", b'{"key": "fixed", "inputs": {"a": "\\udc80"}}', 400, "surrogate"),
    ("lone surrogate as key", b'{"key": "\\ud800"}', 400, "surrogate"),
    (
        "lone surrogate in a message",
        b'{"key": "fixed", "messages": [{"role": "user", "content": "\\udfff"}]}',
        400,
        "messages[0].content",
    ),
    ("lone surrogate in a name", b'{"key": "fixed", "inputs": {"\\udc80x": 1}}', 400, "surrogate"),
    ("key ..", b'{"key": ".."}', 400, "cannot be a deployment key"),
    ("key .", b'{"key": "."}', 400, "cannot be a deployment key"),
    (
        "unknown fields nested (ignored)",
        b'{"key": "fixed", "identity": {"id": "c", "new": 1}, "thread": {"id": "t", "x": []},'
        b' "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "y": 1}]}],'
        b' "invoke_options": {"include_usage": true, "z": {}}}',
        200,
        "within 30 days",
    ),
]


@pytest.mark.parametrize("name,body,status,says", BODY_CASES, ids=[c[0] for c in BODY_CASES])
def test_local_server_bodies(
    name: str,
    body: bytes,
    status: int,
    says: str,
    local: tuple[LocalServer, Path],
    summary: Summary,
) -> None:
    server, _ = local
    # A fresh connection per request: a crash would reset it, and must not hide in a pool.
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.post(
            "/v2/deployments/invoke", content=body, headers={"Content-Type": "application/json"}
        )
        after = http.get("/v2/deployments", params={"limit": 1})  # the server is still fine
    summary.row("Local server", f"POST invoke: {name}", answer.status_code, _short(answer.text, 90))
    assert answer.status_code == status, answer.text
    assert says in answer.text
    assert after.status_code == 200
    if status >= 400:
        body = answer.json()
        message = body["message"]
        assert "\n" not in message and "Traceback" not in answer.text
        assert body["error"]["message"] == message and "code" not in body  # orq's envelope
        if status == 400:
            assert body["error"]["code"] == "invalid_request_body"


def test_a_huge_body_gets_413_not_a_reset(
    local: tuple[LocalServer, Path], summary: Summary
) -> None:
    server, _ = local
    with Client(base_url=server.base_url, max_retries=0) as client:
        with pytest.raises(RequestTooLargeError) as info:
            client.deployments.invoke("fixed", inputs={"blob": "y" * (11 * 1024 * 1024)})
        assert client.deployments.invoke("fixed").text  # and the next one works
    summary.row("Local server", "POST invoke: 11 MB body", 413, _short(info.value.message, 90))
    assert "at most 10485760" in info.value.message and "\n" not in info.value.message


PATH_TRICKS = [
    b"GET /v2/deployments/..%2F..%2F..%2Fetc%2Fpasswd/versions HTTP/1.1",
    b"GET /v2/deployments/..%2Fsecret.yaml/versions HTTP/1.1",
    b"GET /v2/deployments/%2e%2e%2fsecret.yaml/versions HTTP/1.1",
    b"GET /v2/deployments/secret.yaml/versions HTTP/1.1",
    b"GET /v2/deployments/../secret.yaml HTTP/1.1",
    b"GET /v2/deployments/../../../../etc/passwd HTTP/1.1",
    b"GET /../secret.yaml HTTP/1.1",
    b"GET /v2/deployments/%00/versions HTTP/1.1",
    b"GET /v2/deployments/fixed%00.yaml/versions HTTP/1.1",
    b"GET /v2/deployments/\x00/versions HTTP/1.1",
    b"DELETE /v2/deployments/invalidate/..%2Fsecret.yaml HTTP/1.1",
    b"DELETE /v2/deployments/invalidate/%2Fetc%2Fpasswd HTTP/1.1",
]

_opened: list[str] | None = None  # the audit hook records file opens while this is a list


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # cheap when not recording; audit hooks cannot be removed


@pytest.mark.parametrize("line", PATH_TRICKS, ids=[p.decode("latin-1") for p in PATH_TRICKS])
def test_path_tricks_never_read_a_file(
    line: bytes, local: tuple[LocalServer, Path], summary: Summary
) -> None:
    global _opened
    server, where = local
    request = line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    _opened = []
    try:
        status, body = raw_request(server.port, request)
    finally:
        opened, _opened = _opened, None
    summary.row(
        "Local server",
        line.decode("latin-1").replace("\x00", "\\x00"),
        status,
        _short(body.decode("utf-8", "replace"), 90),
    )
    assert status in (400, 404, 422), body
    assert b"CANARY" not in body and b"root:" not in body
    touched = [p for p in opened if p.startswith((str(where), "/etc"))]
    assert not touched, f"files opened while answering: {touched}"


BROKEN_FILES: list[tuple[str, str, str]] = [
    (
        "wrong type in the 2nd entry (1st is fine)",
        """\
        deployments:
          - key: fine
            prompt_config: {model: m}
          - key: b
            prompt_config: {model: m}
            stream_delay_ms: slow
        """,
        "line 6: deployments[1].stream_delay_ms",
    ),
    (
        "duplicate key",
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
          - key: a
            prompt_config: {model: m}
        """,
        "line 4: deployments[1].key",
    ),
    (
        "unknown field",
        """\
        deployments:
          - key: a
            respondr: echo
            prompt_config: {model: m}
        """,
        "line 3: deployments[0].respondr",
    ),
    (
        "YAML syntax error",
        """\
        deployments:
          - key: a
            prompt_config: {model: [m
        """,
        "line 4: YAML syntax error",
    ),
    (
        "faults.status not allowed",
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            faults: {status: 418}
        """,
        "line 4: deployments[0].faults.status",
    ),
    (
        "a key that is a path",
        """\
        deployments:
          - key: ../etc/passwd
            prompt_config: {model: m}
        """,
        "line 2: deployments[0].key",
    ),
    (
        "missing key",
        """\
        deployments:
          - description: x
            prompt_config: {model: m}
        """,
        "line 2: deployments[0]: missing the required field `key`",
    ),
    ("empty file", "", "the file is empty"),
    # Hostile files (more of each class in test_bad_files.py): bounded, one line, the line.
    ("a self-referencing anchor", "deployments: &a\n  - *a\n", "line 2: the alias *a is used"),
    (
        "5,000-deep nesting",
        "deployments: " + "[" * 5000 + "]" * 5000 + "\n",
        "line 1: nested more than 100 levels deep",
    ),
    (
        "a billion laughs",
        "x:\n"
        + "".join(
            f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 10)}]\n" for i in range(9)
        )
        + "deployments: []\n",
        "expands to more than 100,000 values",
    ),
    (
        "a secret for a host nobody allowed",
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            responder: {openai: {base_url: "https://collect.example", api_key_env: ORQ_API_KEY}}
        """,
        "line 4: deployments[0].responder.openai.api_key_env: the file sends the environment "
        "variable ORQ_API_KEY to collect.example, which you have not allowed",
    ),
]


@pytest.mark.parametrize("name,text,says", BROKEN_FILES, ids=[b[0] for b in BROKEN_FILES])
def test_a_broken_deployments_file_refuses_to_start(
    name: str, text: str, says: str, tmp_path: Path, summary: Summary
) -> None:
    path = tmp_path / "deployments.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    threads = {t.ident for t in threading.enumerate()}
    server = LocalServer(path)
    with pytest.raises(DeploymentFileError) as info:
        server.start()
    message = str(info.value)
    summary.row("Deployments file", name, _short(message.replace(str(tmp_path), "…"), 120))
    assert says in message and "\n" not in message
    assert not server.running, "nothing is served, not even the valid half"
    assert {t.ident for t in threading.enumerate()} == threads, "no server thread was started"


def test_the_cli_refuses_a_broken_file_with_one_message(tmp_path: Path) -> None:
    path = tmp_path / "deployments.yaml"
    path.write_text(textwrap.dedent(BROKEN_FILES[0][1]), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "orq_notebook", "serve", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "line 6: deployments[1].stream_delay_ms" in done.stderr
    assert "Traceback" not in done.stderr


# -- concurrent requests: a short, bounded load test --------------------------------------------

LOAD_REQUESTS = 2000
IN_FLIGHT = 50

# The server runs in its own process, as `orq-notebook serve` does: in one process, client and
# server threads would hand the GIL back and forth and the figures would measure that instead.
SERVE = (
    "import sys; from orq_notebook.local import LocalServer; "
    "s = LocalServer(sys.argv[1]).start(); print(s.base_url, flush=True); "
    "sys.stdin.read(); s.stop()"
)


@pytest.mark.timeout(90)
def test_load_2000_requests_50_in_flight(summary: Summary) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(FIXTURES / "deployments.yaml")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        latencies, errors, elapsed = asyncio.run(_load(url))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(15)
    p50, p95, p99 = (1000 * (percentile(latencies, q) or 0) for q in (50, 95, 99))
    line = (
        f"{LOAD_REQUESTS} invocations, {IN_FLIGHT} in flight, AsyncClient → local server "
        f"(own process) on loopback: {len(errors)} errors; latency p50 {p50:.1f} ms, p95 "
        f"{p95:.1f} ms, p99 {p99:.1f} ms; {LOAD_REQUESTS / elapsed:.0f} requests/s "
        f"({elapsed:.2f} s); {os.cpu_count()} CPUs."
    )
    summary.text("Load", line)
    print("\n" + line)
    assert not errors, errors[:3]
    assert len(latencies) == LOAD_REQUESTS


async def _load(url: str) -> tuple[list[float], list[BaseException], float]:
    latencies: list[float] = []
    errors: list[BaseException] = []
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with AsyncClient(base_url=url, max_retries=0) as client:

        async def one(i: int) -> None:
            async with gate:
                started = time.perf_counter()
                try:
                    answer = await client.deployments.invoke("fixed", inputs={"i": i})
                    assert answer.text == "You can return items within 30 days."
                except Exception as exc:
                    errors.append(exc)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(LOAD_REQUESTS))), 80)
        return latencies, errors, time.perf_counter() - started
