"""`%%orq KEY` and `%orq invoke KEY message`: one invocation, streamed or not.

The options become the request's fields; `{{names}}` in the message come from the notebook;
the answer streams into one display (or the terminal) and settles into a `Result`. However
the call ends, it ends with one message: a Result, or one `UsageError` line (the display
keeps the text that came and says `stopped` or `failed`, without repeating the line).
"""

from __future__ import annotations

import keyword
import sys
from typing import TYPE_CHECKING, Any

from ..batch._checks import holds_for_every_row
from ..client._checks import check_messages
from ..client._exceptions import NotFoundError, OrqError
from ..client._hints import no_content
from ..client._notices import RetryNotice, retry_notices
from ..client._templating import render
from ..display._format import format_retry
from ..display._result import Result
from ._attachments import attachment_options, upload_files, user_content
from ._magic_args import (
    ArgumentError,
    MagicParser,
    UndefinedNameError,
    lookup,
    parse_assignments,
    resolve_value,
)

if TYPE_CHECKING:
    from ._commands import Host, Namespace

__all__ = ["add_invoke_options", "gather_inputs", "invoke"]


def add_invoke_options(p: MagicParser) -> None:
    """The options shared by `%%orq` and `%orq invoke`."""
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a value for {{NAME}} in the deployment's prompt (repeatable; a name once)",
    )
    p.option(
        "--inputs",
        metavar="JSON|VAR",
        help="inputs as JSON or a notebook variable; a name also given with --var is refused",
    )
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
    p.option(
        "--messages",
        metavar="VAR|JSON",
        help='messages sent before the cell\'s, e.g. \'[{"role": "user", "content": "Hi"}]\'',
    )
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


def gather_inputs(a: Any, ns: Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The inputs of `--inputs` and `--var`, and where each came from.

    A name given twice is refused: `--var a=1 --var a=2`, or a name in `--inputs` that a
    `--var` repeats (which one should win is anyone's guess).
    """
    inputs: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if getattr(a, "inputs", None):
        given = resolve_value("--inputs", a.inputs, ns, expect=dict)
        label = "--inputs" if a.inputs.lstrip()[:1] in "{[" else f"--inputs {a.inputs}"
        for name, value in given.items():
            inputs[str(name)] = value
            sources[str(name)] = label
    seen: set[str] = set()
    for pair in getattr(a, "var", []):
        ((name, value),) = parse_assignments([pair]).items()
        if name in seen:
            raise ArgumentError(f"--var {name}=… was given more than once; give each name once.")
        if name in sources:
            raise ArgumentError(
                f"{name!r} is given by both --var and --inputs; give it in one place."
            )
        seen.add(name)
        inputs[name], sources[name] = value, "--var"
    return inputs, sources


def _message_list(a: Any, ns: Namespace) -> list[dict[str, Any]]:
    """`--messages`, checked: a list of `{"role": ..., "content": ...}` objects."""
    items = resolve_value("--messages", a.messages, ns, expect=list)
    example = '[{"role": "user", "content": "Hi"}]'
    out = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or "role" not in item:
            what = repr(item) if isinstance(item, str) else type(item).__name__
            raise ArgumentError(
                f"--messages takes a list of messages such as {example}; item {n} is {what}."
            )
        out.append(dict(item))
    return out


def invoke(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    key = a.key or m.default_deployment
    if not key:
        raise ArgumentError(
            "No deployment key: write `%%orq KEY`, or set a default with `%orq use KEY`."
        )
    if a.out is not None and (not a.out.isidentifier() or keyword.iskeyword(a.out)):
        raise ArgumentError(f"-o takes a Python variable name, not {a.out!r}.")
    if cell is not None:
        if not cell.strip():
            raise ArgumentError(
                f"The cell is empty: write the message below `%%orq {key}`, or use "
                f"`%orq invoke {key}` to invoke with inputs only."
            )
        text: str | None = cell.strip("\n")
    else:
        text = getattr(a, "message_text", None) or None
    if text is not None and not a.raw:
        text = render(text, lambda name: _lookup(name, ns))

    inputs, sources = gather_inputs(a, ns)
    fields: dict[str, Any] = {"inputs": inputs or None}
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
        sent += [dict(x) for x in check_messages(_message_list(a, ns), "--messages")]
    content = user_content(a, text)  # the text, and any --image parts
    if content is not None:
        sent.append({"role": "user", "content": content})
    if sent:
        fields["messages"] = sent
    fields = {k: v for k, v in fields.items() if v is not None}

    before_sending(m, key, inputs, sources, fields.get("context"))
    if uploaded := upload_files(m, a):  # --file: last, once the request is known to be good
        fields["file_ids"] = [*fields.get("file_ids", []), *uploaded]
    stream = m.stream and not a.no_stream
    result: Result | None
    try:
        if stream:
            result = _stream(m, key, fields, sent)
        else:
            result = _wait(m, key, fields, sent)
    except NotFoundError as exc:
        exc.wanted_key = key  # type: ignore[attr-defined]
        raise
    if result is None:  # 204: the server had nothing to say
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


def before_sending(
    m: Host,
    key: str,
    inputs: dict[str, Any],
    sources: dict[str, str],
    context: dict[str, Any] | None,
) -> None:
    """Check the inputs against the deployment's variables before anything is sent.

    A name close to a real variable is an error ("Did you mean"); open variables (no value,
    no default: orq.ai sends them as empty text) and names that match nothing are one warning
    line each; `OrqMagics.strict_variables` makes open variables errors. What would fail the
    call itself (no such deployment, no key, no server) fails here, once.
    """
    if m.session.is_humanloop:
        return
    try:
        variables = m.session.variables(key, context)
    except OrqError as exc:
        if holds_for_every_row(exc):
            if isinstance(exc, NotFoundError):
                exc.wanted_key = key  # type: ignore[attr-defined]
            raise
        return  # the call itself will say what is wrong, if anything is
    check = variables.check(inputs, strict=m.strict_variables)
    check.raise_for_errors()
    for line in check.warnings():
        print(line, file=sys.stderr)


def _version(m: Host, key: str) -> str | None:
    """The deployment's version, looked up (once per session) after the call succeeded."""
    return m.session.version_of(key)


def _say_retry(notice: RetryNotice) -> None:
    print(f"⟳ {format_retry(notice)}")  # a wait the cell would otherwise sit through silently


def _wait(m: Host, key: str, fields: dict[str, Any], sent: list[dict[str, Any]]) -> Result | None:
    try:
        with retry_notices(_say_retry):
            result = m.session.invoke(key, fields, sent=sent)
    except KeyboardInterrupt:
        stopped = Result("", deployment=key, messages=list(sent), partial=True)
        m.session.record(stopped, thread=None, sent_user=None, inputs=fields.get("inputs"))
        raise ArgumentError(
            "Stopped before the answer arrived (--no-stream: nothing had come yet)."
        ) from None
    if result is not None:
        result.version = result.version or _version(m, key)
    return result


def _stream(m: Host, key: str, fields: dict[str, Any], sent: list[dict[str, Any]]) -> Result:
    from ..display._stream_view import StreamView, TextStreamView

    view: Any = (
        StreamView(interval=m.update_interval)
        if m.use_display_updates()
        else TextStreamView(write=sys.stdout.write)
    )
    stream = m.session.open_stream(key, fields)
    try:
        # Retries happen before the first piece, so the wait is said on its own line above.
        with retry_notices(_say_retry), stream:
            for piece in stream:
                view.append(piece)
    except KeyboardInterrupt:
        partial = stream.to_result(key=key, sent=sent)
        partial.version = _version(m, key) if stream.chunk_count else None
        m.session.record(partial, thread=None, sent_user=None, inputs=fields.get("inputs"))
        if stream.text:
            view.fail("stopped", stream.text)
        raise ArgumentError(
            f"Stopped after {len(stream.text)} characters; the partial answer is kept (%orq last)."
        ) from None
    except OrqError as exc:
        if stream.chunk_count:
            partial = stream.to_result(key=key, sent=sent, error=str(exc))
            m.session.record(partial, thread=None, sent_user=None, inputs=fields.get("inputs"))
        if stream.text:
            view.fail("failed", stream.text)
        raise
    result = stream.to_result(key=key, sent=sent, version=_version(m, key))
    view.finish(result)
    return result


def _lookup(name: str, ns: Namespace) -> Any:
    """A `{{name}}` value; an undefined name is a KeyError, so render() reports them all."""
    try:
        return lookup(name, ns)
    except UndefinedNameError:
        raise KeyError(name) from None
