"""The gallery: every surface of orq_notebook in JupyterLab, light, dark and 900 px wide.

`scripts/gallery` runs this module: JupyterLab in a temporary home, headless Chromium, and a
notebook with one cell per surface (a streaming cell, results, a JSON answer, config, list,
history, playground, compare, batch, an error), run from the Run menu. Then a picture of each
cell in the light theme, in the dark theme, and of the whole window at 900 px with the file
browser open, into docs/images/gallery/. The browser test that measures what these pictures
show (tests/test_browser_polish.py) drives the same notebook through `LabBrowser`.

    .venv/bin/python -m tests.browser.gallery [--out DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory, gettempdir
from typing import TYPE_CHECKING, Any

import nbformat
import yaml

from . import jlab, procs
from .lab import CHROMIUM, CHROMIUM_ARGS, Lab, start_lab
from .notebook import NOTEBOOKS, TEST_DEPLOYMENTS

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "images" / "gallery"
NAME = "gallery.ipynb"
WIDE, NARROW, HEIGHT = 1280, 900, 1000
DARK = "JupyterLab Dark"
LIGHT = "JupyterLab Light"

# A long answer with a list and a code block whose line is wider than a narrow column.
LONG_ANSWER = "\n".join(
    [
        "Here is a **longer answer** so you can watch it stream.",
        "",
        "1. First, open the *Orders* page and find the jacket.",
        "2. Then click **Return item** and choose a reason.",
        "3. Print the free label and drop the parcel at any post office.",
        "",
        "```python",
        "refund = order.total * 1.0  # full refund within 30 days of delivery, label included",
        "```",
        "",
        " ".join(
            f"Sentence {n} adds a little more detail about the returns policy of Acme."
            for n in range(1, 25)
        ),
    ]
)
GALLERY_DEPLOYMENTS: list[dict[str, Any]] = [
    {
        "key": "support-long",
        "description": "A long Markdown answer with a code block (gallery)",
        "prompt_config": {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "model_type": "chat",
            "messages": [{"role": "system", "content": "Answer at length for {{company}}."}],
        },
        "variables": {"company": "Acme"},
        "responder": {"mock": LONG_ANSWER},
    },
]

PHRASES = ["Where is the station?", "Two coffees, please.", "How much is this?", "I am lost."]
BATCH_CELL = f"""from orq_notebook import run_batch

phrases = {PHRASES!r}
languages = ["Italian", "French", "German"]
# Every seventh row has no language, which `translate` has no default for: 4 rows fail.
rows = [{{"messages": phrases[i % 4], **({{}} if i % 7 == 6 else {{"language": languages[i % 3]}})}}
        for i in range(30)]
result = run_batch("translate", rows, concurrency=4)
result"""


@dataclass(frozen=True)
class Surface:
    """One cell of the gallery notebook: its name (the picture's) and its source."""

    name: str
    source: str

    @property
    def marker(self) -> str:
        """The first line of the source: how the browser finds the cell."""
        return self.source.splitlines()[0]


SURFACES = [
    Surface("stream", "%%orq slow-story\nTell me the story of the brave fox."),
    Surface("result", "%%orq support-answer --var company=Initech\nCan I return a jacket?"),
    Surface("lines", "%%orq translate --var language=Italian\nWhere is the station?"),
    Surface("json", "%%orq extract-contact\nWrite to Ada Lovelace at ada@example.com."),
    Surface("config", "%orq config support-answer --var company={{company}}"),
    Surface("list", "%orq list"),
    Surface("history", "%orq history"),
    Surface("playground", "%orq playground support-answer"),
    Surface(
        "compare",
        "%orq compare support-answer support-long translate --var company=Initech "
        '--message "Can I return a jacket I bought three weeks ago?"',
    ),
    Surface("batch", BATCH_CELL),
    # Last: a failing cell stops Run All Cells.
    Surface("error", "%%orq suport-answer\nCan I return a jacket?"),
]
SURFACE = {s.name: s for s in SURFACES}
LAST_CELL = "End of the gallery."
SETUP = (
    "import sys\n\n"
    "assert sys.prefix == {prefix!r}, sys.prefix  # the project's venv is the kernel\n"
    "get_ipython().extension_manager.load_extension('orq_notebook')\n"
    "%orq connect --local deployments.yaml"
)


def build(root: Path) -> str:
    """Write the gallery notebook and its deployments file into `root`; returns its name."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# orq_notebook, every surface"))
    nb.cells.append(nbformat.v4.new_code_cell(SETUP.format(prefix=sys.prefix)))
    for surface in SURFACES:
        nb.cells.append(nbformat.v4.new_markdown_cell(f"### {surface.name}"))
        nb.cells.append(nbformat.v4.new_code_cell(surface.source))
    nb.cells.append(nbformat.v4.new_markdown_cell(LAST_CELL))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (orq_notebook)",
        "language": "python",
    }
    nbformat.write(nb, root / NAME)
    data = yaml.safe_load((NOTEBOOKS / "deployments.yaml").read_text(encoding="utf-8"))
    data["deployments"] += [*TEST_DEPLOYMENTS, *GALLERY_DEPLOYMENTS]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    (root / "deployments.yaml").write_text(text, encoding="utf-8")
    return NAME


# -- JupyterLab and Chromium, started and stopped together -----------------------------------


@dataclass
class LabBrowser:
    """JupyterLab over a directory, and a Chromium page on it; every process tracked."""

    lab: Lab
    page: Page
    tmp: Path
    seen: dict[procs.Proc, str] = field(default_factory=dict)

    def track(self, before: set[procs.Proc]) -> None:
        for proc in procs.descendants(os.getpid()) - before | procs.mentioning(str(self.tmp)):
            self.seen.setdefault(proc, procs.cmdline(proc[0]))

    def open(self, name: str) -> None:
        self.page.goto(self.lab.url(f"/lab/tree/{name}"))
        jlab.wait_for_kernel(self.page)


@contextmanager
def lab_browser(tmp: Path, *, width: int = WIDE, height: int = HEIGHT) -> Iterator[LabBrowser]:
    """JupyterLab over `tmp/root` and a headless Chromium page; afterwards, nothing runs.

    Raises AssertionError after the teardown if a process it started is still alive.
    """
    from playwright.sync_api import sync_playwright

    root, home, profile = tmp / "root", tmp / "home", tmp / "chromium-profile"
    root.mkdir(exist_ok=True)
    before = procs.descendants(os.getpid())
    seen: dict[procs.Proc, str] = {}
    try:
        with ExitStack() as stack:
            lab = start_lab(home, root)
            stack.callback(lab.stop)
            playwright = stack.enter_context(sync_playwright())
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height},
            )
            stack.callback(context.close)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(30_000)
            session = LabBrowser(lab, page, tmp, seen)
            session.track(before)
            try:
                yield session
            except BaseException:
                shot = Path(gettempdir()) / "orq-browser-failure.png"
                page.screenshot(path=shot)
                print(f"failure screenshot: {shot}\n{jlab.diagnostics(page)}")
                print(lab.log_tail())
                raise
            session.track(before)
    finally:
        leftover = procs.alive(set(seen)) | procs.mentioning(str(tmp))
        report = procs.describe(leftover)
        procs.kill(leftover)
    assert not leftover, f"processes left running: {report}"


# -- what a person does ------------------------------------------------------------------------


def cell_of(page: Page, surface: Surface) -> Locator:
    return jlab.code_cell(page, surface.marker)


def run_all_and_wait(page: Page, *, timeout: float = 180) -> None:
    """Run > Run All Cells, then wait until the error cell (the last) has run."""
    jlab.run_all_cells(page)
    last = cell_of(page, SURFACE["error"])
    deadline = time.monotonic() + timeout
    while not jlab.has_run(last):
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook did not finish: {jlab.diagnostics(page)}")
        time.sleep(0.25)
    batch = cell_of(page, SURFACE["batch"])
    expect_text(batch.locator(".jp-OutputArea"), "30 rows")
    compare = cell_of(page, SURFACE["compare"])
    expect_text(compare.locator(".widget-html"), "finish reason")  # the summary: the run ended


def run_playground(page: Page) -> None:
    """Click Run in the playground and wait for its answer and footer."""
    cell = cell_of(page, SURFACE["playground"])
    run = cell.locator("button.widget-button", has_text=re.compile(r"^\s*Run\s*$"))
    run.wait_for()
    cell.locator(".widget-textarea textarea").fill("Can I return a jacket I bought last week?")
    run.click()
    expect_text(cell.locator(".widget-html"), "latency")  # the footer: the run ended


def set_theme(page: Page, theme: str) -> None:
    """Settings > Theme > `theme`, from the menu bar."""
    switched = page.locator(f"body[data-jp-theme-name='{theme}']")
    for _ in range(3):
        page.keyboard.press("Escape")
        page.get_by_role("menuitem", name="Settings", exact=True).click()
        # (A submenu and a theme's checkable item have no `menuitem` role: found by text.)
        page.locator(".lm-Menu-item", has_text=re.compile(r"^Theme\s*$")).hover()
        item = page.locator(".lm-Menu-item", has_text=re.compile(rf"^{re.escape(theme)}\s*$"))
        item.click()
        try:
            switched.wait_for(state="attached", timeout=10_000)
            break
        except Exception:  # the submenu closed before the click landed: once more
            continue
    switched.wait_for(state="attached", timeout=1_000)
    time.sleep(0.5)  # the theme's stylesheet settles


def open_file_browser(page: Page) -> None:
    """Make sure the file browser is open in the left sidebar (as in the reviewed picture)."""
    browser = page.locator("#filebrowser")
    if not browser.is_visible():
        page.locator(".jp-SideBar.jp-mod-left [data-id='filebrowser']").click()
    browser.wait_for(state="visible")


def unselect(page: Page) -> None:
    """Select the last (Markdown) cell, so a pictured cell has no selection marks."""
    page.locator(".jp-MarkdownCell", has_text=LAST_CELL).last.click()
    page.mouse.move(0, 0)


def expect_text(locator: Locator, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in (current := " ".join(locator.all_inner_texts())):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear; text is: {current[-400:]!r}")
        time.sleep(0.1)


def stream_again(page: Page, shoot: Any) -> None:
    """Run the streaming cell again (Ctrl+Enter in its editor); `shoot()` it midway."""
    cell = cell_of(page, SURFACE["stream"])
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    output = cell.locator(".jp-OutputArea")
    deadline = time.monotonic() + 60
    while "streaming" not in output.inner_text() or len(output.inner_text()) < 250:
        if time.monotonic() > deadline:
            raise AssertionError("the answer did not stream")
        time.sleep(0.05)
    page.mouse.move(0, 0)
    shoot()
    while not jlab.has_run(cell):
        time.sleep(0.1)


# -- pictures ----------------------------------------------------------------------------------


def shoot_cells(page: Page, out: Path, suffix: str, only: set[str]) -> list[Path]:
    """A picture of each surface's cell (input and output)."""
    taken = []
    for surface in SURFACES:
        if only and surface.name not in only:
            continue
        path = out / f"{surface.name}-{suffix}.png"
        cell = cell_of(page, surface)
        if surface.name == "stream":
            stream_again(page, lambda cell=cell, path=path: cell.screenshot(path=path))
        else:
            shoot_whole(page, cell, path)
        taken.append(path)
    return taken


def shoot_whole(page: Page, cell: Locator, path: Path) -> None:
    """A picture of the whole cell: the window is made tall enough for it first (the notebook
    scrolls inside its panel, so a cell taller than the panel cannot be pictured otherwise)."""
    size = page.viewport_size or {"width": WIDE, "height": HEIGHT}
    box = cell.bounding_box() or {"height": 0}
    panel = page.locator(".jp-WindowedPanel-outer").first.bounding_box() or {"height": HEIGHT}
    if box["height"] > panel["height"] - 20:
        extra = box["height"] - panel["height"] + 60
        page.set_viewport_size({"width": size["width"], "height": int(size["height"] + extra)})
        time.sleep(0.3)
    cell.evaluate("e => e.scrollIntoView({block: 'start'})")
    time.sleep(0.2)
    cell.screenshot(path=path)
    page.set_viewport_size(size)


def shoot_windows(page: Page, out: Path, suffix: str, only: set[str]) -> list[Path]:
    """The whole window with each surface's cell scrolled to the top."""
    taken = []
    for surface in SURFACES:
        if only and surface.name not in only:
            continue
        path = out / f"{surface.name}-{suffix}.png"
        cell = cell_of(page, surface)
        cell.evaluate("e => e.scrollIntoView({block: 'start'})")
        time.sleep(0.2)
        if surface.name == "stream":
            stream_again(page, lambda path=path: page.screenshot(path=path))
        else:
            page.screenshot(path=path)
        taken.append(path)
    return taken


def make_gallery(out: Path, only: set[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with TemporaryDirectory(prefix="orq-gallery-") as tmp, lab_browser(Path(tmp)) as session:
        build(Path(tmp) / "root")
        session.open(NAME)
        page = session.page
        run_all_and_wait(page)
        run_playground(page)
        unselect(page)
        taken = shoot_cells(page, out, "light", only)
        set_theme(page, DARK)
        unselect(page)
        taken += shoot_cells(page, out, "dark", only)
        set_theme(page, LIGHT)
        page.set_viewport_size({"width": NARROW, "height": HEIGHT})
        open_file_browser(page)
        unselect(page)
        taken += shoot_windows(page, out, "900px", only)
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/gallery",
        description="Pictures of every orq_notebook surface in JupyterLab: light, dark, 900 px.",
    )
    parser.add_argument("--out", type=Path, default=GALLERY, help=f"default: {GALLERY}")
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME", choices=list(SURFACE),
        help="only these surfaces: " + ", ".join(SURFACE),
    )  # fmt: skip
    args = parser.parse_args(argv)
    for path in make_gallery(args.out, set(args.only)):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
