"""`%orq` / `%%orq` through a real InteractiveShell against the live local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.display._result import Result
from orq_notebook.local import LocalServer
from tests.shells import orq_shell

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(FIXTURES / "magics.yaml") as srv:
        yield srv


@pytest.fixture
def ip(server: LocalServer) -> Iterator[InteractiveShell]:
    with orq_shell(url=server.base_url, display_mode="notebook", scratch="test_") as shell:
        yield shell


def line(ip: InteractiveShell, text: str) -> Any:
    return ip.run_line_magic("orq", text)


def cell(ip: InteractiveShell, header: str, body: str) -> Any:
    return ip.run_cell_magic("orq", header, body)


def usage_error(ip: InteractiveShell, text: str, body: str | None = None) -> str:
    with pytest.raises(UsageError) as info:
        if body is None:
            line(ip, text)
        else:
            cell(ip, text, body)
    message = str(info.value)
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    return message


# -- connect, status, list, config ----------------------------------------------------------


def test_load_ext_registers_the_magic_and_its_configuration(ip: InteractiveShell) -> None:
    assert "orq" in ip.magics_manager.magics["line"]
    assert "orq" in ip.magics_manager.magics["cell"]
    with capture_output() as out:
        ip.run_line_magic("config", "OrqMagics")
    for trait in (
        "default_deployment",
        "stream",
        "update_interval",
        "short_errors",
        "timeout",
        "max_retries",
        "environment",
        "max_history",
    ):
        assert trait in out.stdout


def test_status_says_where_and_never_shows_the_key(
    ip: InteractiveShell, server: LocalServer
) -> None:
    with capture_output() as out:
        line(ip, "status")
    assert server.base_url in out.stdout
    assert "no API key" in out.stdout


def test_connect_local_starts_a_server_and_list_shows_every_deployment(
    ip: InteractiveShell,
) -> None:
    with capture_output() as out:
        line(ip, f"connect --local {FIXTURES / 'magics.yaml'}")
    assert "local server" in out.stdout
    table = line(ip, "list")
    keys = [row["key"] for row in table.rows]
    assert sorted(keys) == ["echo-bot", "fixed", "long", "needs-topic", "routed", "slow"]
    data = table._repr_mimebundle_()
    assert "echo-bot" in data["text/plain"] and "<table" in data["text/html"]


def test_config_shows_the_resolved_prompt(ip: InteractiveShell) -> None:
    view = line(ip, "config echo-bot --var company=Initech")
    assert view.config.model == "gpt-4o-mini"
    assert "Initech" in view.to_text()
    assert view.config.parameters["maxTokens"] == 64
    routed = line(ip, 'config routed --context \'{"environments": "production"}\'')
    assert routed.config.model == "gpt-4o"


# -- invoke ---------------------------------------------------------------------------------


def test_cell_invocation_streams_and_returns_a_result(ip: InteractiveShell) -> None:
    with capture_output() as out:
        result = cell(ip, "echo-bot", "What is the refund policy?")
    assert isinstance(result, Result)
    assert "What is the refund policy?" in result.text
    assert "You answer for Acme." in result.text
    assert result.deployment == "echo-bot" and result.model == "gpt-4o-mini"
    assert result.finish_reason == "stop"
    ids = {o.metadata.get("transient", {}).get("display_id") for o in out.outputs} - {None}
    # Outputs captured without transient ids fall back to the handle's id in `metadata`.
    assert len(out.outputs) >= 1
    final = out.outputs[-1].data
    assert result.text.strip().splitlines()[0] in final["text/plain"]
    assert len(ids) <= 1


def test_line_invocation_with_inputs_var_system_and_metadata(ip: InteractiveShell) -> None:
    ip.user_ns["test_meta"] = {"notebook": "tests"}
    result = line(
        ip,
        "invoke echo-bot --no-stream --var company=Globex --system 'Be terse.' "
        "--metadata test_meta Hello there",
    )
    assert "Globex" in result.text and "Be terse." in result.text
    assert "Hello there" in result.text


def test_mock_and_out_capture_and_quiet(ip: InteractiveShell) -> None:
    with capture_output():
        value = cell(ip, "echo-bot --mock 'canned' -o test_res --quiet", "hi")
    assert value is None
    assert ip.user_ns["test_res"].text == "canned"


def test_use_sets_the_default_deployment(ip: InteractiveShell) -> None:
    with capture_output():
        line(ip, "use fixed")
        result = cell(ip, "--no-stream", "anything")
    assert result.text == "The answer is **42**."
    assert result.provider == "anthropic"


def test_context_routes_to_a_variant(ip: InteractiveShell) -> None:
    with capture_output():
        result = cell(ip, 'routed --no-stream --context \'{"environments": ["production"]}\'', "x")
    assert "production variant" in result.text and result.model == "gpt-4o"


def test_documents_and_retrievals(ip: InteractiveShell) -> None:
    ip.user_ns["test_docs"] = [
        {"text": "Returns within 30 days.", "metadata": {"file_name": "p.md"}}
    ]
    with capture_output():
        result = cell(ip, "fixed --no-stream --documents test_docs --include-retrievals", "q")
    assert result.retrievals and result.retrievals[0]["document"] == "Returns within 30 days."


def test_threads_carry_earlier_turns_and_reset_clears_them(ip: InteractiveShell) -> None:
    with capture_output():
        cell(ip, "echo-bot --no-stream --thread t1", "first question")
        second = cell(ip, "echo-bot --no-stream --thread t1", "second question")
    assert "first question" in second.text and "second question" in second.text
    with capture_output():
        line(ip, "reset --thread t1")
        third = cell(ip, "echo-bot --no-stream --thread t1", "third question")
    assert "first question" not in third.text


def test_interpolation_is_one_pass_and_leaves_single_braces(ip: InteractiveShell) -> None:
    ip.user_ns["test_name"] = "Ada {{test_other}}"
    ip.user_ns["test_other"] = "SHOULD NOT APPEAR"
    with capture_output():
        result = cell(ip, "echo-bot --no-stream", 'Hi {{test_name}}: print({"a": 1}) {x}')
    assert 'Hi Ada {{test_other}}: print({"a": 1}) {x}' in result.text
    with capture_output():
        raw = cell(ip, "echo-bot --no-stream --raw", "keep {{test_name}}")
    assert "keep {{test_name}}" in raw.text


def test_history_and_last(ip: InteractiveShell) -> None:
    with capture_output():
        cell(ip, "fixed --no-stream", "one")
        cell(ip, "echo-bot --no-stream", "two")
    table = line(ip, "history")
    assert [r["key"] for r in table.rows] == ["fixed", "echo-bot"]
    assert line(ip, "last").deployment == "echo-bot"


def test_history_shows_what_was_sent_as_plain_text_and_no_empty_thread(
    ip: InteractiveShell,
) -> None:
    with capture_output():
        cell(ip, "fixed --no-stream", "Is **this** kept?")
        line(ip, "invoke echo-bot --no-stream --var company=Initech")
    table = line(ip, "history")
    assert table.title == "History: 2 invocations"
    assert "thread" not in table.columns  # no thread was used: no empty column
    assert [r["sent"] for r in table.rows] == ["Is this kept?", "company=Initech"]
    assert all("**" not in r["answer"] for r in table.rows)
    assert all(r["latency"].endswith(("ms", " s")) for r in table.rows)
    html = table.to_html()
    assert html.count("white-space:nowrap") == 5 * 2  # time, key, status, latency, tokens
    with capture_output():
        cell(ip, "echo-bot --no-stream --thread t1", "again")
    assert "thread" in line(ip, "history -n 1").columns
    assert line(ip, "history -n 1").title == "History: 3 invocations, the last 1 shown"


def test_invalidate_by_key(ip: InteractiveShell) -> None:
    with capture_output() as out:
        line(ip, "invalidate echo-bot")
    assert "invalidated" in out.stdout


def test_help_for_every_subcommand(ip: InteractiveShell) -> None:
    from orq_notebook.notebook._commands import COMMANDS

    for name in COMMANDS:
        with capture_output() as out:
            line(ip, f"{name} --help")
        assert f"%orq {name}" in out.stdout


# -- errors: one line each -------------------------------------------------------------------


def test_unknown_deployment_suggests_close_keys(ip: InteractiveShell) -> None:
    message = usage_error(ip, "echo-bto --no-stream", "hi")
    assert "echo-bto" in message and "echo-bot" in message


def test_missing_variable_is_named(ip: InteractiveShell) -> None:
    message = usage_error(ip, "needs-topic --no-stream", "hi")
    assert "topic" in message and "--var" in message


def test_usage_mistakes(ip: InteractiveShell) -> None:
    assert "Unknown subcommand" in usage_error(ip, "lst")
    assert "unrecognized arguments" in usage_error(ip, "list --bogus")
    assert "more than once" in usage_error(ip, "echo-bot --mock a --mock b", "x")
    assert "NAME=VALUE" in usage_error(ip, "echo-bot --var nope", "x")
    assert "neither valid JSON" in usage_error(ip, "echo-bot --inputs '{bad'", "x")
    assert "cell is empty" in usage_error(ip, "echo-bot", "   \n")
    assert "no value" in usage_error(ip, "echo-bot", "{{test_undefined_name}}")
    assert "No deployment key" in usage_error(ip, "--no-stream", "x")


def test_connecting_to_nothing_is_refused_and_changes_nothing(
    ip: InteractiveShell, server: LocalServer
) -> None:
    message = usage_error(ip, "connect --url http://127.0.0.1:9")
    assert message.startswith("Could not reach http://127.0.0.1:9") and "unchanged" in message
    with capture_output() as out:
        line(ip, "status")
    assert server.base_url in out.stdout  # still the working connection
    assert len(line(ip, "list").rows) > 0


def test_short_errors_off_shows_the_real_exception(ip: InteractiveShell) -> None:
    from orq_notebook import NotFoundError

    ip.run_line_magic("config", "OrqMagics.short_errors = False")
    try:
        with pytest.raises(NotFoundError):
            cell(ip, "nope --no-stream", "x")
    finally:
        ip.run_line_magic("config", "OrqMagics.short_errors = True")


# -- streaming into the output ----------------------------------------------------------------


def _updates(outputs: list[Any]) -> tuple[set[str], int]:
    ids = {o.transient.get("display_id") for o in outputs if o.transient}
    return ids, sum(1 for o in outputs if o.update)


def test_a_fast_long_stream_costs_updates_bounded_by_rate_not_chunks(
    ip: InteractiveShell,
) -> None:
    words = " ".join(f"w{i}" for i in range(2000))
    ip.run_line_magic("config", "OrqMagics.update_interval = 0.1")
    with capture_output() as out:
        result = cell(ip, "long", words)
    assert words in result.text
    ids, updates = _updates(out.outputs)
    assert len(ids) == 1, "every update goes to one display"
    chunks = len(result.text.split())
    assert chunks >= 2000
    # One display, then at most one update per interval while streaming, then the final one.
    budget = result.latency / 0.1 + 2
    assert updates <= budget, f"{updates} updates for {chunks} chunks in {result.latency:.2f}s"
    final = out.outputs[-1].data
    assert words in final["text/plain"] and words in final["text/markdown"]
    assert final["text/plain"].rstrip().endswith(result.to_text().rsplit("\n", 1)[-1])


def test_first_piece_is_shown_at_once(ip: InteractiveShell) -> None:
    with capture_output() as out:
        cell(ip, "fixed", "hello")
    first = out.outputs[0]
    assert not first.update and first.data["text/plain"].strip()


def test_terminal_mode_writes_plain_chunks_to_stdout(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", "OrqMagics.display_mode = 'terminal'")
    with capture_output() as out:
        result = cell(ip, "fixed", "hello")
    assert "The answer is **42**." in out.stdout
    assert not out.outputs
    assert result.text == "The answer is **42**."


def test_interrupt_keeps_the_partial_answer_and_closes_the_connection(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orq_notebook.display import _stream_view as _display

    seen: list[str] = []
    original = _display.StreamView.append

    def append_then_interrupt(self: Any, piece: str) -> None:
        original(self, piece)
        seen.append(piece)
        if len(seen) == 5:  # Ctrl-C arrives while the stream is being read
            raise KeyboardInterrupt

    monkeypatch.setattr(_display.StreamView, "append", append_then_interrupt)
    words = " ".join(f"word{i}" for i in range(200))
    with capture_output() as out:
        message = usage_error(ip, "slow", words)
    assert message.startswith("Stopped after") and "(%orq last)" in message
    partial = line(ip, "last")
    assert partial.partial and partial.text == "".join(seen) and partial.status == "stopped"
    assert "".join(seen) in out.outputs[-1].data["text/plain"]
    pool = ip.magics_manager.registry["OrqMagics"].session.client._http._transport._pool
    assert all(c.is_idle() or c.is_closed() for c in pool.connections)
    assert not pool._requests, "no request is still in flight"
    # The next cell works.
    with capture_output():
        assert cell(ip, "fixed --no-stream", "again").text == "The answer is **42**."


def test_a_streamed_answer_is_the_cell_value_without_being_shown_twice(
    ip: InteractiveShell,
) -> None:
    with capture_output() as out:
        ip.run_cell("%%orq fixed\nhello", store_history=True)
    result = ip.user_ns["_"]
    assert isinstance(result, Result) and result.text == "The answer is **42**."
    # A kernel sends no execute_result at all; this plain shell prints only its "Out[n]:" prompt.
    assert "42" not in out.stdout
    ids, _ = _updates(out.outputs)
    assert len(ids) == 1
    # Shown in full whenever it is displayed again.
    with capture_output() as again:
        ip.run_cell("_", store_history=True)
    assert "The answer is **42**." in again.stdout
