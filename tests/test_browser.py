"""End to end in a real browser: JupyterLab and Notebook 7 in headless Chromium, as a person
uses them — by clicking and typing, then reading what is on screen.

One JupyterLab server (which also serves Notebook 7's pages) and one Chromium are shared by
the module; each scenario opens its own notebook, so it gets its own kernel, shut down after
it. The scenarios:

* the quickstart, run from the Run menu, with a `%%orq` answer streaming in token by token
  and settling into rendered Markdown;
* the playground: pick a deployment, read its form (required and defaulted fields), fill a
  variable, Run, Stop a slower run, load the first run back from the history;
* the sequence that broke Compare (issue 16): a Playground run stopped after a few seconds, a
  run with a variable cleared, then Run in a Compare — in JupyterLab and Notebook 7;
* a streaming `%%orq` cell stopped with the toolbar's interrupt button — in both;
* a cell with a mistyped deployment key: one line, no traceback.

Pictures go to a temporary folder; `scripts/screenshots` runs this module with
README_PICTURES=docs/images to refresh the README's pictures (a test run never changes the
checkout). Nothing is left running: every process the module started is checked to be gone.

Needs Debian's Chromium and the `playwright` package: `scripts/browser-deps` installs both,
and this module runs it first. Run alone with `.venv/bin/pytest -m browser`.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .browser import jlab, notebook, procs
from .browser.lab import CHROMIUM, CHROMIUM_ARGS, Lab, start_lab

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
# The README's pictures, copied to the folder named by $README_PICTURES when it is set
# (scripts/screenshots; not an ORQ_ name: tests/conftest.py clears those in every test).
README_PICTURES = {
    "streaming-answer.png",
    "streamed-answer.png",
    "playground.png",
    "playground-form-light.png",
    "playground-form-dark.png",
}
URLS = {"lab": "/lab/tree/{name}", "notebook": "/notebooks/{name}"}


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


@dataclass
class Browser:
    """The module's JupyterLab server and Chromium, and the pictures taken so far."""

    lab: Lab
    context: BrowserContext
    root: Path
    shots: Path
    seen: dict[procs.Proc, str] = field(default_factory=dict)
    before: set[procs.Proc] = field(default_factory=set)
    marker: str = ""

    def track(self) -> None:
        """Remember every process started since the module began (server, kernels, browser)."""
        found = procs.descendants(os.getpid()) - self.before | procs.mentioning(self.marker)
        for proc in found:
            self.seen.setdefault(proc, procs.cmdline(proc[0]))

    def open(self, name: str, *, ui: str = "lab", width: int = 1280) -> Page:
        page = self.context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        page.set_default_timeout(30_000)
        url = self.lab.url(URLS[ui].format(name=name))
        # `reset`: JupyterLab would otherwise reopen the tabs of the previous test too.
        page.goto(url + "&reset" if ui == "lab" else url)
        jlab.wait_for_kernel(page, ui=ui)
        self.wait_for_connected_kernel()
        if ui == "lab" and page.locator("#jp-left-stack").is_visible():
            # The file browser opens with a fresh workspace: close it, as a person would
            # to give the notebook the width (View > Appearance > Show Left Sidebar).
            page.locator(".jp-MarkdownCell").last.click()
            page.keyboard.press("Control+b")
        self.track()
        return page

    def wait_for_connected_kernel(self, timeout: float = 60) -> None:
        """Until the server sees the page's kernel idle with a client connected to it (the
        page's own indicator may read idle a moment before its kernel is connected)."""
        deadline = time.monotonic() + timeout
        while True:
            kernels = self.lab.api("GET", "/api/kernels").json()
            if any(k["connections"] and k["execution_state"] == "idle" for k in kernels):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no connected, idle kernel: {kernels}")
            time.sleep(0.2)

    def picture(self, target: Page | Locator, name: str) -> None:
        """Take a picture; a README picture is also published when README_PICTURES is set."""
        path = self.shots / name
        target.screenshot(path=path)
        published = os.environ.get("README_PICTURES")
        if published and name in README_PICTURES:
            shutil.copy(path, Path(published) / name)

    def close_kernels(self) -> None:
        for session in self.lab.api("GET", "/api/sessions").json():
            self.lab.api("DELETE", f"/api/sessions/{session['id']}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    install_browser_deps()
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("browser")
    root, home, profile, shots = tmp / "root", tmp / "home", tmp / "profile", tmp / "shots"
    root.mkdir()
    shots.mkdir()
    notebook.build(root)
    before = procs.descendants(os.getpid())  # other tests' processes (session fixtures) stay
    env: Browser | None = None
    try:
        with ExitStack() as stack:
            lab = start_lab(home, root)
            stack.callback(lab.stop)
            spec = lab.api("GET", "/api/kernelspecs").json()["kernelspecs"]["python3"]["spec"]
            assert Path(spec["argv"][0]).parent == Path(sys.executable).parent, spec["argv"]
            playwright = stack.enter_context(sync_playwright())
            context = playwright.chromium.launch_persistent_context(
                str(profile),  # a fresh, empty user-data-dir
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
            )
            stack.callback(context.close)
            env = Browser(lab, context, root, shots, before=before, marker=str(tmp))
            env.track()
            yield env
            env.track()
        # The check below watches the real thing: the server, the kernels and the browser.
        lines = list(env.seen.values())
        for part in ("jupyter-lab", "ipykernel_launcher", "chromium"):
            assert any(part in line for line in lines), f"{part} was not seen: {lines}"
    finally:
        # Browser closed and JupyterLab shut down (POST /api/shutdown) by the ExitStack;
        # whatever still runs now was left behind.
        seen = set(env.seen) if env is not None else set()
        leftover = procs.alive(seen) | procs.mentioning(str(tmp))
        report = procs.describe(leftover)
        procs.kill(leftover)
        print(f"browser pictures: {shots}")
    assert not leftover, f"processes left running: {report}"


@pytest.fixture
def page_for(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Open notebooks for one test; on failure, a picture and the notebook's prompts/errors."""
    pages: list[Page] = []

    def open_page(name: str, *, ui: str = "lab", width: int = 1280) -> Page:
        pages.append(browser.open(name, ui=ui, width=width))
        return pages[-1]

    yield open_page
    for n, page in enumerate(pages):
        # The last state of every page, and what the notebook shows: read when a test fails.
        page.screenshot(path=browser.shots / f"last-{request.node.name}-{n}.png")
        print(jlab.diagnostics(page))
        page.close()
    print(browser.lab.log_tail(15))
    browser.close_kernels()


# -- the quickstart, and a streamed `%%orq` answer --------------------------------------------


def test_the_quickstart_runs_and_an_answer_streams_into_its_cell(
    browser: Browser, page_for: Any
) -> None:
    page = page_for(notebook.QUICKSTART.name if notebook.QUICKSTART.exists() else "x.ipynb")
    jlab.run_all_cells(page)
    cell = jlab.code_cell(page, notebook.STREAM_CELL.splitlines()[0])
    output = jlab.outputs(cell)
    shot: list[str] = []

    def midway(text: str, running: bool) -> None:
        # One picture of the answer on its way, "streaming…" status included (for the README).
        if running and not shot and len(text) > len(notebook.STORY) / 3:
            browser.picture(cell, "streaming-answer.png")
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
    # Every cell of the quickstart ran without an error.
    errors = page.locator(jlab.STDERR).all_inner_texts()
    assert not [e for e in errors if "Error" in e], errors
    unselect(page)
    cell.scroll_into_view_if_needed()
    browser.picture(cell, "streamed-answer.png")


# -- the playground ---------------------------------------------------------------------------


def widget_button(cell: Locator, label: str) -> Locator:
    # (Their accessible names also hold the icon font's glyph: match the text instead.)
    return cell.locator("button.widget-button", has_text=re.compile(rf"^\s*{label}\s*$"))


def field(cell: Locator, name: str) -> Locator:
    """The text input of the widget field labelled `name`."""
    label = cell.page.locator("label", has_text=re.compile(rf"^\s*{name}\b"))
    return cell.locator(".widget-text", has=label).locator("input")


def test_playground_run_stop_and_load_from_history(browser: Browser, page_for: Any) -> None:
    from playwright.sync_api import expect

    name = notebook.write(browser.root, "playground.ipynb", ["%orq playground slow-support"])
    page = page_for(name)
    jlab.run_all_cells(page)
    cell = jlab.code_cell(page, "%orq playground")
    dropdown = cell.locator(".widget-dropdown select")
    pane = cell.locator(".widget-output")
    run, stop = widget_button(cell, "Run"), widget_button(cell, "Stop")

    # The form says what each variable needs: the real defaults, and which one is required.
    field(cell, "tier").wait_for()
    expect(run).to_be_enabled()
    assert field(cell, "company").get_attribute("placeholder") == "default: Acme"
    assert field(cell, "tone").get_attribute("placeholder") == "default: friendly"
    assert "required" in (field(cell, "tier").get_attribute("placeholder") or "")
    form_text = cell.inner_text()
    assert "deployment's default" not in form_text and "get_config" not in form_text
    unselect(page)
    cell.scroll_into_view_if_needed()
    browser.picture(cell, "playground-form-light.png")
    switch_theme(page, "JupyterLab Dark")
    browser.picture(cell, "playground-form-dark.png")
    switch_theme(page, "JupyterLab Light")
    page.set_viewport_size({"width": 900, "height": 900})  # a narrow window (not published)
    browser.picture(cell, "playground-form-900.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Another deployment: fill its {{hero}} variable and a message, and run it.
    dropdown.select_option(label="playground-story")
    hero = field(cell, "hero")
    hero.wait_for()
    hero.fill(notebook.HERO)
    cell.locator(".widget-textarea textarea").fill("Keep it short.")
    run.click()
    expect(stop).to_be_enabled()  # the kernel has started the run
    samples = jlab.sample(pane.inner_text, stop.is_enabled, timeout=60)
    growth = samples.partial_lengths()
    assert len(growth) >= 3, f"the playground did not stream visibly: {samples.lengths}"
    assert growth == sorted(growth), growth
    expect_text(pane, "Keep it short.")
    assert notebook.HERO in pane.inner_text()  # the variable reached the prompt
    pane.locator("strong", has_text="three short lines").first.wait_for()
    expect_text(cell.locator(".widget-html"), "ok")
    unselect(page)
    browser.picture(cell, "playground.png")

    # A slower run: Stop it mid-stream; the text stops growing and says "stopped".
    dropdown.select_option(label="endless-story")
    expect_gone(hero)  # the form was rebuilt for the new deployment (no variables)
    cell.locator(".widget-textarea textarea").fill("")
    run.click()
    expect(stop).to_be_enabled()
    expect_text(pane, "Verse 3 ")
    before_stop = pane.inner_text()
    stop.click()
    expect_text(pane, "stopped")
    stopped = pane.inner_text()
    assert len(stopped) >= len(before_stop)
    assert "Verse 60 " not in stopped, "the whole answer arrived despite Stop"
    time.sleep(1.5)  # at 60 ms a word, a stream still going would add about 25 words
    assert pane.inner_text() == stopped, "the text kept growing after Stop"
    expect(run).to_be_enabled()
    expect(stop).to_be_disabled()
    history = cell.locator(".widget-select select")
    assert "(stopped)" in history.inner_text()

    # Load the first run back: its deployment, variable, message and answer return.
    history.select_option(index=1)  # newest first: the first run is the second entry
    widget_button(cell, "Load").click()
    expect_text(pane, "Run 1, loaded from the history")
    expect(dropdown).to_have_value("playground-story")
    expect(field(cell, "hero")).to_have_value(notebook.HERO)
    expect(cell.locator(".widget-textarea textarea")).to_have_value("Keep it short.")
    assert "three short lines" in pane.inner_text()


# -- Compare after a stopped Playground run (issue 16, point 1) --------------------------------


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_compare_after_a_stopped_playground_run(browser: Browser, page_for: Any, ui: str) -> None:
    from playwright.sync_api import expect

    name = notebook.write(
        browser.root,
        f"compare-{ui}.ipynb",
        [
            "from orq_notebook import Compare, Playground\n\npg = Playground('slow-support')\npg",
            "cmp = Compare(['support-answer', 'summarize'], message='Can I return a jacket?')\ncmp",
        ],
    )
    page = page_for(name, ui=ui)
    jlab.run_all_cells(page)
    pg = jlab.code_cell(page, "pg = Playground")
    cmp = jlab.code_cell(page, "cmp = Compare")
    pane = pg.locator(".widget-output")
    run, stop = widget_button(pg, "Run"), widget_button(pg, "Stop")

    tier = field(pg, "tier")
    tier.wait_for()
    tier.fill("gold")
    run.click()
    expect(stop).to_be_enabled()
    time.sleep(3)
    stop.click()
    expect_text(pane, "stopped")
    expect(run).to_be_enabled()

    tier.fill("")  # a variable without a default, left open
    run.click()
    expect_text(pg.locator(".widget-html"), "{{tier}}")  # the open variable is named
    # orq.ai (and the local server by default) send it blank and stream: stop after 2 s;
    # a strict server answers 422 at once.
    time.sleep(2)
    if stop.is_enabled():
        stop.click()
    expect(run).to_be_enabled()

    widget_button(cmp, "Run").click()
    expect_text(cmp.locator(".widget-html"), "column")  # the summary table is there
    summary = cmp.locator(".orq-table").last.inner_text()
    assert summary.count("\tok") == 2, summary
    assert "30 days" in cmp.inner_text() and "Summarize" in cmp.inner_text()
    assert "different event loop" not in page.locator("body").inner_text()


# -- a streaming cell stopped from the toolbar ------------------------------------------------


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_the_toolbar_interrupt_stops_a_streaming_cell(
    browser: Browser, page_for: Any, ui: str
) -> None:
    name = notebook.write(
        browser.root,
        f"interrupt-{ui}.ipynb",
        ["%%orq slow-support --var tier=gold\nHow do I return a jacket?", "print('next cell ran')"],
    )
    page = page_for(name, ui=ui)
    jlab.run_cell(page, jlab.code_cell(page, "%orq connect"))
    jlab.wait_until_run(jlab.code_cell(page, "%orq connect"))
    cell = jlab.code_cell(page, "%%orq slow-support")
    jlab.run_cell(page, cell)
    output = jlab.outputs(cell)
    expect_text(output, "Step 2:")
    jlab.interrupt_kernel(page)
    jlab.wait_until_run(cell)

    shown = output.inner_text()
    errors = output.locator(jlab.STDERR).all_inner_texts()
    assert len(errors) == 1 and "Stopped after" in errors[0], errors
    assert "Traceback" not in shown and "KeyboardInterrupt" not in shown
    assert shown.count("Stopped after") == 1 and shown.count("stopped") == 1, shown
    assert "Step 1:" in shown and "Step 59:" not in shown  # the partial answer stays

    after = jlab.code_cell(page, "print('next cell ran')")
    jlab.run_cell(page, after)
    expect_text(jlab.outputs(after), "next cell ran")


# -- an error cell ----------------------------------------------------------------------------


def test_a_mistyped_key_is_one_line_with_did_you_mean(browser: Browser, page_for: Any) -> None:
    name = notebook.write(browser.root, "error.ipynb", ["%%orq suport-answer\nHi!"])
    page = page_for(name)
    jlab.run_all_cells(page)
    cell = jlab.code_cell(page, "%%orq suport-answer")
    jlab.wait_until_run(cell)
    output = jlab.outputs(cell)
    expect_text(output, "Did you mean")
    texts = output.locator(".jp-OutputArea-output").all_inner_texts()
    assert len(texts) == 1, texts  # one message, nothing before it
    line = texts[0].strip()
    assert line.startswith(
        "UsageError: Deployment with key 'suport-answer' was not found. "
        "Did you mean: support-answer"
    ), texts
    assert line.endswith("?") and "\n" not in line
    assert "Known keys" not in texts[0]


# -- helpers ----------------------------------------------------------------------------------


def switch_theme(page: Page, theme: str) -> None:
    """Settings > Theme > `theme`, from the menu bar, then wait for it to apply."""
    page.get_by_role("menuitem", name="Settings", exact=True).click()
    page.locator(".lm-Menu-item", has_text=re.compile(r"^\s*Theme")).first.click()
    page.locator(".lm-Menu-item", has_text=re.compile(rf"^\s*{theme}\s*$")).first.click()
    light = "Light" in theme
    page.wait_for_function(
        "light => document.body.dataset.jpThemeLight === String(light)", arg=light
    )
    page.mouse.move(0, 0)
    time.sleep(0.5)  # the theme's fonts and colours settle


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
