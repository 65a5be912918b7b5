"""`%orq` and `%%orq`: one line-and-cell magic with subcommands.

The magic only parses arguments, asks the session to do the work and hands results to the
display layer. Every `OrqError` and usage mistake leaves here as a plain `UsageError` (the exact
class: IPython hides the traceback only for that type, ipython#14024), so the user reads one line
and the cell still fails for headless runs.
"""

from __future__ import annotations

import argparse
import difflib
import getpass
from collections.abc import Callable
from typing import Any

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from pydantic import ValidationError
from traitlets import Bool, Enum, Float, Int, Unicode

from ..client._exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    MissingAPIKeyError,
    NotFoundError,
    OrqError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from ..client._templating import MissingVariablesError
from . import _commands as cmd
from ._magic_args import ArgumentError, _HelpShown, split_line
from ._session import Session, current_session

__all__ = ["OrqMagics", "load_ipython_extension", "unload_ipython_extension"]


@magics_class
class OrqMagics(Magics):
    """Work with orq.ai deployments: `%orq help` lists the subcommands."""

    default_deployment = Unicode(
        None, allow_none=True, config=True, help="Deployment key used by `%%orq` with no KEY."
    )
    stream = Bool(True, config=True, help="Stream answers into the output as they arrive.")
    update_interval = Float(
        0.1, config=True, help="Seconds between updates of a streaming output (rate bound)."
    )
    short_errors = Bool(
        True, config=True, help="Show errors as one line; False shows the full traceback."
    )
    timeout = Float(
        600.0,
        config=True,
        help="Seconds for a whole answer (a stream: its first chunk); a deadline, however "
        "slowly the bytes arrive.",
    )
    idle_timeout = Float(
        300.0, config=True, help="The longest silence between two chunks of a stream, in seconds."
    )
    max_retries = Int(
        2,
        config=True,
        help="Retries of what the service cannot have started: connection failures, 408, 429, 503.",
    )
    retry_unsafe = Bool(
        False,
        config=True,
        help="Also retry a generation that may have run (dropped after 200 OK, a read timeout, "
        "502, 504); each such retry may bill again.",
    )
    environment = Unicode(
        None, allow_none=True, config=True, help="Sent as context.environments on every call."
    )
    max_history = Int(
        10, config=True, help="Earlier exchanges of a --thread sent with each new message."
    )
    include_usage = Bool(True, config=True, help="Ask for token usage on every invocation.")
    display_mode = Enum(
        ["auto", "notebook", "terminal"],
        "auto",
        config=True,
        help="How streams are shown: display updates (notebook) or plain text (terminal).",
    )

    def __init__(self, shell: Any = None, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = session or current_session()
        self.apply_client_settings()
        self.observe(
            lambda _change: self.apply_client_settings(),
            names=["timeout", "idle_timeout", "max_retries", "retry_unsafe", "environment"],
        )

    def apply_client_settings(self) -> None:
        self.session.configure(
            timeout=self.timeout,
            max_retries=self.max_retries,
            environment=self.environment,
            idle_timeout=self.idle_timeout,
            retry_unsafe=self.retry_unsafe,
        )

    # -- the magic ----------------------------------------------------------------------

    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    def orq(
        self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None
    ) -> Any:
        """Work with orq.ai prompt deployments. `%orq help` lists the subcommands."""
        namespace = (
            {**self.shell.user_ns, **(local_ns or {})} if self.shell else dict(local_ns or {})
        )
        try:
            tokens = split_line(line)
            return cmd.dispatch(self, tokens, cell, namespace)
        except _HelpShown:
            return None
        except ArgumentError as exc:
            raise UsageError(str(exc)) from None
        except MissingVariablesError as exc:
            raise UsageError(
                f"{exc} Define it in the notebook, or use --raw to send the braces as they are."
            ) from None
        except ValidationError as exc:
            if not self.short_errors:
                raise
            raise UsageError(_validation_line(exc)) from None
        except OrqError as exc:
            if not self.short_errors:
                raise
            raise UsageError(self.explain(exc)) from None

    # -- errors: one line, with the hint that helps ---------------------------------------

    def explain(self, exc: OrqError) -> str:
        # The hint from orq's error code, unless this line already says it (429, "did you mean").
        line, hint = self._explain(exc), getattr(exc, "hint", None)
        said = isinstance(exc, (RateLimitError, NotFoundError))
        return f"{line} {hint}" if hint and not said else line

    def _explain(self, exc: OrqError) -> str:
        conn = self.session.connection
        where = conn.base_url if conn else "the server"
        if isinstance(exc, MissingAPIKeyError):
            return (
                "No API key: set ORQ_API_KEY before starting Jupyter, or run `%orq connect` to "
                "type it (kept in memory only). For offline work: `%orq connect --local FILE`."
            )
        if isinstance(exc, AuthenticationError) and self.session.is_humanloop:
            return f"The server refused the API key (401): {exc.message}"  # names HUMANLOOP_API_KEY
        if isinstance(exc, AuthenticationError):
            return (
                f"The server refused the API key (401): {exc.message} Set a valid ORQ_API_KEY, "
                "or run `%orq connect` to enter one."
            )
        if isinstance(exc, NotFoundError):
            return f"{exc.message}{self._suggest(exc)}"
        if isinstance(exc, UnprocessableEntityError):
            return (
                f"The server rejected the request (422): {exc.message} "
                "Pass variables with --var NAME=VALUE or --inputs JSON."
            )
        if isinstance(exc, RateLimitError):
            when = (
                f"retry in {exc.retry_after:g} s"
                if exc.retry_after is not None
                else "wait a moment and retry"
            )
            return f"Rate limited (429) after retrying: {exc.message} — {when}."
        if isinstance(exc, StreamError):
            kept = len(exc.partial_text)
            return (
                f"The stream broke: {exc.message} The {kept} characters received are kept: "
                "`%orq last`."
            )
        if isinstance(exc, APITimeoutError):  # reached, but no answer in time
            return f"{exc.message} (`%config OrqMagics.timeout` sets the deadline.)"
        if isinstance(exc, APIConnectionError):
            return f"Could not reach {where}: {exc.message} Check `%orq status`."
        return str(exc)

    def _suggest(self, exc: NotFoundError) -> str:
        wanted = getattr(exc, "wanted_key", None)
        if not wanted:
            return ""
        try:
            keys = [d.key for d in self.session.deployments(refresh=True)]
        except OrqError:
            return ""
        if wanted in keys:  # the deployment exists (a replay that has no answer for this call)
            return ""
        close = difflib.get_close_matches(wanted, keys, n=3, cutoff=0.5)
        if close:
            return " Did you mean: " + ", ".join(close) + "?"
        return " `%orq list` shows the deployments."

    # -- helpers used by the subcommands -------------------------------------------------

    def ask_key(self, prompt: str = "orq.ai API key (kept in memory only): ") -> str | None:
        try:
            key = getpass.getpass(prompt)
        except (StdinNotImplementedError, EOFError, OSError):
            return None
        return key.strip() or None

    def use_display_updates(self) -> bool:
        if self.display_mode != "auto":
            return self.display_mode == "notebook"
        return self.shell is not None and getattr(self.shell, "kernel", None) is not None

    def set_variable(self, name: str, value: Any) -> None:
        if self.shell is not None:
            self.shell.user_ns[name] = value


def _validation_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"Invalid request field {where}: {first['msg']}{more}."


def load_ipython_extension(ipython: Any) -> None:
    """Register `%orq` / `%%orq` (called by `%load_ext orq_notebook`)."""
    from ..batch._api import set_default_client
    from ._completion import install_completer

    magics = OrqMagics(ipython)
    ipython.register_magics(magics)
    install_completer(ipython, magics)  # %orq <TAB>
    # `run_batch(...)` in a cell uses the notebook's connection, like the magics do.
    set_default_client(lambda: magics.session.client)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop a local server the session started; `%reload_ext` starts fresh."""
    from ..batch._api import set_default_client
    from ._completion import uninstall_completer

    set_default_client(None)
    uninstall_completer(ipython)
    magics = ipython.magics_manager.registry.pop("OrqMagics", None)
    if magics is not None:
        magics.session.close()
        if magics in ipython.configurables:
            ipython.configurables.remove(magics)


Handler = Callable[[OrqMagics, argparse.Namespace, "str | None", dict[str, Any]], Any]
