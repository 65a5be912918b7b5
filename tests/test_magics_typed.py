"""The magics as a person types them: whole cells through IPython's `run_cell`.

`run_cell` goes through everything IPython does to typed input (its input transformers, the
`?` help syntax, the magic-line escapes), which calling `run_line_magic` skips. The shell is
a real `InteractiveShell`, the server the real local server. (Issue 16, points 2-8, 11, 15.)
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.display._result import Result
from orq_notebook.local import LocalServer
from orq_notebook.notebook import _session
from tests.shells import orq_shell

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(FIXTURES / "magics.yaml") as srv:
        yield srv


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    with orq_shell(display_mode="notebook", scratch="t_") as shell:
        yield shell


@pytest.fixture
def connected(ip: InteractiveShell, server: LocalServer) -> InteractiveShell:
    typed(ip, f"%orq connect --url {server.base_url}")
    return ip


def typed(ip: InteractiveShell, cell: str) -> tuple[ExecutionResult, Any]:
    """Run `cell` as if typed; (the execution result, what was captured)."""
    with capture_output() as out:
        result = ip.run_cell(cell, store_history=True)
    return result, out


def error_of(result: ExecutionResult) -> str:
    error = result.error_in_exec or result.error_before_exec
    assert error is not None, "the cell did not fail"
    text = str(error)
    assert "\n" not in text.strip(), f"not one line: {text!r}"
    return text


def sent_user_message(result: Any) -> str:
    assert isinstance(result, Result), result
    return [m for m in result.messages if m["role"] == "user"][-1]["content"]


# -- the line is the message ------------------------------------------------------------------


def test_a_question_mark_ends_the_message_not_a_help_request(connected: InteractiveShell) -> None:
    result, out = typed(connected, "%orq invoke echo-bot --no-stream Can I return shoes?")
    assert result.success, result
    assert "not found" not in out.stdout  # IPython's "Object `shoes` not found."
    assert sent_user_message(result.result) == "Can I return shoes?"
    # Assigned, indented, and the `??` form alike.
    result, _ = typed(connected, "t_res = %orq invoke echo-bot --no-stream Really??")
    assert sent_user_message(connected.user_ns["t_res"]) == "Really??"
    result, _ = typed(connected, "if True:\n    %orq invoke echo-bot --no-stream Is it?")
    assert result.success, result


def test_help_on_the_magic_itself_still_works(ip: InteractiveShell) -> None:
    result, out = typed(ip, "%orq?")
    assert result.success
    assert "Work with orq.ai prompt deployments" in out.stdout


def test_apostrophes_and_quotes_in_the_message_are_prose(connected: InteractiveShell) -> None:
    result, _ = typed(connected, '%orq invoke echo-bot --no-stream it\'s fine, "really"')
    assert result.success, result
    assert sent_user_message(result.result) == 'it\'s fine, "really"'
    # Options come first; a quoted one-word message loses its quotes; `--` ends the options.
    result, _ = typed(connected, "%orq invoke echo-bot --var company=Initech --no-stream 'Hi'")
    assert sent_user_message(result.result) == "Hi" and "Initech" in result.result.text
    result, _ = typed(connected, "%orq invoke echo-bot --no-stream -- --var is a word here")
    assert sent_user_message(result.result) == "--var is a word here"


# -- connect ----------------------------------------------------------------------------------


@contextlib.contextmanager
def not_an_api() -> Iterator[str]:
    """A local HTTP server that answers 404 to everything; yields its URL."""
    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the name http.server calls
        self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


def test_status_before_any_connect_says_not_connected(ip: InteractiveShell) -> None:
    result, out = typed(ip, "%orq status")
    assert result.success and out.stdout.startswith("Not connected yet"), out.stdout


def test_a_failed_connect_leaves_the_session_as_it_was(
    connected: InteractiveShell, server: LocalServer, tmp_path: Path
) -> None:
    before = _session.current_session().connection
    with not_an_api() as other:  # a web server, but not the orq API (404 everywhere)
        for line, says in [
            ("%orq connect --url http://127.0.0.1:9", "Could not reach http://127.0.0.1:9"),
            ("%orq connect --url http://[::1", "not a valid URL"),
            (f"%orq connect --url {other}", "does not serve the orq Deployments API"),
            ("%orq connect --local /nonexistent/d.yaml", "does not exist"),
        ]:
            result, _ = typed(connected, line)
            assert says in error_of(result), line
            assert _session.current_session().connection is before, line
    result, out = typed(connected, "%orq status")
    assert server.base_url in out.stdout
    result, _ = typed(connected, "%orq list")
    assert result.success


def test_connect_without_a_key_and_without_a_terminal_is_one_line(
    connected: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass
    import warnings

    def no_terminal(prompt: str = "") -> str:
        warnings.warn("Can not control echo on the terminal.", getpass.GetPassWarning, 2)
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", no_terminal)
    before = _session.current_session().connection
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result, out = typed(connected, "%orq connect")
    assert "No API key" in error_of(result) and "unchanged" in error_of(result)
    assert not [w for w in caught if issubclass(w.category, getpass.GetPassWarning)]
    assert "GetPassWarning" not in out.stderr
    assert _session.current_session().connection is before


# -- one word per outcome ---------------------------------------------------------------------


def test_history_and_last_say_ok_failed_or_stopped(
    connected: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orq_notebook.display import _stream_view

    typed(connected, "%orq invoke fixed --no-stream hello")
    typed(connected, "%orq invoke nope --no-stream hello")  # fails before anything is recorded
    original = _stream_view.StreamView.append
    count = [0]

    def interrupt_after_two(self: Any, piece: str) -> None:
        original(self, piece)
        count[0] += 1
        if count[0] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(_stream_view.StreamView, "append", interrupt_after_two)
    result, _ = typed(connected, "%%orq slow\n" + " ".join(f"w{i}" for i in range(50)))
    assert error_of(result).startswith("Stopped after")
    monkeypatch.undo()
    history = _session.current_session().history
    assert [e.status for e in history] == ["ok", "stopped"]
    assert [row["status"] for row in (e.row() for e in history)] == ["ok", "stopped"]
    last = _session.current_session().last
    assert last is not None and last.status == "stopped"
    assert "⚠ stopped" in last.to_text() and "failed" not in last.to_text()


def test_an_interrupted_no_stream_call_is_one_line(
    connected: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = _session.current_session()

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(session.client.deployments, "invoke", interrupted)
    result, out = typed(connected, "%orq invoke fixed --no-stream hello")
    assert error_of(result).startswith("Stopped before the answer arrived")
    assert "Traceback" not in out.stdout + out.stderr
    assert session.last is not None and session.last.status == "stopped"


# -- versions ---------------------------------------------------------------------------------


def test_the_version_is_known_without_listing_first(connected: InteractiveShell) -> None:
    result, _ = typed(connected, "%orq invoke fixed --no-stream hello")
    assert result.result.version is not None, "Result.version depends on %orq list"
    assert result.result.version in result.result.to_markdown()
    streamed, _ = typed(connected, "%%orq echo-bot\nhello")
    assert streamed.result.version == result.result.version or streamed.result.version


# -- bad input, one line each -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ("%orq invoke fixed -o '1 bad' hi", "-o takes a Python variable name"),
        ("%orq invoke fixed -o class hi", "-o takes a Python variable name"),
        ("%orq invoke fixed --messages '[1, 2]' hi", "item 1 is int"),
        ("%orq invoke fixed --messages '[\"hello\"]' hi", "item 1 is 'hello'"),
        ("%orq invoke echo-bot --var company=a --var company=b hi", "more than once"),
        (
            '%orq invoke echo-bot --inputs \'{"company": "a"}\' --var company=b hi',
            "both --var and --inputs",
        ),
        ("%orq list --refresh", "unrecognized arguments: --refresh"),
        ("%orq batch fixed --from t_rows -o '1 bad'", "-o takes a Python variable name"),
    ],
)
def test_bad_input_is_one_line_and_sends_nothing(
    connected: InteractiveShell, cell: str, says: str
) -> None:
    connected.user_ns["t_rows"] = [{"q": 1}]
    result, _ = typed(connected, cell)
    assert says in error_of(result)


def test_batch_help_shows_the_concurrency_default(ip: InteractiveShell) -> None:
    _, out = typed(ip, "%orq batch --help")
    assert "(default: 8)" in out.stdout


def test_a_batch_with_an_unknown_deployment_fails_up_front(connected: InteractiveShell) -> None:
    connected.user_ns["t_rows"] = [{"company": "A"}, {"company": "B"}, {"company": "C"}]
    result, out = typed(connected, "%orq batch ech-bot --from t_rows -o t_batch")
    message = error_of(result)
    assert "'ech-bot' was not found" in message and "Did you mean: echo-bot?" in message
    assert "t_batch" not in connected.user_ns  # no result of three identical failures
    result, _ = typed(connected, "t_batch = %orq batch echo-bot --from t_rows")
    assert result.success and connected.user_ns["t_batch"].counts()["ok"] == 3


def test_widgets_in_a_terminal_say_they_need_a_notebook(connected: InteractiveShell) -> None:
    connected.run_line_magic("config", "OrqMagics.display_mode = 'terminal'")
    for line in ("%orq playground fixed", "%orq compare fixed echo-bot"):
        result, _ = typed(connected, line)
        message = error_of(result)
        assert "needs a notebook frontend" in message and "%%orq KEY" in message
