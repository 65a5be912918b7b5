"""Re-execute notebooks in this environment's kernel and save their outputs (what nbval checks).

    .venv/bin/python scripts/refresh_notebooks.py notebooks/02-magics-tour.ipynb [...]
    .venv/bin/python scripts/refresh_notebooks.py            # every notebook under notebooks/

Run it after a change alters what a cell shows, then `pytest notebooks/` must pass. Widget state
is saved as JupyterLab saves it, so a reopened notebook shows each widget's static copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        store_widget_state=True,
        record_timing=False,  # no timestamps: a re-run changes only what the cells show
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(nb, path)
    print(f"{path.name}: executed and saved.")


def main(args: list[str]) -> int:
    paths = [Path(a) for a in args] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        refresh(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
