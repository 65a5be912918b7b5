"""Terminal IPython, typed into through a pseudo-terminal (pexpect), as a person uses it.

A real `ipython` process of this venv, in a temporary IPYTHONDIR, against a local server the
extension starts from a deployments file: the `?` at the end of a message, errors printed
once (not a warning line and then the same UsageError), Ctrl-C in a stream, and the widgets'
commands saying they need a notebook. (Issue 16, points 2, 5, 11.)
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(120)]

WORDS = " ".join(f"word{i}" for i in range(300))
DEPLOYMENTS = f"""\
deployments:
  - key: echo-bot
    variables: {{company: Acme}}
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      messages: [{{role: system, content: "You answer for {{{{company}}}}."}}]
    responder: echo
  - key: slow
    prompt_config: {{provider: openai, model: gpt-4o-mini, messages: []}}
    responder: {{mock: "{WORDS}"}}
    stream_delay_ms: 40
"""

PROMPT = re.compile(r"In \[(\d+)\]: ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def ipython(tmp_path: Path) -> Iterator[pexpect.spawn]:
    (tmp_path / "d.yaml").write_text(DEPLOYMENTS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORQ_", "JUPYTER"))}
    env.update(IPYTHONDIR=str(tmp_path / "ipython"), TERM="dumb", PYTHONUNBUFFERED="1")
    child = pexpect.spawn(
        str(Path(sys.executable).parent / "ipython"),
        ["--simple-prompt", "--no-banner", "--colors=NoColor", "--no-confirm-exit"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    try:
        child.expect(PROMPT)
        run(child, "%load_ext orq_notebook")
        assert "local server" in run(child, "%orq connect --local d.yaml")
        yield child
    finally:
        child.sendline("exit")
        child.expect(pexpect.EOF, timeout=20)
        child.close()


def run(child: pexpect.spawn, text: str) -> str:
    """Type `text` (lines), press Enter (twice for a cell magic); what it printed."""
    for line in text.splitlines():
        child.sendline(line)
    if text.startswith("%%"):
        child.sendline("")  # two empty lines end a cell magic at the simple prompt
        child.sendline("")
    child.expect(PROMPT)
    return ANSI.sub("", child.before).replace("\r", "")


def test_a_message_ending_with_a_question_mark_is_sent(ipython: pexpect.spawn) -> None:
    out = run(ipython, "%orq invoke echo-bot --no-stream Can I return shoes?")
    assert "user: Can I return shoes?" in out, out
    assert "not found" not in out


def test_an_error_is_printed_once(ipython: pexpect.spawn) -> None:
    out = run(ipython, "%%orq echo-bto\nhi")
    assert out.count("was not found") == 1, out
    assert "Did you mean: echo-bot?" in out and "UsageError" in out
    assert "⚠" not in out  # no warning line repeating the error above it


def test_ctrl_c_stops_a_stream_once_and_keeps_the_text(ipython: pexpect.spawn) -> None:
    ipython.sendline("%%orq slow")
    ipython.sendline("Tell me everything.")
    ipython.sendline("")
    ipython.sendline("")
    ipython.expect("word5 ")
    ipython.sendintr()
    ipython.expect(PROMPT)
    out = ANSI.sub("", ipython.before)
    assert out.count("Stopped after") == 1 and out.count("stopped") <= 1, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    run(ipython, "r = %orq last")
    last = run(ipython, "print(r.status, len(r.text.split()))")
    assert re.search(r"stopped \d+", last), last


def test_widgets_say_they_need_a_notebook(ipython: pexpect.spawn) -> None:
    out = run(ipython, "%orq playground echo-bot")
    assert "needs a notebook frontend" in out and "%%orq KEY" in out, out
