"""The playground widget: try one deployment, Run / Stop, watch the answer stream.

Built from stock ipywidgets only (no custom front-end code), so they work in JupyterLab,
Notebook 7 and VS Code. They never talk HTTP: they drive a small async protocol,
`PlaygroundBackend`, which the session implements over `AsyncClient` and tests with a fake.

    PlaygroundWidget(backend, key="support-answer")

Runs are tasks on the widgets' own event loop (`_loop`), whichever thread or loop delivers a
click, so the kernel stays free while an answer streams in, and Stop (which cancels the task)
lands mid-stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..client._models import Deployment, DeploymentConfig
from ..client._variables import Variables, afetch_variables, build_variables
from ..display._answer import plain_text
from ..display._errors import explain
from ..display._render import escape_html, escape_markdown, shorten
from ..display._result import Result
from ..display._theme import MUTED_STYLE
from ._backend import PlaygroundBackend
from ._feedback import FeedbackButtons
from ._loop import Job, settle, submit
from ._parts import (
    Pane,
    RunInfo,
    StaticCopyBox,
    describer,
    footer_html,
    notice_html,
    raise_bug,
    start_task,
    stream_run,
    variable_field,
)
from ._style import PLAYGROUND_PANE_HEIGHT, TEXT_CLASS, align_labels

__all__ = ["PlaygroundWidget"]

History = list[tuple[dict[str, Any], str | None, Result]]


class PlaygroundWidget(StaticCopyBox):
    """Try one deployment: pick it, fill its variables, Run / Stop, watch the answer stream.

    Usage: `PlaygroundWidget(backend, key="support-answer")` as the last line of a cell.
    Each variable field says what happens when it is left empty: its default (shown as the
    placeholder) applies, or, for a variable without one, it is sent as empty text — which
    Run warns about, as `%%orq` does (an error with `strict_variables=True`).

    Args:
        backend: a `PlaygroundBackend`.
        key: the deployment selected at start (default: the first one listed).
        interval: the least time between two updates of the streaming pane, in seconds.
        clock: a monotonic clock, for latency figures and the update rate.
        strict_variables: refuse to run with a variable that has no value and no default.

    Attributes: `.variables` (the `{{variables}}` of the selected deployment), `.model` (their
    `Variables`: defaults, open ones), `.result` (the last Result or None), `.history` (a list
    of `(inputs, message, Result)`).
    """

    def __init__(
        self,
        backend: PlaygroundBackend,
        key: str | None = None,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.perf_counter,
        strict_variables: bool = False,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.variables: list[str] = []
        self.result: Result | None = None
        self.history: History = []
        self._interval, self._clock = interval, clock
        self._deployments: dict[str, Deployment] = {}
        self._run_info = RunInfo()
        self._pending_inputs: dict[str, Any] | None = None
        self._stop_requested = False
        self._loading: Job[None] | None = None
        self._config_task: Job[None] | None = None
        self._run_task: Job[Result | None] | None = None

        full = widgets.Layout(width="auto", flex="1 1 auto")
        self.deployment = widgets.Dropdown(description="Deployment", options=[], layout=full)
        self.info = widgets.HTML()
        self.fields: dict[str, widgets.Text] = {}
        self.model = Variables(key or "")
        self.strict_variables = strict_variables
        self.form = widgets.VBox()
        self.notice = widgets.HTML()  # what a run warns about (open variables)
        self.message = widgets.Textarea(
            description="Message",
            placeholder="A user message (optional)",
            layout=widgets.Layout(width="auto", height="5em"),
        )
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.status = widgets.HTML()
        self.output = Pane(max_height=PLAYGROUND_PANE_HEIGHT)
        self.footer = widgets.HTML()
        self.feedback = FeedbackButtons()  # 👍 / 👎 on the answer shown
        self.info.add_class(TEXT_CLASS)
        self.footer.add_class(TEXT_CLASS)
        self.history_select = widgets.Select(options=[], rows=4, layout=widgets.Layout(flex="1"))
        self.load_button = widgets.Button(description="Load", icon="undo", disabled=True)

        align_labels([self.deployment, self.message])
        self.deployment.observe(self._on_select, names="value")
        self.run_button.on_click(lambda _: self._guarded(self.run))
        self.stop_button.on_click(lambda _: self._guarded(self.stop))
        self.load_button.on_click(lambda _: self._guarded(self._load_selected))
        self.children = [
            self.deployment,
            self.info,
            self.form,
            self.message,
            widgets.HBox([self.run_button, self.stop_button, self.status]),
            self.notice,
            self.output.widget,
            self.footer,
            self.feedback.widget,
            widgets.HTML("<b>History</b>"),
            widgets.HBox([self.history_select, self.load_button], layout=full),
            self.hide_static_copy,
        ]
        self._start_key = key
        self._set_loading("Loading deployments…")
        self._loading = start_task(self._refresh())

    # -- deployments and their configuration ------------------------------------------------

    async def refresh(self) -> None:
        """(Re)load the deployment list and select the start key (or keep the selection)."""
        self._set_loading("Loading deployments…")
        self._loading = start_task(self._refresh())
        await self._loading

    def _set_loading(self, what: str | None) -> None:
        # Widgets made during Run All appear before their data: say so instead of showing an
        # empty dropdown, and keep Run off until there is something to run.
        self.deployment.disabled = what is not None
        self.run_button.disabled = what is not None
        if what is not None:
            self.status.value = f"<i>{escape_html(what)}</i>"
        elif self.status.value.startswith("<i>Loading"):
            self.status.value = ""

    async def _refresh(self) -> None:
        selected = self.deployment.value or self._start_key
        try:
            listed = await self.backend.list_deployments()
        except Exception as exc:
            listed = []
            self.output.finish("", error=f"Could not list deployments: {explain(exc)}")
        self._deployments = {d.key: d for d in listed}
        keys = list(self._deployments)
        if selected and selected not in self._deployments:
            keys.insert(0, selected)  # let the user try a key the list does not show
        before = self._config_task
        self.deployment.options = keys
        if keys:
            self.deployment.value = selected or keys[0]
        if self._config_task is before and self.deployment.value:  # the value did not change
            self._on_select({"new": self.deployment.value})
        if not keys:
            self._set_loading(None)

    def _on_select(self, change: dict[str, Any]) -> None:
        if self._config_task is not None and not self._config_task.done():
            self._config_task.cancel()
        if change["new"]:
            self._set_loading(f"Loading {change['new']}…")
            self._config_task = start_task(self._show_deployment(change["new"]))

    async def _show_deployment(self, key: str) -> None:
        try:
            await self._load_deployment(key)
        finally:
            self._set_loading(None)

    async def _load_deployment(self, key: str) -> None:
        deployment = self._deployments.get(key)
        templates = deployment.prompt_config.messages if deployment else None
        self.deployment.tooltip = deployment.description if deployment else None
        try:
            # The template and the config resolved without inputs give each variable's default;
            # a variable without one is not a problem (orq.ai sends it blank): the form says so.
            model = await afetch_variables(self.backend.get_config, key, templates=templates)
            problem = None
        except Exception as exc:
            model, problem = build_variables(key, templates, None), self._explain(exc, key)
        self.model = model
        self.variables = model.names
        self._run_info = RunInfo.of(deployment, model.config)
        self._build_form(model)
        self.info.value = _info_html(deployment, model.config, problem)

    def _build_form(self, model: Variables) -> None:
        self.fields = {v.name: variable_field(v, model.defaults_known) for v in model}
        self.form.children = list(self.fields.values())
        align_labels([self.deployment, *self.fields.values(), self.message])
        if self._pending_inputs is not None:
            self._fill(self._pending_inputs)
            self._pending_inputs = None

    def _fill(self, inputs: dict[str, Any]) -> None:
        for name, field in self.fields.items():
            field.value = "" if inputs.get(name) is None else str(inputs[name])

    # -- running --------------------------------------------------------------------------

    def run(self) -> Job[Result | None]:
        """Start a run with the form's values; returns its `Job` (`await` it from any event
        loop, `.result(timeout)` without one, or `await widget.wait()`)."""
        if self._run_task is not None and not self._run_task.done():
            raise RuntimeError("A run is already in progress; stop it first.")
        self._stop_requested = False
        self._run_task = start_task(self._run())
        return self._run_task

    def stop(self) -> None:
        """Stop the current run; the text received so far stays, marked as stopped."""
        if self._run_task is not None and not self._run_task.done():
            self._stop_requested = True
            self._run_task.cancel()

    async def wait(self) -> Result | None:
        """Wait until loading and the current run (if any) are over; returns `.result`.

        Awaitable from any event loop (a cell's, or the widgets' own).
        """
        await submit(settle(lambda: [self._loading, self._config_task, self._run_task]))
        raise_bug(self._run_task)
        return self.result

    async def _run(self) -> Result | None:
        await settle(lambda: [self._loading, self._config_task])
        key = self.deployment.value
        if not key:
            self.output.finish("", error="No deployment is selected.")
            return None
        inputs = {name: f.value for name, f in self.fields.items() if f.value != ""}
        message = self.message.value if self.message.value.strip() else None
        check = self.model.check(inputs, strict=self.strict_variables)
        self.notice.value = notice_html(check.warnings())
        if check.errors():
            self.output.finish("", error=" ".join(check.errors()))
            self.status.value = "<b>⚠ failed</b>"
            return None
        self._set_running(True)
        try:
            outcome = await stream_run(
                self.backend,
                key,
                inputs=inputs,
                message=message,
                context=None,
                pane=self.output,
                info=self._run_info,
                interval=self._interval,
                clock=self._clock,
                stop_requested=lambda: self._stop_requested,
                describe=lambda exc: self._explain(exc, key),
            )
        finally:
            self._set_running(False)
        self.result = outcome.result
        self.history.append((inputs, message, outcome.result))
        self.status.value = _status(outcome.result)
        self.footer.value = footer_html(outcome.result)
        self.feedback.set_result(outcome.result)
        self._refresh_history()
        self.update_static_copy()
        return outcome.result

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.deployment.disabled = running
        if running:
            self.status.value = "<i>running…</i>"
            self.footer.value = ""
            self.feedback.set_result(None)

    # -- history ----------------------------------------------------------------------------

    def _refresh_history(self) -> None:
        options = [(_history_label(i, entry), i) for i, entry in enumerate(self.history)]
        self.history_select.options = list(reversed(options))
        self.history_select.value = len(self.history) - 1
        self.load_button.disabled = False

    def _load_selected(self) -> None:
        if self.history_select.value is not None:
            self.load(self.history_select.value)

    def load(self, index: int) -> None:
        """Put run `index` of `.history` back into the form, and show its answer."""
        inputs, message, result = self.history[index]
        self.message.value = message or ""
        if result.deployment != self.deployment.value and result.deployment in (
            self.deployment.options
        ):
            self._pending_inputs = inputs  # filled in once that deployment's form is built
            self.deployment.value = result.deployment
        else:
            self._fill(inputs)
        self.output.finish(result.text, note=f"Run {index + 1}, loaded from the history.")
        self.footer.value = footer_html(result)
        self.feedback.set_result(result)
        self.status.value = ""  # the last run's "Done." is not about this entry

    # -- display ----------------------------------------------------------------------------

    def _guarded(self, action: Callable[[], object]) -> None:
        # JupyterLab drops output printed by widget callbacks: errors go to the pane instead.
        try:
            action()
        except Exception as exc:
            self.output.finish(self.output.text, error=explain(exc, surface="widget"))

    def _explain(self, exc: BaseException, key: str) -> str:
        """The magic's explanation of `exc`, with "did you mean" from the listed keys."""
        return describer(key, lambda: self._deployments)(exc)

    def _title(self) -> str:
        key = self.deployment.value or self._start_key
        return f"orq_notebook Playground ({key or 'no deployment'})"

    def _static_parts(self) -> tuple[str, str] | None:
        if not self.history:
            return None
        inputs, message, result = self.history[-1]
        given = [f"{k} = {v}" for k, v in inputs.items()]
        given += [f"message: {message}"] if message else []
        heading = f"Last run of {result.deployment} (run {len(self.history)} of the playground)"
        markdown = "\n\n".join(
            [
                f"**{_md_line(heading)}**",
                *(["\n".join(f"- {_md_line(line)}" for line in given)] if given else []),
                result.to_markdown(),
            ]
        )
        plain = "\n".join([f"{self._title()}: {heading}", *given, "", result.to_text()])
        return markdown, plain


def _md_line(text: str) -> str:
    return escape_markdown(text, newline=" ", block=False)


def _info_html(
    deployment: Deployment | None, config: DeploymentConfig | None, problem: str | None
) -> str:
    if config is not None:
        model, provider, params, version = (
            config.model,
            config.provider,
            config.parameters,
            config.version,
        )
    elif deployment is not None:
        prompt = deployment.prompt_config
        model, provider, params = prompt.model, prompt.provider, prompt.model_parameters
        version = deployment.version
    else:
        return f"<b>⚠</b> {escape_html(problem or 'Unknown deployment.')}"
    shown = " · ".join(f"{escape_html(str(k))}={escape_html(str(v))}" for k, v in params.items())
    parts = [
        f"<b>{escape_html(model)}</b>",
        escape_html(provider),
        f"version {escape_html(version)}",
    ]
    html = " · ".join(parts) + (f"<br><small>{shown}</small>" if shown else "")
    if deployment is not None and deployment.description:
        html += f"<br><i>{escape_html(deployment.description)}</i>"
    if problem:
        html += f"<br><span style='{MUTED_STYLE}'>(get_config: {escape_html(problem)})</span>"
    return html


def _status(result: Result) -> str:
    """The outcome in one word: ok, stopped or failed (as in `%orq history`)."""
    word = result.status
    return f"<b>⚠ {word}</b>" if word == "failed" else (f"<i>{word}</i>" if word != "ok" else word)


def _history_label(index: int, entry: tuple[dict[str, Any], str | None, Result]) -> str:
    # Plain text: a select's options show characters as they are, so Markdown would read raw.
    inputs, message, result = entry
    mark = "" if result.status == "ok" else f" ({result.status})"
    given = ", ".join(f"{k}={v}" for k, v in inputs.items())
    sent = shorten(given or plain_text(message or "") or "-", 40)
    label = f"{index + 1}. {result.deployment}{mark} · {sent} · {plain_text(result.text)}"
    return shorten(label, 100)
