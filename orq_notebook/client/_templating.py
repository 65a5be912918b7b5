"""`{{variable}}` substitution, the way orq deployments do it.

One pass, left to right: a substituted value is never scanned again, so a value that itself
contains `{{x}}` stays as it is. Single braces, JSON and code pass through untouched. Whitespace
inside the braces is allowed (`{{ name }}`). Used by the local server to fill prompts and by the
magics to fill a cell from the notebook's namespace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["MissingVariablesError", "find_variables", "render"]

# A name is an identifier, optionally dotted or indexed (`user.name`, `rows[0]`), so notebook
# expressions such as `{{In[3]}}` can be looked up by the caller; `{{{x}}}` is not a variable.
_VARIABLE = re.compile(r"(?<!\{)\{\{\s*([A-Za-z_][\w.]*(?:\[\s*[\w'\"-]+\s*\])*)\s*\}\}(?!\})")


class MissingVariablesError(KeyError):
    """Raised when a template names variables that have no value."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(dict.fromkeys(names))
        super().__init__(self.names)

    def __str__(self) -> str:
        listed = ", ".join(f"{{{{{n}}}}}" for n in self.names)
        noun = "variable has" if len(self.names) == 1 else "variables have"
        return f"The {noun} no value: {listed}."


def find_variables(text: str) -> list[str]:
    """The distinct variable names in `text`, in order of first appearance."""
    return list(dict.fromkeys(m.group(1) for m in _VARIABLE.finditer(text)))


def _stringify(value: Any) -> str:
    return value if isinstance(value, str) else _json_like(value)


def _json_like(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def render(
    text: str,
    values: Mapping[str, Any] | Callable[[str], Any],
    *,
    strict: bool = True,
) -> str:
    """Replace each `{{name}}` in `text` with its value, in a single pass.

    Args:
        text: the template.
        values: a mapping, or a function that returns the value for a name and raises
            `KeyError` (or `LookupError`) when there is none.
        strict: raise `MissingVariablesError` naming every variable without a value;
            when false, such placeholders are left as they are.
    """
    lookup: Callable[[str], Any] = values.__getitem__ if isinstance(values, Mapping) else values
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            value = lookup(name)
        except LookupError:
            missing.append(name)
            return match.group(0)
        return _stringify(value)

    out = _VARIABLE.sub(substitute, text)
    if missing and strict:
        raise MissingVariablesError(missing)
    return out
