"""The compare widget: the same inputs sent to several deployments, streaming side by side.

    CompareWidget(backend, ["summarize", "summarize-v2"], inputs={"text": doc}).run()
    CompareWidget(backend, ["summarize"], contexts=[{"env": "a"}, {"env": "b"}])  # variants

Each column is its own task on the widgets' loop (`_loop`): one column's error is shown in
that column while the others finish, and Stop keeps what every column received so far.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..client._variables import (
    Variable,
    Variables,
    VariablesError,
    afetch_variables,
    build_variables,
)
from ..display._errors import render_error
from ..display._render import Table, escape_html, escape_markdown, format_duration
from ..display._result import Result
from ..display._theme import MUTED_SMALL
from ._feedback import FeedbackButtons
from ._loop import Job, settle, submit
from ._parts import (
    Outcome,
    Pane,
    RunInfo,
    StaticCopyBox,
    describer,
    field_placeholder,
    footer_html,
    notice_html,
    raise_bug,
    start_task,
    stream_run,
    variable_field,
)
from ._style import COLUMN_PANE_HEIGHT, TEXT_CLASS, align_labels

if TYPE_CHECKING:
    from ._backend import PlaygroundBackend

__all__ = ["CompareWidget"]


@dataclass(eq=False)
class _Column:
    key: str
    context: dict[str, Any] | None
    pane: Pane = field(default_factory=lambda: Pane(max_height=COLUMN_PANE_HEIGHT))
    header: widgets.HTML = field(default_factory=widgets.HTML)
    footer: widgets.HTML = field(default_factory=widgets.HTML)
    feedback: FeedbackButtons = field(default_factory=FeedbackButtons)  # 👍 / 👎
    info: RunInfo = field(default_factory=RunInfo)
    model: Variables = field(default_factory=lambda: Variables(""))
    task: Job[Outcome] | None = None

    @property
    def label(self) -> str:
        if not self.context:
            return self.key
        where = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in self.context.items()
        )
        return f"{self.key} [{where}]"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class CompareWidget(StaticCopyBox):
    """The same inputs and message sent to several deployments (or variants) at once.

    Usage: `CompareWidget(backend, ["a", "b"], inputs={"topic": "tides"})`, then Run (or
    `.run()` and `await .wait()`). A single key with several `contexts` compares the variants
    a deployment routes to. Empty fields are not sent: each deployment uses its own default,
    shown as the placeholder; a field some column has no default for is marked required, and
    Run warns that it goes out blank, as `%%orq` does (an error with `strict_variables`).

    Args:
        backend: a `PlaygroundBackend`.
        keys: deployment keys; one column each, or one key shared by every context.
        contexts: one routing context per column.
        inputs: starting values of the variable fields (sent with their types when unchanged).
        message: the starting user message.
        interval: the least time between two updates of a streaming column, in seconds.
        clock: a monotonic clock, for latency figures and the update rate.
        strict_variables: refuse to run with a variable that has no value and no default.

    Attributes: `.results` (per column, a Result or the exception that column raised),
    `.variables` (the union of the columns' `{{variables}}`).
    """

    def __init__(
        self,
        backend: PlaygroundBackend,
        keys: list[str],
        *,
        contexts: list[dict[str, Any]] | None = None,
        inputs: dict[str, Any] | None = None,
        message: str | None = None,
        interval: float = 0.1,
        clock: Callable[[], float] = time.perf_counter,
        strict_variables: bool = False,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.columns = [_Column(k, c) for k, c in _pairs(keys, contexts)]
        self.results: list[Result | BaseException] = []
        self.variables: list[str] = list(inputs or {})
        self._given = dict(inputs or {})
        self.strict_variables = strict_variables
        self.notice = widgets.HTML()  # what a run warns about (open variables)
        self._known: list[str] = []  # the deployment keys listed, for "did you mean"
        self._interval, self._clock = interval, clock
        self._stop_requested = False
        self._preparing: Job[None] | None = None
        self._run_task: Job[list[Result | BaseException]] | None = None

        self.fields: dict[str, widgets.Text] = {}
        self.form = widgets.VBox()
        self.message = widgets.Textarea(
            value=message or "",
            description="Message",
            placeholder="A user message (optional)",
            layout=widgets.Layout(width="auto", height="4em"),
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.status = widgets.HTML()
        self.summary = widgets.HTML(layout=widgets.Layout(overflow="auto"))
        self.run_button.on_click(lambda _: self._guarded(self.run))
        self.stop_button.on_click(lambda _: self._guarded(self.stop))
        for column in self.columns:
            column.header.value = f"<b>{escape_html(column.label)}</b>"
        for text in (self.summary, *(c.header for c in self.columns)):
            text.add_class(TEXT_CLASS)
        for column in self.columns:
            column.footer.add_class(TEXT_CLASS)
        # Columns share the width and wrap onto a new row below ~16em each (a narrow window,
        # the file browser open) rather than overflowing sideways.
        boxes = [
            widgets.VBox(
                [c.header, c.pane.widget, c.footer, c.feedback.widget],
                layout=widgets.Layout(flex="1 1 16em", min_width="12em", margin="0 4px 8px"),
            )
            for c in self.columns
        ]
        self._build_form()
        self.children = [
            self.form,
            self.message,
            widgets.HBox([self.run_button, self.stop_button, self.status]),
            self.notice,
            widgets.HBox(
                boxes, layout=widgets.Layout(width="100%", flex_flow="row wrap", overflow="auto")
            ),
            self.summary,
            self.hide_static_copy,
        ]
        self.status.value = "<i>Loading the deployments…</i>"
        self.run_button.disabled = True
        self._preparing = start_task(self._prepare())

    # -- fields -----------------------------------------------------------------------------

    async def _prepare(self) -> None:
        try:
            await self._load()
        finally:
            self.run_button.disabled = False
            if self.status.value.startswith("<i>Loading"):
                self.status.value = ""

    async def _load(self) -> None:
        try:
            listed = {d.key: d for d in await self.backend.list_deployments()}
        except Exception:
            listed = {}  # each column's own lookup below says what is wrong
        self._known = list(listed)
        models = await asyncio.gather(
            *(self._variables(c, listed.get(c.key)) for c in self.columns),
            return_exceptions=True,
        )
        for column, model in zip(self.columns, models, strict=True):
            deployment = listed.get(column.key)
            templates = deployment.prompt_config.messages if deployment else None
            problem = None
            if isinstance(model, BaseException):
                problem = describer(column.key, lambda: self._known)(model)
                model = build_variables(column.key, templates, None)
            column.model = model
            column.info = RunInfo.of(deployment, model.config)
            column.header.value = _header_html(column, column.info, problem)
        names = [v.name for c in self.columns for v in c.model]
        self.variables = list(dict.fromkeys([*names, *self._given]))
        self._build_form()

    async def _variables(self, column: _Column, deployment: Any) -> Variables:
        templates = deployment.prompt_config.messages if deployment else None
        return await afetch_variables(
            self.backend.get_config, column.key, context=column.context, templates=templates
        )

    def _build_form(self) -> None:
        old = {name: f.value for name, f in self.fields.items()}
        self.fields = {}
        for name in self.variables:
            # One field feeds every column: required if some column has no default for it.
            defaults = [c.model[name].default for c in self.columns if c.model.has(name)]
            known = all(c.model.defaults_known for c in self.columns if c.model.has(name))
            value = old.get(name, _as_text(self._given[name]) if name in self._given else "")
            field = variable_field(Variable(name), known, value)
            field.placeholder = field_placeholder(defaults, known) if defaults else ""
            self.fields[name] = field
        self.form.children = list(self.fields.values())
        align_labels([*self.fields.values(), self.message])

    def _inputs(self) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for name, f in self.fields.items():
            if f.value == "":
                continue
            given = self._given.get(name)
            unchanged = name in self._given and f.value == _as_text(given)
            inputs[name] = given if unchanged else f.value
        return inputs

    # -- running ----------------------------------------------------------------------------

    def run(self) -> Job[list[Result | BaseException]]:
        """Start every column; returns the `Job` (`await` it from any loop, or `wait()`)."""
        if self._run_task is not None and not self._run_task.done():
            raise RuntimeError("A run is already in progress; stop it first.")
        self._stop_requested = False
        self._run_task = start_task(self._run())
        return self._run_task

    def stop(self) -> None:
        """Stop every column that is still streaming; what they received stays."""
        self._stop_requested = True
        for column in self.columns:
            if column.task is not None and not column.task.done():
                column.task.cancel()

    async def wait(self) -> list[Result | BaseException]:
        """Wait for the fields to be ready and the current run (if any) to end; `.results`."""
        await submit(settle(lambda: [self._preparing, self._run_task]))
        raise_bug(self._run_task)
        return self.results

    async def _run(self) -> list[Result | BaseException]:
        await settle(lambda: [self._preparing])
        inputs = self._inputs()
        message = self.message.value if self.message.value.strip() else None
        warnings: dict[str, None] = {}
        errors: dict[str, None] = {}
        for column in self.columns:
            # Names given for other columns' variables are not unknown to the compare.
            mine = {k: v for k, v in inputs.items() if column.model.has(k) or k in self._given}
            check = column.model.check(mine, strict=self.strict_variables)
            warnings.update(dict.fromkeys(check.warnings()))
            errors.update(dict.fromkeys(check.errors()))
        self.notice.value = notice_html(list(warnings))
        if errors:
            self.status.value = render_error(VariablesError(" ".join(errors))).html
            return self.results
        self._set_running(True)
        try:
            for column in self.columns:
                column.footer.value = ""
                column.feedback.set_result(None)
                column.task = start_task(
                    stream_run(
                        self.backend,
                        column.key,
                        inputs=inputs,
                        message=message,
                        context=column.context,
                        pane=column.pane,
                        info=column.info,
                        interval=self._interval,
                        clock=self._clock,
                        stop_requested=lambda: self._stop_requested,
                        describe=describer(column.key, lambda: self._known),
                    )
                )
            outcomes = await asyncio.gather(
                *(_awaited(c.task) for c in self.columns if c.task is not None),
                return_exceptions=True,
            )
        finally:
            self._set_running(False)
        self.results = []
        for column, outcome in zip(self.columns, outcomes, strict=True):
            if isinstance(outcome, BaseException):  # cancelled from outside, or a bug
                column.pane.finish(column.pane.text, error=outcome)
                self.results.append(outcome)
            else:
                column.footer.value = footer_html(outcome.result)
                column.feedback.set_result(outcome.result)
                self.results.append(outcome.error or outcome.result)
        self.status.value = _overall(self.results)
        self.summary.value = self.summary_table().to_html()
        self.update_static_copy()
        return self.results

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        if running:
            self.status.value = "<i>running…</i>"
            self.summary.value = ""

    # -- display ----------------------------------------------------------------------------

    def _guarded(self, action: Callable[[], object]) -> None:
        # JupyterLab drops output printed by widget callbacks: errors go to the status line.
        try:
            action()
        except Exception as exc:
            self.status.value = render_error(exc, surface="widget").html

    def _title(self) -> str:
        return "orq_notebook Compare (" + ", ".join(c.label for c in self.columns) + ")"

    def summary_table(self) -> Table:
        """Latency, time to first token, tokens and finish reason of each column's last run."""
        rows = []
        for column, item in zip(self.columns, self.results, strict=True):
            row: dict[str, Any] = {"column": column.label}
            if isinstance(item, Result):
                row["status"] = item.status
                if item.latency is not None:
                    row["latency"] = format_duration(item.latency)
                if item.time_to_first_token is not None:
                    row["first token"] = format_duration(item.time_to_first_token)
                row["tokens"] = item.total_tokens
                row["finish reason"] = item.finish_reason
            else:
                # The status code only: the whole line is in the column, and the table has
                # to fit a narrow window.
                status = getattr(item, "status_code", None)
                row["status"] = f"failed ({status})" if isinstance(status, int) else "failed"
            rows.append(row)
        nowrap = ("column", "status", "latency", "first token", "tokens", "finish reason")
        return Table(rows, columns=_SUMMARY_COLUMNS, nowrap=nowrap)

    def _static_parts(self) -> tuple[str, str] | None:
        if not self.results:
            return None
        table = self.summary_table()
        markdown = [f"**{_md_line(self._title())}**: the last run", table.to_markdown()]
        plain = [f"{self._title()}: the last run", table.to_text()]
        for column, item in zip(self.columns, self.results, strict=True):
            markdown.append(f"#### {_md_line(column.label)}")
            plain.append(f"\n## {column.label}")
            if isinstance(item, Result):
                markdown.append(item.to_markdown())
                plain.append(item.to_text())
            else:
                line = render_error(item).text
                markdown.append(_md_line(line))
                plain.append(line)
        return "\n\n".join(markdown), "\n".join(plain)


async def _awaited(job: Job[Outcome]) -> Outcome:
    return await job


def _overall(results: list[Result | BaseException]) -> str:
    """One word for the run: stopped if a column was stopped, failed if one failed, else ok."""
    words = {r.status if isinstance(r, Result) else "failed" for r in results}
    if "stopped" in words:
        return "<i>stopped</i>"
    return "<b>⚠ failed</b> (see the column)" if "failed" in words else "ok"


_SUMMARY_COLUMNS = ["column", "status", "latency", "first token", "tokens", "finish reason"]


def _md_line(text: str) -> str:
    return escape_markdown(text, newline=" ", block=False)


def _pairs(
    keys: list[str], contexts: list[dict[str, Any]] | None
) -> list[tuple[str, dict[str, Any] | None]]:
    if not keys:
        raise ValueError("Compare needs at least one deployment key.")
    if contexts is None:
        return [(k, None) for k in keys]
    if len(keys) == 1:
        return [(keys[0], c) for c in contexts]
    if len(keys) != len(contexts):
        raise ValueError(
            f"Got {len(keys)} keys and {len(contexts)} contexts: pass one key with several "
            "contexts (variants of one deployment), or one context per key."
        )
    return list(zip(keys, contexts, strict=True))


def _header_html(column: _Column, info: RunInfo, problem: str | None) -> str:
    html = f"<b>{escape_html(column.label)}</b>"
    if info.model:
        html += f"<br>{MUTED_SMALL}{escape_html(info.provider)} · {escape_html(info.model)}</small>"
    if problem:
        # A real problem (no such deployment, no server): open variables are not one.
        html += f"<br><b>⚠</b> {escape_html(problem)}"
    return html
