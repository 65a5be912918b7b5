"""An experiment's display in a real JupyterLab: the picture renders, light and dark.

JupyterLab (in a temporary home) opens a copy of `notebooks/06-experiments.ipynb` with its
outputs cleared; Chromium runs every cell from the Run menu. The experiment's output must
show its summary table and its picture: an `<img>` whose PNG the browser decoded (JupyterLab
sanitizes HTML outputs, and a `data:` image that it stripped or that failed to decode would
have no natural size). Screenshots at 900 px wide, light and dark, go to the test's temporary
folder (printed) for a person to look at; `scripts/screenshots` publishes the light one as
docs/images/experiment.png for the README.
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

import nbformat
import pytest

from .browser import jlab, procs
from .browser.lab import start_lab
from .test_browser import CHROMIUM, CHROMIUM_ARGS, install_browser_deps

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAME = "06-experiments.ipynb"
FIRST_EXPERIMENT = "result = run_experiment("


def _build(root: Path) -> None:
    shutil.copy2(NOTEBOOKS / "deployments.yaml", root / "deployments.yaml")
    nb = nbformat.read(NOTEBOOKS / NAME, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / NAME)


def _set_theme(page: object, theme: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.get_by_role("menuitem", name="Settings", exact=True).click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
    page.wait_for_function(f"document.body.dataset.jpThemeName === {theme!r}", timeout=30_000)


def test_the_experiment_picture_renders_in_jupyterlab(tmp_path: Path) -> None:
    install_browser_deps()
    from playwright.sync_api import sync_playwright

    root, home, profile = tmp_path / "root", tmp_path / "home", tmp_path / "chromium-profile"
    root.mkdir()
    _build(root)
    before = procs.descendants(os.getpid())
    started: set[procs.Proc] = set()
    try:
        with ExitStack() as stack:
            lab = start_lab(home, root)
            stack.callback(lab.stop)
            spec = lab.api("GET", "/api/kernelspecs").json()["kernelspecs"]["python3"]["spec"]
            assert Path(spec["argv"][0]).parent == Path(sys.executable).parent, spec["argv"]
            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 900, "height": 1800},
            )  # fmt: skip
            stack.callback(browser.close)
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(lab.url(f"/lab/tree/{NAME}"))
            jlab.wait_for_kernel(page)
            started |= procs.descendants(os.getpid()) - before
            jlab.run_all_cells(page)

            cell = jlab.code_cell(page, FIRST_EXPERIMENT)
            output = cell.locator(".jp-OutputArea")
            picture = output.locator("img[alt^='scores, latency and tokens']")
            picture.wait_for(timeout=120_000)
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
            )
            size = picture.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert size[0] > 600 and size[1] > 150, size
            text = output.inner_text()
            assert "Experiment: 8 rows × 2 targets × 5 evaluators" in text
            assert "regex[formally]" in text and "0% [0%, 32%]" in text
            output.scroll_into_view_if_needed()
            output.screenshot(path=tmp_path / "experiment-light.png")
            # For the README: the figures and the picture, without the rows below them.
            top, bottom = output.bounding_box(), picture.bounding_box()
            assert top is not None and bottom is not None
            clip = {"x": top["x"], "y": top["y"], "width": top["width"],
                    "height": bottom["y"] + bottom["height"] + 8 - top["y"]}  # fmt: skip
            page.screenshot(path=tmp_path / "experiment.png", clip=clip)
            published = os.environ.get("README_PICTURES")  # scripts/screenshots, never a test run
            if published:
                shutil.copy2(tmp_path / "experiment.png", Path(published) / "experiment.png")
            _set_theme(page, "JupyterLab Dark")
            output.scroll_into_view_if_needed()
            output.screenshot(path=tmp_path / "experiment-dark.png")
            shots = os.environ.get("SCREENSHOTS_DIR")  # a folder to keep them in, if given
            if shots:
                for name in ("experiment-light.png", "experiment-dark.png"):
                    shutil.copy2(tmp_path / name, Path(shots) / name)
            print(f"screenshots: {tmp_path / 'experiment-light.png'}, "
                  f"{tmp_path / 'experiment-dark.png'}")  # fmt: skip
            started |= procs.descendants(os.getpid()) - before
    finally:
        leftover = procs.alive(started) | procs.mentioning(str(tmp_path))
        report = procs.describe(leftover)
        procs.kill(leftover)
    assert not leftover, f"processes left running: {report}"
