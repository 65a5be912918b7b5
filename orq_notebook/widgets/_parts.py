"""Building blocks shared by the playground (`_widgets`) and the compare widget (`_compare`).

A streaming pane, a rate limiter for its updates, one streamed run turned into a Result (full,
stopped or failed), the static copy a widget leaves in the saved notebook, and the helpers that
find a deployment's `{{variables}}` and their defaults.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as widgets
from IPython.display import display as _untyped_display

from ..client._models import Deployment, DeploymentConfig
from ..client._notices import retry_notices
from ..client._variables import Variable
from ..display._answer import answer_markdown
from ..display._errors import did_you_mean, explain, render_error
from ..display._format import format_retry
from ..display._render import escape_html, format_duration, format_usage
from ..display._result import Result
from ..display._theme import MUTED_STYLE, NOTE_STYLE
from ._loop import Job, submit
from ._style import PANE_CLASS, STYLESHEET, WIDGET_CLASS, pane_border

if TYPE_CHECKING:
    from ._backend import PlaygroundBackend

T = TypeVar("T")

# IPython's `display` has no annotations; this gives it a type for our calls.
display: Callable[..., Any] = _untyped_display

# ---------------------------------------------------------------------------------------------
# Variable fields (the model is `client._variables.Variables`)


def field_placeholder(defaults: Sequence[str | None], known: bool = True) -> str:
    """What an empty field means: `default: Acme`, or `required (no default)`.

    `defaults` has one entry per deployment the field feeds (Compare: one per column), None
    where that deployment has no default; `known` is False when the server did not say."""
    if not known:
        return ""
    if any(d is None for d in defaults):
        return "required (no default)"
    shown = list(dict.fromkeys(d for d in defaults if d is not None))
    return "default: " + " / ".join(shown) if shown else ""


def variable_field(variable: Variable, known: bool = True, value: str = "") -> widgets.Text:
    """A text field for one variable, its placeholder saying what leaving it empty does."""
    places = ", ".join(variable.places)
    return widgets.Text(
        value=value,
        description=variable.name,
        placeholder=field_placeholder([variable.default], known),
        tooltip=f"{{{{{variable.name}}}}} in the {places}" if places else None,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="auto", flex="1 1 auto"),
    )


def notice_html(lines: Sequence[str]) -> str:
    """Warnings shown under the Run button (the magics' lines, word for word)."""
    return "<br>".join(escape_html(line) for line in lines)


# ---------------------------------------------------------------------------------------------
# Tasks on the widgets' loop (see `_loop`)


def start_task(coro: Coroutine[Any, Any, T]) -> Job[T]:
    """Run `coro` on the widgets' own loop, whichever thread or loop delivered the request."""
    return submit(coro)


def raise_bug(job: Job[Any] | None) -> None:
    """Re-raise what a finished run raised: backend errors are caught, so it is a bug."""
    if job is not None and (error := job.exception()) is not None:
        raise error


class Throttle:
    """Calls `flush` at most once per `interval` seconds; the first call goes through at once.

    Calls in between are coalesced into one flush at the end of the interval, so the pane
    shows the newest text without one frontend message per token.
    """

    def __init__(self, flush: Callable[[], None], interval: float, clock: Callable[[], float]):
        self._flush, self._interval, self._clock = flush, interval, clock
        self._last: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def poke(self) -> None:
        if self._timer is not None:
            return
        wait = 0.0 if self._last is None else self._last + self._interval - self._clock()
        if wait <= 0:
            self._fire()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._last = self._clock()
        self._flush()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


# ---------------------------------------------------------------------------------------------
# The streaming pane and one streamed run


def _output(data: dict[str, str]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _answer(text: str) -> dict[str, Any]:
    # Model text is untrusted and the pane renders as trusted output: no raw HTML gets through.
    return _output({"text/markdown": answer_markdown(text), "text/plain": text})


def _note(text: str) -> dict[str, Any]:
    html = f'<div style="{NOTE_STYLE}">{escape_html(text)}</div>'
    return _output({"text/html": html, "text/plain": text})


class Pane:
    """An `Output` widget whose outputs are set, not captured.

    Capturing (`with output:`) routes by the parent message id, which a task started from a
    button click does not reliably carry; setting `outputs` is a plain widget-state update that
    JupyterLab, Notebook 7 and VS Code all render (Markdown included).
    """

    def __init__(self, max_height: str | None = None) -> None:
        # A long answer scrolls inside the pane (max_height), not the whole widget.
        self.widget = widgets.Output(
            layout=widgets.Layout(
                border=pane_border(),
                padding="2px 8px",
                min_height="3em",
                max_height=max_height,
                overflow="auto",
            )
        )
        self.widget.add_class(PANE_CLASS)
        self.text = ""

    def show(self, text: str) -> None:
        """Show the answer so far."""
        self.text = text
        self.widget.outputs = (_answer(text) if text else _note("…"),)

    def waiting(self, note: str) -> None:
        """A wait before the answer, e.g. "⟳ rate limited, retrying in 20.0 s"."""
        self.widget.outputs = (_answer(self.text) if self.text else _note("…"), _note(note))

    def finish(
        self, text: str, *, note: str | None = None, error: BaseException | str | None = None
    ) -> None:
        """The last state: the answer, then a note ("Stopped.") and/or one error line."""
        self.text = text
        outputs = [_answer(text)] if text else []
        if note:
            outputs.append(_note(note))
        if isinstance(error, BaseException):
            rendered = render_error(error)
            outputs.append(_output({"text/html": rendered.html, "text/plain": rendered.text}))
        elif error:
            html = f"<b>⚠</b> {escape_html(error)}"
            outputs.append(_output({"text/html": html, "text/plain": f"⚠ {error}"}))
        self.widget.outputs = tuple(outputs)


def describer(key: str, known: Callable[[], Iterable[str]]) -> Callable[[BaseException], str]:
    """Explains an error of deployment `key` as the magics do, "did you mean" included."""

    def describe(exc: BaseException) -> str:
        if getattr(exc, "status_code", None) == 404:
            exc.wanted_key = key  # type: ignore[attr-defined]
        return explain(exc, surface="widget", suggest=lambda wanted: did_you_mean(wanted, known()))

    return describe


@dataclass(frozen=True)
class RunInfo:
    """What is known of a deployment before running it, for results of unfinished runs."""

    model: str = ""
    provider: str = ""
    version: str | None = None

    @classmethod
    def of(cls, deployment: Deployment | None, config: DeploymentConfig | None) -> RunInfo:
        if config is not None:
            return cls(config.model, config.provider, config.version)
        if deployment is not None:
            prompt = deployment.prompt_config
            return cls(prompt.model, prompt.provider, deployment.version)
        return cls()


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its Result (partial when stopped or failed) and the error, if any."""

    result: Result
    error: Exception | None = None
    stopped: bool = False


async def stream_run(
    backend: PlaygroundBackend,
    key: str,
    *,
    inputs: dict[str, Any],
    message: str | None,
    context: dict[str, Any] | None,
    pane: Pane,
    info: RunInfo,
    interval: float,
    clock: Callable[[], float],
    stop_requested: Callable[[], bool],
    describe: Callable[[BaseException], str] | None = None,
) -> Outcome:
    """Run `key` through `backend`, streaming into `pane` at a bounded rate.

    A backend error ends in the pane as one line (`describe(exc)`, by default the magics'
    explanation); a Stop (cancellation while `stop_requested()`)
    keeps the partial text. Both give a partial Result. Any other cancellation propagates.
    """
    pieces: list[str] = []
    start = clock()
    first_token: list[float] = []
    throttle = Throttle(lambda: pane.show("".join(pieces)), interval, clock)

    def on_text(piece: str) -> None:
        if not first_token:
            first_token.append(clock() - start)
        pieces.append(piece)
        throttle.poke()

    def partial(text: str, error: str | None) -> Result:
        sent = [{"role": "user", "content": message}] if message else []
        return Result(
            text,
            deployment=key,
            messages=[*sent, {"role": "assistant", "content": text}],
            model=info.model or None,
            provider=info.provider or None,
            version=info.version,
            latency=clock() - start,
            time_to_first_token=first_token[0] if first_token else None,
            partial=True,
            error=error,
        )

    pane.show("")
    try:
        # A retry's wait (a 429's Retry-After may ask for a minute) is said in the pane.
        with retry_notices(lambda notice: pane.waiting(f"⟳ {format_retry(notice)}")):
            result = await backend.run(
                key, inputs=inputs, message=message, context=context, on_text=on_text
            )
    except asyncio.CancelledError:
        throttle.cancel()
        stopped = partial("".join(pieces), None)
        pane.finish(stopped.text, note="stopped")  # one word for it, whoever stopped it
        if not stop_requested():
            raise
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):  # Python 3.11+: the stop is handled
            task.uncancel()
        return Outcome(stopped, stopped=True)
    except Exception as exc:
        throttle.cancel()
        text = "".join(pieces) or str(getattr(exc, "partial_text", ""))
        line = (describe or (lambda e: explain(e, surface="widget")))(exc)
        pane.finish(text, error=line)
        return Outcome(partial(text, line), error=exc)
    throttle.cancel()
    pane.finish(result.text or "".join(pieces))
    if result.version is None:  # answers do not carry it: the deployment's, as looked up
        result.version = info.version
    return Outcome(result)


# ---------------------------------------------------------------------------------------------
# Result figures


def footer_html(result: Result) -> str:
    """Latency, time to first token, tokens, finish reason and trace id, in one small line."""
    parts = [
        f"latency {format_duration(result.latency)}" if result.latency is not None else "",
        f"first token {format_duration(result.time_to_first_token)}"
        if result.time_to_first_token is not None
        else "",
        format_usage(result.usage),
        f"finish {result.finish_reason}" if result.finish_reason else "",
        f"trace {result.trace_id}" if result.trace_id else "",
    ]
    return f'<div style="{MUTED_STYLE}">{escape_html(" · ".join(p for p in parts if p))}</div>'


# ---------------------------------------------------------------------------------------------
# The static copy left in the saved notebook


# JupyterLab's output for a widget whose model is gone: `.jupyter-widgets` on the output itself,
# holding only the sentence "Error displaying widget: model not found" (no element).
_HIDE_WIDGET_ERROR = (
    ".jp-OutputArea-child:has(+ .jp-OutputArea-child .orq-static) > "
    ".jp-OutputArea-output.jupyter-widgets:not(:has(*)) {display: none}"
)


class StaticCopyBox(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A VBox that leaves a static copy of its last results in the notebook.

    A widget's output holds only a reference to live state, which is gone when the notebook is
    reopened without a kernel: JupyterLab then shows "model not found", not a fallback, and
    VS Code likewise. So displaying the widget (`_ipython_display_`) also opens a second output
    right below it, a plain display with a display id, and `update_static_copy()` (called when
    a run ends) rewrites it through that id. Display updates are applied to the saved `.ipynb`
    by JupyterLab, Notebook 7, VS Code and nbclient alike, whichever cell is running.

    The copy is Markdown (`text/markdown` + `text/plain`), the way a `Result` displays, since
    every frontend would prefer an HTML version and show the answer unformatted. While the
    widget is live the copy would repeat what it shows, so the widget carries a hidden
    `<style>` rule that hides the copy's `<div>`. The rule exists only where the widget is
    rendered: reopened without a kernel, or exported, the notebook shows the copy.

    Reopened without a kernel, JupyterLab also shows "Error displaying widget: model not
    found" in the widget's own output, just above the copy. The copy carries one more rule
    that hides exactly that: an errored widget output (a `.jupyter-widgets` output with no
    element inside: ipywidgets puts only that sentence there) directly followed by a static
    copy. A widget that renders, here or from saved widget state, is never hidden.

    The widget's own output gets a readable `text/plain` title, and a `text/html` line for
    renderers that skip widgets (nbconvert, GitHub), next to ipywidgets' view mimetype.
    The same hidden child brings the widgets' stylesheet (`_style.py`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class(WIDGET_CLASS)
        self._static_class = f"orq-static-{uuid.uuid4().hex[:12]}"
        self._static_handles: list[Any] = []
        self.hide_static_copy = widgets.HTML(
            f"<style>.{self._static_class} {{display: none}}\n{STYLESHEET}</style>",
            layout=widgets.Layout(display="none"),
        )

    def _title(self) -> str:
        raise NotImplementedError

    def _static_parts(self) -> tuple[str, str] | None:
        """(markdown, plain text) of the last results, or None before the first run."""
        raise NotImplementedError

    def static_bundle(self) -> dict[str, str]:
        """The mime bundle of the static copy: `text/markdown` and `text/plain`."""
        parts = self._static_parts()
        if parts is None:
            return {"text/plain": ""}
        markdown, plain = parts
        # Blank lines around the body: Markdown inside an HTML block is rendered as Markdown.
        wrapped = (
            f'<div class="orq-static {self._static_class}">\n<style>{_HIDE_WIDGET_ERROR}</style>'
            f"\n\n{markdown}\n\n</div>"
        )
        return {"text/markdown": wrapped, "text/plain": plain}

    def update_static_copy(self) -> None:
        bundle = self.static_bundle()
        for handle in self._static_handles:
            handle.update(bundle, raw=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        # ipywidgets 8 returns {"text/plain": repr(self), widget-view: {model_id...}}, or None
        # once the widget is closed; a short title reads better than the truncated repr.
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            title = self._title()
            data["text/plain"] = title
            data["text/html"] = (
                f"<p><i>{escape_html(title)}: an interactive widget (it needs a running "
                "kernel); a static copy of its last run follows.</i></p>"
            )
        return data

    def _ipython_display_(self) -> None:
        display(self._repr_mimebundle_(), raw=True)
        handle = display(self.static_bundle(), raw=True, display_id=True)
        if handle is not None:
            self._static_handles.append(handle)
