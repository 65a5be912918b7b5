"""Hostile deployments files: a deployments file is untrusted input (it may come with someone
else's notebook), so reading one is bounded.

Each class is tried in several forms (issue 19, point 4: "test the class, not only the
example"): a value that contains itself through an anchor, nesting far past the limit (flow,
block and JSON), aliases that expand exponentially ("billion laughs"), files too large to
read, and cyclic or enormous Python data. Each must give one `DeploymentFileError` naming the
line where there is one -- never a `RecursionError`, a `MemoryError` or a hang -- through the
loader, `LocalServer`, the `orq-notebook serve` command and `%orq connect --local` in a real
kernel. Every test runs under a memory cap of its own process where it loads a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orq_notebook.local import DeploymentFileError, DeploymentStore, LocalServer

ROOT = Path(__file__).resolve().parents[1]


def _laughs(levels: int, fan: int, *, indent: str = "      ") -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * fan)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "".join(f"{indent}{line}\n" for line in lines)


def _entry(extra: str) -> str:
    return "deployments:\n  - key: a\n    prompt_config: {model: m}\n" + extra


HOSTILE: list[tuple[str, str, str, str]] = [
    # name, file name, text, what the one-line message says (and its line)
    (
        "anchor containing itself (list)",
        "d.yaml",
        "deployments: &a\n  - *a\n",
        "line 2: the alias *a is used inside the value it names",
    ),
    (
        "anchor containing itself (mapping)",
        "d.yaml",
        "deployments:\n  - key: a\n    prompt_config: &p {model: m, tools: [*p]}\n",
        "line 3: the alias *p is used inside the value it names",
    ),
    (
        "anchor containing itself (merge key)",
        "d.yaml",
        _entry("    variables: &v\n      x: 1\n      <<: *v\n"),
        "line 6: the alias *v is used inside the value it names",
    ),
    (
        "anchor containing itself, deep inside",
        "d.yaml",
        _entry("    variables:\n      x: &deep\n        - a\n        - [b, [c, *deep]]\n"),
        "line 7: the alias *deep is used inside the value it names",
    ),
    (
        "5,000 deep flow brackets",
        "d.yaml",
        _entry(f"    variables: {{x: {'[' * 5000}{']' * 5000}}}\n"),
        "line 4: nested more than 100 levels deep",
    ),
    (
        "5,000 deep flow mappings",
        "d.yaml",
        _entry(f"    variables: {'{a: ' * 5000}1{'}' * 5000}\n"),
        "line 4: nested more than 100 levels deep",
    ),
    (
        "1,000 deep block sequences",
        "d.yaml",
        "deployments:\n" + "".join(f"{'  ' * i}-\n" for i in range(1, 1000)),
        "line 101: nested more than 100 levels deep",
    ),
    (
        "5,000 deep JSON",
        "d.json",
        '{"deployments": [{"key": "a", "prompt_config": {"model": "m"}, "variables": '
        f'{{"x": {"[" * 5000}{"]" * 5000}}}}}]}}',
        "line 1: nested more than 100 levels deep",
    ),
    (
        "billion laughs (9 levels of 10)",
        "d.yaml",
        _entry("    variables:\n" + _laughs(9, 10)),
        "this value expands to more than 100,000 values through its aliases",
    ),
    (
        "billion laughs, narrow and tall (30 levels of 2)",
        "d.yaml",
        _entry("    variables:\n" + _laughs(30, 2)),
        "this value expands to more than 100,000 values through its aliases",
    ),
    (
        "laughs at the top level",
        "d.yaml",
        "x:\n" + _laughs(12, 4, indent="  ") + "deployments: []\n",
        "this value expands to more than 100,000 values through its aliases",
    ),
    (
        "aliases that nest past the limit",
        "d.yaml",
        _entry(
            "    variables:\n"
            + "".join(
                f"      d{i}: &d{i} {'[' * 60}{f'*d{i - 1}' if i else 'x'}{']' * 60}\n"
                for i in range(3)
            )
        ),
        "this value is nested more than 100 levels deep once its aliases",
    ),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("hostile")
    paths = {}
    for index, (name, file_name, text, _) in enumerate(HOSTILE):
        path = where / f"{index:02d}-{file_name}"
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def _line_of(says: str) -> str:
    return says.split(":", 1)[0] if says.startswith("line ") else ""


CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))
    from orq_notebook.local import DeploymentFileError, DeploymentStore
    for path in sys.argv[1:]:
        started = time.perf_counter()
        try:
            DeploymentStore.from_file(path)
            outcome = "loaded"
        except DeploymentFileError as exc:
            outcome = str(exc)
        print(json.dumps([path, time.perf_counter() - started, outcome]), flush=True)
    """
)


@pytest.fixture(scope="module")
def loaded(files: dict[str, Path]) -> dict[str, tuple[float, str]]:
    """Every hostile file loaded in one child process with 512 MB of address space: an
    unbounded expansion fails there (MemoryError, a crash) instead of taking the machine down,
    and the tests see it as a missing or wrong line."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr[-2000:]
    by_path = {
        path: (seconds, outcome)
        for path, seconds, outcome in map(json.loads, done.stdout.splitlines())
    }
    return {name: by_path[str(path)] for name, path in files.items()}


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("name", "says"), [(h[0], h[3]) for h in HOSTILE])
def test_the_loader_refuses_with_one_line_naming_it(
    files: dict[str, Path], loaded: dict[str, tuple[float, str]], name: str, says: str
) -> None:
    seconds, message = loaded[name]
    assert message.startswith(f"{files[name]}, "), message
    assert says in message and "\n" not in message
    assert seconds < 5, f"took {seconds:.1f} s to refuse"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", [h[0] for h in HOSTILE])
def test_the_server_does_not_start_on_it(files: dict[str, Path], name: str) -> None:
    threads = {t.ident for t in threading.enumerate()}
    server = LocalServer(files[name])
    with pytest.raises(DeploymentFileError) as info:
        server.start()
    assert not server.running
    assert {t.ident for t in threading.enumerate()} == threads
    assert "\n" not in str(info.value)


@pytest.mark.timeout(60)
def test_a_file_the_server_serves_can_turn_hostile(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(_entry(""), encoding="utf-8")
    with LocalServer(path) as server:
        import httpx

        for _, _, text, says in HOSTILE[:1] + HOSTILE[4:5] + HOSTILE[8:9]:
            path.write_text(text, encoding="utf-8")
            response = httpx.get(f"{server.base_url}/v2/deployments", timeout=20)
            assert response.status_code == 500
            assert says.split(": ", 1)[-1] in response.json()["message"]
        path.write_text(_entry(""), encoding="utf-8")
        assert httpx.get(f"{server.base_url}/v2/deployments").status_code == 200


def _cyclic() -> Any:
    entry: dict[str, Any] = {"key": "a", "prompt_config": {"model": "m"}}
    entry["variables"] = {"self": entry}
    return {"deployments": [entry]}


def _wide() -> Any:
    row: list[Any] = ["x"] * 10
    for _ in range(8):
        row = [row] * 10  # shared references: 10**9 values once walked
    return {"deployments": [{"key": "a", "prompt_config": {"model": "m"}, "variables": {"r": row}}]}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("data", "says"),
    [
        (_cyclic(), "nested more than 100 levels deep (or a value contains itself)"),
        (_wide(), "more than 100,000 values"),
    ],
    ids=["cyclic", "shared-references"],
)
def test_from_data_is_bounded_too(data: Any, says: str) -> None:
    with pytest.raises(DeploymentFileError, match=r"^<data>: ") as info:
        DeploymentStore.from_data(data)
    assert says in str(info.value)


@pytest.mark.timeout(30)
def test_files_past_10_mb_are_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("w", encoding="utf-8") as file:
        file.write("deployments: []\n# " + "x" * (11 * 1024 * 1024) + "\n")
    for path in (big, Path("/dev/zero")):  # /dev/zero reports no size and never ends
        with pytest.raises(DeploymentFileError, match="larger than 10 MB"):
            DeploymentStore.from_file(path)


# -- the command line and the magic -------------------------------------------------------------


ONE_OF_EACH = [HOSTILE[i][0::3] for i in (0, 4, 7, 8)]  # itself, deep, JSON deep, laughs


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "says"), ONE_OF_EACH)
def test_the_cli_says_it_in_one_line(files: dict[str, Path], name: str, says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orq_notebook", "serve", str(files[name]), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert says in done.stderr and str(files[name]) in done.stderr


@pytest.fixture(scope="module")
def kernel() -> Iterator[Any]:
    from jupyter_client.manager import KernelManager

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.getenv("PYTHONPATH")])),
    }
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.notebook
@pytest.mark.timeout(120)
def test_connect_local_says_it_in_one_line_in_a_real_kernel(
    kernel: Any, files: dict[str, Path]
) -> None:
    from tests.test_kernel_interrupt import run

    reply, _ = run(kernel, "%load_ext orq_notebook")
    assert reply["status"] == "ok", reply
    for name, _, _, says in HOSTILE:
        reply, printed = run(kernel, f"%orq connect --local {files[name]}", timeout=60)
        assert reply["status"] == "error" and reply["ename"] == "UsageError", (name, reply)
        assert says.split(": ", 1)[-1] in reply["evalue"], (name, reply["evalue"])
        assert _line_of(says) in reply["evalue"]
        assert "\n" not in reply["evalue"] and "Traceback" not in printed, name
        assert "RecursionError" not in reply["evalue"] + printed
    reply, printed = run(kernel, "print('the kernel is fine')")
    assert reply["status"] == "ok" and printed == "the kernel is fine\n"
