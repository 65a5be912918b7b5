"""Images and 👍 / 👎 in JupyterLab, in headless Chromium, as a person sees them.

A notebook sends a chart with a question (`%%orq KEY --image chart.png`): the answer shows the
chart as a thumbnail, and JupyterLab's sanitiser lets it through (it loads, with a size). Then
the playground runs a deployment and 👍 is clicked: the button turns green and the note says
the rating reached orq (the local server); in a compare column 👎 turns red. Pictures are taken
in the light theme at 1280 px, then in the dark theme at 900 px, into `ORQ_SCREENSHOTS`
(default: the test's temporary folder). Every process the test started is checked to be gone.

Run alone with `.venv/bin/pytest -m browser tests/test_browser_extras.py`.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from .browser import jlab, procs
from .browser.lab import start_lab
from .test_browser import CHROMIUM, CHROMIUM_ARGS, expect_text, install_browser_deps

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
IMAGE_CELL = "%%orq summarize --image chart.png\nWhat does this chart show?"
PLAYGROUND_CELL = "%orq playground support-answer"
COMPARE_CELL = "%orq compare summarize support-answer --message Hello"
LAST_CELL = "End of the browser test of images and feedback."
# Read at import: the autouse fixture clears ORQ_* variables before each test runs.
SHOTS = os.environ.get("ORQ_SCREENSHOTS")


def build(root: Path) -> str:
    for name in ("deployments.yaml", "chart.png"):
        shutil.copy2(ROOT / "notebooks" / name, root / name)
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell("# Images and feedback"),
        v4.new_code_cell("%load_ext orq_notebook\n%orq connect --local deployments.yaml"),
        v4.new_code_cell(IMAGE_CELL),
        v4.new_code_cell(PLAYGROUND_CELL),
        v4.new_code_cell(COMPARE_CELL),
        v4.new_markdown_cell(LAST_CELL),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "extras.ipynb")
    return "extras.ipynb"


def test_thumbnails_and_thumbs_in_jupyterlab(tmp_path: Path) -> None:
    install_browser_deps()
    from playwright.sync_api import sync_playwright

    root, home, profile = tmp_path / "root", tmp_path / "home", tmp_path / "chromium-profile"
    root.mkdir()
    shots = Path(SHOTS) if SHOTS else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    name = build(root)
    before = procs.descendants(os.getpid())
    seen: dict[procs.Proc, str] = {}

    def track() -> None:
        for proc in procs.descendants(os.getpid()) - before | procs.mentioning(str(tmp_path)):
            seen.setdefault(proc, procs.cmdline(proc[0]))

    try:
        with ExitStack() as stack:
            lab = start_lab(home, root)
            stack.callback(lab.stop)
            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 1000},
            )
            stack.callback(browser.close)
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(30_000)
            try:
                page.goto(lab.url(f"/lab/tree/{name}"))
                jlab.wait_for_kernel(page)
                track()
                jlab.run_all_cells(page)
                check(page, shots)
            except Exception:
                page.screenshot(path=tmp_path / "failure.png")
                print(f"failure screenshot: {tmp_path / 'failure.png'}")
                print(jlab.diagnostics(page))
                print(lab.log_tail())
                raise
            track()
    finally:
        leftover = procs.alive(set(seen)) | procs.mentioning(str(tmp_path))
        report = procs.describe(leftover)
        procs.kill(leftover)
    assert not leftover, f"processes left running: {report}"


def check(page: Page, shots: Path) -> None:
    from playwright.sync_api import expect

    # The chart the user sent shows as a thumbnail above the echoed answer, and it loaded.
    image_cell = jlab.code_cell(page, IMAGE_CELL.splitlines()[0])
    thumb = image_cell.locator(".jp-RenderedMarkdown img[alt='sent image 1']")
    thumb.wait_for()
    expect_text(image_cell.locator(".jp-OutputArea"), "[image: image/png, 318 bytes inline]")
    width = thumb.evaluate("img => img.complete ? img.naturalWidth : -1")
    assert width == 160, f"the thumbnail did not load (naturalWidth {width})"

    # The playground: run, then 👍.
    playground = jlab.code_cell(page, PLAYGROUND_CELL)
    run = playground.locator("button.widget-button", has_text=re.compile(r"^\s*Run\s*$"))
    up = playground.locator("button.orq-thumbs-up")
    run.wait_for()
    expect(up).to_be_disabled()  # nothing to rate before the first answer
    icon = up.locator("i.fa-thumbs-up")
    assert icon.evaluate("i => i.getBoundingClientRect().width") > 0, "no thumbs-up icon drawn"
    run.click()
    expect_text(playground.locator(".widget-html"), "latency")  # the footer: the run ended
    expect(up).to_be_enabled()
    up.click()
    expect_text(playground.locator(".orq-feedback"), "Rated good on orq.")
    assert "mod-success" in (up.get_attribute("class") or "")

    # Compare: 👎 under the second column only.
    compare = jlab.code_cell(page, COMPARE_CELL)
    downs = compare.locator("button.orq-thumbs-down")
    expect_text(compare.locator(".widget-html"), "finish reason")  # the summary: the run ended
    expect(downs.nth(1)).to_be_enabled()
    downs.nth(1).click()
    expect_text(compare.locator(".orq-feedback").nth(1), "Rated bad on orq.")
    assert "mod-danger" in (downs.nth(1).get_attribute("class") or "")
    assert "mod-danger" not in (downs.nth(0).get_attribute("class") or "")

    pictures(page, shots, "light", [image_cell, playground, compare])
    page.get_by_role("menuitem", name="Settings", exact=True).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
    page.locator("body[data-jp-theme-name='JupyterLab Dark']").wait_for(state="attached")
    page.wait_for_timeout(500)  # the theme's stylesheet applies after the attribute changes
    page.set_viewport_size({"width": 900, "height": 1000})
    pictures(page, shots, "dark-900", [image_cell, playground, compare])


def pictures(page: Page, shots: Path, theme: str, cells: list[Locator]) -> None:
    page.locator(".jp-MarkdownCell", has_text=LAST_CELL).last.click()  # no selection marks
    page.mouse.move(0, 0)
    for label, cell in zip(("image", "playground", "compare"), cells, strict=True):
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=shots / f"{label}-{theme}.png")
