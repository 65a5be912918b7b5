"""End to end in a real browser: JupyterLab in headless Chromium, as a person sees it.

JupyterLab runs in a temporary home over a copy of the quickstart notebook (plus a few cells
of this test) and its deployments file (plus slow test deployments). Chromium opens the
notebook, runs every cell from the Run menu, watches a `%%orq` answer stream in token by token
and settle into rendered Markdown, then uses the playground: picks a deployment, fills a
variable, runs it, and stops a second, slower run. Screenshots go to docs/images/ for the
README. Nothing is left running: every process the test started is checked to be gone.

Needs Debian's Chromium and the `playwright` package: `scripts/browser-deps` installs both,
and this test runs it first. Run alone with `.venv/bin/pytest -m browser`.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .browser import jlab, notebook, procs
from .browser.lab import start_lab

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
CHROMIUM = os.environ.get("ORQ_CHROMIUM", "/usr/bin/chromium")
# Headless, and quiet on the network: this machine reaches nothing but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def install_browser_deps() -> None:
    """Run scripts/browser-deps; skip if it cannot install (but never on CI: fail there)."""
    env = {**os.environ, "BROWSER_DEPS_PYTHON": sys.executable, "ORQ_CHROMIUM": CHROMIUM}
    try:
        done = subprocess.run(
            [str(ROOT / "scripts" / "browser-deps")],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=480,
        )
        problem = None if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-1500:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = repr(exc)
    if problem is not None:
        reason = f"scripts/browser-deps could not install Chromium/playwright ({problem})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    importlib.invalidate_caches()  # playwright may have been installed just now


def test_jupyterlab_streams_answers_and_runs_the_playground(tmp_path: Path) -> None:
    install_browser_deps()
    from playwright.sync_api import sync_playwright

    root, home, profile = tmp_path / "root", tmp_path / "home", tmp_path / "chromium-profile"
    root.mkdir()
    name = notebook.build(root)
    IMAGES.mkdir(parents=True, exist_ok=True)
    seen: dict[procs.Proc, str] = {}  # every process the test started, and its command line
    before = procs.descendants(os.getpid())  # other tests' processes (session fixtures) stay

    def track() -> None:
        for proc in procs.descendants(os.getpid()) - before | procs.mentioning(str(tmp_path)):
            seen.setdefault(proc, procs.cmdline(proc[0]))

    try:
        with ExitStack() as stack:
            lab = start_lab(home, root)
            stack.callback(lab.stop)
            track()
            spec = lab.api("GET", "/api/kernelspecs").json()["kernelspecs"]["python3"]["spec"]
            assert Path(spec["argv"][0]).parent == Path(sys.executable).parent, spec["argv"]

            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch_persistent_context(
                str(profile),  # a fresh, empty user-data-dir
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
            )
            stack.callback(browser.close)
            track()
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(30_000)
            try:
                drive(page, lab.url(f"/lab/tree/{name}"), track)
            except Exception:
                page.screenshot(path=tmp_path / "failure.png")
                print(f"failure screenshot: {tmp_path / 'failure.png'}")
                print(jlab.diagnostics(page))
                print(lab.log_tail())
                raise
            track()
        # The check below watches the real thing: the server, the kernel and the browser.
        lines = list(seen.values())
        for part in ("jupyter-lab", "ipykernel_launcher", "chromium"):
            assert any(part in line for line in lines), f"{part} was not seen: {lines}"
    finally:
        # Browser closed and JupyterLab shut down (POST /api/shutdown) by the ExitStack;
        # whatever still runs now was left behind.
        leftover = procs.alive(set(seen)) | procs.mentioning(str(tmp_path))
        report = procs.describe(leftover)
        procs.kill(leftover)
    assert not leftover, f"processes left running: {report}"


def drive(page: Page, url: str, track: Callable[[], None]) -> None:
    page.goto(url)
    jlab.wait_for_kernel(page)
    track()  # the kernel is up now
    jlab.run_all_cells(page)
    watch_streamed_answer(page)
    use_playground(page)


# -- a streamed `%%orq` answer ----------------------------------------------------------------


def watch_streamed_answer(page: Page) -> None:
    cell = jlab.code_cell(page, notebook.STREAM_CELL.splitlines()[0])
    output = cell.locator(".jp-OutputArea")
    shot: list[str] = []

    def midway(text: str, running: bool) -> None:
        # One picture of the answer on its way, "streaming…" status included (for the README).
        if running and not shot and len(text) > len(notebook.STORY) / 3:
            cell.screenshot(path=IMAGES / "streaming-answer.png")
            shot.append(text)

    samples = jlab.sample(
        output.inner_text,
        lambda: not jlab.has_run(cell),
        timeout=120,  # the quickstart's own cells run first
        on_sample=midway,
    )
    growth = samples.partial_lengths()
    # Tokens arrive visibly: several growing partial renders, not one final paint.
    assert len(growth) >= 3, f"the answer did not stream visibly: {samples.lengths}"
    assert growth == sorted(growth), f"the streamed text shrank: {growth}"

    # The final render is formatted Markdown with the whole answer and its footer.
    expect_text(output, notebook.STORY_END)
    strong = output.locator(".jp-RenderedMarkdown strong", has_text="brave fox")
    strong.first.wait_for()
    final = output.inner_text()
    assert "slow-story" in final and "streaming" not in final, final[-300:]
    assert len(final) > growth[0], (growth, len(final))
    unselect(page)
    cell.scroll_into_view_if_needed()
    cell.screenshot(path=IMAGES / "streamed-answer.png")


# -- the playground ---------------------------------------------------------------------------


def use_playground(page: Page) -> None:
    from playwright.sync_api import expect

    cell = jlab.code_cell(page, notebook.PLAYGROUND_CELL.splitlines()[0])
    dropdown = cell.locator(".widget-dropdown select")
    dropdown.wait_for()
    cell.scroll_into_view_if_needed()
    pane = cell.locator(".widget-output")
    # (Their accessible names also hold the icon font's glyph: match the text instead.)
    run = cell.locator("button.widget-button", has_text=re.compile(r"^\s*Run\s*$"))
    stop = cell.locator("button.widget-button", has_text=re.compile(r"^\s*Stop\s*$"))

    # Pick the deployment, fill its {{hero}} variable and a message, and run it.
    dropdown.locator("option", has_text="playground-story").wait_for(state="attached")
    dropdown.select_option(label="playground-story")
    hero = cell.locator(".widget-text", has=page.locator("label", has_text="hero"))
    hero.locator("input").wait_for()
    hero.locator("input").fill(notebook.HERO)
    cell.locator(".widget-textarea textarea").fill("Keep it short.")
    run.click()
    expect(stop).to_be_enabled()  # the kernel has started the run
    samples = jlab.sample(pane.inner_text, stop.is_enabled, timeout=60)
    growth = samples.partial_lengths()
    assert len(growth) >= 3, f"the playground did not stream visibly: {samples.lengths}"
    assert growth == sorted(growth), growth
    expect_text(pane, "Keep it short.")
    answer = pane.inner_text()
    assert notebook.HERO in answer, answer  # the variable reached the prompt
    pane.locator("strong", has_text="three short lines").first.wait_for()
    expect_text(cell.locator(".widget-html"), "Done.")
    unselect(page)
    cell.screenshot(path=IMAGES / "playground.png")

    # A second, slower run: Stop it mid-stream; the text stops growing and says "Stopped.".
    dropdown.select_option(label="endless-story")
    expect_gone(hero)  # the form was rebuilt for the new deployment (no variables)
    run.click()
    expect(stop).to_be_enabled()
    expect_text(pane, "Verse 3 ")
    before_stop = pane.inner_text()
    stop.click()
    expect_text(pane, "Stopped.")
    expect_text(cell.locator(".widget-html"), "Stopped.")
    stopped = pane.inner_text()
    assert len(stopped) >= len(before_stop)
    assert "Verse 60 " not in stopped, "the whole answer arrived despite Stop"
    time.sleep(1.5)  # at 60 ms a word, a stream still going would add about 25 words
    assert pane.inner_text() == stopped, "the text kept growing after Stop"
    expect(run).to_be_enabled()
    expect(stop).to_be_disabled()
    assert "(stopped)" in cell.locator(".widget-select select").inner_text()


def unselect(page: Page) -> None:
    """Select the notebook's last (Markdown) cell, so a pictured cell has no selection marks."""
    page.locator(".jp-MarkdownCell", has_text=notebook.LAST_CELL).last.click()
    page.mouse.move(0, 0)  # no hover toolbar either


def expect_text(locator: Locator, text: str, timeout: float = 30) -> None:
    """Wait until `locator`'s text contains `text`."""
    deadline = time.monotonic() + timeout
    while text not in (current := " ".join(locator.all_inner_texts())):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear; text is: {current[-400:]!r}")
        time.sleep(0.1)


def expect_gone(locator: Locator, timeout: float = 30) -> None:
    locator.first.wait_for(state="detached", timeout=timeout * 1000)
