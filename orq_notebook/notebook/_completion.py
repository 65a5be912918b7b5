"""Tab completion for `%orq` and `%%orq`, through IPython's own completer (no frontend code).

It works wherever IPython completes: JupyterLab, Notebook 7, VS Code and terminal IPython.

    %orq <TAB>                  subcommands
    %orq invoke <TAB>, %%orq <TAB>, %orq config <TAB>, ...   deployment keys
    %orq invoke KEY --<TAB>     that subcommand's options (from its parser)
    --var <TAB>                 the deployment's {{variables}}, as `name=`
    --inputs / --context <TAB>  notebook variables holding a dict
    --from <TAB>                notebook variables holding rows (a list of dicts, a DataFrame)
    -o <TAB>                    notebook variables holding a Result (a BatchResult for batch)
    --image / --file <TAB>      image files / files; connect --local <TAB> deployments files
    %orq feedback <TAB>         good, bad

Deployment keys come from the session's cached list, so a keystroke never waits on the
network: the first TAB on an `%orq` line starts one fetch in a background thread (per
connection), and keys appear as soon as it is back (milliseconds on the local server; until
then IPython's usual completions show). `%orq list` refreshes the cache.

The matcher uses IPython's matcher API v2 (`context_matcher`, IPython >= 8.6) and is appended to
`shell.Completer.custom_matchers`; it answers only on a `%orq` / `%%orq` line, and then
suppresses the other matchers (Jedi, file names) so the list is ours alone.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)

from ..client._templating import find_variables
from ._commands import COMMANDS, parser_for
from ._session import Session

__all__ = ["Completion", "complete", "install_completer", "uninstall_completer"]

MATCHER_ID = "orq_notebook.magic_matcher"
_LINE_MAGIC = re.compile(r"^\s*(?:[A-Za-z_]\w*\s*=\s*)?%orq(?P<rest>\s.*)?$", re.DOTALL)
_CELL_MAGIC = re.compile(r"^\s*%%orq(?P<rest>\s.*)?$", re.DOTALL)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
_DEPLOYMENT_FILES = (".yaml", ".yml", ".json")
_MAX_PATHS = 200

# Which notebook values fit an option: a test on the value, by the option's `dest`.
_DICT_OPTIONS = ("inputs", "context", "metadata", "identity", "extra_params")
_LIST_OPTIONS = ("contexts", "documents", "messages")


@dataclass(frozen=True)
class Completion:
    """One completion: the text that replaces the word being typed, and its kind."""

    text: str
    type: str


@dataclass
class Where:
    """What the completer knows of the notebook: its names, session and default key."""

    session: Session
    namespace: Mapping[str, Any] = field(default_factory=dict)
    hidden: Iterable[str] = ()
    default_deployment: str | None = None
    cwd: Path | None = None


def complete(line: str, where: Where, *, first_line: bool = True) -> tuple[str, list[Completion]]:
    """Completions for the text of a line up to the cursor: (the word they replace, them).

    `first_line` says the line opens its cell (only there is `%%orq` a cell magic). A line
    that is not an `%orq` line gives `("", [])`.
    """
    cell = _CELL_MAGIC.match(line) if first_line else None
    magic = cell or _LINE_MAGIC.match(line)
    if magic is None or magic["rest"] is None:
        return "", []
    if not where.session.is_humanloop:
        # Any TAB on an %orq line starts the one background fetch of the keys, so they are
        # usually there by the TAB that needs them (`%orq inv<TAB>`, then `invoke <TAB>`).
        where.session.prefetch_deployments()
    rest = magic["rest"]
    current = "" if rest[-1].isspace() else rest.split()[-1]
    words = _split(rest[: len(rest) - len(current)])
    if cell is None or (words and words[0] == "invoke"):
        if not words:
            names = [name for name in COMMANDS if name.startswith(current)]
            return current, [Completion(name, "subcommand") for name in names]
        name, words = words[0], words[1:]
        if name not in COMMANDS:
            return current, []
        parser = parser_for(name)
    else:
        name, parser = None, parser_for(None)
    return current, _Line(parser, name, words, where).complete(current)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an open quote: good enough for finding options and keys
        return text.split()


class _Line:
    """One magic line's words, read against its subcommand's parser."""

    def __init__(
        self, parser: argparse.ArgumentParser, name: str | None, words: list[str], where: Where
    ) -> None:
        self.parser, self.name, self.where = parser, name, where
        self.options = {s: a for a in parser._actions for s in a.option_strings}
        self.used: set[str] = set()
        self.positionals: list[str] = []
        self.given: dict[str, list[str]] = {}
        self.pending: argparse.Action | None = None
        many = False
        for word in words:
            if self.pending is not None and not (many and word.startswith("-")):
                self.given.setdefault(self.pending.dest, []).append(word)
                if not many:
                    self.pending = None
                continue
            self.pending, many = None, False
            action = self.options.get(word)
            if action is not None:
                self.used.add(action.dest)
                if action.nargs != 0:
                    self.pending, many = action, action.nargs in ("+", "*")
            elif not word.startswith("-"):
                self.positionals.append(word)

    def complete(self, current: str) -> list[Completion]:
        if self.pending is not None and not (
            current.startswith("-") and self.given.get(self.pending.dest)
        ):
            return self._values(self.pending, current)
        if current.startswith("-"):
            return self._options(current)
        return self._positional(current)

    # -- options and positionals -----------------------------------------------------------------

    def _options(self, current: str) -> list[Completion]:
        found = []
        for action in self.parser._actions:
            repeatable = isinstance(action, argparse._AppendAction)
            if action.dest in self.used and not repeatable:
                continue
            long = [s for s in action.option_strings if s.startswith("--")]
            for option in long or action.option_strings:
                if option.startswith(current) and option != "-h":
                    found.append(Completion(option, "option"))
        return found

    def _positional(self, current: str) -> list[Completion]:
        slots = [a for a in self.parser._actions if not a.option_strings]
        index, action = len(self.positionals), None
        for slot in slots:
            if slot.nargs in ("+", "*"):
                action = slot
                break
            if index == 0:
                action = slot
                break
            index -= 1
        if action is None:
            return []
        if action.choices is not None:
            return [
                Completion(str(c), "value") for c in action.choices if str(c).startswith(current)
            ]
        if action.dest in ("key", "keys"):
            return [Completion(k, "deployment") for k in self._keys() if k.startswith(current)]
        return []

    # -- option values -----------------------------------------------------------------------

    def _values(self, action: argparse.Action, current: str) -> list[Completion]:
        dest = action.dest
        if dest == "var":
            if "=" in current:
                return []
            given = {w.partition("=")[0] for w in self.given.get("var", [])}
            names = [n for n in self._variables() if n not in given and n.startswith(current)]
            return [Completion(f"{n}=", "variable") for n in names]
        if dest in _DICT_OPTIONS:
            return self._names(current, lambda v: isinstance(v, Mapping))
        if dest in _LIST_OPTIONS:
            return self._names(current, lambda v: isinstance(v, list))
        if dest == "source":
            return self._names(current, _is_rows)
        if dest == "out":
            wanted = "BatchResult" if self.name == "batch" else "Result"
            return self._names(current, lambda v: type(v).__name__ == wanted)
        if dest == "thread":
            threads = self.where.session.threads
            return [Completion(t, "value") for t in sorted(threads) if t.startswith(current)]
        if dest == "images":
            return self._paths(current, _IMAGE_SUFFIXES)
        if dest == "files":
            return self._paths(current, None)
        if dest == "local":
            return self._paths(current, _DEPLOYMENT_FILES)
        if action.choices is not None:
            return [
                Completion(str(c), "value") for c in action.choices if str(c).startswith(current)
            ]
        return []

    def _keys(self) -> list[str]:
        session = self.where.session
        if session.is_humanloop:
            return []
        return [d.key for d in session.cached_deployments() or ()]

    def _variables(self) -> list[str]:
        wanted = self.positionals if self.name == "compare" else self.positionals[:1]
        keys = wanted or [k for k in [self.where.default_deployment] if k]
        cached = {d.key: d for d in self.where.session.cached_deployments() or ()}
        names: dict[str, None] = {}
        for key in keys:
            deployment = cached.get(key)
            for message in deployment.prompt_config.messages if deployment else ():
                names.update(dict.fromkeys(find_variables(_message_text(message.content))))
        return list(names)

    def _names(self, current: str, fits: Callable[[Any], bool]) -> list[Completion]:
        hidden = set(self.where.hidden)
        found = []
        for name, value in self.where.namespace.items():
            if name.startswith("_") or name in hidden or not name.startswith(current):
                continue
            try:
                if fits(value):
                    found.append(Completion(name, "variable"))
            except Exception:  # an object whose isinstance or type check misbehaves
                continue
        return sorted(found, key=lambda c: c.text)

    def _paths(self, current: str, suffixes: tuple[str, ...] | None) -> list[Completion]:
        head, sep, prefix = current.rpartition("/")
        folder = os.path.expanduser(head + sep)  # "" is the working folder
        base = Path(folder) if os.path.isabs(folder) else (self.where.cwd or Path.cwd()) / folder
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError:
            return []
        found = []
        for entry in entries:
            if not entry.name.startswith(prefix) or (entry.name.startswith(".") and not prefix):
                continue
            text = head + sep + entry.name
            if entry.is_dir():
                found.append(Completion(text + "/", "path"))
            elif suffixes is None or entry.name.lower().endswith(suffixes):
                found.append(Completion(text, "path"))
            if len(found) >= _MAX_PATHS:
                break
        return found


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content or () if isinstance(p, Mapping))


def _is_rows(value: Any) -> bool:
    if type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas"):
        return True
    return isinstance(value, list) and bool(value) and isinstance(value[0], Mapping)


# -- IPython ------------------------------------------------------------------------------------


def _matcher(shell: Any, magics: Any) -> Callable[[CompletionContext], SimpleMatcherResult]:
    @context_matcher(identifier=MATCHER_ID, priority=1)  # type: ignore[untyped-decorator]
    def orq_matcher(context: CompletionContext) -> SimpleMatcherResult:
        where = Where(
            session=magics.session,
            namespace=shell.user_ns,
            hidden=getattr(shell, "user_ns_hidden", {}),
            default_deployment=magics.default_deployment,
        )
        first_line = context.cursor_line == 0
        fragment, found = complete(context.text_until_cursor, where, first_line=first_line)
        completions = [SimpleCompletion(c.text, type=c.type) for c in found]
        return {
            "completions": completions,
            "matched_fragment": fragment,
            "suppress": bool(completions),
            "ordered": True,
        }

    return orq_matcher  # type: ignore[no-any-return]


def install_completer(shell: Any, magics: Any) -> None:
    """Add the `%orq` matcher to the shell's completer (`%load_ext orq_notebook`)."""
    completer = getattr(shell, "Completer", None)
    if completer is None:
        return
    uninstall_completer(shell)
    completer.custom_matchers.append(_matcher(shell, magics))


def uninstall_completer(shell: Any) -> None:
    """Remove it again (`%unload_ext`)."""
    completer = getattr(shell, "Completer", None)
    if completer is None:
        return
    completer.custom_matchers[:] = [
        m for m in completer.custom_matchers if getattr(m, "matcher_identifier", None) != MATCHER_ID
    ]
