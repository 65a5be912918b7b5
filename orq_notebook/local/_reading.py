"""Reading a deployments file's text: YAML (or JSON) into plain data, plus the line of
every field so that validation errors can say where they are."""

from __future__ import annotations

import json
from typing import Any

import yaml

__all__ = ["DeploymentFileError", "FieldPath", "dotted", "read_data"]

FieldPath = tuple[str | int, ...]


class DeploymentFileError(ValueError):
    """A deployments file cannot be used. `str(error)` names the file, line and field."""

    def __init__(
        self, problem: str, *, source: str = "", line: int | None = None, field: str = ""
    ) -> None:
        self.problem, self.source, self.line, self.field = problem, source, line, field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.source, f"line {self.line}" if self.line else "") if p)
        what = f"{self.field}: {self.problem}" if self.field else self.problem
        return f"{where}: {what}" if where else what


def read_data(text: str, source: str, *, is_json: bool) -> tuple[Any, dict[FieldPath, int]]:
    """The data in `text` and the line of each field path; `DeploymentFileError` on bad syntax
    or on a field given twice in one mapping."""
    if not is_json:
        return _read_yaml(text, source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"JSON syntax error: {exc.msg}"
        raise DeploymentFileError(message, source=source, line=exc.lineno) from None
    try:
        return data, _read_yaml(text, source)[1]
    except DeploymentFileError as exc:
        if "duplicate" in exc.problem:
            raise
        return data, {}  # line numbers are a convenience; JSON that YAML cannot read has none


def _read_yaml(text: str, source: str) -> tuple[Any, dict[FieldPath, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[FieldPath, int] = {}
        _map_lines(node, (), lines, source)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.context_mark:
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        line = mark.line + 1 if mark else None
        raise DeploymentFileError(
            f"YAML syntax error: {problem}", source=source, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise DeploymentFileError(f"YAML error: {exc}", source=source) from None
    finally:
        loader.dispose()


def _map_lines(node: yaml.Node, path: FieldPath, out: dict[FieldPath, int], source: str) -> None:
    """Record the line of every node by its path, and refuse duplicate mapping keys."""
    out.setdefault(path, node.start_mark.line + 1)
    if len(path) > 64:
        return
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            if name in seen and name != "<<":
                field = dotted((*path, name))
                line = key_node.start_mark.line + 1
                raise DeploymentFileError("duplicate field", source=source, line=line, field=field)
            seen.add(name)
            _map_lines(value_node, (*path, name), out, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _map_lines(item, (*path, index), out, source)


def dotted(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
