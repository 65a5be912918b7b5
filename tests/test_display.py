"""Tests of orq_notebook.display._stream_view: one display handle, coalesced updates, errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orq_notebook.client._exceptions import NotFoundError, RateLimitError, StreamError
from orq_notebook.display._errors import error_line, render_error
from orq_notebook.display._result import Result
from orq_notebook.display._stream_view import StreamView, TextStreamView, is_notebook, make_view
from orq_notebook.display._theme import MUTED_SMALL as SMALL


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Shown:
    display_id: int
    update: bool
    obj: Any

    @property
    def bundle(self) -> dict[str, str]:
        data = self.obj._repr_mimebundle_()
        bundle: dict[str, str] = data[0] if isinstance(data, tuple) else data
        return bundle


@dataclass
class Recorder:
    """A fake `IPython.display.display`: records what would reach the frontend."""

    shown: list[Shown] = field(default_factory=list)
    ids: int = 0

    def __call__(self, obj: Any, *, display_id: bool) -> Handle:
        assert display_id is True
        self.ids += 1
        self.shown.append(Shown(self.ids, False, obj))
        return Handle(self, self.ids)


@dataclass
class Handle:
    recorder: Recorder
    display_id: int

    def update(self, obj: Any) -> None:
        self.recorder.shown.append(Shown(self.display_id, True, obj))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _view(recorder: Recorder, clock: Clock, **kwargs: Any) -> StreamView:
    return StreamView(recorder, clock=clock, **kwargs)


# ---------------------------------------------------------------------------------------------
# StreamView


def test_first_piece_is_shown_at_once(recorder: Recorder) -> None:
    view = _view(recorder, Clock())
    assert recorder.shown == []
    view.append("Hel")
    assert len(recorder.shown) == 1 and view.updates == 1
    first = recorder.shown[0]
    assert not first.update
    assert first.bundle["text/plain"] == "Hel\n── streaming…"
    assert first.bundle["text/markdown"] == f"Hel\n\n{SMALL}streaming…</small>"
    assert set(first.bundle) == {"text/plain", "text/markdown"}


def test_pieces_are_coalesced_to_one_update_per_interval(recorder: Recorder) -> None:
    clock = Clock()
    view = _view(recorder, clock, interval=0.1)
    pieces = [f"w{i} " for i in range(2000)]
    for piece in pieces:  # 2,000 pieces over 0.5 s
        view.append(piece)
        clock.now += 0.5 / 2000
    result = Result("".join(pieces), deployment="d")
    view.finish(result)

    assert view.pieces == 2000
    assert view.updates == len(recorder.shown) <= 7
    assert {s.display_id for s in recorder.shown} == {1}
    assert [s.update for s in recorder.shown] == [False] + [True] * (len(recorder.shown) - 1)
    shown_texts = [s.obj.text for s in recorder.shown[:-1]]
    assert shown_texts == sorted(shown_texts, key=len)
    assert all(result.text.startswith(text) for text in shown_texts)
    assert recorder.shown[-1].obj is result


def test_no_update_between_intervals_then_one_when_due(recorder: Recorder) -> None:
    clock = Clock()
    view = _view(recorder, clock, interval=0.25)  # binary fractions: exact sums
    view.append("a")
    clock.now += 0.125
    view.append("b")
    assert view.updates == 1
    clock.now += 0.125
    view.append("c")
    assert view.updates == 2 and recorder.shown[-1].obj.text == "abc"


def test_finish_shows_the_whole_result_last(recorder: Recorder) -> None:
    clock = Clock()
    view = _view(recorder, clock)
    for piece in ["one ", "two ", "three"]:
        view.append(piece)  # the clock stands still: only the first piece is shown
    assert view.updates == 1
    result = Result("one two three", deployment="support-answer", model="m")
    view.finish(result)
    last = recorder.shown[-1]
    assert last.update and last.obj is result
    assert last.bundle["text/markdown"].startswith(f"one two three\n\n{SMALL}support-answer")
    assert "streaming" not in last.bundle["text/markdown"]
    assert view.closed and view.updates == 2


def test_finish_without_pieces_displays_the_result_once(recorder: Recorder) -> None:
    view = _view(recorder, Clock())
    result = Result("all at once", deployment="d")
    view.finish(result)
    assert [(s.update, s.obj) for s in recorder.shown] == [(False, result)]


def test_fail_keeps_the_partial_text_and_adds_an_error_line(recorder: Recorder) -> None:
    clock = Clock()
    view = _view(recorder, clock, label="support-answer")
    view.append("You can ")
    view.append("return <it>")
    view.fail("Connection dropped.")
    last = recorder.shown[-1]
    assert last.update and {s.display_id for s in recorder.shown} == {1}
    assert last.bundle["text/plain"] == (
        "You can return <it>\n── support-answer · ⚠ Connection dropped."
    )
    assert last.bundle["text/markdown"] == (
        "You can return &lt;it>\n\n**support-answer · ⚠ Connection dropped.**"
    )


def test_fail_with_explicit_partial_text(recorder: Recorder) -> None:
    view = _view(recorder, Clock())
    view.fail("Interrupted.", "what the stream had")
    assert recorder.shown[-1].bundle["text/plain"] == "what the stream had\n── ⚠ Interrupted."


def test_fail_before_anything_was_shown_displays_nothing(recorder: Recorder) -> None:
    view = _view(recorder, Clock())
    view.fail("404: no such deployment.")
    assert recorder.shown == [] and view.closed


def test_start_shows_a_waiting_line_that_the_end_replaces(recorder: Recorder) -> None:
    view = _view(recorder, Clock(), label="d")
    view.start()
    assert recorder.shown[0].bundle["text/plain"] == "── d · waiting…"
    view.fail("404: no such deployment.")
    assert recorder.shown[-1].update
    assert recorder.shown[-1].bundle["text/plain"] == "── d · ⚠ 404: no such deployment."


def test_streaming_markdown_closes_an_open_fence_before_the_marker(recorder: Recorder) -> None:
    view = _view(recorder, Clock())
    view.append("```python\nprint(1)")
    assert recorder.shown[0].bundle["text/markdown"] == (
        f"```python\nprint(1)\n```\n\n{SMALL}streaming…</small>"
    )


def test_empty_pieces_are_ignored_and_a_finished_view_refuses_more(recorder: Recorder) -> None:
    view = _view(recorder, Clock())
    view.append("")
    assert (view.pieces, view.updates) == (0, 0)
    view.append("x")
    view.flush()
    assert view.text == "x" and view.updates == 2
    view.finish(Result("x", deployment="d"))
    with pytest.raises(RuntimeError, match="finished"):
        view.append("more")
    with pytest.raises(RuntimeError):
        view.finish(Result("x", deployment="d"))


# ---------------------------------------------------------------------------------------------
# The real IPython display machinery


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    created = not InteractiveShell.initialized()
    if created:
        monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
        config = Config()
        config.HistoryManager.enabled = False
        InteractiveShell.instance(config=config)
    yield InteractiveShell.instance()
    if created:
        InteractiveShell.clear_instance()


def test_real_ipython_updates_share_one_display_id(shell: Any) -> None:
    from IPython.utils.capture import capture_output

    clock = Clock()
    pieces = [f"token{i} " for i in range(300)]
    result = Result("".join(pieces), deployment="support-answer", trace_id="abc123")
    with capture_output() as captured:
        view = StreamView(interval=0.1, clock=clock)
        for piece in pieces:
            view.append(piece)
            clock.now += 0.002  # 300 pieces over 0.6 s
        view.finish(result)

    outputs = captured.outputs
    assert len(outputs) == view.updates <= 9
    ids = {out.transient["display_id"] for out in outputs}
    assert len(ids) == 1 and None not in ids
    assert [out.update for out in outputs] == [False] + [True] * (len(outputs) - 1)
    final = outputs[-1]
    assert final.data["text/markdown"].startswith(result.text)
    assert final.data["text/plain"].startswith(result.text)
    assert final.metadata["orq_notebook"]["trace_id"] == "abc123"
    assert captured.stdout == ""


def test_display_modules_do_not_import_ipython() -> None:
    code = (
        "import sys, orq_notebook.display._stream_view, orq_notebook.display._result\n"
        "import orq_notebook.display._render\n"
        "assert 'IPython' not in sys.modules, 'IPython was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# TextStreamView and choosing a view


def test_text_view_writes_pieces_as_they_come() -> None:
    written: list[str] = []
    view = TextStreamView(written.append)
    view.start()
    for piece in ["Hel", "", "lo"]:
        view.append(piece)
    assert written == ["Hel", "lo"]
    view.finish(Result("Hello", deployment="d"))
    assert "".join(written) == "Hello\n" and view.pieces == 2 and view.updates == 3


def test_text_view_finish_without_pieces_writes_the_result() -> None:
    written: list[str] = []
    TextStreamView(written.append).finish(Result("all at once", deployment="d"))
    assert "".join(written) == "all at once\n"


def test_text_view_fail() -> None:
    written: list[str] = []
    view = TextStreamView(written.append)
    view.append("part")
    view.fail("Interrupted.", "partial")
    assert "".join(written) == "partial\n⚠ Interrupted.\n"
    written.clear()
    TextStreamView(written.append).fail("404.")
    assert "".join(written) == "⚠ 404.\n"


def test_is_notebook_and_make_view() -> None:
    class ZMQInteractiveShell:
        pass

    class ColabShell(ZMQInteractiveShell):
        pass

    class TerminalInteractiveShell:
        pass

    assert is_notebook(ColabShell()) and not is_notebook(TerminalInteractiveShell())
    assert isinstance(make_view(ZMQInteractiveShell(), interval=0.5), StreamView)
    assert isinstance(make_view(TerminalInteractiveShell()), TextStreamView)


# ---------------------------------------------------------------------------------------------
# Errors


def test_error_line_reads_plain_attributes() -> None:
    exc = NotFoundError("No deployment 'x'.", status_code=404, request_id="req_1")
    assert error_line(exc) == "NotFoundError (404): No deployment 'x'. · request id req_1"
    limited = RateLimitError("Too many requests.", retry_after=2.5)
    assert error_line(limited) == "RateLimitError (429): Too many requests. · retry after 2.5 s"
    assert error_line(StreamError("Dropped\n mid-way.")) == "StreamError: Dropped mid-way."
    assert error_line(ValueError()) == "ValueError"


def test_render_error_text_and_escaped_html() -> None:
    shown = render_error(NotFoundError("No deployment '<b>x</b>'.", status_code=404))
    assert shown.text == "⚠ No deployment '<b>x</b>'."  # explained as the magics do
    assert "<b>x</b>" not in shown.html and "&lt;b&gt;x&lt;/b&gt;" in shown.html
    assert set(shown._repr_mimebundle_()) == {"text/plain", "text/html"}
    assert set(shown._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}


def test_config_view_uses_the_theme_and_the_shared_table() -> None:
    from orq_notebook.client._models import DeploymentConfig
    from orq_notebook.display._config_view import ConfigView

    config = DeploymentConfig(
        id="d1",
        provider="openai",
        model="gpt-4o-mini",
        version="v1",
        parameters={"temperature": 0.3, "maxTokens": 512},
        messages=[{"role": "system", "content": "For {{company}}. Tier: {{tier}} <b>."}],
    )
    html = ConfigView("slow-support", config).to_html()
    assert "<mark class" not in html  # no unstyled <mark> (bright yellow in the dark theme)
    assert html.count("<mark style=") == 4  # two in "Unfilled variables", two in the prompt
    assert "var(--jp-layout-color2" in html and "var(--jp-content-font-color2" in html
    assert "text-align:left" in html and "background:none" in html  # the one table style
    assert "<code>0.3</code>" in html and "&lt;b&gt;" in html and "<b>.</b>" not in html


# -- one explanation for magics and widgets (issue 16, point 12) -------------------------------


def test_explain_a_422_names_the_fix_only_when_a_variable_is_missing() -> None:
    from orq_notebook.client._exceptions import UnprocessableEntityError
    from orq_notebook.display._errors import explain

    missing = UnprocessableEntityError("Missing value for {{topic}}.", status_code=422)
    assert explain(missing).endswith("Pass variables with --var NAME=VALUE or --inputs JSON.")
    assert explain(missing, surface="widget").endswith("Fill in its field.")
    params = UnprocessableEntityError("temperature must be at most 2.", status_code=422)
    line = explain(params)  # e.g. caused by --extra-params: nothing about --var
    assert line == "The server rejected the request (422): temperature must be at most 2."


def test_explain_appends_the_errors_own_hint_once() -> None:
    from orq_notebook.client._exceptions import APIError
    from orq_notebook.display._errors import explain

    exc = APIError("Quota exceeded.", status_code=402)  # its hint comes from the status
    hint = exc.hint
    assert hint and "out of quota" in hint
    assert explain(exc) == f"The server answered 402: Quota exceeded. {hint}"
    said = APIError(f"Quota exceeded. {hint}", status_code=402)  # the server said it already
    assert explain(said).count("out of quota") == 1


def test_did_you_mean_offers_a_few_keys_never_the_whole_list() -> None:
    from orq_notebook.display._errors import did_you_mean, explain

    keys = [f"support-answer-{n}" for n in range(100)] + ["summarize"]
    exc = NotFoundError(
        "Deployment with key 'support-answr-7' was not found. Known keys: " + ", ".join(keys) + ".",
        status_code=404,
    )
    exc.wanted_key = "support-answr-7"  # type: ignore[attr-defined]
    line = explain(exc, suggest=lambda wanted: did_you_mean(wanted, keys))
    assert "Known keys" not in line and line.count("support-answer-") <= 3, line
    assert line.startswith("Deployment with key 'support-answr-7' was not found. Did you mean:")
    assert did_you_mean("summarize", keys) == []  # itself is not a suggestion
