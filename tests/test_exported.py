"""The curated public surface: `orq_notebook.__all__` (DESIGN.md, Habits).

`__all__` is the list of what the package offers. It must be sorted and free of duplicates,
every name in it must exist, and it must match what `orq_notebook/__init__.py` actually
defines: nothing public defined and left out, nothing listed that is not defined there. Names
that the package hands out lazily (a module `__getattr__`, so that `import orq_notebook` stays
free of ipywidgets) count as defined when they are bound at the top level of `__init__`, as
`if TYPE_CHECKING:` imports are, and they are resolved here to prove they exist.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

INIT = Path(__file__).resolve().parents[1] / "orq_notebook" / "__init__.py"


def _top_level_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements at module level, including those inside top-level `if` / `try` blocks."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If):
            found += _top_level_statements(node.body) + _top_level_statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                found += _top_level_statements(block)
            for handler in node.handlers:
                found += _top_level_statements(handler.body)
    return found


def _assigned_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for elt in target.elts for name in _assigned_names(elt)]
    return []


def names_defined_in_init(source: str) -> set[str]:
    """Names `__init__` binds itself or takes from the package; not those from elsewhere.

    `from typing import TYPE_CHECKING` binds a name but offers nothing; `from ._client
    import Client` and `def load_ipython_extension` do.
    """
    names: set[str] = set()
    for node in _top_level_statements(ast.parse(source).body):
        if isinstance(node, ast.ImportFrom):
            ours = node.level > 0 or (node.module or "").split(".")[0] == "orq_notebook"
            if ours:
                names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_assigned_names(target))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            names.update(_assigned_names(node.target))
    return names


def is_public(name: str) -> bool:
    return not name.startswith("_")


@pytest.fixture(scope="module")
def package() -> object:
    import orq_notebook

    if not INIT.exists() or not hasattr(orq_notebook, "__all__"):
        pytest.fail("orq_notebook/__init__.py is missing or defines no __all__")
    return orq_notebook


@pytest.fixture(scope="module")
def exported(package: object) -> list[str]:
    names = package.__all__  # type: ignore[attr-defined]
    assert isinstance(names, (list, tuple)), "__all__ must be a list of names"
    assert all(isinstance(n, str) for n in names)
    return list(names)


def test_all_is_sorted(exported: list[str]) -> None:
    assert exported == sorted(exported)


def test_all_has_no_duplicates(exported: list[str]) -> None:
    duplicates = sorted({n for n in exported if exported.count(n) > 1})
    assert not duplicates, f"listed more than once in __all__: {duplicates}"


def test_every_exported_name_exists(package: object, exported: list[str]) -> None:
    missing = [n for n in exported if not hasattr(package, n)]
    assert not missing, f"in __all__ but orq_notebook has no such attribute: {missing}"
    modules = [n for n in exported if inspect.ismodule(getattr(package, n))]
    assert not modules, f"__all__ lists modules, not API names: {modules}"


def test_all_matches_the_public_names_defined_in_init(exported: list[str]) -> None:
    defined = {n for n in names_defined_in_init(INIT.read_text(encoding="utf-8")) if is_public(n)}
    listed = {n for n in exported if is_public(n)}
    assert sorted(defined - listed) == [], "defined in __init__ but missing from __all__"
    assert sorted(listed - defined) == [], "in __all__ but not defined in __init__"


def test_only_dunder_data_may_be_exported_with_an_underscore(
    package: object, exported: list[str]
) -> None:
    # `__version__` is public by convention; `_private` names and dunder functions are not.
    wrong = [
        n
        for n in exported
        if not is_public(n)
        and not (n.startswith("__") and n.endswith("__") and not callable(getattr(package, n)))
    ]
    assert not wrong, f"private names in __all__: {wrong}"


def test_load_ipython_extension_exists(package: object) -> None:
    load = getattr(package, "load_ipython_extension", None)
    assert callable(load), "%load_ext orq_notebook needs orq_notebook.load_ipython_extension"
    # IPython calls it with the shell as the one positional argument.
    params = inspect.signature(load).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    assert len(positional) >= 1 and len(required) <= 1, "load_ipython_extension(ipython)"


def test_names_defined_in_init_reads_what_init_binds() -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING, Any\n"
        "from ._client import Client as Client, AsyncClient\n"
        "from orq_notebook.client._models import Invocation\n"
        "if TYPE_CHECKING:\n    from ._apps import Playground\n"
        "__all__ = ['AsyncClient']\n"
        "_LAZY = {}\n"
        "VERSION, other = 1, 2\n"
        "def load_ipython_extension(ipython): import json\n"
        "class Thing: x = 1\n"
    )
    assert names_defined_in_init(source) == {
        "Client",
        "AsyncClient",
        "Invocation",
        "Playground",
        "__all__",
        "_LAZY",
        "VERSION",
        "other",
        "load_ipython_extension",
        "Thing",
    }


def test_dir_shows_the_public_api_only(package: object) -> None:
    # Not `annotations`, `TYPE_CHECKING`, `Any` or the folders: what a user may import.
    assert dir(package) == sorted(package.__all__)  # type: ignore[attr-defined]
