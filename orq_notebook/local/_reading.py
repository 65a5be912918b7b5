"""Reading a deployments file's text: YAML (or JSON) into plain data, plus the line of
every field so that validation errors can say where they are.

A deployments file is untrusted input (someone else's notebook may come with one), so reading
it is bounded: at most `MAX_FILE_BYTES`, `MAX_DEPTH` levels of nesting and `MAX_VALUES` values
once YAML aliases (`*name`) are expanded. A self-referencing anchor (`&a [*a]`), 5,000-deep
brackets or a "billion laughs" of nested aliases each give one `DeploymentFileError` naming
the line, never a `RecursionError` or unbounded memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "DeploymentFileError",
    "FieldPath",
    "check_bounds",
    "dotted",
    "read_data",
    "read_file",
]

FieldPath = tuple[str | int, ...]

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 100  # levels of nesting; a deep JSON Schema in a tool needs perhaps 20
MAX_VALUES = 100_000  # values (scalars, lists, mappings) after aliases are expanded


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


class _Refused(DeploymentFileError):
    """A bound or a duplicate: final, even where a YAML syntax error would not be."""


def read_file(path: Path) -> str:
    """The text of a deployments file, read no further than `MAX_FILE_BYTES` (a special file
    such as /dev/zero reports no size, so the size on disk is not trusted)."""
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise DeploymentFileError(
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most a "
            "deployments file may be",
            source=str(path),
        )
    return data.decode("utf-8")


def read_data(text: str, source: str, *, is_json: bool) -> tuple[Any, dict[FieldPath, int]]:
    """The data in `text` and the line of each field path; `DeploymentFileError` on bad syntax,
    on a field given twice in one mapping, and past the bounds in the module docstring."""
    if not is_json:
        return _read_yaml(text, source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"JSON syntax error: {exc.msg}"
        raise DeploymentFileError(message, source=source, line=exc.lineno) from None
    except RecursionError:
        data = None  # nested too deeply for Python's parser: the YAML pass names the line
    try:
        lines = _read_yaml(text, source)[1]
    except _Refused:
        raise
    except DeploymentFileError:
        lines = {}  # line numbers are a convenience; JSON that YAML cannot read has none
    if data is None:
        raise DeploymentFileError(f"nested more than {MAX_DEPTH} levels deep", source=source)
    check_bounds(data, source)
    return data, lines


def check_bounds(data: Any, source: str) -> None:
    """Refuse data nested deeper than `MAX_DEPTH` or holding more than `MAX_VALUES` values
    (a list or dict that contains itself is infinitely deep). Iterative: no recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise DeploymentFileError(
                f"nested more than {MAX_DEPTH} levels deep (or a value contains itself)",
                source=source,
            )
        if count > MAX_VALUES:
            raise DeploymentFileError(f"more than {MAX_VALUES:,} values", source=source)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, composing within the bounds of the module docstring.

    For every node it keeps the number of values and the depth it expands to, aliases
    included, so a billion laughs is refused after composing a few dozen nodes.
    """

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self._source, self._depth = source, 0
        self._expanded: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth)

    def _refuse(self, problem: str, mark: Any) -> _Refused:
        line = mark.line + 1 if mark is not None else None
        return _Refused(problem, source=self._source, line=line)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor or "")
            if target is not None and id(target) not in self._expanded:  # still being composed
                raise self._refuse(
                    f"the alias *{event.anchor} is used inside the value it names (anchor "
                    f"&{event.anchor} on line {target.start_mark.line + 1}): a value cannot "
                    "contain itself",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        values = 1 + sum(self._expanded[id(c)][0] for c in children)
        depth = 1 + max((self._expanded[id(c)][1] for c in children), default=0)
        if values > MAX_VALUES:
            raise self._refuse(
                f"this value expands to more than {MAX_VALUES:,} values through its aliases "
                "(`*name`); a deployments file is refused past that",
                node.start_mark,
            )
        if depth > MAX_DEPTH:
            raise self._refuse(
                f"this value is nested more than {MAX_DEPTH} levels deep once its aliases "
                "(`*name`) are expanded",
                node.start_mark,
            )
        self._expanded[id(node)] = (values, depth)
        return node


def _read_yaml(text: str, source: str) -> tuple[Any, dict[FieldPath, int]]:
    loader = _BoundedLoader(text, source)
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
    except RecursionError:  # a safety net: the bounds above should make this unreachable
        raise _Refused("nested too deeply to read", source=source) from None
    finally:
        loader.dispose()


def _map_lines(node: yaml.Node, path: FieldPath, out: dict[FieldPath, int], source: str) -> None:
    """Record the line of every node by its path, and refuse duplicate mapping keys."""
    out.setdefault(path, node.start_mark.line + 1)
    if len(path) > MAX_DEPTH:
        return
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            if name in seen and name != "<<":
                field = dotted((*path, name))
                line = key_node.start_mark.line + 1
                raise _Refused("duplicate field", source=source, line=line, field=field)
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
