"""Argument parsing for `%orq`: argparse that raises instead of exiting, and rejects repeats.

Kept apart from `_magics` so the parsers can be tested (and fuzzed) without a shell.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

__all__ = [
    "ArgumentError",
    "UndefinedNameError",
    "MagicParser",
    "parse_assignments",
    "resolve_value",
    "split_line",
]


class ArgumentError(ValueError):
    """A usage mistake on the magic line; the magics turn it into a one-line UsageError."""


class UndefinedNameError(ArgumentError):
    """A name that the notebook does not define (`{{name}}`, `--inputs name`)."""


class _Once(argparse.Action):
    """A store action that refuses to be given twice (argparse silently keeps the last)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        self._const = kwargs.pop("const", None)
        self._flag = kwargs.pop("flag", False)
        super().__init__(
            option_strings, dest, nargs=0 if self._flag else kwargs.pop("nargs", None), **kwargs
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        seen: set[str] = namespace.__dict__.setdefault("_seen", set())
        if self.dest in seen:
            raise ArgumentError(f"{option_string} was given more than once.")
        seen.add(self.dest)
        setattr(namespace, self.dest, self._const if self._flag else values)


class MagicParser(argparse.ArgumentParser):
    """An ArgumentParser for one subcommand: errors raise `ArgumentError`, never exit."""

    def __init__(self, prog: str, description: str, **kwargs: Any) -> None:
        super().__init__(
            prog=prog,
            description=description,
            add_help=True,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kwargs,
        )

    def option(self, *names: str, **kwargs: Any) -> None:
        """Add an option that may appear once (`flag=True` for a switch)."""
        if kwargs.pop("flag", False):
            kwargs.update(flag=True, const=True, default=False)
        self.add_argument(*names, action=_Once, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{message} (see `%orq {self.prog.split()[-1]} --help`)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # Reached only after --help printed the usage: stop the magic quietly.
        raise _HelpShown()

    def parse(self, tokens: list[str]) -> argparse.Namespace:
        # Intermixed: `%orq invoke KEY --var a=1 Hello there` has the message after options.
        # argparse %-formats the usage it builds for that, and our prog starts with `%`.
        if self.usage is None:
            self.usage = self.format_usage()[len("usage: ") :].strip().replace("%", "%%")
        return self.parse_intermixed_args(tokens)


class _HelpShown(Exception):
    """Raised after `--help` has printed; the magic returns without doing anything."""


def split_line(line: str) -> list[str]:
    """Split a magic line like a shell would (quotes group words)."""
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise ArgumentError(f"Could not split the line: {exc} (an unclosed quote?).") from None


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def resolve_value(
    option: str,
    text: str,
    namespace: Mapping[str, Any],
    *,
    expect: type | tuple[type, ...] = (dict, list),
) -> Any:
    """A value given as JSON, or as the name of a notebook variable holding it."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if _IDENTIFIER.fullmatch(text):
            value = lookup(text, namespace, option=option)
        else:
            raise ArgumentError(
                f"{option} is neither valid JSON nor a notebook variable: {exc.msg} "
                f"at line {exc.lineno}, column {exc.colno}."
            ) from None
    if not isinstance(value, expect):
        names = " or ".join(
            t.__name__ for t in (expect if isinstance(expect, tuple) else (expect,))
        )
        raise ArgumentError(f"{option} must be a {names}, not {type(value).__name__}.")
    return value


def lookup(expr: str, namespace: Mapping[str, Any], *, option: str = "") -> Any:
    """Look up `name`, `name.attr` or `name[0]` / `name['k']` in a namespace, without eval."""
    match = re.fullmatch(r"([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[[^\]]+\])*)", expr.strip())
    if not match:
        raise KeyError(expr)
    head, rest = match.groups()
    where = f" for {option}" if option else ""
    if head not in namespace:
        raise UndefinedNameError(f"{head!r}{where} is not defined in the notebook.")
    value = namespace[head]
    try:
        for attr, index in re.findall(r"\.([A-Za-z_]\w*)|\[([^\]]+)\]", rest):
            value = getattr(value, attr) if attr else value[_index(index)]
    except (AttributeError, LookupError, TypeError) as exc:
        raise ArgumentError(f"{expr!r}{where} could not be looked up: {exc!r}.") from None
    return value


def _index(text: str) -> Any:
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_assignments(pairs: Sequence[str], option: str = "--var") -> dict[str, str]:
    """`NAME=VALUE` pairs into a dict; the value may contain `=` and spaces (quote it)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ArgumentError(f"{option} takes NAME=VALUE, got {pair!r}.")
        out[name.strip()] = value
    return out


ParserFactory = Callable[[], MagicParser]
