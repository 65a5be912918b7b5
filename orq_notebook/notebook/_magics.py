"""`%orq` and `%%orq`: one line-and-cell magic with subcommands.

The magic only parses arguments, asks the session to do the work and hands results to the
display layer. Every `OrqError` and usage mistake leaves here as a plain `UsageError` (the exact
class: IPython hides the traceback only for that type, ipython#14024), so the user reads one line
and the cell still fails for headless runs.
"""

from __future__ import annotations

import argparse
import getpass
import warnings
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

from ..client._exceptions import OrqError
from ..client._templating import MissingVariablesError
from ..display._errors import did_you_mean, explain
from . import _commands as cmd
from ._magic_args import ArgumentError, _HelpShown, protect_question_marks
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
    strict_variables = Bool(
        False,
        config=True,
        help="Refuse to send a deployment variable that has no value and no default "
        "(orq.ai sends it as empty text; by default that is one warning line).",
    )
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
            return cmd.dispatch(self, line, cell, namespace)
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
        """The one line shown for `exc` (the same explanation the widgets use)."""
        conn = self.session.connection
        return explain(
            exc,
            where=conn.base_url if conn else None,
            humanloop=self.session.is_humanloop,
            suggest=self._close_keys,
        )

    def _close_keys(self, wanted: str) -> list[str] | None:
        try:
            keys = [d.key for d in self.session.deployments(refresh=True)]
        except OrqError:
            return None
        if wanted in keys:  # the deployment exists (a replay that has no answer for this call)
            return None
        return did_you_mean(wanted, keys)

    # -- helpers used by the subcommands -------------------------------------------------

    def ask_key(self, prompt: str = "orq.ai API key (kept in memory only): ") -> str | None:
        try:
            # Without a terminal getpass warns that the input may be echoed, then reads
            # stdin anyway; our own line says what to do when nothing can be read.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", getpass.GetPassWarning)
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
    # `%orq invoke KEY Can I return shoes?` is a message, not IPython's help on `shoes`.
    cleanup = getattr(ipython, "input_transformers_cleanup", None)
    if cleanup is not None and protect_question_marks not in cleanup:
        cleanup.append(protect_question_marks)
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
    cleanup = getattr(ipython, "input_transformers_cleanup", None)
    if cleanup is not None and protect_question_marks in cleanup:
        cleanup.remove(protect_question_marks)
    magics = ipython.magics_manager.registry.pop("OrqMagics", None)
    if magics is not None:
        magics.session.close()
        if magics in ipython.configurables:
            ipython.configurables.remove(magics)


Handler = Callable[[OrqMagics, argparse.Namespace, "str | None", dict[str, Any]], Any]
