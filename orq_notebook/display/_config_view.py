"""Displayable views of API objects that are not invocation results (a deployment's config)."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from ..client._models import ConfigMessage, DeploymentConfig
from ..client._templating import find_variables
from ..client._variables import Variables
from ._render import Table

__all__ = ["ConfigView"]

_VARIABLE = re.compile(r"\{\{\s*[^{}]+?\s*\}\}")


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


def _highlight_html(text: str) -> str:
    out, last = [], 0
    for match in _VARIABLE.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(f"<mark class='orq-var'>{escape(match.group(0))}</mark>")
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


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
        return Table(rows, columns=["variable", "value", "status", "from"], max_width=40)

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
        params = "".join(
            f"<tr><td><code>{escape(k)}</code></td><td><code>"
            f"{escape(json.dumps(v, ensure_ascii=False))}</code></td></tr>"
            for k, v in c.parameters.items()
        )
        messages = "".join(
            f"<div style='margin:4px 0'><b>{escape(m.role)}</b>"
            f"<div style='white-space:pre-wrap;padding-left:1em'>"
            f"{_highlight_html(_message_text(m))}</div></div>"
            for m in c.messages
        )
        extra = ""
        table = self._variables_table()
        if table is not None:
            extra += f"<div style='margin:4px 0'>{table.to_html()}</div>"
        elif self.variables:
            extra += (
                "<div>Unfilled variables: "
                + ", ".join(
                    f"<mark class='orq-var'>{{{{{escape(v)}}}}}</mark>" for v in self.variables
                )
                + "</div>"
            )
        if c.tools:
            extra += (
                "<div>Tools: "
                + ", ".join(f"<code>{escape(n)}</code>" for n in self._tool_names())
                + "</div>"
            )
        return (
            "<div class='orq-config'>"
            f"<div><b>{escape(self.key)}</b> · {escape(c.provider)}/{escape(c.model)}"
            f" · {escape(c.type or '-')} · version {escape(c.version)}</div>"
            f"<table><tbody>{params}</tbody></table>{extra}"
            f"<div style='margin-top:6px'>{messages}</div></div>"
        )

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        data = {"text/plain": self.to_text(), "text/html": self.to_html()}
        meta = {"orq_notebook": {"deployment": self.key, "version": self.config.version}}
        return data, meta
