"""The batch progress bar (`orq_notebook.display._progress`): its end says what happened.

Unit tests drive the bar with a recording display; one test runs a batch with failing rows in
a real kernel and reads what the frontend was sent: the widget's colour and the final text of
the output a saved notebook keeps.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from orq_notebook.display._progress import ProgressBar, outcome_style, outcome_text

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Recorder:
    """A fake `IPython.display.display` that keeps every bundle shown or updated."""

    def __init__(self) -> None:
        self.bundles: list[dict[str, Any]] = []

    def __call__(self, data: dict[str, Any], *, raw: bool, display_id: bool) -> Recorder:
        assert raw and display_id
        self.bundles.append(data)
        return self

    def update(self, data: dict[str, Any], *, raw: bool) -> None:
        assert raw
        self.bundles.append(data)


def test_outcome_words_and_colours() -> None:
    assert outcome_text(26, 4, total=30, interrupted=False) == "26 ok, 4 failed"
    assert outcome_text(12, 0, total=30, interrupted=True) == (
        "interrupted: 12 ok, 0 failed, 18 stopped"
    )
    assert outcome_style(30, 0, interrupted=False) == "ok"
    assert outcome_style(26, 4, interrupted=False) == "some failed"
    assert outcome_style(0, 30, interrupted=False) == "failed"
    assert outcome_style(30, 0, interrupted=True) == "failed"


def test_a_finished_bar_with_failures_is_orange_and_says_how_many() -> None:
    shown = Recorder()
    bar = ProgressBar(total=30, desc="translate", display=shown, notebook=True)
    assert "0/30" in shown.bundles[0]["text/plain"] and WIDGET_VIEW in shown.bundles[0]
    for _ in range(30):
        bar.update(1)
    bar.finish(ok=26, failed=4, interrupted=False)

    assert bar.bar.container.children[1].bar_style == "warning"  # not tqdm's green
    final = shown.bundles[-1]
    # The widget gives way to a static bar: what a saved or exported notebook shows.
    assert set(final) == {"text/plain", "text/html"}
    assert "30/30" in final["text/plain"] and "26 ok, 4 failed" in final["text/plain"]
    assert "translate: 100%" in final["text/html"]
    assert "30/30 rows · 26 ok, 4 failed" in final["text/html"]
    assert "var(--jp-warn-color1" in final["text/html"]
    bar.finish(ok=26, failed=4, interrupted=False)  # once only
    assert len(shown.bundles) == 2


def test_an_interrupted_bar_is_red_and_a_clean_one_green() -> None:
    shown = Recorder()
    bar = ProgressBar(total=30, desc="k", display=shown, notebook=True)
    bar.update(12)
    bar.finish(ok=12, failed=0, interrupted=True)
    assert bar.bar.container.children[1].bar_style == "danger"
    assert "12/30 rows · interrupted: 12 ok, 0 failed, 18 stopped" in shown.bundles[-1]["text/html"]

    clean = ProgressBar(total=2, desc="k", display=Recorder(), notebook=True)
    clean.update(2)
    clean.finish(ok=2, failed=0, interrupted=False)
    assert clean.bar.container.children[1].bar_style == "success"


def test_in_a_terminal_the_text_bar_ends_with_the_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bar = ProgressBar(total=3, desc="k", notebook=False)
    bar.update(3)
    bar.finish(ok=2, failed=1, interrupted=False)
    err = capsys.readouterr().err
    assert "3/3" in err.splitlines()[-1] or "3/3" in err.split("\r")[-1]
    assert "2 ok, 1 failed" in err.split("\r")[-1]


KERNEL_CELL = """
import sys
assert sys.prefix == {prefix!r}, sys.prefix
from orq_notebook import Client
from orq_notebook.batch._api import run_batch
from orq_notebook.local import LocalServer

server = LocalServer({path!r}).start()
client = Client(base_url=server.base_url, api_key="test")
rows = [{{"q": "x"}} if i % 5 else {{}} for i in range(10)]   # every fifth row fails (422)
result = run_batch("echo", rows, concurrency=2, client=client)
server.stop()
"""

DEPLOYMENTS = """
strict_variables: true   # an open {{q}} is a 422, so some rows fail (orq.ai would send it blank)
deployments:
  - key: echo
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages: [{role: system, content: "Q: {{q}}"}]
    responder: echo
"""


@pytest.mark.notebook
def test_in_a_kernel_the_saved_bar_says_what_happened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .kernels import start_kernel

    path = tmp_path / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    km, kc = start_kernel(tmp_path, monkeypatch)
    shown: dict[str, dict[str, Any]] = {}  # display id -> the last bundle sent for it
    styles: list[str] = []
    try:
        msg_id = kc.execute(KERNEL_CELL.format(prefix=sys.prefix, path=str(path)))
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("display_data", "update_display_data"):
                shown[content["transient"]["display_id"]] = content["data"]
            elif kind == "comm_msg":
                state = content["data"].get("state", {})
                if "bar_style" in state:
                    styles.append(state["bar_style"])
            elif kind == "error":
                pytest.fail("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    assert len(shown) == 1, shown  # one bar, updated in place
    (final,) = shown.values()
    assert WIDGET_VIEW not in final  # the saved notebook keeps a bar that needs no kernel
    assert "10/10" in final["text/plain"] and "8 ok, 2 failed" in final["text/plain"]
    assert "100%" in final["text/plain"] and "█" in final["text/plain"]
    assert "10/10 rows · 8 ok, 2 failed" in final["text/html"]
    assert styles[-1] == "warning", styles  # what the live widget was told last


@pytest.mark.notebook
def test_an_exported_notebook_shows_the_finished_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executed headless (nbclient) and exported to HTML (nbconvert), as a reader gets it."""
    import re

    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    from .kernels import checkout_on_path, kernel_name

    (tmp_path / "deployments.yaml").write_text(DEPLOYMENTS, encoding="utf-8")
    checkout_on_path(monkeypatch)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(
        nbformat.v4.new_code_cell(KERNEL_CELL.format(prefix=sys.prefix, path="deployments.yaml"))
    )
    NotebookClient(
        nb,
        timeout=60,
        kernel_name=kernel_name(tmp_path, monkeypatch),
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)

    assert "10/10 rows · 8 ok, 2 failed" in html
    assert "model not found" not in html
    (bar,) = [o for o in nb.cells[0].outputs if o.output_type == "display_data"]
    assert WIDGET_VIEW not in bar.data
    assert "10/10" in bar.data["text/plain"] and "8 ok, 2 failed" in bar.data["text/plain"]
    shown = bar.data["text/plain"] + bar.data["text/html"]
    assert not re.search(r"(?<!\d)0/10|\b0%", shown)  # never the bar's first state
