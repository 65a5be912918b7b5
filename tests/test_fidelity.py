"""orq.ai fidelity, client side: what the real service sends, read as orq documents it.

Golden payloads (`tests/fixtures/`, written by hand from `orq-api-additions.md` and the base
reference, never from our models) go through the real clients over `httpx.MockTransport`;
where the local server already answers as orq does, the same checks run over loopback, and
the magics run in an IPython shell against it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orq_ai_sdk.models as sdk
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.client._client import AsyncClient, Client
from orq_notebook.client._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    UnprocessableEntityError,
)
from orq_notebook.client._models import Invocation
from orq_notebook.display._result import Result
from orq_notebook.local import LocalServer
from orq_notebook.notebook import _session
from tests.faults import Fault, FaultServer
from tests.test_streaming import Body

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "sk-orq-fidelity-0123456789"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


def call(kind: str, answer: httpx.Response, name: str, *args: Any, **options: Any) -> Any:
    """`client.deployments.<name>(*args)` against one canned answer, in either twin."""
    answers = [answer]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers[0]

    base = options.pop("base_url", "http://orq.test")
    transport = httpx.MockTransport(handler)
    if kind == "sync":
        with Client(KEY, base, transport=transport, max_retries=0, **options) as client:
            return getattr(client.deployments, name)(*args)

    async def main() -> Any:
        async with AsyncClient(KEY, base, transport=transport, max_retries=0, **options) as c:
            return await getattr(c.deployments, name)(*args)

    return asyncio.run(main())


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- 1. error bodies: every shape, every field -------------------------------------------------

ERRORS = [
    # (fixture, status, class, code, hint words)
    ("error_new_shape.json", 401, AuthenticationError, "invalid_api_key", "copy it again"),
    ("error_401_combined.json", 401, AuthenticationError, "invalid_api_key", "copy it again"),
    ("error_expired_api_key_401.json", 401, AuthenticationError, "expired_api_key",
     "has expired (on 2026-01-31T00:00:00Z)"),
    ("error_quota_402.json", 402, APIError, "quota_exceeded", "out of quota"),
    ("error_provider_credential_422.json", 422, UnprocessableEntityError,
     "provider_credential_invalid", "not your orq.ai API key"),
    ("error_invalid_request_body_400.json", 400, BadRequestError, "invalid_request_body",
     "names the field"),
    ("error_old_shape.json", 404, NotFoundError, None, None),
    ("error_401.json", 401, AuthenticationError, None, None),
    ("error_list_500.json", 500, APIError, None, None),
    ("error_router_openai_style.json", 401, AuthenticationError, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "status", "cls", "code", "hint"), ERRORS, ids=[e[0] for e in ERRORS]
)
def test_every_error_shape_gives_its_message_code_details_and_hint(
    kind: str, name: str, status: int, cls: type[APIError], code: str | None, hint: str | None
) -> None:
    body = load(name)
    answer = httpx.Response(status, content=raw(name), headers={"content-type": "application/json"})
    with pytest.raises(cls) as info:
        call(kind, answer, "invoke", "k")
    exc = info.value
    inner = body["error"] if isinstance(body.get("error"), dict) else {}
    said = body.get("message") or inner.get("message") or body.get("error")
    assert exc.message.startswith(said.rstrip(".")) and exc.status_code == status
    assert exc.code == code
    assert exc.doc_url == inner.get("doc_url")
    assert exc.details == inner.get("details")
    assert exc.body == raw(name).decode()
    if hint is None:
        assert exc.hint is None or status >= 500
    else:
        assert exc.hint is not None and hint in exc.hint, exc.hint


@pytest.mark.parametrize(
    ("status", "words"),
    [(402, "out of quota"), (429, "Too many requests"), (502, "failed while answering"),
     (503, "overloaded"), (504, "did not answer in time"), (404, None), (418, None)],
)  # fmt: skip
def test_a_hint_from_the_status_alone(kind: str, status: int, words: str | None) -> None:
    answer = httpx.Response(status, json={"message": "no code here"})
    with pytest.raises(APIError) as info:
        call(kind, answer, "list")
    assert (info.value.hint is None) if words is None else (words in (info.value.hint or ""))


def test_the_magic_shows_the_hint_in_its_one_line() -> None:
    faults = {
        "broke": Fault("status", statuses=(402,), body=load("error_quota_402.json")),
        "cred": Fault("status", statuses=(422,), body=load("error_provider_credential_422.json")),
    }
    with FaultServer(faults) as server, _shell(server.base_url) as shell:
        for key, words in (("broke", "out of quota"), ("cred", "not your orq.ai API key")):
            with pytest.raises(UsageError) as info, capture_output():
                shell.run_cell_magic("orq", f"{key} --no-stream", "hi")
            assert words in str(info.value) and "\n" not in str(info.value)


# -- 6. 204: None, as the SDK has it; one line in the magic ---------------------------------


def test_204_is_none_as_in_the_sdk(kind: str) -> None:
    assert call(kind, httpx.Response(204), "invoke", "k") is None
    assert call(kind, httpx.Response(204), "get_config", "k") is None


def test_the_magic_says_204_in_one_line() -> None:
    faults = {"empty": Fault("no_content", config=True)}
    with FaultServer(faults) as server, _shell(server.base_url) as shell:
        with capture_output() as out:
            value = shell.run_cell_magic("orq", "empty --no-stream", "hi")
            shell.run_line_magic("orq", "config empty")
        assert value is None
        assert out.stdout.count("204 No Content") == 2 and "configuration" in out.stdout


# -- 7, 8. SSE in any letter case; heartbeats between chunks ---------------------------------


@pytest.mark.parametrize("media", ["Text/Event-Stream", "TEXT/EVENT-STREAM; charset=UTF-8"])
def test_a_stream_in_any_letter_case_streams(kind: str, media: str) -> None:
    beats = b"data: {}\n\n: keep-alive\n\nevent: ping\n\n"
    events = raw("stream_basic.sse").split(b"\n\n")
    body = beats.join(e + b"\n\n" for e in events if e.strip())
    texts = _stream(kind, httpx.Response(200, headers={"content-type": media}, stream=Body([body])))
    assert "".join(texts) == "You can return items within 30 days."


def _stream(kind: str, answer: httpx.Response) -> list[str]:
    transport = httpx.MockTransport(lambda request: answer)
    if kind == "sync":
        client = Client(KEY, "http://orq.test", transport=transport)
        with client, client.deployments.stream("k") as s:
            return [c.content for c in s]

    async def main() -> list[str]:
        aclient = AsyncClient(KEY, "http://orq.test", transport=transport)
        async with aclient, aclient.deployments.stream("k") as s:
            return [c.content async for c in s]

    return asyncio.run(main())


# -- 10. Client(environment=...) wins, as in the SDK --------------------------------------------


def test_the_client_environment_overrides_the_calls_context() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=load("invoke_minimal.json"))

    transport = httpx.MockTransport(handler)
    with Client(KEY, "http://orq.test", environment="production", transport=transport) as c:
        c.deployments.invoke("k", context={"environments": ["staging"], "country": "NL"})
    assert seen[0]["context"] == {"environments": "production", "country": "NL"}


# -- 11. image deployments ------------------------------------------------------------------


def test_an_image_answer_is_read_and_shown_as_a_picture() -> None:
    inv = Invocation.model_validate_json(raw("invoke_image.json"))
    url = load("invoke_image.json")["choices"][0]["message"]["url"]
    assert inv.object == "image" and inv.image_url == url and inv.text == ""
    sdk.DeploymentInvokeResponseBody.model_validate_json(raw("invoke_image.json"))  # the SDK too
    result = Result.from_invocation(inv, deployment="draw", latency=2.0)
    assert result.image_url == url
    assert f"![generated image](<{url}>)" in result.to_markdown()
    assert f'<img src="{url}"' in result.to_html() and "(no text)" not in result.to_html()
    assert f"→ image {url}" in result.to_text()
    assert Result.from_dict(result.to_dict()).image_url == url


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,<script>x</script>"]
)
def test_an_image_url_that_is_not_a_picture_is_not_loaded(url: str) -> None:
    data = load("invoke_image.json")
    data["choices"][0]["message"]["url"] = url
    result = Result.from_invocation(Invocation.model_validate(data), deployment="d", latency=1)
    assert result.image_url == url  # kept as data ...
    assert "<img" not in result.to_html() and "![" not in result.to_markdown()  # ... not loaded


def test_an_image_url_cannot_break_out_of_the_markdown_link() -> None:
    data = load("invoke_image.json")
    data["choices"][0]["message"]["url"] = "https://x.test/a b>)<img src=x onerror=alert(1)>"
    result = Result.from_invocation(Invocation.model_validate(data), deployment="d", latency=1)
    shown = result.to_markdown()
    assert "<img" not in shown and "](<https://x.test/a%20b%3E)%3Cimg" in shown


# -- 12. usage in both spellings, shown in parts --------------------------------------------


def test_usage_in_either_spelling_gives_prompt_and_completion_tokens() -> None:
    inv = Invocation.model_validate_json(raw("invoke_usage_input_output.json"))
    assert inv.usage is not None
    assert (inv.usage.prompt_tokens, inv.usage.completion_tokens) == (12, 45)
    assert inv.usage.total_tokens == 57
    result = Result.from_invocation(inv, deployment="support", latency=1.0)
    assert "57 tokens (12 in, 45 out)" in result.to_text()
    # the official SDK accepts the payload too (and keeps only total_tokens of it)
    parsed = sdk.DeploymentInvokeResponseBody.model_validate_json(
        raw("invoke_usage_input_output.json")
    )
    assert parsed.usage is not None and parsed.usage.total_tokens == 57


def test_history_shows_prompt_and_completion_tokens() -> None:
    with FaultServer({}) as server, _shell(server.base_url) as shell, capture_output():
        shell.run_cell_magic("orq", "good --no-stream", "hi")
        table = shell.run_line_magic("orq", "history")
    assert table.rows[-1]["tokens"] == "13 tokens (5 in, 8 out)"


# -- against the local server over loopback -------------------------------------------------


@pytest.fixture(scope="module")
def local() -> Iterator[LocalServer]:
    with LocalServer(FIXTURES / "deployments.yaml") as server:
        yield server


def test_the_local_servers_errors_carry_orqs_code_and_hint(kind: str, local: LocalServer) -> None:
    with pytest.raises(NotFoundError) as info:
        if kind == "sync":
            with Client(base_url=local.base_url) as client:
                client.deployments.invoke("no-such-key")
        else:

            async def main() -> None:
                async with AsyncClient(base_url=local.base_url) as client:
                    await client.deployments.invoke("no-such-key")

            asyncio.run(main())
    assert info.value.code == "deployment_not_found" and info.value.hint


def test_list_versions_is_typed_against_the_local_server(local: LocalServer) -> None:
    with Client(base_url=local.base_url) as client:
        page = client.deployments.list_versions("support-answer")
        assert page.object == "list" and isinstance(page.has_more, bool)
        for version in page.data:
            assert version.deployment_id and version.status and version.prompt_config.model
        filtered = client.deployments.list_versions("support-answer", variant_id="no-such")
        assert all(v.variant_id == "no-such" for v in filtered.data)


def test_versions_and_invalidate_in_the_magics(local: LocalServer) -> None:
    with _shell(local.base_url) as shell:
        with capture_output():
            table = shell.run_line_magic("orq", "versions support-answer -n 3")
        assert table.title.startswith(f"{len(table.rows)} versions of support-answer")
        assert len(table.rows) <= 3
        assert table.columns[:3] == ["version", "status", "saved"] or not table.rows
        with capture_output() as out:
            shell.run_line_magic("orq", "invalidate support-answer")
            shell.run_line_magic("orq", "invalidate --help")
            shell.run_line_magic("orq", "help")
        assert "invalidated" in out.stdout
        assert "orq.ai's API has no such endpoint" in " ".join(out.stdout.split())
        assert "versions" in out.stdout


@pytest.mark.parametrize(
    ("base_url", "status", "body", "missing"),
    [
        ("https://api.orq.ai", 404, {"message": "Not Found"}, True),
        ("https://my.orq.ai", 405, {"message": "Method Not Allowed"}, True),
        ("http://127.0.0.1:9", 405, {}, True),
        ("http://127.0.0.1:9", 404, {"detail": "Not Found"}, True),
        ("http://127.0.0.1:9", 404,
         {"error": {"code": "deployment_not_found", "message": "No deployment 'd1'."}}, False),
    ],
)  # fmt: skip
def test_invalidate_says_where_it_works(
    kind: str, base_url: str, status: int, body: dict[str, Any], missing: bool
) -> None:
    answer = httpx.Response(status, json=body)
    with pytest.raises(APIError) as info:
        call(kind, answer, "invalidate", "d1", base_url=base_url)
    text = str(info.value)
    assert ("no cache-invalidation endpoint" in text) == missing and "\n" not in text
    if missing:
        assert "web app" in text and "local server" in text


# -- helpers ----------------------------------------------------------------------------------


class _Shell:
    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> InteractiveShell:
        self.shell = InteractiveShell.instance()
        _session.set_session(_session.Session())
        self.shell.run_line_magic("load_ext", "orq_notebook")
        self.shell.run_line_magic("config", "OrqMagics.display_mode = 'notebook'")
        with capture_output():
            self.shell.run_line_magic("orq", f"connect --url {self.url}")
        return self.shell

    def __exit__(self, *exc: object) -> None:
        self.shell.run_line_magic("unload_ext", "orq_notebook")
        _session.set_session(None)


def _shell(url: str) -> _Shell:
    return _Shell(url)
