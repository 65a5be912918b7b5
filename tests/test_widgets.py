"""The playground and compare widgets, driven through their callbacks with a fake backend.

The fake streams scripted pieces. A gated fake hands out one piece per `step()`, so a test can
look at the pane between two pieces without timing anything.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.client._exceptions import NotFoundError
from orq_notebook.client._models import ConfigMessage, Deployment, DeploymentConfig
from orq_notebook.client._templating import render
from orq_notebook.client._variables import infer_defaults
from orq_notebook.display._result import Result
from orq_notebook.widgets._compare import CompareWidget
from orq_notebook.widgets._loop import submit
from orq_notebook.widgets._playground import PlaygroundWidget

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def on_widget_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on the widgets' own loop, where the widgets run their tasks.

    The fakes below use asyncio primitives (events, queues), which belong to one loop: the
    test, the widget and the fake then share it, as a kernel's widgets share theirs.
    """

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        submit(test(*args, **kwargs)).result(timeout=30)

    return run


def deployment(key: str, system: str, *, model: str = "gpt-4o-mini") -> Deployment:
    return Deployment(
        id=f"id-{key}",
        created="2024-05-01T00:00:00Z",
        updated="2024-05-01T00:00:00Z",
        key=key,
        description=f"The {key} deployment",
        version="v3",
        prompt_config={
            "provider": "openai",
            "model": model,
            "model_type": "chat",
            "model_parameters": {"temperature": 0.2},
            "messages": [{"role": "system", "content": system}],
        },
    )


class FakeBackend:
    """A `PlaygroundBackend` that streams `pieces` and records what it was asked."""

    def __init__(
        self,
        deployments: list[Deployment],
        pieces: list[str],
        *,
        defaults: dict[str, str] | None = None,
        gated: bool = False,
        hang_after: int | None = None,
        fail: dict[str, Exception] | None = None,
    ) -> None:
        self.deployments = {d.key: d for d in deployments}
        self.pieces = pieces
        self.defaults = defaults or {}
        self.gated = gated
        self.hang_after = hang_after  # pieces sent before waiting forever (for Stop)
        self.fail = fail or {}  # key -> error raised after the first piece
        self.calls: list[dict[str, Any]] = []
        self.cancelled: list[str] = []
        self.closed: list[str] = []
        self.hanging = asyncio.Event()
        self.hung: list[str] = []
        self._go: asyncio.Queue[None] = asyncio.Queue()
        self._sent: asyncio.Queue[str] = asyncio.Queue()

    async def list_deployments(self) -> list[Deployment]:
        return list(self.deployments.values())

    async def get_config(
        self,
        key: str,
        *,
        inputs: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> DeploymentConfig:
        if key not in self.deployments:
            raise NotFoundError(f"No deployment {key!r}.", status_code=404)
        prompt = self.deployments[key].prompt_config
        values = {**self.defaults, **(inputs or {})}
        return DeploymentConfig(
            id=f"id-{key}",
            provider=prompt.provider,
            model=prompt.model,
            version="v3",
            parameters=prompt.model_parameters,
            messages=[
                {"role": m.role, "content": render(str(m.content), values, strict=False)}
                for m in prompt.messages
            ],
        )

    async def step(self) -> str:
        """Let a gated run send its next piece; returns the piece once it was delivered."""
        self._go.put_nowait(None)
        return await self._sent.get()

    async def run(
        self,
        key: str,
        *,
        inputs: dict[str, Any],
        message: str | None,
        context: dict[str, Any] | None,
        on_text: Callable[[str], None],
    ) -> Result:
        self.calls.append({"key": key, "inputs": inputs, "message": message, "context": context})
        try:
            for n, piece in enumerate(self.pieces):
                if n == self.hang_after:
                    self.hung.append(key)
                    self.hanging.set()
                    await asyncio.Event().wait()
                if self.gated:
                    await self._go.get()
                else:
                    await asyncio.sleep(0)
                on_text(piece)
                self._sent.put_nowait(piece)
                if key in self.fail:
                    raise self.fail[key]
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        finally:
            self.closed.append(key)
        text = "".join(self.pieces)
        return Result(
            text,
            deployment=key,
            messages=[{"role": "assistant", "content": text}],
            model="gpt-4o-mini",
            provider="openai",
            version="v3",
            trace_id=f"trace-{key}",
            id=f"inv-{key}",
            usage={"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
            latency=0.25,
            time_to_first_token=0.05,
            finish_reason="stop",
            retrievals=[],
            raw={},
        )


SUPPORT = deployment("support", "You answer for {{company}} about {{topic}}. Be brief.")
OTHER = deployment("other", "Write about {{topic}} for {{audience}}.", model="gpt-4o")


def markdown_of(pane_outputs: tuple[dict[str, Any], ...]) -> str:
    return "".join(o["data"].get("text/markdown", "") for o in pane_outputs)


def plain_of(pane_outputs: tuple[dict[str, Any], ...]) -> str:
    return "\n".join(o["data"].get("text/plain", "") for o in pane_outputs)


# -- variables and defaults ------------------------------------------------------------------


@on_widget_loop
async def test_playground_fields_show_real_defaults_and_what_is_required() -> None:
    backend = FakeBackend([SUPPORT, OTHER], ["hi"], defaults={"company": "Acme"})
    w = PlaygroundWidget(backend, key="support", interval=0)
    await w.wait()

    assert w.deployment.options == ("support", "other")
    assert w.variables == ["company", "topic"]
    # Empty fields, and what leaving them empty does: the real default, or nothing at all.
    assert w.fields["company"].value == "" and w.fields["topic"].value == ""
    assert w.fields["company"].placeholder == "default: Acme"
    assert w.fields["topic"].placeholder == "required (no default)"
    assert "get_config" not in w.info.value and "⚠" not in w.info.value
    assert "gpt-4o-mini" in w.info.value and "temperature=0.2" in w.info.value
    assert w.deployment.tooltip == "The support deployment"

    w.deployment.value = "other"
    await w.wait()
    assert w.variables == ["topic", "audience"]
    assert [f.description for f in w.form.children] == ["topic", "audience"]


def test_infer_defaults_matches_templates_against_their_resolution() -> None:
    def msgs(*texts: str) -> list[ConfigMessage]:
        return [ConfigMessage(role="system", content=t) for t in texts]

    templates = msgs("For {{a}} and {{ b }}; again {{a}}.", "Only {{c}}", "{{d}} x")
    resolved = msgs("For Acme Inc and {{ b }}; again Acme Inc.", "Only (c)", "other text")
    assert infer_defaults(templates, resolved) == {"a": "Acme Inc", "c": "(c)"}


# -- running ---------------------------------------------------------------------------------


@on_widget_loop
async def test_run_streams_into_the_pane_and_ends_with_the_result() -> None:
    backend = FakeBackend([SUPPORT], ["Hel", "lo ", "world"], defaults={"company": "Acme"})
    w = PlaygroundWidget(backend, interval=0)
    await w.wait()
    w.fields["company"].value = "Initech"
    w.message.value = "Where is my parcel?"
    task = w.run()

    seen = []
    for _ in backend.pieces:
        await backend.step()
        seen.append(markdown_of(w.output.widget.outputs))
        if len(seen) == 1:
            assert w.run_button.disabled and not w.stop_button.disabled
    assert seen == ["Hel", "Hello ", "Hello world"]

    assert await task is w.result
    assert w.result is not None and w.result.text == "Hello world"
    assert markdown_of(w.output.widget.outputs) == "Hello world"
    assert backend.calls == [
        {
            "key": "support",
            "inputs": {"company": "Initech"},  # the empty `topic` is not sent
            "message": "Where is my parcel?",
            "context": None,
        }
    ]
    assert "latency 250 ms" in w.footer.value and "first token 50 ms" in w.footer.value
    assert "12 tokens (7 in, 5 out)" in w.footer.value and "trace trace-support" in w.footer.value
    assert w.history == [({"company": "Initech"}, "Where is my parcel?", w.result)]
    # `topic` has no default: the run said so, in the magics' words.
    assert w.notice.value == "⚠ {{topic}} has no value and no default: it is sent as empty text."
    assert not w.run_button.disabled and w.stop_button.disabled


@on_widget_loop
async def test_model_html_is_shown_as_text_not_run() -> None:
    backend = FakeBackend([SUPPORT], ["<img src=x onerror=alert(1)>", " **bold**"])
    w = PlaygroundWidget(backend, interval=0)
    await w.wait()
    w.run()
    await w.wait()
    shown = markdown_of(w.output.widget.outputs)
    assert "<img" not in shown and "&lt;img" in shown and "**bold**" in shown


@on_widget_loop
async def test_pane_updates_are_coalesced() -> None:
    backend = FakeBackend([SUPPORT], ["a", "b", "c", "d", "e"])
    # A clock that never moves: after the first piece, every update waits for the interval.
    w = PlaygroundWidget(backend, interval=60, clock=lambda: 0.0)
    await w.wait()
    updates: list[str] = []
    w.output.widget.observe(lambda c: updates.append(markdown_of(c["new"])), names="outputs")
    w.run()
    await w.wait()
    assert updates == ["", "a", "abcde"]  # waiting, the first piece at once, the final text


@on_widget_loop
async def test_stop_cancels_the_stream_and_keeps_the_partial_text() -> None:
    backend = FakeBackend([SUPPORT], ["Once ", "upon ", "a time"], hang_after=2)
    w = PlaygroundWidget(backend, interval=0)
    await w.wait()
    w.run()
    await backend.hanging.wait()

    w.stop_button.click()
    result = await w.wait()

    assert backend.cancelled == ["support"] and backend.closed == ["support"]
    assert result is not None and result.partial and result.error is None
    assert result.text == "Once upon "
    assert markdown_of(w.output.widget.outputs) == "Once upon "
    assert "stopped" in plain_of(w.output.widget.outputs)
    assert w.history[-1][2] is result
    assert "stopped" in w.status.value
    assert not w.run_button.disabled and w.stop_button.disabled


@on_widget_loop
async def test_a_backend_error_is_one_line_in_the_pane() -> None:
    error = NotFoundError("No deployment 'support' here.\nSecond line.", status_code=404)
    backend = FakeBackend([SUPPORT], ["Part", "ial"], fail={"support": error})
    w = PlaygroundWidget(backend, interval=0)
    await w.wait()
    w.run()
    result = await w.wait()

    line = "No deployment 'support' here. Second line."  # explained as the magics do
    assert result is not None and result.error == line
    assert result.text == "Part" and result.partial
    outputs = w.output.widget.outputs
    assert markdown_of(outputs) == "Part"
    assert outputs[-1]["data"]["text/plain"] == f"⚠ {line}"  # one line, from _display
    assert "failed" in w.status.value


@on_widget_loop
async def test_a_second_run_while_running_is_refused() -> None:
    backend = FakeBackend([SUPPORT], ["x", "y"], hang_after=1)
    w = PlaygroundWidget(backend, interval=0)
    await w.wait()
    w.run()
    await backend.hanging.wait()
    with pytest.raises(RuntimeError, match="already in progress"):
        w.run()
    w.run_button.click()  # a click reports the refusal in the pane instead of raising
    assert "already in progress" in plain_of(w.output.widget.outputs)
    w.stop()
    await w.wait()


@on_widget_loop
async def test_history_reloads_inputs_and_message_into_the_form() -> None:
    backend = FakeBackend([SUPPORT, OTHER], ["answer"], defaults={"company": "Acme"})
    w = PlaygroundWidget(backend, key="support", interval=0)
    await w.wait()
    w.fields["topic"].value = "refunds"
    w.message.value = "first"
    w.run()
    await w.wait()

    w.deployment.value = "other"
    await w.wait()
    w.fields["audience"].value = "kids"
    w.message.value = "second"
    w.run()
    await w.wait()
    assert len(w.history) == 2 and w.history_select.value == 1

    w.history_select.value = 0
    w.load_button.click()
    await w.wait()  # selecting `support` again fetches its config, then fills the form
    assert w.deployment.value == "support"
    assert {n: f.value for n, f in w.fields.items()} == {"company": "", "topic": "refunds"}
    assert w.message.value == "first"
    assert "loaded from the history" in plain_of(w.output.widget.outputs)

    w.load(1)
    await w.wait()
    assert w.deployment.value == "other" and w.fields["audience"].value == "kids"


# -- the static copy -------------------------------------------------------------------------


@on_widget_loop
async def test_a_run_leaves_a_static_copy_for_the_saved_notebook() -> None:
    backend = FakeBackend([SUPPORT], ["The ", "answer"], defaults={"company": "Acme"})
    w = PlaygroundWidget(backend, interval=0)
    await w.wait()
    w.fields["company"].value = "Acme"

    bundle = w._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    assert bundle["text/plain"] == "orq_notebook Playground (support)"
    assert "needs a running kernel" in bundle["text/html"]
    assert w.static_bundle()["text/plain"] == ""

    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.display_formatter.format(w)  # what the display hook does with a cell's value
        w.run()
        await w.wait()
    first, static, update = captured.outputs
    assert WIDGET_VIEW in first.data
    assert static.transient is not None and not static.update
    assert update.update and update.transient == static.transient
    markdown = update.data["text/markdown"]
    assert "The answer" in markdown and "company = Acme" in markdown  # answer and inputs
    assert "The answer" in update.data["text/plain"]
    # The live widget hides its own static copy; the rule exists only where the widget renders.
    hidden = w._static_class
    assert f'<div class="orq-static {hidden}">' in markdown
    assert f".{hidden} {{display: none}}" in w.hide_static_copy.value


def test_without_any_event_loop_the_widget_still_loads_and_runs() -> None:
    # A script, or terminal IPython: no loop runs here; the widgets' own loop does the work.
    w = PlaygroundWidget(FakeBackend([SUPPORT], ["plain ", "thread"]), interval=0)
    result = w.run().result(timeout=10)
    assert result is not None and result.text == "plain thread" and result.status == "ok"
    assert w.variables == ["company", "topic"]


# -- compare ---------------------------------------------------------------------------------


@on_widget_loop
async def test_compare_an_error_stays_in_its_column_while_the_others_finish() -> None:
    broken = deployment("broken", "Hello {{topic}}")
    error = NotFoundError("The model behind 'broken' is gone.", status_code=404)
    backend = FakeBackend([SUPPORT, broken, OTHER], ["Tides ", "rise."], fail={"broken": error})
    w = CompareWidget(backend, ["support", "broken", "other"], inputs={"topic": "tides"})
    await w.wait()
    assert w.variables == ["company", "topic", "audience"]
    results = await w.run()

    assert results is w.results
    ok_a, failed, ok_b = results
    assert failed is error
    assert isinstance(ok_a, Result) and ok_a.text == "Tides rise."
    assert isinstance(ok_b, Result) and ok_b.text == "Tides rise."
    broken_pane = w.columns[1].pane.widget.outputs
    assert markdown_of(broken_pane) == "Tides "
    assert "⚠ The model behind 'broken' is gone." in plain_of(broken_pane)
    assert markdown_of(w.columns[2].pane.widget.outputs) == "Tides rise."
    assert "12 tokens" in w.columns[0].footer.value
    assert "stop" in w.summary.value and "failed (404)" in w.summary.value
    static = w.static_bundle()
    assert static["text/markdown"].count("Tides rise.") == 2
    assert "| column | status |" in static["text/markdown"]
    assert "is gone" in static["text/markdown"] and "is gone" in static["text/plain"]


@on_widget_loop
async def test_compare_variants_of_one_deployment_through_contexts() -> None:
    backend = FakeBackend([SUPPORT], ["ok"])
    contexts = [{"environments": "production"}, {"environments": "staging"}]
    w = CompareWidget(backend, ["support"], contexts=contexts, message="hi", interval=0)
    await w.wait()
    w.run_button.click()
    await w.wait()

    assert [c["context"] for c in backend.calls] == contexts
    assert {c["message"] for c in backend.calls} == {"hi"}
    assert [c.label for c in w.columns] == [
        'support [environments="production"]',
        'support [environments="staging"]',
    ]
    assert all(isinstance(r, Result) and r.text == "ok" for r in w.results)


@on_widget_loop
async def test_compare_sends_given_inputs_with_their_types_unless_edited() -> None:
    backend = FakeBackend([SUPPORT, OTHER], ["ok"])
    w = CompareWidget(backend, ["support", "other"], inputs={"topic": 3, "company": "Acme"})
    await w.wait()
    assert w.fields["topic"].value == "3"
    w.run()
    await w.wait()
    assert backend.calls[0]["inputs"] == {"topic": 3, "company": "Acme"}

    w.fields["topic"].value = "4"
    w.fields["company"].value = ""
    w.run()
    await w.wait()
    assert backend.calls[-1]["inputs"] == {"topic": "4"}


@on_widget_loop
async def test_compare_stop_keeps_every_column_partial() -> None:
    backend = FakeBackend([SUPPORT, OTHER], ["First ", "second"], hang_after=1)
    w = CompareWidget(backend, ["support", "other"], interval=0)
    await w.wait()
    w.run()
    while len(backend.hung) < 2:
        await asyncio.sleep(0)

    w.stop_button.click()
    results = await w.wait()

    assert sorted(backend.cancelled) == ["other", "support"]
    assert all(isinstance(r, Result) and r.partial and r.text == "First " for r in results)
    assert all("stopped" in plain_of(c.pane.widget.outputs) for c in w.columns)
    assert "stopped" in w.summary.value


def test_compare_needs_matching_keys_and_contexts() -> None:
    backend = FakeBackend([SUPPORT], ["x"])
    with pytest.raises(ValueError, match="2 keys and 3 contexts"):
        CompareWidget(backend, ["a", "b"], contexts=[{}, {}, {}])
    with pytest.raises(ValueError, match="at least one"):
        CompareWidget(backend, [])


# -- layout and style ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_labels_share_one_column_and_panes_scroll_on_their_own() -> None:
    long_name = deployment("long", "For {{a}} and {{customer_segment}}.")
    w = PlaygroundWidget(FakeBackend([long_name], ["x"]), interval=0)
    await w.wait()
    widths = {c.style.description_width for c in (w.deployment, w.message, *w.fields.values())}
    assert widths == {"17ch"}  # "customer_segment" is the longest label: one column for all
    assert w.output.widget.layout.max_height and w.output.widget.layout.overflow == "auto"
    assert "orq-pane" in w.output.widget._dom_classes
    assert "orq-widget" in w._dom_classes
    assert "orq-text" in w.footer._dom_classes  # its own line height, not 28 px
    style = w.hide_static_copy.value
    assert ".orq-widget .widget-textarea textarea" in style and "font-family" in style
    assert "white-space: pre;" in style  # code scrolls sideways in a pane, never breaks


@pytest.mark.anyio
async def test_compare_columns_wrap_instead_of_overflowing() -> None:
    w = CompareWidget(FakeBackend([SUPPORT, OTHER], ["x"]), ["support", "other"], interval=0)
    await w.wait()
    (row,) = [c for c in w.children if w.columns[0].pane.widget in _descendants(c)]
    assert row.layout.flex_flow == "row wrap"
    assert all(box.layout.flex == "1 1 16em" for box in row.children)
    assert all(c.pane.widget.layout.max_height for c in w.columns)
    widths = {c.style.description_width for c in (w.message, *w.fields.values())}
    assert len(widths) == 1


@pytest.mark.anyio
async def test_history_labels_are_plain_text_and_loading_clears_the_status() -> None:
    backend = FakeBackend([SUPPORT], ["**Bold** answer with `code`"], defaults={"company": "A"})
    w = PlaygroundWidget(backend, interval=0)
    await w.wait()
    w.message.value = "Is *this* plain?"
    w.fields["company"].value = ""
    w.run()
    await w.wait()
    assert w.status.value == "ok"
    (label,) = [label for label, _ in w.history_select.options]
    assert label == "1. support · Is this plain? · Bold answer with code"
    w.load(0)
    await w.wait()
    assert w.status.value == ""  # "ok" was about the last run, not the loaded entry


@pytest.mark.anyio
async def test_the_static_copy_hides_jupyterlabs_model_not_found_above_it() -> None:
    w = PlaygroundWidget(FakeBackend([SUPPORT], ["answer"], defaults={"company": "A"}))
    await w.wait()
    w.run()
    await w.wait()
    markdown = w.static_bundle()["text/markdown"]
    head = markdown.split("\n\n", 1)[0]  # one HTML block: the div and its style
    assert head.startswith('<div class="orq-static') and "<style>" in head
    assert ":has(+ .jp-OutputArea-child .orq-static)" in head
    assert ".jupyter-widgets:not(:has(*))" in head  # only an errored (empty) widget output


def _descendants(widget: Any) -> list[Any]:
    found = []
    for child in getattr(widget, "children", ()):
        found += [child, *_descendants(child)]
    return found
