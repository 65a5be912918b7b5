"""Execute a notebook headless in this environment's kernel and print what each cell showed."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(path: str) -> int:
    notebook = Path(path)
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    ).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        print(f"\n>>> {cell.source}")
        for output in cell.outputs:
            if output.output_type == "stream":
                print(output.text, end="")
            elif "data" in output:
                # What a terminal would show: the plain text (Markdown source would print
                # `get\_weather` for get_weather); Markdown only when there is nothing else.
                data = output["data"]
                print(data.get("text/plain") or data.get("text/markdown", ""))
    print(f"\n{notebook.name}: every cell ran.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
