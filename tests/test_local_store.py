"""DeploymentStore: reloading on change, version counting, times, fault counters, pages."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from orq_notebook.local import DeploymentFileError, DeploymentStore
from orq_notebook.local._store import paginate

TWO = """\
deployments:
  - key: a
    description: first
    prompt_config: {model: m}
  - key: b
    prompt_config: {model: m}
"""


def write(path: Path, text: str, mtime: float) -> None:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_times_come_from_the_file_and_a_changed_entry_gets_the_next_version(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    write(path, TWO, 1_700_000_000)
    store = DeploymentStore.from_file(path)
    a, b = store.get("a"), store.get("b")
    assert a is not None and b is not None
    assert (a.version, a.created, a.updated) == (
        "v1",
        "2023-11-14T22:13:20.000Z",
        "2023-11-14T22:13:20.000Z",
    )

    write(path, TWO.replace("first", "changed"), 1_700_000_100)
    store.refresh()
    a2, b2 = store.get("a"), store.get("b")
    assert a2 is not None and b2 is not None
    assert (a2.version, a2.created, a2.updated) == ("v2", a.created, "2023-11-14T22:15:00.000Z")
    assert [v.name for v in a2.history] == ["v2", "v1"]
    assert a2.history[1].spec.description == "first"
    assert b2 is b  # untouched entries keep their version and times

    write(path, TWO.replace("first", "third"), 1_700_000_200)
    store.refresh()
    a3 = store.get("a")
    assert a3 is not None and a3.version == "v3"


def test_refresh_is_a_no_op_while_the_file_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    write(path, TWO, 1_700_000_000)
    store = DeploymentStore.from_file(path)
    before = store.get("a")
    store.refresh()
    assert store.get("a") is before
    store.reload()  # forced, same content: still v1
    assert store.get("a") is before


def test_a_file_that_breaks_raises_until_it_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    write(path, TWO, 1_700_000_000)
    store = DeploymentStore.from_file(path)
    write(path, "deployments: [", 1_700_000_100)
    for _ in range(2):
        with pytest.raises(DeploymentFileError, match="YAML syntax error"):
            store.refresh()
    write(path, TWO + "  - {key: c, prompt_config: {model: m}}\n", 1_700_000_200)
    store.refresh()
    assert [d.key for d in store.deployments()] == ["c", "a", "b"]  # c is newest


def test_newest_first_by_created_then_file_order() -> None:
    store = DeploymentStore.from_data(
        {
            "deployments": [
                {"key": "old", "created": "2024-01-01T00:00:00Z", "prompt_config": {"model": "m"}},
                {"key": "new", "created": "2025-01-01T00:00:00Z", "prompt_config": {"model": "m"}},
                {"key": "x", "prompt_config": {"model": "m"}},
                {"key": "y", "prompt_config": {"model": "m"}},
            ]
        }
    )
    assert [d.key for d in store.deployments()] == ["x", "y", "new", "old"]


def test_fault_counters_fail_the_first_n_requests_and_reset() -> None:
    faults = {"status": 503, "times": 2}
    store = DeploymentStore.from_data(
        {"deployments": [{"key": "f", "prompt_config": {"model": "m"}, "faults": faults}]}
    )
    assert [store.take_failure("f") for _ in range(4)] == [True, True, False, False]
    store.reset_failures("f")
    assert store.take_failure("f") is True
    assert store.take_failure("missing") is False


ITEMS = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("kwargs", "page", "more"),
    [
        ({"limit": 2}, ["a", "b"], True),
        ({"limit": 5}, ITEMS, False),
        ({"limit": 2, "starting_after": "b"}, ["c", "d"], True),
        ({"limit": 2, "starting_after": "c"}, ["d", "e"], False),
        ({"limit": 2, "starting_after": "e"}, [], False),
        ({"limit": 2, "ending_before": "e"}, ["c", "d"], True),
        ({"limit": 2, "ending_before": "c"}, ["a", "b"], False),
        ({"limit": 2, "ending_before": "a"}, [], False),
    ],
)
def test_paginate(kwargs: dict[str, object], page: list[str], more: bool) -> None:
    assert paginate(ITEMS, lambda item: (item,), **kwargs) == (page, more)  # type: ignore[arg-type]


def test_paginate_refuses_an_unknown_cursor() -> None:
    with pytest.raises(LookupError):
        paginate(ITEMS, lambda item: (item,), limit=2, starting_after="zz")
