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
    "protect_question_marks",
    "resolve_value",
    "split_line",
    "split_message",
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


def _read_word(text: str, pos: int) -> tuple[str, int]:
    """The shell word starting at `pos` (quotes group, backslash escapes) and where it ends."""
    out: list[str] = []
    i, n = pos, len(text)
    while i < n and not text[i].isspace():
        ch = text[i]
        if ch in "'\"":
            end = i + 1
            while end < n and text[end] != ch:
                end += 2 if ch == '"' and text[end] == "\\" and end + 1 < n else 1
            if end >= n:
                raise ArgumentError(
                    f"Could not split the line: no closing quotation ({ch}) in {text[pos:]!r}."
                )
            inner = text[i + 1 : end]
            out.append(inner if ch == "'" else re.sub(r'\\(["\\$`])', r"\1", inner))
            i = end + 1
        elif ch == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out), i


def split_message(
    text: str, parser: argparse.ArgumentParser, *, positionals: int = 1
) -> tuple[list[str], str | None]:
    """Split `KEY [options] message...` into option tokens and the message, taken verbatim.

    Options and their values are read as shell words (quotes group); the first word that is
    neither an option nor the value of one, after `positionals` leading positional words (the
    key), starts the message, and the rest of the line is the message exactly as typed:
    apostrophes, quotes and `--` in prose stay as they are. A lone `--` ends the options
    explicitly. A message that is one quoted word loses its quotes.
    """
    tokens: list[str] = []
    seen_positionals = 0
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            return tokens, None
        start = pos
        if text[pos] != "-" and seen_positionals >= positionals:
            return tokens, _unquoted(text[start:].strip())
        word, pos = _read_word(text, pos)
        if text[start:pos] == "--":
            return tokens, _unquoted(text[pos:].strip()) or None
        if not word.startswith("-") or len(word) == 1:
            tokens.append(word)
            seen_positionals += 1
            continue
        tokens.append(word)
        name, has_value = word.split("=", 1)[0], "=" in word
        action = parser._option_string_actions.get(name)
        if action is None or has_value or action.nargs == 0:
            continue  # argparse reports an unknown option itself
        many = action.nargs in ("+", "*")
        count = 0
        while True:
            while pos < n and text[pos].isspace():
                pos += 1
            if pos >= n or (count and (not many or text[pos] == "-")):
                break
            value, pos = _read_word(text, pos)
            tokens.append(value)
            count += 1


def _unquoted(message: str) -> str:
    if len(message) >= 2 and message[0] == message[-1] and message[0] in "'\"":
        try:
            words = shlex.split(message)
        except ValueError:
            return message
        if len(words) == 1:
            return words[0]
    return message


# `%orq invoke KEY Can I return shoes?` ends with `?`, which IPython reads as "help on
# `shoes`" before any magic sees the line. This cleanup transformer (registered with the
# extension) turns such `%orq` lines into the call IPython would make for them anyway.
_ORQ_LINE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<assign>[A-Za-z_][\w.]*\s*=\s*)?%orq[ \t]+(?P<rest>.*?)\s*$"
)


def protect_question_marks(lines: list[str]) -> list[str]:
    """IPython input transformer: `%orq ...?` lines stay `%orq` lines, not help requests."""
    out = []
    for line in lines:
        match = _ORQ_LINE.match(line)
        if match and match["rest"].endswith("?"):
            call = f"get_ipython().run_line_magic('orq', {match['rest']!r})"
            line = f"{match['indent']}{match['assign'] or ''}{call}\n"
        out.append(line)
    return out


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
