"""The widgets in a real kernel: a notebook is built, executed with nbclient, saved and read back.

Runs are started programmatically (`run()`, `await wait()`) on the kernel's own event loop, and
the saved file must hold each widget's static copy of its last results, because the live
widget state is not there for whoever opens the notebook later.

The backend is a fake defined in the notebook itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from .kernels import checkout_on_path, kernel_name

pytestmark = pytest.mark.notebook

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ROOT = Path(__file__).resolve().parents[1]

SETUP = f"""
import asyncio, sys
assert sys.prefix == {sys.prefix!r}, sys.prefix  # the project's venv is the kernel

from orq_notebook.widgets._compare import CompareWidget
from orq_notebook.client._exceptions import NotFoundError
from orq_notebook.client._models import Deployment, DeploymentConfig
from orq_notebook.display._result import Result
from orq_notebook.widgets._playground import PlaygroundWidget


def deployment(key, system):
    return Deployment(
        id="id-" + key, created="2024-05-01", updated="2024-05-01", key=key, version="v1",
        prompt_config={{"provider": "openai", "model": "gpt-4o-mini", "model_type": "chat",
                        "messages": [{{"role": "system", "content": system}}]}},
    )


class Backend:
    def __init__(self, pieces, hang_after=None):
        self.pieces, self.hang_after = pieces, hang_after
        self.hanging, self.cancelled = asyncio.Event(), []

    async def list_deployments(self):
        return [deployment("support", "Answer for {{{{company}}}}."),
                deployment("broken", "Answer {{{{company}}}}.")]

    async def get_config(self, key, *, inputs=None, context=None):
        return DeploymentConfig(id="c", provider="openai", model="gpt-4o-mini", version="v1",
                                parameters={{}},
                                messages=[{{"role": "system", "content": "Answer for Acme."}}])

    async def run(self, key, *, inputs, message, context, on_text):
        try:
            for n, piece in enumerate(self.pieces):
                if n == self.hang_after:
                    self.hanging.set()
                    await asyncio.Event().wait()
                await asyncio.sleep(0.01)
                on_text(piece)
            if key == "broken":
                raise NotFoundError("The model is gone.", status_code=404)
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        text = "".join(self.pieces)
        return Result(text, deployment=key, messages=[], model="gpt-4o-mini", provider="openai",
                      version="v1", trace_id="t-1", id="i-1", usage={{"total_tokens": 9}},
                      latency=0.1, time_to_first_token=0.01, finish_reason="stop",
                      retrievals=[], raw={{}})
"""

PLAYGROUND = """
pg = PlaygroundWidget(Backend(["Hello ", "from ", "the kernel"]), key="support")
pg
"""

PLAYGROUND_RUN = """
await pg.wait()
assert pg.variables == ["company"] and pg.fields["company"].placeholder == "default: Acme"
pg.run()
result = await pg.wait()
assert result.text == "Hello from the kernel" and not result.partial, result
print("playground:", result.text)
"""

STOP = """
stopping = PlaygroundWidget(Backend(["Partial ", "never"], hang_after=1), key="support")
display(stopping)
await stopping.wait()
stopping.run()
while not stopping.backend.hanging.is_set():  # set on the widgets' loop
    await asyncio.sleep(0.01)
stopping.stop_button.click()
partial = await stopping.wait()
assert partial.partial and partial.text == "Partial ", partial
assert stopping.backend.cancelled == ["support"]
"""

COMPARE = """
cmp = CompareWidget(Backend(["Side ", "by side"]), ["support", "broken"], inputs={"company": "X"})
cmp
"""

COMPARE_RUN = """
cmp.run()
ok, failed = await cmp.wait()
assert ok.text == "Side by side", ok
assert isinstance(failed, NotFoundError), failed
print("compare:", ok.text, "|", failed)
"""


def _markdown_outputs(cell: Any) -> list[str]:
    return [
        o["data"]["text/markdown"] for o in cell.outputs if "text/markdown" in o.get("data", {})
    ]


def test_widgets_run_in_a_kernel_and_leave_static_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout_on_path(monkeypatch)  # the kernel runs in tmp_path and imports this checkout
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (SETUP, PLAYGROUND, PLAYGROUND_RUN, STOP, COMPARE, COMPARE_RUN)
    ]
    client = NotebookClient(
        nb,
        kernel_name=kernel_name(tmp_path, monkeypatch),
        timeout=30,
        startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    path = tmp_path / "widgets.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)

    _, playground, playground_run, stop, compare, compare_run = saved.cells
    assert "playground: Hello from the kernel" in playground_run.outputs[0]["text"]
    assert "compare: Side by side | The model is gone." in compare_run.outputs[0]["text"]

    # The widget's own output: its view, and lines that say what it was.
    view, static = playground.outputs
    assert WIDGET_VIEW in view["data"]
    assert view["data"]["text/plain"] == "orq_notebook Playground (support)"
    # Below it, the static copy, rewritten through its display id when the run ended.
    assert "Hello from the kernel" in static["data"]["text/markdown"]
    assert '<div class="orq-static orq-static-' in static["data"]["text/markdown"]
    assert "Hello from the kernel" in static["data"]["text/plain"]

    assert any("Partial " in md for md in _markdown_outputs(stop))

    view, static = compare.outputs
    assert WIDGET_VIEW in view["data"]
    markdown = static["data"]["text/markdown"]
    assert "Side by side" in markdown and "The model is gone." in markdown
    assert "| column | status |" in markdown
