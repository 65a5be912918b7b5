"""The notebooks and deployments file the browser tests open in JupyterLab and Notebook 7.

The quickstart (notebooks/01-quickstart.ipynb) is copied with its folder, its saved outputs
cleared, and a few cells appended for what the test watches: a slow streamed `%%orq` answer
and a playground. Its deployments file gets the test deployments, served by the local server.
Each other scenario writes its own small notebook (`write`) next to it: one kernel each.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
QUICKSTART = NOTEBOOKS / "01-quickstart.ipynb"

# 200 words in word-sized chunks, 25 ms apart: about 5 s of visible streaming.
STORY_END = "And that is the end of the story."
STORY = " ".join(
    ["Once upon a time, a **brave fox** set out to read every deployment in the notebook."]
    + [f"On day {day}, the fox crossed hill {day} and thanked the river." for day in range(2, 20)]
    + [STORY_END]
)
# The playground's slow run: about 600 words, 60 ms apart (over 30 s); the test stops it.
ENDLESS = " ".join(f"Verse {n} of a song that never ends, sung slowly." for n in range(1, 61))
HERO = "Captain Chromium"

PROMPT = {"provider": "openai", "model": "gpt-4o-mini", "model_type": "chat"}
TEST_DEPLOYMENTS: list[dict[str, Any]] = [
    {
        "key": "slow-story",
        "description": "A long story, streamed slowly (browser test)",
        "prompt_config": {**PROMPT, "messages": [{"role": "system", "content": "Tell a story."}]},
        "responder": {"mock": STORY},
        "stream_delay_ms": 25,
    },
    {
        "key": "playground-story",
        "description": "Echoes its prompt about {{hero}}, a word at a time (browser test)",
        "variables": {"hero": "a fox"},
        "prompt_config": {
            **PROMPT,
            "messages": [
                {
                    "role": "system",
                    "content": "Write **three short lines** about {{hero}}, the hero of this "
                    "notebook, who tries every deployment and reads each answer as it streams.",
                }
            ],
        },
        "responder": "echo",
        "stream_delay_ms": 80,
    },
    {
        "key": "endless-story",
        "description": "A very long song, streamed slowly, to be stopped (browser test)",
        "prompt_config": {**PROMPT, "messages": [{"role": "system", "content": "Sing."}]},
        "responder": {"mock": ENDLESS},
        "stream_delay_ms": 60,
    },
]

# A support deployment as in the UX review: two variables with defaults, one without, and an
# answer that streams slowly (about 25 s in all), so there is time to press Stop.
SLOW_SUPPORT = " ".join(f"Step {n}: check the order page, then the return form." for n in range(60))
TEST_DEPLOYMENTS.append(
    {
        "key": "slow-support",
        "description": "Support answers, streamed slowly (browser test)",
        "variables": {"company": "Acme", "tone": "friendly"},
        "prompt_config": {
            **PROMPT,
            "messages": [
                {
                    "role": "system",
                    "content": "You answer for {{company}} in a {{tone}} tone, "
                    "for {{tier}} customers.",
                }
            ],
        },
        "responder": {"mock": SLOW_SUPPORT},
        "stream_delay_ms": 50,
    }
)

# Cell sources the test finds its cells by (the last cell whose source has the first line).
STREAM_CELL = "%%orq slow-story\nTell me the story of the brave fox."
PLAYGROUND_CELL = "%orq playground"
LAST_CELL = "End of the browser test."


def _test_cells() -> list[Any]:
    v4 = nbformat.v4
    return [
        v4.new_markdown_cell("## Browser test\nA slow streamed answer, then the playground."),
        v4.new_code_cell(
            "import sys\n\n"
            f"assert sys.prefix == {sys.prefix!r}, sys.prefix  # the project's venv is the kernel\n"
            "get_ipython().extension_manager.load_extension('orq_notebook')  # once\n"
            "%orq connect --local deployments.yaml"
        ),
        v4.new_code_cell(STREAM_CELL),
        v4.new_code_cell(PLAYGROUND_CELL),
        # Run All leaves this last cell selected, not the playground above (for the pictures).
        v4.new_markdown_cell(LAST_CELL),
    ]


SETUP_CELL = (
    "import sys\n\n"
    f"assert sys.prefix == {sys.prefix!r}, sys.prefix  # the project's venv is the kernel\n"
    "%load_ext orq_notebook\n"
    "%orq connect --local deployments.yaml"
)


def write(root: Path, name: str, cells: list[str]) -> str:
    """A notebook `name` in `root`: the setup cell, then `cells` (Markdown when they start
    with `#`), then a last Markdown cell to click on (pictures without selection marks)."""
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell(SETUP_CELL)]
    nb.cells += [
        v4.new_markdown_cell(c) if c.startswith("#") else v4.new_code_cell(c) for c in cells
    ]
    nb.cells.append(v4.new_markdown_cell(LAST_CELL))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (orq_notebook)",
        "language": "python",
    }
    nbformat.write(nb, root / name)
    return name


def write_deployments(path: Path, source: Path | None) -> None:
    """`source`'s deployments (if any) plus the test's own, written to `path`."""
    data: dict[str, Any] = {"deployments": []}
    if source is not None and source.exists():
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or data
    data["deployments"] = [*data.get("deployments", []), *TEST_DEPLOYMENTS]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def build(root: Path) -> str:
    """Fill `root` with the notebook (and its files); returns the notebook's file name."""
    if QUICKSTART.exists():
        for item in NOTEBOOKS.iterdir():
            if item.name.startswith(".") or item.suffix == ".ipynb":
                continue
            copy = shutil.copytree if item.is_dir() else shutil.copy2
            copy(item, root / item.name)
        nb = nbformat.read(QUICKSTART, as_version=4)
        name = QUICKSTART.name
    else:
        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_markdown_cell("# orq_notebook in JupyterLab"))
        name = "browser-test.ipynb"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.extend(_test_cells())
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (orq_notebook)",
        "language": "python",
    }
    nbformat.write(nb, root / name)
    write_deployments(root / "deployments.yaml", NOTEBOOKS / "deployments.yaml")
    return name
