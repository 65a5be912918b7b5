"""`HumanloopClient` / `AsyncHumanloopClient` against the live local server's `/v4` routes
(uvicorn on 127.0.0.1 in a thread), and `%orq connect --humanloop` in a real IPython shell."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.client._exceptions import (
    AuthenticationError,
    NotFoundError,
    UnprocessableEntityError,
)
from orq_notebook.display._result import Result
from orq_notebook.humanloop._client import AsyncHumanloopClient, HumanloopClient
from orq_notebook.local import LocalServer
from orq_notebook.local._humanloop_app import project_id_for
from orq_notebook.notebook import _session

DEPLOYMENTS = """\
deployments:
  - key: summariser
    description: Summarises a ticket
    variables: {tone: plain}
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_parameters: {temperature: 0.2}
      messages:
        - {role: system, content: "Summarise in a {{tone}} tone: {{ticket}}"}
    responder: echo
    variants:
      - when: {environments: production}
        prompt_config: {model: gpt-4o}
  - key: fixed
    prompt_config: {model: gpt-4o-mini, messages: []}
    responder: {mock: "Reseat the toner cartridge."}
"""
TICKET = {"ticket": "Printer shows E42"}


@pytest.fixture(scope="module")
def deployments_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("humanloop") / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(deployments_file: Path) -> Iterator[LocalServer]:
    with LocalServer(deployments_file) as srv:
        yield srv


@pytest.fixture
def hl(server: LocalServer) -> Iterator[HumanloopClient]:
    with HumanloopClient(base_url=f"{server.base_url}/v4", max_retries=0) as client:
        yield client


# -- answers ------------------------------------------------------------------------------


def test_complete_deployed_fills_the_template_and_reports_usage(hl: HumanloopClient) -> None:
    answer = hl.complete_deployed(project="summariser", inputs=TICKET, metadata={"nb": "t"})
    sample = answer.data[0]
    assert sample.output == "system: Summarise in a plain tone: Printer shows E42\n" + (
        "(parameters: temperature=0.2)"
    )
    assert sample.raw_output == sample.output and sample.finish_reason == "stop"
    assert sample.id.startswith("data_") and sample.index == 0
    assert sample.inputs == {"tone": "plain", **TICKET}
    assert sample.model_config_id is not None and sample.model_config_id.startswith("config_")
    assert answer.project_id == project_id_for("summariser")
    assert answer.metadata == {"nb": "t"} and answer.num_samples == 1
    assert answer.usage is not None and answer.usage.generation_tokens
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.generation_tokens
    assert answer.provider_request is not None
    assert answer.provider_request["model"] == "gpt-4o-mini"


def test_project_id_environment_and_return_inputs(hl: HumanloopClient) -> None:
    answer = hl.complete_deployed(
        project_id=project_id_for("summariser"),
        inputs=TICKET,
        environment="production",
        return_inputs=False,
    )
    assert answer.provider_request is not None
    assert answer.provider_request["model"] == "gpt-4o"
    assert answer.data[0].inputs == {}
    default = hl.complete_deployed(project="summariser", inputs=TICKET)
    assert default.data[0].model_config_id != answer.data[0].model_config_id


def test_num_samples_gives_indexed_samples(hl: HumanloopClient) -> None:
    answer = hl.complete_deployed(project="fixed", num_samples=2)
    assert [s.index for s in answer.data] == [0, 1]
    assert len({s.id for s in answer.data}) == 2
    assert [s.output for s in answer.data] == ["Reseat the toner cartridge."] * 2


def test_chat_deployed_appends_the_messages(hl: HumanloopClient) -> None:
    messages = [{"role": "user", "content": "What first?"}]
    answer = hl.chat_deployed(project="summariser", inputs=TICKET, messages=messages)
    sample = answer.data[0]
    assert sample.output.endswith("user: What first?\n(parameters: temperature=0.2)")
    assert sample.output_message == {"role": "assistant", "content": sample.raw_output}
    assert sample.messages is not None
    assert [m["role"] for m in sample.messages] == ["system", "user"]


# -- streams ------------------------------------------------------------------------------


def test_a_stream_of_two_samples_interleaves_and_joins_per_sample(hl: HumanloopClient) -> None:
    whole = hl.complete_deployed(project="summariser", inputs=TICKET).data[0].raw_output
    with hl.complete_deployed(
        project="summariser", inputs=TICKET, num_samples=2, stream=True
    ) as stream:
        deltas = list(stream)
    assert stream.completed and stream.texts == [whole, whole]
    indexes = [d.index for d in deltas]
    assert indexes[:4] == [0, 1, 0, 1], "samples take turns"
    for index in (0, 1):
        mine = [d for d in deltas if d.index == index]
        assert [d.finish_reason for d in mine] == [None] * (len(mine) - 1) + ["stop"]
        assert len({d.id for d in mine}) == 1
    assert stream.project_id == project_id_for("summariser")
    assert [s.output for s in stream.to_response().data] == [whole.strip()] * 2


def test_the_stream_on_the_wire_is_data_only_events_then_close(server: LocalServer) -> None:
    body = {"project": "fixed", "stream": True}
    response = httpx.post(f"{server.base_url}/v4/completion-deployed", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b]
    assert all(b.startswith("data: {") for b in blocks), "no [DONE], no event: lines"
    events = [json.loads(b.removeprefix("data: ")) for b in blocks]
    assert all(set(e) == {"project_id", "data", "provider_responses"} for e in events)
    item = events[-1]["data"][0]
    assert set(item) == {
        "id",
        "index",
        "output",
        "raw_output",
        "inputs",
        "finish_reason",
        "model_config_id",
    }
    assert "".join(e["data"][0]["output"] for e in events) == "Reseat the toner cartridge."


def test_chat_stream_through_the_async_client(server: LocalServer) -> None:
    async def main() -> tuple[list[str], bool, str]:
        async with AsyncHumanloopClient(base_url=f"{server.base_url}/v4") as hl:
            stream = await hl.chat_deployed(
                project="fixed", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async with stream:
                pieces = [d.output async for d in stream]
            answer = await hl.complete_deployed(project="fixed", num_samples=2)
        return pieces, stream.completed, answer.data[1].output

    pieces, completed, second = asyncio.run(main())
    assert "".join(pieces) == "Reseat the toner cartridge." and len(pieces) > 1
    assert completed and second == "Reseat the toner cartridge."


def test_any_path_prefix_works(server: LocalServer) -> None:
    with HumanloopClient(base_url=f"{server.base_url}/some/prefix/v4") as hl:
        assert hl.complete_deployed(project="fixed").text == "Reseat the toner cartridge."


# -- errors -------------------------------------------------------------------------------


def test_an_unknown_project_is_a_404_with_detail(hl: HumanloopClient) -> None:
    with pytest.raises(NotFoundError) as info:
        hl.complete_deployed(project="nope")
    assert "'nope'" in info.value.message and "summariser" in info.value.message
    assert isinstance(json.loads(info.value.body)["detail"], str)


def test_a_missing_variable_is_a_422_validation_list(hl: HumanloopClient) -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        hl.complete_deployed(project="summariser", stream=True).__enter__()
    detail = json.loads(info.value.body)["detail"]
    assert detail[0]["loc"] == ["body", "inputs"] and "{{ticket}}" in detail[0]["msg"]
    assert detail[0]["type"] and "body.inputs:" in info.value.message


def test_the_server_refuses_bodies_humanloop_would_refuse(server: LocalServer) -> None:
    url = f"{server.base_url}/v4/completion-deployed"
    for body in (  # not valid Unicode, nested too deeply: a 422 in Humanloop's shape, not a 500
        b'{"project": "fixed", "inputs": {"x": "\\udc80"}}',
        b'{"project": "\\ud800"}',
        b"[" * 100_000,
    ):
        refused = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body"]
    neither = httpx.post(url, json={"inputs": {}})
    assert neither.status_code == 422
    assert neither.json()["detail"][0]["loc"] == ["body", "project"]
    wrong = httpx.post(url, json={"project": "fixed", "inputs": ["x"]})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "inputs"]


def test_with_a_key_the_routes_want_x_api_key(deployments_file: Path) -> None:
    with LocalServer(deployments_file, api_key="local-secret") as server:
        url = f"{server.base_url}/v4"
        nokey = HumanloopClient(base_url=url, max_retries=0)
        with nokey, pytest.raises(AuthenticationError) as info:
            nokey.complete_deployed(project="fixed")
        assert "X-API-KEY" in info.value.message
        assert isinstance(json.loads(info.value.body)["detail"], str)
        bearer = httpx.post(
            f"{url}/completion-deployed",
            json={"project": "fixed"},
            headers={"Authorization": "Bearer local-secret"},
        )
        assert bearer.status_code == 401
        with HumanloopClient(api_key="local-secret", base_url=url) as good:
            assert good.complete_deployed(project="fixed").text.startswith("Reseat")
        # The orq routes still take the bearer key, and only it.
        orq = httpx.get(f"{server.base_url}/v2/deployments", headers={"X-API-KEY": "local-secret"})
        assert orq.status_code == 401


# -- the notebook ---------------------------------------------------------------------------


@pytest.fixture
def ip(deployments_file: Path) -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    _session.set_session(_session.Session())
    shell.run_line_magic("load_ext", "orq_notebook")
    shell.run_line_magic("config", "OrqMagics.display_mode = 'notebook'")
    with capture_output() as out:
        shell.run_line_magic("orq", f"connect --humanloop --local {deployments_file}")
    assert "Humanloop v4 API" in out.stdout and "/v4" in out.stdout
    yield shell
    shell.run_line_magic("unload_ext", "orq_notebook")
    _session.set_session(None)


def one_line_error(ip: InteractiveShell, header: str, body: str | None = None) -> str:
    with pytest.raises(UsageError) as info:
        if body is None:
            ip.run_line_magic("orq", header)
        else:
            ip.run_cell_magic("orq", header, body)
    assert "\n" not in str(info.value).strip()
    return str(info.value)


def test_cell_magic_streams_a_project_into_one_display(ip: InteractiveShell) -> None:
    with capture_output() as out:
        result = ip.run_cell_magic("orq", "summariser --var ticket=E42", "What first?")
    assert isinstance(result, Result) and not result.partial
    assert result.deployment == "summariser" and result.finish_reason == "stop"
    assert result.text.startswith("system: Summarise in a plain tone: E42\nuser: What first?")
    assert result.id is not None and result.id.startswith("data_")
    assert result.messages[-2:] == [
        {"role": "user", "content": "What first?"},
        {"role": "assistant", "content": result.text},
    ]
    ids = {o.transient.get("display_id") for o in out.outputs if o.transient}
    assert len(ids) == 1 and result.text.splitlines()[0] in out.outputs[-1].data["text/plain"]


def test_no_stream_environment_and_history(ip: InteractiveShell) -> None:
    context = '\'{"environments": "production"}\''
    with capture_output():
        result: Any = ip.run_cell_magic(
            "orq", f"summariser --no-stream --var ticket=E42 --context {context}", "Hi"
        )
        ip.run_cell_magic("orq", "fixed", "anything")
    assert result.model == "gpt-4o" and result.usage["completion_tokens"] > 0
    assert result.text.startswith("system: Summarise in a plain tone: E42\nuser: Hi")
    with capture_output():
        terse = ip.run_cell_magic(
            "orq", "summariser --no-stream --var ticket=E42 --system Terse", "Hi"
        )
    assert "\nsystem: Terse\nuser: Hi\n" in terse.text
    rows = ip.run_line_magic("orq", "history").rows
    assert [r["key"] for r in rows] == ["summariser", "fixed", "summariser"]
    assert ip.run_line_magic("orq", "last") is terse


def test_orq_only_options_and_subcommands_are_refused_in_one_line(ip: InteractiveShell) -> None:
    assert "--documents is an orq option" in one_line_error(ip, "fixed --documents '[]'", "x")
    assert "--mock is an orq option" in one_line_error(ip, "fixed --mock hi", "x")
    assert "environment only" in one_line_error(ip, "fixed --context '{\"a\": 1}'", "x")
    assert "not available for Humanloop" in one_line_error(ip, "list")
    assert "not available for Humanloop" in one_line_error(ip, "config fixed")


def test_errors_of_the_humanloop_routes_are_one_line(ip: InteractiveShell) -> None:
    assert "{{ticket}}" in one_line_error(ip, "summariser", "x")
    assert "'nope' was not found" in one_line_error(ip, "nope --no-stream", "x")


def test_connect_to_the_retired_host_says_so(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_line_magic("orq", "connect --humanloop")
    assert "https://api.humanloop.com/v4 (retired on 2025-09-08" in out.stdout
    assert "no API key is set" in out.stdout


def test_connect_without_humanloop_returns_to_orq(ip: InteractiveShell, tmp_path: Path) -> None:
    path = tmp_path / "orq.yaml"
    path.write_text(textwrap.dedent(DEPLOYMENTS), encoding="utf-8")
    with capture_output():
        ip.run_line_magic("orq", f"connect --local {path}")
    assert [r["key"] for r in ip.run_line_magic("orq", "list").rows] == ["summariser", "fixed"]


def test_an_interrupted_stream_keeps_the_partial_answer(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orq_notebook.display import _stream_view as _display

    seen: list[str] = []
    original = _display.StreamView.append

    def append_then_interrupt(self: Any, piece: str) -> None:
        original(self, piece)
        seen.append(piece)
        if len(seen) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(_display.StreamView, "append", append_then_interrupt)
    with capture_output():
        assert "Stopped after" in one_line_error(ip, "summariser --var ticket=E42", "a b c d e f")
    partial = ip.run_line_magic("orq", "last")
    assert partial.partial and partial.error is None and partial.status == "stopped"
    assert partial.text == "".join(seen) == "system: Summarise in"
