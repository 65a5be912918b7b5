"""A real IPython shell with `%load_ext orq_notebook`, on a session of its own.

with orq_shell(url=server.base_url, scratch="t_") as shell:
    shell.run_line_magic("orq", "list")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.notebook import _session


@contextmanager
def orq_shell(
    *, url: str | None = None, display_mode: str | None = None, scratch: str | None = None
) -> Iterator[InteractiveShell]:
    """The shell, connected to `url` when given (quietly), with `OrqMagics.display_mode` set
    when given. Afterwards the extension is unloaded, the session dropped, and the notebook
    names starting with `scratch` deleted, so the next test starts from nothing."""
    shell = InteractiveShell.instance()
    _session.set_session(_session.Session())
    shell.run_line_magic("load_ext", "orq_notebook")
    if display_mode is not None:
        shell.run_line_magic("config", f"OrqMagics.display_mode = {display_mode!r}")
    if url is not None:
        with capture_output():
            shell.run_line_magic("orq", f"connect --url {url}")
    try:
        yield shell
    finally:
        shell.run_line_magic("unload_ext", "orq_notebook")
        _session.set_session(None)
        if scratch:
            for name in [n for n in shell.user_ns if n.startswith(scratch)]:
                del shell.user_ns[name]
