"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from orq_notebook.local import LocalServer


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's real orq or Humanloop settings."""
    for name in list(os.environ):
        if name.startswith(("ORQ_", "HUMANLOOP_")):
            monkeypatch.delenv(name)
    yield


# --- the local deployments server (orq_notebook/local) ------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    """A real local server (uvicorn in a thread, 127.0.0.1) over fixtures/deployments.yaml,
    shared by the session. Tests that count on `faults` reset them first with
    `DELETE /v2/deployments/invalidate/{id}`."""
    from orq_notebook.local import LocalServer

    with LocalServer(FIXTURES / "deployments.yaml") as server:
        yield server


@pytest.fixture
def serve_deployments(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """Start a local server over a deployments file written from (dedented) text:
    `serve_deployments(text, api_key=..., name="x.yaml")`. Stopped after the test; the file
    is `server.store.path`, so a test can edit it."""
    from orq_notebook.local import LocalServer

    started: list[LocalServer] = []

    def serve(text: str, *, name: str = "deployments.yaml", **options: Any) -> LocalServer:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        server = LocalServer(path, **options).start()
        started.append(server)
        return server

    yield serve
    for server in started:
        server.stop()
