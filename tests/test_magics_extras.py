"""`--image`, `--file` and `%orq feedback` through a real InteractiveShell and the live local
server; `GET /v2/feedback` (the local server's own window) shows what arrived."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook import Client
from orq_notebook.display._result import Result
from orq_notebook.local import LocalServer
from orq_notebook.notebook import _session
from tests.images import PNG, bar_chart
from tests.shells import orq_shell

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(FIXTURES / "magics.yaml") as srv:
        yield srv


@pytest.fixture
def ip(server: LocalServer) -> Iterator[InteractiveShell]:
    with orq_shell(url=server.base_url) as shell:
        yield shell


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    path = tmp_path / "chart.png"
    path.write_bytes(bar_chart())
    return path


def feedback_on(server: LocalServer, trace_id: str | None) -> list[tuple[str, Any]]:
    answer = httpx.get(f"{server.base_url}/v2/feedback", params={"trace_id": trace_id}, timeout=10)
    return [(f["property"], f["value"]) for f in answer.json()["data"]]


def error_of(ip: InteractiveShell, header: str, body: str | None = None) -> str:
    with pytest.raises(UsageError) as info:
        if body is None:
            ip.run_line_magic("orq", header)
        else:
            ip.run_cell_magic("orq", header, body)
    message = str(info.value)
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    return message


# -- images --------------------------------------------------------------------------------------


def test_images_go_after_the_text_and_show_as_thumbnails(ip: InteractiveShell, chart: Path) -> None:
    with capture_output():
        res: Result = ip.run_cell_magic(
            "orq", f"echo-bot --no-stream --image {chart} --image https://e.com/b.png", "Compare"
        )
    size = len(bar_chart())
    assert (
        f"user: Compare [image: image/png, {size} bytes inline] [image: https://e.com/b.png]"
        in (res.text)
    )
    content = res.messages[-2]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "image_url"]
    markdown = res.to_markdown()
    assert markdown.index('<img src="data:image/png;base64,') < markdown.index("Compare")
    assert '<img src="https://e.com/b.png" alt="sent image 2"' in markdown
    assert res.sent.to_text() == (  # what the notebook sent; the prompt is the deployment's
        f"user: Compare [image: image/png, {size / 1024:.1f} KB] [image: https://e.com/b.png]"
    )
    assert res.to_text().startswith(f"[sent image: image/png, {size / 1024:.1f} KB]")


def test_model_html_stays_text_next_to_user_images(ip: InteractiveShell, chart: Path) -> None:
    attack = "<img src=x onerror=alert(1)> ![i](javascript:alert(2))"
    with capture_output():
        res = ip.run_cell_magic(
            "orq", f"echo-bot --no-stream --image {chart} --mock '{attack}'", "Hi"
        )
    markdown, html = res.to_markdown(), res.to_html()
    for shown in (markdown, html):
        assert shown.count("<img ") == 1 and shown.startswith(('<img src="data:', "<div"))
        assert "<img src=x" not in shown
        assert "&lt;img src=x onerror=alert(1)" in shown
    assert "](javascript:" not in markdown  # a Markdown link the model wrote stays text


def test_a_bad_image_is_refused_before_anything_is_sent(
    ip: InteractiveShell, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("plain text", encoding="utf-8")
    session = _session.current_session()
    before = len(session.history)
    message = error_of(ip, f"echo-bot --image {notes}", "Hi")
    assert message == (
        f"Cannot send the image {str(notes)!r}: it is not an image of a kind models take; "
        "orq takes PNG, JPEG, GIF or WEBP."
    )
    assert "no such file" in error_of(ip, "echo-bot --image missing.png", "Hi")
    big = tmp_path / "big.png"
    big.write_bytes(PNG + bytes(6 * 1024 * 1024))
    assert "it is 6.0 MB, and at most 5.0 MB can be sent" in error_of(
        ip, f"echo-bot --image {big}", "Hi"
    )
    assert len(session.history) == before


# -- files -------------------------------------------------------------------------------------


def test_files_are_uploaded_and_sent_as_file_ids(
    ip: InteractiveShell, server: LocalServer, tmp_path: Path
) -> None:
    notes, faq = tmp_path / "notes.md", tmp_path / "faq.txt"
    notes.write_text("# Notes", encoding="utf-8")
    faq.write_text("30 days", encoding="utf-8")
    with capture_output():
        res = ip.run_cell_magic(
            "orq", f"echo-bot --no-stream --file {notes} --file {faq} --file-ids file_given", "Hi"
        )
    ids = res.text.rsplit("(file_ids: ", 1)[1].rstrip(")").split(", ")
    assert ids[0] == "file_given" and len(ids) == 3
    with Client(base_url=server.base_url) as client:
        assert [client.files.get(i).file_name for i in ids[1:]] == ["notes.md", "faq.txt"]
        count = len(client.files.list(limit=200).data)
        # One missing file: nothing is uploaded, nothing is invoked.
        assert "no such file" in error_of(ip, f"echo-bot --file {notes} --file nope.pdf", "Hi")
        assert len(client.files.list(limit=200).data) == count


# -- feedback ------------------------------------------------------------------------------------


def test_feedback_on_the_last_result(ip: InteractiveShell, server: LocalServer) -> None:
    assert "Nothing has been invoked" in error_of(ip, "feedback good")
    with capture_output():
        res = ip.run_cell_magic("orq", "fixed", "How much?")
    with capture_output() as out:
        ip.run_line_magic("orq", 'feedback good --comment "Right, and short."')
    assert out.stdout == f"Feedback sent on fixed (trace {res.trace_id}): 👍 good and a comment.\n"
    assert feedback_on(server, res.trace_id) == [
        ("rating", ["good"]),
        ("correction", "Right, and short."),
    ]
    with capture_output():
        ip.run_line_magic("orq", "feedback bad")  # replaces the rating: same feedback id
    assert feedback_on(server, res.trace_id) == [
        ("correction", "Right, and short."),
        ("rating", ["bad"]),
    ]
    with capture_output() as out:
        ip.run_line_magic("orq", "feedback --undo")
    assert "rating, correction" in out.stdout
    assert feedback_on(server, res.trace_id) == []
    assert "No feedback was sent" in error_of(ip, "feedback --undo")
    assert "invalid choice: 'meh'" in error_of(ip, "feedback meh")
    assert "Say good or bad" in error_of(ip, "feedback")


def test_result_feedback_from_python_and_its_secret_stays_home(
    serve_deployments: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve_deployments(
        "deployments: [{key: a, prompt_config: {model: m}, responder: {mock: Hi}}]",
        api_key="canary-key-42",
    )
    monkeypatch.setenv("ORQ_API_KEY", "canary-key-42")
    shell = InteractiveShell.instance()
    _session.set_session(_session.Session())
    shell.run_line_magic("load_ext", "orq_notebook")
    try:
        with capture_output():
            shell.run_line_magic("orq", f"connect --url {server.base_url}")
            res = shell.run_line_magic("orq", "invoke a --no-stream Hello")
        record = res.feedback("defects", "repetition")
        assert (record.property, record.value) == ("defects", ["repetition"])
        with httpx.Client(headers={"Authorization": "Bearer canary-key-42"}) as http:
            stored = http.get(f"{server.base_url}/v2/feedback").json()["data"]
        assert [(f["property"], f["trace_id"]) for f in stored] == [("defects", res.trace_id)]
        copy = pickle.loads(pickle.dumps(res))
        assert b"canary-key-42" not in pickle.dumps(res)
        assert "sk-secret" not in repr(res._feedback_sender) + repr(res)
        with pytest.raises(Exception, match="not connected to a server"):
            copy.feedback("rating", "good")
    finally:
        shell.run_line_magic("unload_ext", "orq_notebook")
        _session.set_session(None)


def test_a_result_without_a_trace_cannot_take_feedback() -> None:
    from orq_notebook.display._feedback import NoFeedbackError

    with pytest.raises(NoFeedbackError, match="no trace id"):
        Result("text", deployment="x").feedback("rating", "good")
