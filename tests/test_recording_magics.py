"""`%orq connect --record / --replay` in a real IPython shell: the options, their one-line
mistakes, and the CI mode (`ORQ_RECORD_MODE=none` turns `--record FILE` into a replay)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.local import LocalServer
from orq_notebook.notebook import _session
from tests.shells import orq_shell

DEPLOYMENTS = Path(__file__).parent / "fixtures" / "deployments.yaml"


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    with orq_shell(display_mode="terminal") as shell:
        yield shell


def orq(ip: InteractiveShell, text: str, body: str | None = None) -> tuple[object, str]:
    with capture_output() as out:
        value = (
            ip.run_line_magic("orq", text) if body is None else ip.run_cell_magic("orq", text, body)
        )
    return value, out.stdout


def mistake(ip: InteractiveShell, text: str) -> str:
    with pytest.raises(UsageError) as info, capture_output():
        ip.run_line_magic("orq", text)
    message = str(info.value)
    assert "\n" not in message.strip(), message
    return message


def test_connect_help_names_the_recording_options(ip: InteractiveShell) -> None:
    _, shown = orq(ip, "connect --help")
    for option in ("--record FILE", "--replay RECORDING", "--new-episodes", "--redact", "--pace"):
        assert option in shown, option


def test_mistakes_are_one_line_and_leave_the_session_as_it_was(
    ip: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalServer(DEPLOYMENTS) as server:
        orq(ip, f"connect --url {server.base_url}")
        before = _session.current_session().connection
        assert "--new-episodes and --redact go with --record" in mistake(
            ip, "connect --new-episodes"
        )
        assert "--pace goes with --replay" in mistake(ip, "connect --pace")
        assert "do not go together" in mistake(ip, f"connect --record {tmp_path}/a --replay b")
        assert "not allowed with argument --local" in mistake(ip, "connect --local x --replay y")
        missing = mistake(ip, f"connect --replay {tmp_path}/none.jsonl")
        assert missing.startswith("There is no recording at") and "none.jsonl" in missing
        broken = tmp_path / "broken.jsonl"
        broken.write_text("not json\n", encoding="utf-8")
        assert "broken.jsonl, line 1: not a recorded exchange" in mistake(
            ip, f"connect --replay {broken}"
        )
        monkeypatch.setenv("OPENAI_API_KEY", "sk-something-long-enough")
        typo = mistake(ip, f"connect --url {server.base_url} --record x.jsonl --redact OPENAI_KEY")
        assert "no environment variable OPENAI_KEY" in typo and "OPENAI_API_KEY" in typo
        assert _session.current_session().connection is before
        assert not (tmp_path / "x.jsonl").exists()


def test_ci_mode_turns_record_into_a_replay_with_no_key(
    ip: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ci.jsonl"
    with LocalServer(DEPLOYMENTS) as server:
        _, said = orq(ip, f"connect --url {server.base_url} --record {path}")
        assert f"Recording every exchange to {path} (mode rewrite)." in said
        live, _ = orq(ip, "invoke fixed --no-stream Hello")
        streamed, _ = orq(ip, "fixed", "Hello again")
    lines = path.read_text(encoding="utf-8").splitlines()
    # The magic's look at the deployment's variables (list, get_config) is recorded too.
    ops = [json.loads(x)["operation"] for x in lines[1:]]
    assert ops == ["list", "get_config", "invoke", "stream"]

    # In CI: no key, no network, and the notebook's own line replays.
    monkeypatch.setenv("ORQ_RECORD_MODE", "none")
    _, said = orq(ip, f"connect --record {path}")
    assert "no API key is needed" in said and "nothing is sent" in said, said
    again, _ = orq(ip, "invoke fixed --no-stream Hello")
    again_streamed, _ = orq(ip, "fixed", "Hello again")
    assert (again.id, again.text) == (live.id, live.text)  # type: ignore[attr-defined]
    assert (again_streamed.id, again_streamed.text) == (  # type: ignore[attr-defined]
        streamed.id,  # type: ignore[attr-defined]
        streamed.text,  # type: ignore[attr-defined]
    )
    message = mistake(ip, "invoke fixed --no-stream Goodbye")
    assert "invoke of 'fixed'" in message and "messages[0].content differs" in message
    assert "Did you mean" not in message
    assert path.read_text(encoding="utf-8").splitlines() == lines  # nothing was added
