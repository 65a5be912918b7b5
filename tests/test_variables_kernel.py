"""Variables end to end in a real kernel (issue 17): a notebook run by nbclient against the
local server started by `%orq connect --local`, its outputs read back from the saved file.

`%orq config` shows the prompt with the open variable highlighted and a table of the
variables; a misspelt `--var` is one error line with "Did you mean" and nothing is sent; a
name that matches nothing, and an open variable, are one warning line each, and the call goes
out; `strict_variables` makes the open variable an error; the playground's form shows the real
defaults and which field is required.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from .kernels import checkout_on_path, kernel_name

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = """\
deployments:
  - key: slow-support
    variables: {company: Acme, tone: friendly}
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      messages:
        - role: system
          content: "You answer for {{company}} in a {{tone}} tone for {{tier}} customers."
    responder: echo
"""
CELLS = [
    f"import sys\nassert sys.prefix == {sys.prefix!r}\n%load_ext orq_notebook\n"
    "%orq connect --local d.yaml",
    "%orq config slow-support --var company=Initech",
    "%%orq slow-support --var compnay=Initech\nHello",
    "%%orq slow-support --no-stream --var tier=gold --var topic=returns\nHello",
    "%%orq slow-support --no-stream\nHello",
    "%config OrqMagics.strict_variables = True",
    "%%orq slow-support --no-stream\nHello",
    "%config OrqMagics.strict_variables = False\n"
    "from orq_notebook import Playground\npg = Playground('slow-support')\n"
    "await pg.wait()\n"
    "print({name: field.placeholder for name, field in pg.fields.items()})",
    # (Issue 16: in a kernel too, a final `?` belongs to the message, not to IPython's help.)
    "%orq invoke slow-support --no-stream --var tier=gold Can I return shoes?",
]


def _text(cell: Any, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


def _error(cell: Any) -> str:
    """The one UsageError line the cell ended with (IPython prints it on stderr)."""
    lines = [line for line in _text(cell, "stderr").splitlines() if line.startswith("UsageError")]
    assert len(lines) == 1, cell.outputs
    assert not [o for o in cell.outputs if o["output_type"] == "error"]  # no traceback
    return lines[0].removeprefix("UsageError: ")


def test_variables_in_a_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout_on_path(monkeypatch)
    (tmp_path / "d.yaml").write_text(DEPLOYMENTS, encoding="utf-8")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = NotebookClient(
        nb,
        kernel_name=kernel_name(tmp_path, monkeypatch),
        timeout=60,
        startup_timeout=60,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    path = tmp_path / "variables.ipynb"
    nbformat.write(nb, path)
    cells = nbformat.read(path, as_version=4).cells
    _, config, typo, unknown, open_, _, strict, form, question = cells

    # `%orq config`: the prompt, given and default values filled in, the open one highlighted.
    html = config.outputs[0]["data"]["text/html"]
    assert "You answer for Initech in a friendly tone for " in html
    assert re.search(r"<mark[^>]*>\{\{tier\}\}</mark>", html), html  # highlighted, themed
    plain = config.outputs[0]["data"]["text/plain"]
    rows = [line.split() for line in plain.splitlines() if line.startswith("{{")]
    assert rows == [
        ["{{company}}", "Initech", "given", "--var"],
        ["{{tone}}", "friendly", "default", "deployment"],
        ["{{tier}}", "open"],
    ]
    assert "422" not in plain

    assert (
        _error(typo)
        == "'compnay' is not a variable of slow-support's prompt. Did you mean: company?"
    )
    assert not [o for o in typo.outputs if o["output_type"] == "display_data"]  # nothing sent

    assert _text(unknown, "stderr") == (
        "⚠ 'topic' is not a variable of slow-support's prompt; sent anyway (inputs can also "
        "feed tools and knowledge bases).\n"
    )
    assert "for gold customers" in unknown.outputs[-1]["data"]["text/plain"]

    warning = "⚠ {{tier}} has no value and no default: it is sent as empty text.\n"
    assert _text(open_, "stderr").startswith(warning)
    # orq.ai (and the local server by default) answer; a strict local server says 422.
    answered = [o for o in open_.outputs if o["output_type"] == "execute_result"]
    assert answered or "(422)" in _error(open_)

    assert _error(strict) == (
        "{{tier}} has no value and no default (strict_variables is on): give it a value."
    )

    shown = question.outputs[-1]["data"]["text/plain"]
    assert "user: Can I return shoes?" in shown and "not found" not in _text(question, "stdout")

    assert _text(form, "stdout").strip() == (
        "{'company': 'default: Acme', 'tone': 'default: friendly', 'tier': 'required (no default)'}"
    )
