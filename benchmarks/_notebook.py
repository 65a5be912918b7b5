"""An IPython shell for the display benchmarks: `%load_ext orq_notebook` in an
`InteractiveShell` whose display publisher counts messages instead of sending them.

The publisher does what a kernel does with each display message before it reaches ZeroMQ:
it serializes the content to JSON and signs it with HMAC-SHA256 (ipykernel's `Session`), so
the kernel-side cost of a message is counted; only the socket send is left out.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

_SIGNING_KEY = b"benchmark-session-key"


class CountingPublisher(DisplayPublisher):
    """Counts display messages (first display and every update) and their bytes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.first_at: float | None = None

    def publish(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        source: Any = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        if self.first_at is None:
            self.first_at = self.clock()
        content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
        packed = json.dumps(content, default=str, ensure_ascii=False).encode()
        hmac.new(_SIGNING_KEY, packed, hashlib.sha256).hexdigest()
        self.messages += 1
        self.bytes += len(packed)

    def clear_output(self, wait: bool = False) -> None:
        return None


def shell_with_orq(base_url: str, *, interval: float = 0.1) -> tuple[Any, CountingPublisher]:
    """An InteractiveShell with `%load_ext orq_notebook`, streaming as in a notebook
    (one display handle, updated at most every `interval` s) from the server at base_url."""
    shell = InteractiveShell.instance()
    publisher = CountingPublisher(shell=shell)
    shell.display_pub = publisher
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic("load_ext", "orq_notebook")
        shell.run_line_magic("config", "OrqMagics.display_mode = 'notebook'")
        shell.run_line_magic("config", f"OrqMagics.update_interval = {interval!r}")
        shell.run_line_magic("orq", f"connect --url {base_url}")
    return shell, publisher


def run_cell_magic(shell: Any, line: str, cell: str) -> Any:
    """`%%orq line` with `cell` as its body; what it printed is dropped."""
    with contextlib.redirect_stdout(io.StringIO()):
        return shell.run_cell_magic("orq", line, cell)


class FirstByte:
    """Notes when the first body bytes of each HTTP response arrive (`at`), by wrapping
    `httpx.HTTPTransport`: no change to the code under test."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.at: float | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[FirstByte]:
        original = httpx.HTTPTransport.handle_request
        marks = self

        class Timed(httpx.SyncByteStream):
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def __iter__(self) -> Iterator[bytes]:
                for part in self.inner:
                    if marks.at is None:
                        marks.at = marks.clock()
                    yield part

            def close(self) -> None:
                self.inner.close()

        def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> Any:
            response = original(transport, request)
            response.stream = Timed(response.stream)
            return response

        httpx.HTTPTransport.handle_request = handle_request
        try:
            yield self
        finally:
            httpx.HTTPTransport.handle_request = original
