"""Driving JupyterLab 4 and Notebook 7 in Playwright the way a person does: menus, cells,
toolbar buttons, widgets. Notebook 7 is built from JupyterLab's components, so the same
selectors hold in both (it has no status bar, which only JupyterLab's kernel check reads).

Selectors used (JupyterLab 4 / Notebook 7 and ipywidgets 8 DOM):
  - a code cell:          `.jp-CodeCell` whose `.jp-InputArea-editor` text contains a marker
  - its prompt:           `.jp-InputPrompt` ("[*]:" while it runs, "[7]:" when done)
  - its output:           `.jp-OutputArea` (rendered Markdown: `.jp-RenderedMarkdown`)
  - the kernel:           `.jp-Notebook-ExecutionIndicator[data-status]`, and the status bar
                          (`#jp-main-statusbar`) reading "<kernel> | Idle"
  - the menus:            menuitem "Run" in the menu bar, then menuitem "Run All Cells"
  - the toolbar:          `jp-button[data-command='notebook:interrupt-kernel']` (the ■ button)
  - an error:             `.jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']`
  - widgets:              `.widget-dropdown select`, `.widget-text` (label + input),
                          `.widget-textarea textarea`, buttons by role and name,
                          `.widget-output` (the playground's streaming pane)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

DONE_PROMPT = re.compile(r"\[\d+\]:")
IDLE_STATUS = re.compile(r"\| Idle$")


def code_cell(page: Page, marker: str) -> Locator:
    """The last code cell whose source contains `marker` (the test's cells come last)."""
    editor = page.locator(".jp-InputArea-editor", has_text=marker)
    return page.locator(".jp-CodeCell").filter(has=editor).last


def prompt(cell: Locator) -> str:
    return cell.locator(".jp-InputPrompt").first.inner_text().strip()


def has_run(cell: Locator) -> bool:
    """True once the cell has executed (its prompt shows an execution count)."""
    return bool(DONE_PROMPT.fullmatch(prompt(cell)))


STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def wait_for_kernel(page: Page, timeout: float = 60, *, ui: str = "lab") -> None:
    """Wait until the notebook's kernel is connected and idle."""
    indicator = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    indicator.first.wait_for(timeout=timeout * 1000)
    if ui == "lab":
        # The status bar reads "<kernel name> | Idle" once the kernel is connected.
        status = page.locator("#jp-main-statusbar .jp-StatusBar-TextItem", has_text=IDLE_STATUS)
        status.first.wait_for(timeout=timeout * 1000)


def run_cell(page: Page, cell: Locator) -> None:
    """Click into the cell's editor and press Shift+Enter."""
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def interrupt_kernel(page: Page) -> None:
    """Click the notebook toolbar's ■ (Interrupt the kernel) button."""
    page.locator("jp-button[data-command='notebook:interrupt-kernel']").first.click()


def outputs(cell: Locator) -> Locator:
    """The cell's own output area (not the output widgets nested inside it)."""
    return cell.locator(".jp-Cell-outputArea")


def wait_until_run(cell: Locator, timeout: float = 60) -> None:
    """Wait until the cell has finished (its prompt shows an execution count)."""
    deadline = time.monotonic() + timeout
    while not has_run(cell):
        if time.monotonic() > deadline:
            raise AssertionError(f"the cell did not finish in {timeout:g} s: {prompt(cell)!r}")
        time.sleep(0.1)


def run_all_cells(page: Page) -> None:
    """Run > Run All Cells, from the menu bar."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def diagnostics(page: Page) -> str:
    """The prompts and any error output of the notebook, for a failure message."""
    prompts = page.locator(".jp-InputPrompt").all_inner_texts()
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return f"prompts: {prompts}\nerrors: {errors.all_inner_texts()[:5]}"


@dataclass
class Samples:
    """Successive readings of a growing text, and whether it was still running at each."""

    texts: list[str] = field(default_factory=list)
    running: list[bool] = field(default_factory=list)

    def add(self, text: str, running: bool) -> None:
        self.texts.append(text)
        self.running.append(running)

    @property
    def lengths(self) -> list[int]:
        return [len(t) for t in self.texts]

    def partial_lengths(self) -> list[int]:
        """Distinct non-empty lengths seen while the run was going, in order."""
        seen: list[int] = []
        for text, running in zip(self.texts, self.running, strict=True):
            if running and text and (not seen or len(text) != seen[-1]):
                seen.append(len(text))
        return seen


def sample(
    read: Callable[[], str],
    running: Callable[[], bool],
    *,
    timeout: float,
    every: float = 0.15,
    on_sample: Callable[[str, bool], None] | None = None,
) -> Samples:
    """Read `read()` every `every` seconds until `running()` turns false (then once more)."""
    samples = Samples()
    deadline = time.monotonic() + timeout
    while True:
        still = running()
        text = read()
        samples.add(text, still)
        if on_sample is not None:
            on_sample(text, still)
        if not still:
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"still running after {timeout:g} s; last text: {text[-200:]!r}")
        time.sleep(every)
