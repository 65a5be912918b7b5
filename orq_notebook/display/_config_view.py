"""Displayable views of API objects that are not invocation results (a deployment's config)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..client._models import ConfigMessage, DeploymentConfig
from ..client._templating import find_variables
from ..client._variables import Variables
from ._render import Markup, Table, escape_markdown, highlight_variables
from ._theme import MARK_STYLE, MUTED_STYLE, TEXT_LINE_HEIGHT

__all__ = ["ConfigView"]


def _message_text(message: ConfigMessage) -> str:
    content = message.content
    if content is None:
        calls = message.tool_calls or []
        return "\n".join(f"[tool call] {c.get('function', {}).get('name', '?')}" for c in calls)
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.get("type") == "text":
            parts.append(str(part.get("text", "")))
        else:
            parts.append(f"[{part.get('type', 'part')}]")
    return "\n".join(parts)


class ConfigView:
    """A deployment's resolved configuration: model, parameters, prompt messages, tools.

    `{{variables}}` still in the prompt (open ones) are highlighted, and with `variables`
    a small table says for each one its value (or default) and whether it is given, a
    default, or open. `.config` is the DeploymentConfig, `.variables_model` the Variables.
    """

    def __init__(
        self, key: str, config: DeploymentConfig, *, variables: Variables | None = None
    ) -> None:
        self.key = key
        self.config = config
        self.variables_model = variables

    def _variables_table(self) -> Table | None:
        if self.variables_model is None or not len(self.variables_model):
            return None
        rows = [
            {
                "variable": f"{{{{{row['name']}}}}}",
                "value": row["value"],
                "status": row["status"],
                "from": row["from"],
            }
            for row in self.variables_model.rows()
        ]
        return Table(
            rows, columns=["variable", "value", "status", "from"], max_width=40, nowrap=["variable"]
        )

    @property
    def variables(self) -> list[str]:
        names: list[str] = []
        for m in self.config.messages:
            names += [n for n in find_variables(_message_text(m)) if n not in names]
        return names

    def __repr__(self) -> str:
        c = self.config
        return f"<ConfigView {self.key} {c.provider}/{c.model} {c.version}>"

    def _tool_names(self) -> list[str]:
        return [str(t.get("function", {}).get("name", "?")) for t in self.config.tools or []]

    def to_text(self) -> str:
        c = self.config
        lines = [
            f"{self.key}  {c.provider}/{c.model}  type={c.type or '-'}  version={c.version}",
            "parameters: " + (json.dumps(c.parameters, ensure_ascii=False) or "{}"),
        ]
        table = self._variables_table()
        if table is not None:
            lines.append(table.to_text())
        elif self.variables:
            lines.append("unfilled variables: " + ", ".join(self.variables))
        if c.tools:
            lines.append("tools: " + ", ".join(self._tool_names()))
        lines.append("")
        for m in c.messages:
            lines.append(f"[{m.role}] {_message_text(m)}")
        return "\n".join(lines)

    def to_html(self) -> str:
        c = self.config
        head = (
            f"<div><b>{escape(self.key)}</b> "
            f'<span style="{MUTED_STYLE}">· {escape(c.provider)}/{escape(c.model)}'
            f" · {escape(c.type or '-')} · version {escape(c.version)}</span></div>"
        )
        parts = [f'<div class="orq-config" style="line-height:{TEXT_LINE_HEIGHT}">', head]
        if c.parameters:
            parts.append(self._parameters().to_html())
        table = self._variables_table()
        if table is not None:
            parts.append(table.to_html())
        elif self.variables:
            marks = ", ".join(
                f'<mark style="{MARK_STYLE}">{{{{{escape(v)}}}}}</mark>' for v in self.variables
            )
            parts.append(f'<div style="margin:.3em 0">Unfilled variables: {marks}</div>')
        if c.tools:
            names = ", ".join(f"<code>{escape(n)}</code>" for n in self._tool_names())
            parts.append(f'<div style="margin:.3em 0">Tools: {names}</div>')
        for m in c.messages:
            body = highlight_variables(_message_text(m)).html
            parts.append(
                f'<div style="margin:.4em 0"><b>{escape(m.role)}</b>'
                f'<div style="padding-left:1em">{body}</div></div>'
            )
        parts.append("</div>")
        return "".join(parts)

    def _parameters(self) -> Table:
        rows = [
            {
                "parameter": k,
                "value": Markup(
                    text=(shown := json.dumps(v, ensure_ascii=False)),
                    html=f"<code>{escape(shown)}</code>",
                    markdown=escape_markdown(shown, newline=" ", block=False),
                ),
            }
            for k, v in self.config.parameters.items()
        ]
        return Table(rows, columns=["parameter", "value"], nowrap=["parameter"])

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        data = {"text/plain": self.to_text(), "text/html": self.to_html()}
        meta = {"orq_notebook": {"deployment": self.key, "version": self.config.version}}
        return data, meta
