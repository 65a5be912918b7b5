"""The `%orq` subcommands: one small function each, and the table that routes to them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError

from ..client._checks import check_messages
from ..client._exceptions import NotFoundError, OrqError
from ..client._hints import no_content
from ..client._notices import retry_notices
from ..client._templating import render
from ..display._format import format_retry
from ..display._render import Table, format_count
from ._attachments import attachment_options, upload_files, user_content
from ._experiment_command import experiment, experiment_parser
from ._feedback import feedback_command, feedback_parser
from ._magic_args import (
    ArgumentError,
    MagicParser,
    UndefinedNameError,
    lookup,
    parse_assignments,
    resolve_value,
)
from ._maintenance import invalidate, p_invalidate, p_versions, versions
from ._recording_options import add_record_options, open_recordings

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
    max_history: int
    update_interval: float

    def explain(self, exc: OrqError) -> str: ...
    def ask_key(self, prompt: str = ...) -> str | None: ...
    def use_display_updates(self) -> bool: ...
    def set_variable(self, name: str, value: Any) -> None: ...
    def apply_client_settings(self) -> None: ...


Command = Callable[[Host, Any, "str | None", Namespace], Any]


# -- parsers ------------------------------------------------------------------------------


def _invoke_options(p: MagicParser) -> None:
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for {{NAME}} in the deployment's prompt (repeatable)",
    )
    p.option("--inputs", metavar="JSON|VAR", help="all inputs at once, as JSON or a variable")
    p.option("--context", metavar="JSON|VAR", help='routing context, e.g. \'{"env": "prod"}\'')
    p.option("--metadata", metavar="JSON|VAR", help="metadata attached to the log")
    p.option("--system", metavar="TEXT", help="a system message sent before the prompt's own")
    p.option("--thread", metavar="NAME", help="continue a conversation kept under NAME")
    p.option("--mock", metavar="TEXT", help="answer with TEXT, no model call (mock_response)")
    p.option("--no-stream", dest="no_stream", flag=True, help="wait for the whole answer")
    p.option("-o", "--out", metavar="VAR", help="also store the result in VAR")
    p.option("--quiet", flag=True, help="no cell value (a streamed answer stays on screen)")
    p.option("--raw", flag=True, help="send {{braces}} in the message as they are")
    p.option("--documents", metavar="JSON|VAR", help="retrieved chunks [{text, metadata}]")
    p.option("--identity", metavar="JSON|VAR", help='who is asking, e.g. {"id": "user_1"}')
    p.option("--file-ids", dest="file_ids", nargs="+", metavar="ID", help="uploaded file ids")
    p.option("--messages", metavar="VAR|JSON", help="a prepared message list sent before")
    p.option(
        "--extra-params",
        dest="extra_params",
        metavar="JSON|VAR",
        help="model parameters that override the deployment's",
    )
    p.option(
        "--include-retrievals",
        dest="include_retrievals",
        flag=True,
        help="return the knowledge chunks used",
    )
    p.option(
        "--include-usage",
        dest="include_usage",
        flag=True,
        help="return token usage (on by default: OrqMagics.include_usage)",
    )
    attachment_options(p)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def _parser(name: str, description: str, build: Callable[[MagicParser], None]) -> MagicParser:
    p = MagicParser(f"%orq {name}", description)
    build(p)
    return p


def _p_connect(p: MagicParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--local", metavar="FILE", help="serve FILE with the local server")
    where.add_argument("--url", metavar="URL", help="an orq-compatible API at URL")
    where.add_argument(
        "--replay",
        metavar="RECORDING",
        help="answer from a recording, served by the local server (no key, no network)",
    )
    p.option(
        "--humanloop",
        flag=True,
        help="Humanloop's v4 API (completion-deployed / chat-deployed) instead of orq's; "
        "key from HUMANLOOP_API_KEY; with --local, the local server's /v4 routes",
    )
    add_record_options(p)


def _p_invoke(p: MagicParser) -> None:
    p.add_argument("key", nargs="?", help="deployment key (default: set by `%%orq use`)")
    p.add_argument("message", nargs="*", help="the user message (line form)")
    _invoke_options(p)


def _p_cell(p: MagicParser) -> None:
    p.add_argument("key", nargs="?", help="deployment key (default: set by `%%orq use`)")
    _invoke_options(p)


def _p_config(p: MagicParser) -> None:
    p.add_argument("key")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    p.option("--inputs", metavar="JSON|VAR")
    p.option("--context", metavar="JSON|VAR")


def _p_key(p: MagicParser) -> None:
    p.add_argument("key")


def _p_list(p: MagicParser) -> None:
    p.option("--refresh", flag=True, help="(always fetched fresh; kept for symmetry)")


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
        help="a list of dicts or a DataFrame in the notebook",
    )
    p.option("--concurrency", type=int, default=8, metavar="N")
    p.option("--stream", flag=True, help="use the streaming endpoint (measures first token)")
    p.option("-o", "--out", metavar="VAR", help="store the BatchResult in VAR")


# -- subcommands --------------------------------------------------------------------------


def _connect(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    # Files are read before the session lets go of its connection: a broken one changes nothing.
    record, replay = open_recordings(a)
    if a.local:
        _check_deployments_file(a.local)
    if a.url is not None:
        _check_url(a.url)
    if replay is not None:
        conn = m.session.connect(replay=replay, pace=a.pace, humanloop=a.humanloop)
    elif a.humanloop:
        conn = m.session.connect(url=a.url, local=a.local, humanloop=True, record=record)
    elif a.local:
        conn = m.session.connect(local=a.local, record=record)
    elif a.url:
        conn = m.session.connect(url=a.url, record=record)
    else:
        conn = m.session.connect(record=record)
        if not conn.api_key and not conn.offline:
            key = m.ask_key()
            if key is None:
                raise ArgumentError(
                    "No API key: set ORQ_API_KEY before starting Jupyter (no prompt is possible "
                    "here), or use `%orq connect --local FILE` to work offline."
                )
            conn = m.session.connect(api_key=key, key_source="prompt", record=record)
    m.apply_client_settings()
    print(conn.describe())
    if conn.server is not None and conn.server.secrets_summary:  # what leaves this machine
        print(conn.server.secrets_summary)


def _check_deployments_file(path: str) -> None:
    # Read the file before the session lets go of its connection: a broken file then leaves
    # the session as it was, and reads as one line naming the line and field.
    from ..local import DeploymentStore

    try:
        DeploymentStore.from_file(path)
    except ValueError as exc:  # DeploymentFileError
        message = " ".join(str(exc).split())
        raise ArgumentError(f"The local server did not start: {message}") from None


def _check_url(url: str) -> None:
    # A URL that cannot be parsed would otherwise fail at the first request, with a bare
    # ValueError from deep inside the HTTP stack.
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading the port is what refuses "http://h:99999"
    except ValueError as exc:
        raise ArgumentError(f"--url {url!r} is not a valid URL: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ArgumentError(
            f"--url takes an http:// or https:// URL such as http://127.0.0.1:8700, not {url!r}."
        )


def _status(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    conn = m.session.ensure_connection()
    lines = [conn.describe()]
    if m.default_deployment:
        lines.append(f"Default deployment: {m.default_deployment}.")
    lines.append(f"{format_count(len(m.session.history), 'invocation')} in this session.")
    print("\n".join(lines))


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
    inputs = _inputs(a, ns)
    context = resolve_value("--context", a.context, ns, expect=dict) if a.context else None
    try:
        config = m.session.client.deployments.get_config(a.key, inputs=inputs, context=context)
    except NotFoundError as exc:
        exc.wanted_key = a.key  # type: ignore[attr-defined]
        raise
    if config is None:
        print(no_content(a.key, "configuration"))
        return None
    from ..display._config_view import ConfigView

    return ConfigView(a.key, config)


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


def _playground(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    from ._apps import Playground

    return Playground(key=a.key or m.default_deployment)


def _compare(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    from ._apps import Compare

    contexts = resolve_value("--contexts", a.contexts, ns, expect=list) if a.contexts else None
    widget = Compare(a.keys, contexts=contexts, inputs=_inputs(a, ns), message=a.message)
    try:
        widget.run()
    except RuntimeError:
        pass  # No running event loop (terminal IPython): the Run button starts it instead.
    return widget


def _batch(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    from ..batch._api import run_batch

    rows = resolve_value("--from", a.source, ns, expect=object)
    try:
        result = run_batch(
            a.key, rows, concurrency=a.concurrency, client=m.session.client, stream=a.stream
        )
    except ValidationError:
        raise  # a bad request field: the magic names it
    except (TypeError, ValueError) as exc:  # rows or --concurrency refused before any request
        raise ArgumentError(f"{exc} (see `%orq batch --help`).") from None
    if a.out:
        m.set_variable(a.out, result)
    if result.interrupted:
        raise ArgumentError(
            f"Interrupted: {len(result.ok)} rows finished and are kept"
            + (f" in {a.out}." if a.out else "; use -o VAR to keep them.")
        )
    return result


# -- invoke -------------------------------------------------------------------------------


def _inputs(a: Any, ns: Namespace) -> dict[str, Any] | None:
    inputs: dict[str, Any] = {}
    if getattr(a, "inputs", None):
        inputs.update(resolve_value("--inputs", a.inputs, ns, expect=dict))
    inputs.update(parse_assignments(getattr(a, "var", [])))
    return inputs or None


def _invoke(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    key = a.key or m.default_deployment
    if not key:
        raise ArgumentError(
            "No deployment key: write `%%orq KEY`, or set a default with `%orq use KEY`."
        )
    if cell is not None:
        if not cell.strip():
            raise ArgumentError(
                f"The cell is empty: write the message below `%%orq {key}`, or use "
                f"`%orq invoke {key}` to invoke with inputs only."
            )
        text: str | None = cell.strip("\n")
    else:
        text = " ".join(getattr(a, "message", [])) or None
    if text is not None and not a.raw:
        text = render(text, lambda name: _lookup(name, ns))

    fields: dict[str, Any] = {"inputs": _inputs(a, ns)}
    for option in ("context", "metadata", "identity", "extra_params"):
        value = getattr(a, option)
        if value:
            flag = "--" + option.replace("_", "-")
            fields[option] = resolve_value(flag, value, ns, expect=dict)
    if a.documents:
        fields["documents"] = resolve_value("--documents", a.documents, ns, expect=list)
    if a.file_ids:
        fields["file_ids"] = list(a.file_ids)
    if a.system:
        fields["prefix_messages"] = [{"role": "system", "content": a.system}]
    options: dict[str, Any] = {}
    if a.mock is not None:
        options["mock_response"] = a.mock
    if a.include_retrievals:
        options["include_retrievals"] = True
    if a.include_usage or m.include_usage:
        options["include_usage"] = True
    if options:
        fields["invoke_options"] = options

    sent: list[dict[str, Any]] = []
    if a.thread:
        sent += m.session.thread_messages(a.thread, m.max_history)
    if a.messages:
        given = resolve_value("--messages", a.messages, ns, expect=list)
        sent += [dict(x) for x in check_messages(given, "--messages")]
    content = user_content(a, text)  # the text, and any --image parts
    if content is not None:
        sent.append({"role": "user", "content": content})
    if sent:
        fields["messages"] = sent
    fields = {k: v for k, v in fields.items() if v is not None}
    if uploaded := upload_files(m, a):  # --file: last, once the request is known to be good
        fields["file_ids"] = [*fields.get("file_ids", []), *uploaded]

    version = (d := m.session.cached_deployment(key)) and d.version
    stream = m.stream and not a.no_stream
    try:
        if stream:
            result = _stream(m, key, fields, sent, version or None)
        else:
            with retry_notices(lambda notice: print(f"⟳ {format_retry(notice)}")):
                result = m.session.invoke(key, fields, sent=sent, version=version or None)
    except NotFoundError as exc:
        exc.wanted_key = key  # type: ignore[attr-defined]
        raise
    if result is None:
        print(no_content(key))
        return None
    m.session.record(result, thread=a.thread, sent_user=text, inputs=fields.get("inputs"))
    if a.out:
        m.set_variable(a.out, result)
    if a.quiet:
        return None
    if stream:
        result.mark_shown(hide=m.use_display_updates())
    return result


def _stream(
    m: Host,
    key: str,
    fields: dict[str, Any],
    sent: list[dict[str, Any]],
    version: str | None,
) -> Any:
    from ..display._stream_view import StreamView, TextStreamView

    view: Any = (
        StreamView(interval=m.update_interval)
        if m.use_display_updates()
        else TextStreamView(write=sys.stdout.write)
    )
    stream = m.session.open_stream(key, fields)
    try:
        # Retries happen before the first piece, so the wait is said on its own line above.
        with retry_notices(lambda notice: print(f"⟳ {format_retry(notice)}")), stream:
            for piece in stream:
                view.append(piece)
    except KeyboardInterrupt:
        partial = stream.to_result(key=key, sent=sent, version=version, error="interrupted")
        m.session.record(partial, thread=None, sent_user=None, inputs=fields.get("inputs"))
        view.fail("Interrupted: the partial answer is kept (`%orq last`).", stream.text)
        raise ArgumentError(
            f"Interrupted after {len(stream.text)} characters; the partial answer is kept: "
            "`%orq last`."
        ) from None
    except OrqError as exc:
        if stream.chunk_count:
            partial = stream.to_result(key=key, sent=sent, version=version, error=str(exc))
            m.session.record(partial, thread=None, sent_user=None, inputs=fields.get("inputs"))
        view.fail(m.explain(exc), stream.text)
        raise
    result = stream.to_result(key=key, sent=sent, version=version)
    view.finish(result)
    return result


def _lookup(name: str, ns: Namespace) -> Any:
    """A `{{name}}` value; an undefined name is a KeyError, so render() reports them all."""
    try:
        return lookup(name, ns)
    except UndefinedNameError:
        raise KeyError(name) from None


# -- the table ----------------------------------------------------------------------------

COMMANDS: dict[str, tuple[Callable[[MagicParser], None], Command, str]] = {
    "connect": (_p_connect, _connect, "point the session at orq.ai, a URL or a local file"),
    "status": (_p_none, _status, "where the session points and whether a key is set"),
    "list": (_p_list, _list, "a table of every deployment"),
    "config": (_p_config, _config, "the resolved configuration of a deployment"),
    "invoke": (_p_invoke, _invoke, "invoke a deployment (cell form: `%%orq KEY`)"),
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


def dispatch(m: Host, tokens: list[str], cell: str | None, ns: Namespace) -> Any:
    """Route a magic line to its subcommand; a cell without subcommand is an invocation."""
    if tokens and tokens[0] in ("-h", "--help"):
        tokens = ["help"]
    if not tokens and cell is None:
        tokens = ["help"]
    name = tokens[0] if tokens else ""
    if name in COMMANDS:
        build, run, text = COMMANDS[name]
        if cell is not None and name != "invoke":
            raise ArgumentError(
                f"`%%orq {name}` takes no cell body; use the line form `%orq {name}`."
            )
        args = _parser(name, text, build).parse(tokens[1:])
        if name in _ORQ_ONLY and m.session.is_humanloop:
            raise ArgumentError(
                f"`%orq {name}` is not available for Humanloop (the session is connected with "
                "`%orq connect --humanloop`); `%%orq PROJECT` invokes a project."
            )
        return run(m, args, cell, ns)
    if cell is None:
        close = difflib_close(name, list(COMMANDS))
        raise ArgumentError(f"Unknown subcommand {name!r}.{close} `%orq help` lists them all.")
    args = _parser("invoke", COMMANDS["invoke"][2], _p_cell).parse(tokens)
    return _invoke(m, args, cell, ns)


def difflib_close(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f" Did you mean `%orq {close[0]}`?" if close else ""
