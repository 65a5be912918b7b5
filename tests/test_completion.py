"""Tab completion of `%orq` / `%%orq`, through a real IPython shell's completer and a real
kernel's `complete_request`, against the live local server."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from jupyter_client.manager import KernelManager

from orq_notebook.display._result import Result
from orq_notebook.local import LocalServer
from orq_notebook.notebook import _session
from orq_notebook.notebook._completion import MATCHER_ID
from tests.images import PNG
from tests.shells import orq_shell

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(90)
SUBCOMMANDS = [
    "connect",
    "status",
    "list",
    "config",
    "invoke",
    "use",
    "invalidate",
    "versions",
    "history",
    "reset",
    "last",
    "playground",
    "compare",
    "batch",
    "feedback",
    "experiment",
    "help",
]
KEYS = ["echo-bot", "needs-topic", "fixed", "slow", "routed", "long"]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(FIXTURES / "magics.yaml") as srv:
        yield srv


@pytest.fixture
def ip(server: LocalServer) -> Iterator[InteractiveShell]:
    with orq_shell(url=server.base_url, scratch="t_") as shell:
        yield shell


def completions(ip: InteractiveShell, text: str) -> list[Any]:
    with provisionalcompleter():
        return list(ip.Completer.completions(text, len(text)))


def texts(ip: InteractiveShell, text: str) -> list[str]:
    """What our matcher offers. Where it offers nothing, IPython's usual completions show
    (a value being typed after `--var name=`, say), as they would without the extension."""
    return [c.text for c in completions(ip, text) if c._origin == MATCHER_ID]


def keys_ready(ip: InteractiveShell) -> None:
    """TAB once (which starts the background fetch), then wait for the keys to arrive."""
    texts(ip, "%orq ")
    deadline = time.monotonic() + 20
    while _session.current_session().cached_deployments() is None:
        assert time.monotonic() < deadline, "the deployment keys never arrived"
        time.sleep(0.01)


def test_subcommands_and_nothing_else(ip: InteractiveShell) -> None:
    found = completions(ip, "%orq ")
    assert [c.text for c in found] == SUBCOMMANDS
    assert {c._origin for c in found} == {MATCHER_ID}  # Jedi, magics, files: suppressed
    assert {c.type for c in found} == {"subcommand"}
    assert texts(ip, "%orq co") == ["connect", "config", "compare"]
    assert texts(ip, "res = %orq inv") == ["invoke", "invalidate"]


def test_deployment_keys_wherever_a_key_goes(ip: InteractiveShell) -> None:
    keys_ready(ip)
    assert texts(ip, "%%orq ") == KEYS
    assert texts(ip, "%%orq e") == ["echo-bot"]
    assert texts(ip, "%orq invoke ") == KEYS
    for sub in ("config", "use", "invalidate", "playground", "batch"):
        assert texts(ip, f"%orq {sub} f") == ["fixed"], sub
    assert texts(ip, "%orq compare echo-bot f") == ["fixed"]  # every KEY of compare
    assert texts(ip, "%orq invoke fixed some") == []  # the message, not a key
    assert texts(ip, "%%orq invoke n") == ["needs-topic"]
    assert [c.type for c in completions(ip, "%%orq s")] == ["deployment"]


def fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "orq-deployment-keys"]


def test_the_first_tab_never_waits_on_the_network(ip: InteractiveShell) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        # Pointed at it without `%orq connect`, whose probe would refuse a server that never
        # answers: the session is what a connect that worked a moment ago would leave.
        session = _session.current_session()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        session.switch_to(session.open_connection(url=url, api_key="test"))
        before = set(fetch_threads())  # earlier tests' fetches, maybe not quite ended
        found = texts(ip, "%%orq ")  # returns while the fetch is still waiting for an answer
        fetching = [t for t in fetch_threads() if t not in before]
        assert len(fetching) == 1 and fetching[0].is_alive()
        assert found == [] and session.cached_deployments() is None
        texts(ip, "%%orq ")
        assert [
            t for t in fetch_threads() if t not in before
        ] == fetching  # one fetch per connection, however many TABs
    fetching[0].join(timeout=30)  # the socket closed: the fetch fails, and keys stay unknown
    assert not fetching[0].is_alive() and session.cached_deployments() is None


def test_options_of_the_subcommand(ip: InteractiveShell) -> None:
    options = texts(ip, "%%orq echo-bot --")
    assert options[:3] == ["--help", "--var", "--inputs"]
    assert {"--image", "--file", "--file-ids", "--no-stream", "--out"} <= set(options)
    assert texts(ip, "%%orq echo-bot --no") == ["--no-stream"]
    assert texts(ip, "%orq invoke fixed -") == options  # -o has --out, its long form
    given = texts(ip, "%%orq echo-bot --mock hi --var a=1 --")
    assert "--mock" not in given and "--var" in given  # once-only options go, --var repeats
    assert texts(ip, "%orq batch echo-bot --") == [
        "--help",
        "--from",
        "--concurrency",
        "--stream",
        "--out",
    ]
    assert texts(ip, "%orq feedback ") == ["good", "bad"]
    assert texts(ip, "%orq feedback --") == ["--help", "--comment", "--undo"]
    assert texts(ip, "%orq connect --") == [
        "--help",
        "--local",
        "--url",
        "--replay",
        "--humanloop",
        "--record",
        "--new-episodes",
        "--redact",
        "--pace",
    ]


def test_variables_of_the_chosen_deployment(ip: InteractiveShell) -> None:
    keys_ready(ip)
    assert texts(ip, "%orq invoke needs-topic --var ") == ["topic="]
    assert texts(ip, "%%orq needs-topic --var t") == ["topic="]
    assert texts(ip, "%%orq needs-topic --var topic=tides --var ") == []  # already given
    assert texts(ip, "%%orq needs-topic --var topic=") == []  # the value is the user's
    assert texts(ip, "%%orq echo-bot --var ") == ["company="]
    with capture_output():
        ip.run_line_magic("orq", "use needs-topic")
    assert texts(ip, "%%orq --var ") == ["topic="]  # the default deployment's
    assert [c.type for c in completions(ip, "%%orq --var ")] == ["variable"]


def test_notebook_variables_of_a_fitting_type(ip: InteractiveShell, server: LocalServer) -> None:
    keys_ready(ip)
    ns = ip.user_ns
    ns.update(
        t_rows=[{"topic": "tides"}],
        t_frame=pd.DataFrame([{"topic": "tides"}]),
        t_words=["not", "rows"],
        t_inputs={"topic": "tides"},
        t_text="a string",
        t_result=Result("x", deployment="fixed"),
        _t_private={"a": 1},
    )
    assert texts(ip, "%orq batch echo-bot --from t_") == ["t_frame", "t_rows"]
    assert texts(ip, "%%orq echo-bot --inputs t_") == ["t_inputs"]
    assert texts(ip, "%%orq echo-bot --context t_") == ["t_inputs"]
    assert texts(ip, "%%orq echo-bot --messages t_") == ["t_rows", "t_words"]
    assert texts(ip, "%%orq echo-bot -o t_") == ["t_result"]
    with capture_output():
        ns["t_batch"] = ip.run_line_magic("orq", "batch fixed --from t_rows")
    assert texts(ip, "%orq batch fixed --from t_rows -o t_") == ["t_batch"]
    assert "_t_private" not in texts(ip, "%%orq echo-bot --inputs ")


def test_paths_for_images_files_and_deployment_files(
    ip: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "chart.png").write_bytes(PNG)
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "deployments.yaml").write_text("deployments: []", encoding="utf-8")
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "b.JPG").write_bytes(b"\xff\xd8\xff")
    (tmp_path / ".hidden.png").write_bytes(PNG)
    monkeypatch.chdir(tmp_path)
    assert texts(ip, "%%orq echo-bot --image ") == ["chart.png", "pics/"]
    assert texts(ip, "%%orq echo-bot --image pics/") == ["pics/b.JPG"]
    assert texts(ip, "%%orq echo-bot --file ") == [
        "chart.png",
        "deployments.yaml",
        "notes.txt",
        "pics/",
    ]
    assert texts(ip, "%orq connect --local d") == ["deployments.yaml"]
    absolute = texts(ip, f"%%orq echo-bot --image {tmp_path}/c")
    assert absolute == [f"{tmp_path}/chart.png"]


def test_only_orq_lines_are_completed(ip: InteractiveShell) -> None:
    keys_ready(ip)
    assert "echo-bot" not in texts(ip, "print(")
    assert texts(ip, "x = 1\n%%orq ") == []  # a cell magic only opens a cell
    found = completions(ip, "%orq list\n%orq invoke e")  # a line magic on any line
    assert [c.text for c in found] == ["echo-bot"]
    ip.run_line_magic("unload_ext", "orq_notebook")
    try:
        assert MATCHER_ID not in {
            getattr(m, "matcher_identifier", None) for m in ip.Completer.custom_matchers
        }
    finally:
        ip.run_line_magic("load_ext", "orq_notebook")
    # Reloading does not stack a second matcher.
    ip.run_line_magic("reload_ext", "orq_notebook")
    ids = [getattr(m, "matcher_identifier", None) for m in ip.Completer.custom_matchers]
    assert ids.count(MATCHER_ID) == 1


def test_a_real_kernel_answers_complete_requests(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.getenv("PYTHONPATH")])),
    }
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        setup = (
            "%load_ext orq_notebook\n"
            f"%orq connect --local {FIXTURES / 'magics.yaml'}\n"
            "import time\n"
            "session = get_ipython().magics_manager.registry['OrqMagics'].session\n"
            "thread = session.prefetch_deployments()\n"
            "thread.join(30)\n"
            "assert session.cached_deployments() is not None\n"
        )
        reply = kc.execute_interactive(setup, timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]

        def complete(code: str) -> dict[str, Any]:
            msg_id = kc.complete(code, len(code))
            answer = kc.get_shell_msg(timeout=30)
            while answer["parent_header"].get("msg_id") != msg_id:
                answer = kc.get_shell_msg(timeout=30)
            content: dict[str, Any] = answer["content"]
            return content

        cell = complete("%%orq ec")
        assert (cell["matches"], cell["cursor_start"], cell["cursor_end"]) == (["echo-bot"], 6, 8)
        var = complete("%orq invoke needs-topic --var to")
        assert var["matches"] == ["topic="]
        assert complete("%orq ")["matches"] == SUBCOMMANDS
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
