"""The `%orq` subcommands: one small function each, and the table that routes to them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from ..client._exceptions import NotFoundError, OrqError
from ..client._hints import no_content
from ..display._render import Table, format_count
from ._connect import build_connect_parser, connect, status
from ._experiment_command import experiment, experiment_parser
from ._feedback import feedback_command, feedback_parser
from ._invoke import add_invoke_options, gather_inputs, invoke
from ._magic_args import (
    ArgumentError,
    MagicParser,
    resolve_value,
    split_line,
    split_message,
)
from ._maintenance import invalidate, p_invalidate, p_versions, versions

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["HELP", "Host", "dispatch"]

Namespace = dict[str, Any]


class Host(Protocol):
    """What a subcommand asks of the magic that runs it (`_magics.OrqMagics`, or a test's)."""

    session: Session
    default_deployment: str | None
    stream: bool
    include_usage: bool
    strict_variables: bool
    max_history: int
    update_interval: float

    def explain(self, exc: OrqError) -> str: ...
    def ask_key(self, prompt: str = ...) -> str | None: ...
    def use_display_updates(self) -> bool: ...
    def set_variable(self, name: str, value: Any) -> None: ...
    def apply_client_settings(self) -> None: ...


Command = Callable[[Host, Any, "str | None", Namespace], Any]


# -- parsers ------------------------------------------------------------------------------


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def _parser(name: str, description: str, build: Callable[[MagicParser], None]) -> MagicParser:
    p = MagicParser(f"%orq {name}", description)
    build(p)
    return p


def _p_invoke(p: MagicParser) -> None:
    p.add_argument("key", nargs="?", help="deployment key (default: set by `%%orq use`)")
    p.add_argument(
        "message",
        nargs="*",
        help="the user message: the rest of the line after the options, exactly as typed "
        "(`--` ends the options explicitly)",
    )
    add_invoke_options(p)


def _p_cell(p: MagicParser) -> None:
    p.add_argument("key", nargs="?", help="deployment key (default: set by `%%orq use`)")
    add_invoke_options(p)


def _p_config(p: MagicParser) -> None:
    p.add_argument("key")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fill {{NAME}} in the prompt shown (repeatable)",
    )
    p.option("--inputs", metavar="JSON|VAR", help="variables as JSON or a notebook variable")
    p.option("--context", metavar="JSON|VAR", help="routing context (which variant to show)")


def _p_key(p: MagicParser) -> None:
    p.add_argument("key")


def _p_history(p: MagicParser) -> None:
    p.option("-n", type=_positive, default=20, metavar="N", help="the last N invocations")


def _p_reset(p: MagicParser) -> None:
    p.option("--thread", metavar="NAME", help="clear only this thread")


def _p_none(p: MagicParser) -> None:
    return None


def _p_playground(p: MagicParser) -> None:
    p.add_argument("key", nargs="?")


def _p_compare(p: MagicParser) -> None:
    p.add_argument("keys", nargs="+", metavar="KEY")
    p.option("--contexts", metavar="JSON|VAR", help="a list of contexts, one column each")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    p.option("--inputs", metavar="JSON|VAR")
    p.option("--message", metavar="TEXT")


def _p_batch(p: MagicParser) -> None:
    p.add_argument("key")
    p.option(
        "--from",
        dest="source",
        required=True,
        metavar="VAR",
        help="a DataFrame, a list of dicts (inputs, `messages`, `context`) or a list of "
        "strings (one user message per row) in the notebook",
    )
    p.option(
        "--concurrency",
        type=_positive,
        default=8,
        metavar="N",
        help="requests in flight at most (default: %(default)s)",
    )
    p.option("--stream", flag=True, help="use the streaming endpoint (measures first token)")
    p.option("-o", "--out", metavar="VAR", help="store the BatchResult in VAR")


# -- subcommands --------------------------------------------------------------------------


def _list(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    rows = [
        {
            "key": d.key,
            "description": d.description,
            "model": d.prompt_config.model,
            "provider": d.prompt_config.provider,
            "updated": d.updated[:19].replace("T", " "),
        }
        for d in m.session.deployments(refresh=True)
    ]
    # Keys, models and timestamps never wrap (a key broken at its hyphens reads as two).
    return Table(
        rows,
        title=format_count(len(rows), "deployment"),
        nowrap=("key", "model", "provider", "updated"),
    )


def _config(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    """The prompt as it would go out: given variables filled in, defaults applied, open ones
    left as `{{name}}` (highlighted), and a table of the variables."""
    inputs, sources = gather_inputs(a, ns)
    context = resolve_value("--context", a.context, ns, expect=dict) if a.context else None
    try:
        variables = m.session.variables(a.key, context, refresh=True)
        check = variables.check(inputs, strict=False)
        check.raise_for_errors()
        for line in check.warnings(include_open=False):  # the table shows the open ones
            print(line, file=sys.stderr)
        # Open variables go as `{{name}}` markers: the server leaves them as they are (one
        # pass), so the prompt shows them, and a strict server does not refuse the request.
        markers = {name: f"{{{{{name}}}}}" for name in check.open}
        config = m.session.client.deployments.get_config(
            a.key, inputs={**inputs, **markers} or None, context=context
        )
    except NotFoundError as exc:
        exc.wanted_key = a.key  # type: ignore[attr-defined]
        raise
    if config is None:
        print(no_content(a.key, "configuration"))
        return None
    from ..display._config_view import ConfigView

    return ConfigView(a.key, config, variables=variables.given(inputs, sources))


def _use(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    m.default_deployment = a.key
    print(f"`%%orq` now invokes {a.key!r} when no key is given.")


def _history(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    everything = len(m.session.history)
    entries = list(m.session.history)[-a.n :]
    rows = [e.row() for e in entries]
    columns = [c for c in _HISTORY_COLUMNS if c != "thread" or any(r["thread"] for r in rows)]
    title = f"History: {format_count(everything, 'invocation')}"
    if len(entries) < everything:
        title += f", the last {len(entries)} shown"
    return Table(
        rows,
        columns=columns,
        title=title,
        empty="Nothing has been invoked in this session yet.",
        nowrap=("time", "key", "status", "latency", "tokens"),
    )


# Short figures first: in a narrow window the wide text columns are the ones that scroll.
_HISTORY_COLUMNS = ("time", "key", "status", "latency", "tokens", "thread", "sent", "answer")


def _reset(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    try:
        print(m.session.reset(a.thread))
    except KeyError as exc:
        raise ArgumentError(str(exc.args[0])) from None


def _last(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    if m.session.last is None:
        raise ArgumentError("Nothing has been invoked in this session yet.")
    return m.session.last


def _help(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    print(HELP)


def _needs_a_frontend(m: Host, what: str) -> None:
    if not m.use_display_updates():
        raise ArgumentError(
            f"`%orq {what}` is a widget and needs a notebook frontend (JupyterLab, Notebook 7, "
            "VS Code). Here, use `%%orq KEY` or `%orq invoke KEY message`, and `run_batch` "
            "for many inputs."
        )


def _playground(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    from ._apps import Playground

    _needs_a_frontend(m, "playground")
    return Playground(key=a.key or m.default_deployment, strict_variables=m.strict_variables)


def _compare(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    from ._apps import Compare

    _needs_a_frontend(m, "compare")
    contexts = resolve_value("--contexts", a.contexts, ns, expect=list) if a.contexts else None
    widget = Compare(
        a.keys,
        contexts=contexts,
        inputs=_inputs(a, ns),
        message=a.message,
        strict_variables=m.strict_variables,
    )
    widget.run()
    return widget


def _batch(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    from ..batch._api import run_batch

    if a.out is not None and not _is_name(a.out):
        raise ArgumentError(f"-o takes a Python variable name, not {a.out!r}.")
    rows = resolve_value("--from", a.source, ns, expect=object)
    try:
        result = run_batch(
            a.key,
            rows,
            concurrency=a.concurrency,
            client=m.session.client,
            stream=a.stream,
            strict_variables=m.strict_variables,
        )
    except (OrqError, ValidationError):
        raise  # the same one line as `%orq invoke` (a wrong key, no key, no server ...)
    except (TypeError, ValueError) as exc:  # rows or --concurrency refused before any request
        raise ArgumentError(f"{exc} (see `%orq batch --help`).") from None
    if a.out:
        m.set_variable(a.out, result)
    if result.interrupted:
        raise ArgumentError(
            f"Stopped: {len(result.ok)} rows finished and are kept"
            + (f" in {a.out}." if a.out else "; use -o VAR to keep them.")
        )
    return result


def _is_name(text: str) -> bool:
    import keyword

    return text.isidentifier() and not keyword.iskeyword(text)


def _inputs(a: Any, ns: Namespace) -> dict[str, Any] | None:
    return gather_inputs(a, ns)[0] or None


# -- the table ----------------------------------------------------------------------------

COMMANDS: dict[str, tuple[Callable[[MagicParser], None], Command, str]] = {
    "connect": (
        build_connect_parser,
        connect,
        "point the session at orq.ai, a URL or a local file",
    ),
    "status": (_p_none, status, "where the session points (if anywhere) and whether a key is set"),
    "list": (_p_none, _list, "a table of every deployment"),
    "config": (_p_config, _config, "a deployment's prompt as it would go out, and its variables"),
    "invoke": (_p_invoke, invoke, "invoke a deployment (cell form: `%%orq KEY`)"),
    "use": (_p_key, _use, "set the deployment `%%orq` uses when no key is given"),
    "invalidate": (p_invalidate, invalidate, "invalidate a deployment's cache (not on orq.ai)"),
    "versions": (p_versions, versions, "a deployment's saved versions, newest first"),
    "history": (_p_history, _history, "this session's invocations"),
    "reset": (_p_reset, _reset, "clear the history and threads (or one --thread)"),
    "last": (_p_none, _last, "the last result, partial ones included"),
    "playground": (_p_playground, _playground, "a widget to try a deployment"),
    "compare": (_p_compare, _compare, "several deployments or contexts side by side"),
    "batch": (_p_batch, _batch, "run a deployment over many rows"),
    "feedback": (feedback_parser, feedback_command, "rate the last answer: good or bad"),
    "experiment": (experiment_parser, experiment, "score deployments over a dataset"),
    "help": (_p_none, _help, "this overview"),
}

# Subcommands that need orq's Deployments API (listing, configs, widgets, batch).
_ORQ_ONLY = frozenset(
    {
        "list",
        "config",
        "invalidate",
        "versions",
        "playground",
        "compare",
        "batch",
        "experiment",
        "feedback",
    }
)

HELP = "\n".join(
    [
        "%orq SUBCOMMAND [options]      (each subcommand takes --help)",
        "%%orq [KEY] [options]         invoke KEY with the cell as the user message",
        "",
        *(f"  {name:<11} {text}" for name, (_, _, text) in COMMANDS.items()),
        "",
        "Configuration: %config OrqMagics",
    ]
)


def parser_for(name: str | None) -> MagicParser:
    """The parser of subcommand `name`, or of a `%%orq [KEY]` cell line when None."""
    if name is None:
        return _parser("invoke", COMMANDS["invoke"][2], _p_cell)
    build, _, text = COMMANDS[name]
    return _parser(name, text, build)


def dispatch(m: Host, line: str, cell: str | None, ns: Namespace) -> Any:
    """Route a magic line to its subcommand; a cell without subcommand is an invocation.

    Lines are split like a shell would, except the message of `%orq invoke KEY message`,
    which is the rest of the line exactly as typed (`it's fine` is prose, not a quote).
    """
    head, rest = (line.strip().split(None, 1) + ["", ""])[:2]
    if head in ("-h", "--help") or (not head and cell is None):
        head, rest = "help", ""
    if head in COMMANDS:
        build, run, text = COMMANDS[head]
        if cell is not None and head != "invoke":
            raise ArgumentError(
                f"`%%orq {head}` takes no cell body; use the line form `%orq {head}`."
            )
        parser = _parser(head, text, build)
        if head == "invoke" and cell is None:
            tokens, message = split_message(rest, parser)
            args = parser.parse(tokens)
            args.message_text = message
        else:
            args = parser.parse(split_line(rest))
        if head in _ORQ_ONLY and m.session.is_humanloop:
            raise ArgumentError(
                f"`%orq {head}` is not available for Humanloop (the session is connected with "
                "`%orq connect --humanloop`); `%%orq PROJECT` invokes a project."
            )
        return run(m, args, cell, ns)
    if cell is None:
        close = difflib_close(head, list(COMMANDS))
        raise ArgumentError(f"Unknown subcommand {head!r}.{close} `%orq help` lists them all.")
    args = _parser("invoke", COMMANDS["invoke"][2], _p_cell).parse(split_line(line))
    return invoke(m, args, cell, ns)


def difflib_close(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f" Did you mean `%orq {close[0]}`?" if close else ""
