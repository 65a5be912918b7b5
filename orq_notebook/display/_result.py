"""`Result`: what one invocation of a deployment returned, ready to display and to keep.

Usage:

    res = %orq invoke support-answer "Where is my order?"
    res.text, res.usage, res.trace_id, res.to_dict()
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from orq_notebook.client._models import Invocation
from orq_notebook.display import _feedback
from orq_notebook.display._answer import answer_markdown, json_block, longest_run
from orq_notebook.display._render import (
    escape_html,
    escape_markdown,
    format_count,
    format_duration,
    format_usage,
    mimebundle,
    shorten,
)
from orq_notebook.display._sent import SentView, sent_images, thumbnails_html
from orq_notebook.display._theme import CODE_FONT, MUTED_SMALL, MUTED_STYLE, WARN

if TYPE_CHECKING:
    from orq_notebook.display._feedback import FeedbackSender

__all__ = ["DEFAULT_MIMETYPES", "Result"]

# Notebook frontends show the highest-ranked mimetype of a bundle, and every one of them ranks
# text/html above text/markdown (JupyterLab and Notebook 7: html 50 < markdown 60; VS Code and
# classic Notebook likewise). A bundle holding both would always show the HTML, which has to
# show model text escaped and unformatted, and the Markdown would never be seen. So by default
# a Result offers text/markdown (the answer rendered, with a footer) and text/plain (terminals,
# logs); the HTML view is there when asked for: `display(res, include=["text/html"])`,
# `res.to_html()` or `_repr_mimebundle_(include=...)`.
DEFAULT_MIMETYPES: tuple[str, ...] = ("text/plain", "text/markdown")

_PROVENANCE = (
    "deployment",
    "version",
    "model",
    "provider",
    "trace_id",
    "usage",
    "latency",
    "time_to_first_token",
    "finish_reason",
    "id",
)


@dataclass(eq=True, repr=False)
class Result:
    """The rich, capturable result of one invocation of a deployment.

    Usage: `Result.from_invocation(invocation, deployment="support-answer", messages=sent,
    latency=1.2)`; `str(res)` is the answer, `res.to_dict()` is JSON-ready.

    Attributes:
        text: the answer (what streamed so far, when `partial`).
        deployment: the deployment key.
        messages: what was sent, followed by the answer as an assistant message.
        model, provider, version: what answered.
        trace_id, id: the orq trace id and the response id.
        usage: token counts as the API reported them (`total_tokens`, ...), or None.
        latency: seconds from sending the request to the end of the answer.
        time_to_first_token: seconds to the first streamed piece (None when not streamed).
        finish_reason: why the model stopped (`stop`, `length`, `tool_calls`, ...).
        retrievals: knowledge-base passages used, as dicts.
        tool_calls: the tool calls the model asked for, as dicts
            (`{"id", "type", "function": {"name", "arguments"}}`).
        raw: the response as received, as a dict.
        partial: True when the answer stopped early (stopped, or a stream that failed).
        error: why it failed, when it did.
        status: `ok`, `failed` (an error ended it) or `stopped` (interrupted or stopped by
            hand; the text so far is kept) — the same three words as `%orq history`, batch
            rows and the widgets.
    """

    text: str
    deployment: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    provider: str | None = None
    version: str | None = None
    trace_id: str | None = None
    id: str | None = None
    usage: dict[str, Any] | None = None
    latency: float | None = None
    time_to_first_token: float | None = None
    finish_reason: str | None = None
    retrievals: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    partial: bool = False
    error: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_invocation(
        cls,
        inv: Invocation,
        *,
        deployment: str,
        messages: Sequence[Mapping[str, Any] | BaseModel] = (),
        version: str | None = None,
        latency: float | None,
        time_to_first_token: float | None = None,
        partial: bool = False,
        error: str | None = None,
    ) -> Result:
        """Build a Result from an `Invocation` (from `invoke` or `stream.to_invocation()`).

        Args:
            inv: the response.
            deployment: the deployment key that was invoked.
            messages: the messages that were sent (dicts or request models); the answer is
                appended as an assistant message, unless it is already their last one.
            version: the deployment version, when known.
            latency: seconds the whole call took.
            time_to_first_token: seconds to the first streamed piece.
            partial, error: mark an answer that stopped early.
        """
        calls = inv.choices[0].message.tool_calls if inv.choices else None
        tool_calls = [call.model_dump(mode="json", exclude_none=True) for call in calls or ()]
        answer: dict[str, Any] = {"role": "assistant", "content": inv.text}
        if tool_calls:
            answer["tool_calls"] = tool_calls
        sent = [_as_dict(m) for m in messages]
        if not (
            sent and sent[-1].get("role") == "assistant" and sent[-1].get("content") == inv.text
        ):
            sent.append(answer)  # unless the caller already put this answer last
        usage = inv.usage.model_dump(mode="json", exclude_none=True) if inv.usage else None
        return cls(
            text=inv.text,
            deployment=deployment,
            messages=sent,
            model=inv.model,
            provider=inv.provider,
            version=version,
            trace_id=inv.trace_id,
            id=inv.id,
            usage=_integral(usage) if usage is not None else None,
            latency=latency,
            time_to_first_token=time_to_first_token,
            finish_reason=inv.finish_reason,
            retrievals=[r.model_dump(mode="json") for r in inv.retrievals or ()],
            raw=inv.model_dump(mode="json"),
            partial=partial,
            error=error,
            tool_calls=tool_calls,
        )

    def __post_init__(self) -> None:
        self._shown = False
        self._feedback_sender: FeedbackSender | None = None
        self._feedback_ids: dict[str, str] = {}
        self.feedback_given: dict[str, Any] = {}  # property -> value sent from this Result

    def __getstate__(self) -> dict[str, Any]:
        # The sender holds the connection's key: a pickled or copied Result leaves it behind.
        state = dict(self.__dict__)
        state["_feedback_sender"] = None
        state.pop("_ipython_display_", None)
        return state

    # -----------------------------------------------------------------------------------------
    # Feedback (display/_feedback.py) and what was sent (display/_sent.py)

    def attach_feedback(self, sender: FeedbackSender | None) -> None:
        """Say where `feedback()` sends to (done by the session and the widgets' backend)."""
        self._feedback_sender = sender

    def feedback(self, property: str, value: Any) -> Any:
        """Send feedback on this answer to orq: `res.feedback("rating", "good")`.

        `property` is `rating` (`good`/`bad`), `defects`, `interactions`, `correction` (free
        text) or a Human Review key of the workspace. Sending a property again replaces its
        earlier value. Returns the server's echo; raises an `OrqError` when it fails.
        """
        return _feedback.send(self, property, value)

    async def afeedback(self, property: str, value: Any) -> Any:
        """`feedback`, awaitable (for code on a running event loop, like widgets)."""
        return await _feedback.asend(self, property, value)

    def remove_feedback(self, property: str = "rating") -> None:
        """Take back the feedback on `property` sent from this Result."""
        _feedback.remove(self, property)

    async def aremove_feedback(self, property: str = "rating") -> None:
        """`remove_feedback`, awaitable."""
        await _feedback.aremove(self, property)

    @property
    def sent(self) -> SentView:
        """The messages sent for this answer, images shown as thumbnails."""
        return SentView(self.messages)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """The inverse of `to_dict()`."""
        return cls(**data)

    # -----------------------------------------------------------------------------------------

    @property
    def image_url(self) -> str | None:
        """The picture's URL (or `data:` URI) when an image model answered, else None."""
        choices = self.raw.get("choices") or [{}]
        first = choices[0] if isinstance(choices[0], dict) else {}
        message = first.get("message") or {}
        url = message.get("url") if message.get("type") == "image" else None
        return url if isinstance(url, str) and url else None

    @property
    def status(self) -> str:
        """`ok`, `failed` or `stopped` (see the class docstring)."""
        if self.error is not None:
            return "failed"
        return "stopped" if self.partial else "ok"

    @property
    def total_tokens(self) -> int | None:
        """`usage["total_tokens"]` (or prompt + completion), None when unknown."""
        if not self.usage:
            return None
        total = self.usage.get("total_tokens")
        if total is None:
            prompt, completion = (
                self.usage.get("prompt_tokens"),
                self.usage.get("completion_tokens"),
            )
            total = prompt + completion if prompt is not None and completion is not None else None
        return None if total is None else round(total)

    def mark_shown(self, *, hide: bool = False) -> None:
        """Say the answer is already on screen (streamed into the cell).

        The next display then shows only the one-line `repr` (so a magic that streamed the
        answer and returns this Result does not print it twice); later displays are full.
        With `hide=True` the next display shows nothing at all: in a notebook the stream's own
        display already holds the full result, and `_` / `Out[n]` are still set.
        """
        self._shown = True
        if hide:
            # IPython asks `_ipython_display_` before any formatter, and a method that shows
            # nothing leaves no output. It lives on this instance for one display only: a
            # class method would also swallow `display(result, display_id=...)` updates.
            self._ipython_display_ = self._show_nothing_once

    def _show_nothing_once(self) -> None:
        del self._ipython_display_
        self._shown = False

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the answer came from (stored in the output's metadata; never a secret)."""
        return {name: getattr(self, name) for name in _PROVENANCE}

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-serializable data."""
        return asdict(self)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        parts = [self.deployment]
        if self.model:
            parts.append(self.model)
        if self.latency is not None:
            parts.append(format_duration(self.latency))
        if self.total_tokens is not None:
            parts.append(format_count(self.total_tokens, "token"))
        if self.status != "ok":
            parts.append(self.status)
        return f"<Result {' '.join(parts)}: {shorten(self.text, 40)!r}>"

    # -----------------------------------------------------------------------------------------
    # Rendering

    def _footer_items(self) -> list[str]:
        name = self.deployment
        if self.version:
            name += f" {self.version}" if self.version.startswith("v") else f" v{self.version}"
        items = [name]
        if self.model:
            items.append(f"{self.model} ({self.provider})" if self.provider else self.model)
        if self.latency is not None:
            items.append(format_duration(self.latency))
        if usage := format_usage(self.usage):
            items.append(usage)
        if self.finish_reason not in (None, "stop", "tool_calls"):
            items.append(f"finish: {self.finish_reason}")
        if self.retrievals:
            items.append(format_count(len(self.retrievals), "retrieval"))
        return items

    def _state(self) -> str | None:
        if self.error is not None:
            return f"⚠ failed: {self.error}"
        return "⚠ stopped" if self.partial else None

    def to_text(self) -> str:
        """The answer, its tool calls and a one-line footer, as plain text."""
        sent = [f"[sent image: {image.label()}]" for image in sent_images(self.messages)]
        blocks = [" ".join(sent)] if sent else []
        blocks += [self.text] if self.text else []
        blocks += [f"→ tool call {name}({args})" for name, args, _ in self._calls()]
        if self.image_url:
            blocks.append(f"→ image {shorten(self.image_url, 120)}")
        if not (self.text or self.tool_calls or self.image_url):
            blocks.append("(no text)")
        footer = " · ".join(self._footer_items())
        if self.trace_id:
            footer += f" · trace {self.trace_id}"
        if state := self._state():
            footer = f"{state} — {footer}"
        return "\n".join(blocks) + f"\n── {footer}"

    def to_markdown(self) -> str:
        """The answer rendered as Markdown (model HTML neutralised), then a small footer.

        Images the user sent come first, as thumbnails; nothing the model wrote becomes HTML.
        The model's line breaks are kept; a JSON answer shows as a highlighted code block.
        """
        thumbs = thumbnails_html(sent_images(self.messages))
        blocks = [thumbs] if thumbs else []
        blocks += [answer_markdown(self.text)] if self.text else []
        for name, args, call_id in self._calls():
            fence = "`" * max(3, longest_run(args, "`") + 1)
            ident = (
                f" <small>{escape_markdown(call_id, newline=' ', block=False)}</small>"
                if call_id
                else ""
            )
            call = f"**→ tool call** {escape_markdown(name, newline=' ', block=False)}{ident}"
            blocks.append(f"{call}\n\n{fence}json\n{args}\n{fence}")
        if src := _image_src(self.image_url):
            blocks.append(f"![generated image](<{src}>)")
        if not (self.text or self.tool_calls or self.image_url):
            blocks.append("*(no text)*")
        if self.error is not None:
            blocks.append(f"**⚠ failed:** {_inline_md(self.error)}")
        items = [_inline_md(item) for item in self._footer_items()]
        if self.partial and self.error is None:
            items.insert(0, "**⚠ stopped**")
        if self.trace_id:
            items.append(f"trace `{self.trace_id.replace('`', '')}`")
        blocks.append(f"{MUTED_SMALL}{' · '.join(items)}</small>")
        return "\n\n".join(blocks)

    def to_html(self) -> str:
        """The answer as escaped, wrapping text with a compact footer (never raw model HTML)."""
        parts = ['<div class="orq-result">']
        if thumbs := thumbnails_html(sent_images(self.messages)):
            parts.append(f"<div>{thumbs}</div>")
        if self.text:
            if json_block(self.text) is not None:
                style = f"font-family:{CODE_FONT};white-space:pre;overflow-x:auto;margin:0"
                parts.append(f'<pre style="{style}">{escape_html(self.text.strip())}</pre>')
            else:
                parts.append(
                    '<div style="white-space:pre-wrap;overflow-wrap:anywhere">'
                    f"{escape_html(self.text)}</div>"
                )
        for name, args, call_id in self._calls():
            ident = f' <span style="{MUTED_STYLE}">{escape_html(call_id)}</span>' if call_id else ""
            parts.append(
                f"<div><b>→ tool call</b> <code>{escape_html(name)}</code>{ident}"
                f'<pre style="margin:.2em 0;white-space:pre-wrap">{escape_html(args)}</pre></div>'
            )
        if src := _image_src(self.image_url):
            parts.append(
                f'<div><img src="{escape_html(src)}" alt="generated image" '
                'style="max-width:100%"></div>'
            )
        if not self.text and not self.tool_calls and not self.image_url:
            parts.append(f'<div style="{MUTED_STYLE}"><i>(no text)</i></div>')
        if state := self._state():
            parts.append(
                f'<div style="margin-top:.4em;padding-left:.5em;border-left:3px solid {WARN}">'
                f"<b>{escape_html(state)}</b></div>"
            )
        items = [escape_html(item) for item in self._footer_items()]
        if self.trace_id:
            items.append(f"trace <code>{escape_html(self.trace_id)}</code>")
        parts.append(f'<div style="{MUTED_STYLE};margin-top:.4em">{" · ".join(items)}</div>')
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(
        self,
        include: Collection[str] | None = None,
        exclude: Collection[str] | None = None,
    ) -> tuple[dict[str, str], dict[str, Any]]:
        renderers = {
            "text/plain": self.to_text,
            "text/markdown": self.to_markdown,
            "text/html": self.to_html,
        }
        if self._shown:
            self._shown = False
            renderers = {"text/plain": self.__repr__}
        data = mimebundle(renderers, default=DEFAULT_MIMETYPES, include=include, exclude=exclude)
        return data, {"orq_notebook": self.provenance}

    def _calls(self) -> list[tuple[str, str, str]]:
        """(name, pretty arguments, id) for each tool call."""
        calls = []
        for call in self.tool_calls:
            function = call.get("function") or {}
            arguments = function.get("arguments") or ""
            try:
                arguments = json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
            except (TypeError, ValueError):
                pass
            calls.append((str(function.get("name") or "?"), arguments, str(call.get("id") or "")))
        return calls


def _image_src(url: str | None) -> str | None:
    """`url` if a notebook may load it as a picture (http, https, a data: image), with the
    characters that would end a Markdown link percent-encoded; else None."""
    if not url:
        return None
    lowered = url.strip().lower()
    if not lowered.startswith(("https://", "http://", "data:image/")):
        return None
    return "".join(f"%{ord(c):02X}" if c in "<> \n\r\t\"'" else c for c in url.strip())


def _inline_md(text: str) -> str:
    return escape_markdown(text, newline=" ", block=False)


def _as_dict(message: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(message, BaseModel):
        dumped: dict[str, Any] = message.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped
    return dict(message)


def _integral(value: Any) -> Any:
    """Token counts arrive as floats (`57.0`); keep them as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value
