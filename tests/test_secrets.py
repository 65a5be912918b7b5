"""A canary API key goes through everything; it must come out nowhere.

The key (`sk-canary-<32 random hex>`) is the one a real local server requires, so every
successful call proves it was sent; then every output, return value, repr, log record and
error text of the session is searched for it (the whole key, its random part, and its last 8
characters, which a careless "masking" would show). Zero hits.

* The magic scenarios (those of tests/test_magics.py, plus the key prompt, a wrong key, an
  unreachable server, an interrupt, and a careless server that repeats the `Authorization`
  header in its error body and in a broken stream event) run in an InteractiveShell with the
  key in `ORQ_API_KEY` (or typed at the prompt).
* The Python API: Client and AsyncClient errors (401, connection refused, echoed key) and the
  reprs of Client, AsyncClient, Settings, Session, Connection and LocalServer.
* Every notebook in notebooks/ (marked `notebook`; slower): see `test_notebooks_leak_no_key`.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook.client._client import AsyncClient, Client
from orq_notebook.client._config import Settings
from orq_notebook.client._exceptions import (
    APIConnectionError,
    AuthenticationError,
    OrqError,
    StreamError,
)
from orq_notebook.local import LocalServer
from orq_notebook.notebook import _session
from tests.faults import Fault, FaultServer
from tests.kernels import checkout_on_path

CANARY = f"sk-canary-{secrets.token_hex(16)}"
FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


class Haystack:
    """Everything the session produced, by where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, value: Any) -> None:
        self.texts.append((where, value if isinstance(value, str) else _as_text(value)))

    def output(self, where: str, captured: Any) -> None:
        self.add(f"{where}: stdout", captured.stdout)
        self.add(f"{where}: stderr", captured.stderr)
        for n, out in enumerate(captured.outputs):
            self.add(f"{where}: output {n}", json.dumps([out.data, out.metadata], default=repr))

    def hits(self) -> list[str]:
        needles = (CANARY, CANARY.removeprefix("sk-canary-"), CANARY[-8:])
        return [where for where, text in self.texts if any(n in text for n in needles)]

    @property
    def size(self) -> int:
        return sum(len(t) for _, t in self.texts)


def _as_text(value: Any) -> str:
    parts = [repr(value), str(value)]
    bundle = getattr(value, "_repr_mimebundle_", None)
    if callable(bundle):
        parts.append(json.dumps(bundle(), default=repr))
    return "\n".join(parts)


@pytest.fixture
def haystack(caplog: pytest.LogCaptureFixture) -> Iterator[Haystack]:
    """Collects; at the end the DEBUG log of every logger (orq_notebook, httpx, httpcore,
    uvicorn...) is added, and the whole is searched."""
    caplog.set_level(logging.DEBUG)
    for name in ("orq_notebook", "httpx", "httpcore", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    stack = Haystack()
    yield stack
    for record in caplog.records:
        stack.add(f"log {record.name}", record.getMessage())
    stack.add("log (formatted, with tracebacks)", caplog.text)
    hits = stack.hits()
    print(
        f"\nsecrets: {len(stack.texts)} texts, {stack.size:,} characters searched, {len(hits)} hits"
    )
    assert not hits, f"the key appeared in: {hits}"


@pytest.fixture(scope="module")
def keyed() -> Iterator[LocalServer]:
    with LocalServer(FIXTURES / "magics.yaml", api_key=CANARY) as server:
        yield server


@pytest.fixture(scope="module")
def other_key() -> Iterator[LocalServer]:
    with LocalServer(FIXTURES / "magics.yaml", api_key="sk-some-other-key-42") as server:
        yield server


@pytest.fixture(scope="module")
def echo() -> Iterator[FaultServer]:
    with FaultServer({"echo-key": Fault("echo_key", after=1)}) as server:
        yield server


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    _session.set_session(_session.Session())
    ip.run_line_magic("load_ext", "orq_notebook")
    ip.run_line_magic("config", "OrqMagics.display_mode = 'notebook'")
    ip.user_ns["test_rows"] = [{"company": "A"}, {"company": "B"}]
    yield ip
    ip.run_line_magic("unload_ext", "orq_notebook")
    _session.set_session(None)
    for name in [n for n in ip.user_ns if n.startswith("test_")]:
        del ip.user_ns[name]


def _run(ip: InteractiveShell, stack: Haystack, line: str, cell: str | None = None) -> Any:
    """One magic; its outputs, value and any error go into the haystack."""
    where = f"%orq {line}" if cell is None else f"%%orq {line}"
    value: Any = None
    with capture_output() as captured:
        try:
            if cell is None:
                value = ip.run_line_magic("orq", line)
            else:
                value = ip.run_cell_magic("orq", line, cell)
        except (UsageError, OrqError) as exc:
            stack.add(f"{where}: error", f"{type(exc).__name__}: {exc} {exc!r}")
            value = exc
    stack.output(where, captured)
    if value is not None and not isinstance(value, Exception):
        stack.add(f"{where}: value", value)
    return value


SCENARIOS: list[tuple[str, str | None]] = [
    ("status", None),
    ("list", None),
    ("config echo-bot --var company=Initech", None),
    ("echo-bot", "What is the refund policy?"),
    ("echo-bot --no-stream --var company=Globex --system 'Be terse.'", "Hello there"),
    ("fixed --no-stream --thread t1", "first question"),
    ("fixed --no-stream --thread t1", "second question"),
    ('routed --no-stream --context \'{"environments": ["production"]}\'', "x"),
    ("history", None),
    ("last", None),
    ("invalidate echo-bot", None),
    ("use fixed", None),
    ("--no-stream", "anything"),
    ("batch echo-bot --from test_rows -o test_batch", None),
    ("help", None),
    ("echo-bto --no-stream", "hi"),  # 404, with suggestions
    ("needs-topic --no-stream", "hi"),  # 422
    ("lst", None),
]


def test_magic_scenarios_leak_no_key(
    shell: InteractiveShell,
    keyed: LocalServer,
    other_key: LocalServer,
    echo: FaultServer,
    haystack: Haystack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORQ_API_KEY", CANARY)
    _run(shell, haystack, f"connect --url {keyed.base_url}")
    for line, cell in SCENARIOS:
        _run(shell, haystack, line, cell)
    assert isinstance(shell.user_ns["test_batch"].ok[0].text, str)
    assert len(shell.user_ns["test_batch"].ok) == 2, "the server took the key"

    # An interrupt in the middle of a stream (as in test_magics).
    from orq_notebook.display import _stream_view as _display

    seen: list[str] = []
    original = _display.StreamView.append

    def append_then_interrupt(self: Any, piece: str) -> None:
        original(self, piece)
        seen.append(piece)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(_display.StreamView, "append", append_then_interrupt)
        error = _run(shell, haystack, "slow", " ".join(f"w{i}" for i in range(100)))
    assert isinstance(error, UsageError) and "Stopped" in str(error)
    _run(shell, haystack, "last", None)

    # The key a server does not accept; an unreachable server; a server repeating the key.
    # (`%orq connect` tries the server: both are refused there, and the session is unchanged.)
    assert "(401)" in str(_run(shell, haystack, f"connect --url {other_key.base_url}"))
    assert "Could not reach" in str(_run(shell, haystack, "connect --url http://127.0.0.1:9"))
    _run(shell, haystack, f"connect --url {echo.base_url}")
    assert isinstance(_run(shell, haystack, "echo-key --no-stream", "hi"), UsageError)
    assert "stream broke" in str(_run(shell, haystack, "echo-key", "hi"))

    # The key typed at the prompt instead of the environment.
    monkeypatch.delenv("ORQ_API_KEY")
    monkeypatch.setenv("ORQ_BASE_URL", keyed.base_url)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": CANARY)
    _run(shell, haystack, "connect")
    _run(shell, haystack, "status")
    assert len(_run(shell, haystack, "list").rows) == 6

    with capture_output() as captured:
        shell.run_line_magic("config", "OrqMagics")
    haystack.output("%config OrqMagics", captured)
    session = shell.magics_manager.registry["OrqMagics"].session
    for name, value in [
        ("Session", session),
        ("Connection", session.connection),
        ("Session.client", session.client),
        ("Session.aclient", session.aclient),
        ("Settings", session.client.settings),
        ("history", list(session.history)),
        ("threads", session.threads),
        ("OrqMagics", shell.magics_manager.registry["OrqMagics"]),
    ]:
        haystack.add(f"repr {name}", repr(value))
    assert session.connection.key_source == "prompt"


def test_python_api_errors_and_reprs_leak_no_key(
    keyed: LocalServer, other_key: LocalServer, echo: FaultServer, haystack: Haystack
) -> None:
    with Client(CANARY, keyed.base_url) as client:
        haystack.add("Client.invoke", client.deployments.invoke("fixed"))
        with client.deployments.stream("echo-bot", inputs={"company": "X"}) as stream:
            haystack.add("chunks", [c.model_dump_json() for c in stream])
        haystack.add("stream", stream)
        haystack.add("repr Client", repr(client))
        haystack.add("repr Settings", repr(client.settings) + str(client.settings))

    errors: list[BaseException] = []
    for base_url, key in [
        (other_key.base_url, "fixed"),  # 401: wrong key
        ("http://127.0.0.1:9", "fixed"),  # refused
        (echo.base_url, "echo-key"),  # a body that repeats the key
    ]:
        with Client(CANARY, base_url, max_retries=0) as client:
            for streamed in (False, True):
                try:
                    if streamed:
                        with client.deployments.stream(key) as s:
                            list(s)
                    else:
                        client.deployments.invoke(key)
                except OrqError as exc:
                    errors.append(exc)

    async def async_errors() -> None:
        async with AsyncClient(CANARY, echo.base_url, max_retries=0) as client:
            haystack.add("repr AsyncClient", repr(client))
            for call in (client.deployments.invoke("echo-key"),):
                try:
                    await call
                except OrqError as exc:
                    errors.append(exc)
            try:
                async with client.deployments.stream("echo-key") as s:
                    async for _ in s:
                        pass
            except OrqError as exc:
                errors.append(exc)

    asyncio.run(async_errors())
    kinds = {type(e) for e in errors}
    assert {AuthenticationError, APIConnectionError, StreamError} <= kinds, kinds
    for exc in errors:
        where = f"{type(exc).__name__}"
        haystack.add(where, f"{exc} | {exc!r} | {vars(exc)} | {exc.__cause__!r}")

    server = LocalServer(FIXTURES / "magics.yaml", api_key=CANARY)
    haystack.add("repr LocalServer (stopped)", repr(server))
    haystack.add("repr LocalServer (running)", repr(keyed))
    haystack.add("repr Settings.resolve", repr(Settings.resolve(env={"ORQ_API_KEY": CANARY})))
    session = _session.Session()
    session.connect(url=keyed.base_url, api_key=CANARY)
    haystack.add("repr Session/Connection", f"{session!r} {session.connection!r}")
    session.close()


def test_the_search_finds_a_planted_key(caplog: pytest.LogCaptureFixture) -> None:
    """The haystack is not blind: a key in a log line, an output or a repr is found."""
    stack = Haystack()
    # A logger of no client (the clients' own loggers redact the keys of live clients).
    logging.getLogger("tests.planted").warning("sending %s", CANARY)
    stack.add("log", caplog.text)
    with capture_output() as captured:
        print("masked:", "sk-..." + CANARY[-8:])
    stack.output("print", captured)
    stack.add("repr", Settings(base_url="http://x", api_key=CANARY).__dict__)
    assert stack.hits() == ["log", "print: stdout", "repr"]


# -- notebooks ----------------------------------------------------------------------------------

CONNECT_LOCAL = re.compile(r"^%orq\s+connect\s+--local\s+(\S+)[^\n]*$", re.MULTILINE)
KEYED_CONNECT = (
    "from orq_notebook.local import LocalServer as _KeyedServer  # (rewritten by test_secrets)\n"
    "_keyed = _KeyedServer({file!r}, api_key=__import__('os').environ['ORQ_API_KEY']).start()\n"
    "get_ipython().run_line_magic('orq', 'connect --url ' + _keyed.base_url)"
)


@pytest.mark.notebook
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "notebook", NOTEBOOKS or [None], ids=[p.name for p in NOTEBOOKS] or ["none"]
)
def test_notebooks_leak_no_key(
    notebook: Path | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Each notebook, run in a real kernel against local servers that require the canary.

    `%orq connect --local FILE` starts a server *without* a key, so the canary would never be
    used. In a copy of the notebook's folder, each such line becomes code that starts
    `LocalServer(FILE, api_key=<the kernel's ORQ_API_KEY>)` in the kernel, at that point of
    the run (a notebook may write FILE in an earlier cell), then `%orq connect --url` to it.
    The key reaches the kernel the way a user's does, in `ORQ_API_KEY`, and never appears in
    a cell's source; `Client()` in code cells reads it too. A cell that did not send it would
    get 401 and fail the run. Then the executed notebook's JSON is searched.
    """
    if notebook is None:
        pytest.skip("no notebooks in notebooks/ yet: re-run when they exist")
    from nbclient import NotebookClient

    work = tmp_path / "notebooks"
    shutil.copytree(notebook.parent, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    nb = nbformat.read(work / notebook.name, as_version=4)
    rewritten = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source, n = CONNECT_LOCAL.subn(
                lambda m: KEYED_CONNECT.format(file=m.group(1).strip("'\"")), cell.source
            )
            rewritten += n
    monkeypatch.setenv("ORQ_API_KEY", CANARY)
    checkout_on_path(monkeypatch)
    client = NotebookClient(
        nb, timeout=120, startup_timeout=60, resources={"metadata": {"path": str(work)}}
    )
    client.execute()
    kernel_output = capfd.readouterr()  # the kernel process's own stdout and stderr
    text = nbformat.writes(nb)
    (tmp_path / f"executed-{notebook.name}").write_text(text, encoding="utf-8")
    assert "api_key=__import__" in text or not rewritten
    needles = (CANARY, CANARY.removeprefix("sk-canary-"), CANARY[-8:])
    hits = [n for n in needles if n in text + kernel_output.out + kernel_output.err]
    print(
        f"\n{notebook.name}: {len(nb.cells)} cells, {rewritten} connect lines rewritten, "
        f"{len(text):,} characters, {len(hits)} hits"
    )
    assert not hits, f"the key is in the executed {notebook.name}"
