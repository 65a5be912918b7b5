"""The package's plan, enforced: folders that form layers, rules per folder, and no cycles.

Every module of the package is parsed with `ast`, and every import is collected: top level,
inside functions (lazy imports), and under `if TYPE_CHECKING:`. Three kinds of check use them:

* **Layers.** Each folder of `orq_notebook/` is a part of the product (`ARCHITECTURE.md`), and
  `FOLDERS` says which other parts it may import: the folders form layers, each importing only
  those below it. A type-only import counts too: a wrong arrow is wrong however it is spelled.
* **Rules.** `RULES` restates, per folder, what DESIGN.md promises (the API client never imports
  IPython; display and widgets never import httpx; ...), with the sentence that says why.
* **Cycles.** No module imports itself through others, and no folder does. Imports under
  `if TYPE_CHECKING:` are left out here: they never run, so they cannot make a circle at import
  time. A cycle is reported by the file names along it.

The privacy rule: folders have plain names (`client/`), the modules inside them are private
(`_client.py`), and the public API is what `orq_notebook/__init__.py` and `orq_notebook.local`
export. A module that no folder claims fails, so a new file cannot slip past the rules unseen.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "orq_notebook"
PACKAGE_DIR = ROOT / PACKAGE
MAX_LINES = 600

# A synthetic import target meaning "the package root itself" (`import orq_notebook`,
# `from orq_notebook import Client`, `from . import __version__`): its `__init__` pulls in
# the client, so only entry points may lean on it.
ROOT_TARGET = f"{PACKAGE}.__init__"


def _ours(*names: str) -> tuple[str, ...]:
    return tuple(f"{PACKAGE}.{name}" for name in names)


# --- the folders and their layers ---------------------------------------------------------------

# Top-level modules are parts too: `_version` is a leaf everyone may read; the package root,
# `__main__` and `_cli` are the entry points on top of everything.
TOP_LEVEL = {
    f"{PACKAGE}._version": "version",
    PACKAGE: "entry",
    ROOT_TARGET: "entry",
    f"{PACKAGE}.__main__": "entry",
    f"{PACKAGE}._cli": "entry",
}

# Each part, and the parts it may import (besides itself). Bottom first.
FOLDERS: dict[str, tuple[str, ...]] = {
    "version": (),
    "client": ("version",),
    "humanloop": ("client", "version"),
    "display": ("client",),
    "local": ("client", "humanloop"),
    "widgets": ("display", "client"),
    "batch": ("display", "client"),
    "experiments": ("batch", "display", "client"),
    "notebook": ("experiments", "batch", "widgets", "local", "display", "humanloop", "client"),
    "entry": (
        "notebook",
        "experiments",
        "batch",
        "widgets",
        "local",
        "display",
        "humanloop",
        "client",
        "version",
    ),
}

NOTEBOOK_LIBS = ("IPython", "ipywidgets", "ipykernel", "traitlets")
SERVER_LIBS = ("starlette", "uvicorn")
HTTP_LIBS = ("httpx", "httpx_sse")
# The modules of the API client that do I/O; the rest of `client/` (models, errors, settings,
# templating) is the wire vocabulary every part may share.
CLIENT_IO = _ours(
    "client._base",
    "client._io",
    "client._deadline",
    "client._deadline_net",
    "client._client",
    "client._deployments",
    "client._streaming",
    "client._response_stream",
    "client._retry",
    "client._recording",
    "client._files",
    "client._feedback",
    "client._sender",
)
MAGIC_API = ("IPython.core.magic", "IPython.core.magic_arguments")


def part_of(module: str) -> str | None:
    """The folder (part) a module belongs to, or None for a module outside the package."""
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1] if parts[1] in FOLDERS else None


@dataclass(frozen=True)
class Rule:
    """Modules matching any of `modules` (fnmatch patterns) may not import `forbidden`."""

    modules: tuple[str, ...]
    forbidden: tuple[str, ...]
    why: str
    exempt: tuple[str, ...] = ()


def _in(*folders: str) -> tuple[str, ...]:
    return tuple(f"{PACKAGE}.{folder}.*" for folder in folders) + _ours(*folders)


RULES = [
    Rule(
        _in("client"),
        (*NOTEBOOK_LIBS, "tqdm", "pandas", *SERVER_LIBS),
        "the API client never imports IPython or ipywidgets, nor the server's libraries: "
        "it works in a script, a test or a web service",
    ),
    Rule(
        _in("display", "widgets"),
        (*HTTP_LIBS, *CLIENT_IO, *SERVER_LIBS),
        "the display side never imports httpx or the client; it renders models and errors and "
        "drives widgets through a small protocol, so it can be tested with a fake",
    ),
    Rule(
        _in("local"),
        (*CLIENT_IO, *NOTEBOOK_LIBS, "tqdm", ROOT_TARGET),
        "local/ (the server) never imports the client or IPython; they share only the wire models",
    ),
    Rule(
        _in("batch"),
        (*NOTEBOOK_LIBS,),
        "batch runs without IPython or widgets (a script, CI)",
    ),
    Rule(
        _in("experiments"),
        (*NOTEBOOK_LIBS, *HTTP_LIBS, *CLIENT_IO),
        "experiments run without IPython or widgets, and talk to the API only through batch",
    ),
    Rule(
        (f"{PACKAGE}.notebook.*",),
        _in("humanloop"),
        "Humanloop reaches the notebook only through the backend seam",
        exempt=_ours("notebook._humanloop_backend"),
    ),
    Rule(
        _ours("notebook._session", "notebook._backends", "notebook._humanloop_backend"),
        (*NOTEBOOK_LIBS, *_ours("notebook._magics", "notebook._commands", "notebook._apps")),
        "the session is the per-kernel state beneath the magics: it never imports IPython",
    ),
    Rule(
        ("*",),
        MAGIC_API,
        "only the magics join IPython's magic machinery",
        exempt=_ours("notebook._magics"),
    ),
    Rule(
        _in(
            "client", "humanloop", "display", "widgets", "batch", "experiments", "local", "notebook"
        ),
        (ROOT_TARGET,),
        "the package root imports the client and the public API; import the module you need",
    ),
]


# --- collecting imports -------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    target: str
    line: int
    type_only: bool = False  # under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_submodule(name: str, known: set[str]) -> bool:
    last = name.rsplit(".", 1)[-1]
    private = last.startswith("_") and not last.startswith("__")
    return name in known or private or last in FOLDERS


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of statements inside `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    for inner in ast.walk(stmt):
                        if hasattr(inner, "lineno"):
                            lines.add(inner.lineno)
    return lines


def imports_of(source: str, module: str, *, is_package: bool, known: set[str]) -> list[Import]:
    """Every import in `source`, at any depth, as absolute dotted targets."""
    found: list[Import] = []
    tree = ast.parse(source)
    type_only = _type_checking_lines(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = ROOT_TARGET if alias.name == PACKAGE else alias.name
                found.append(Import(target, node.lineno, node.lineno in type_only))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if base == PACKAGE and not _is_submodule(full, known):
                    target = ROOT_TARGET
                elif base == "__future__":
                    continue
                else:
                    target = full
                found.append(Import(target, node.lineno, node.lineno in type_only))
    return sorted(found, key=lambda i: i.line)


def _points_at(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def _matches(module: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(module, pattern) for pattern in patterns)


def resolve(target: str, known: Iterable[str]) -> str | None:
    """The module of ours an import target lands in (`a._m.Name` -> `a._m`), or None."""
    if target == ROOT_TARGET:
        return PACKAGE
    candidates = [m for m in known if _points_at(target, m)]
    return max(candidates, key=len) if candidates else None


# --- the checks ---------------------------------------------------------------------------------


def layer_violations(module: str, imports: list[Import], path: str) -> list[str]:
    """Imports of a part this module's part may not use (FOLDERS)."""
    mine = part_of(module)
    if mine is None:
        return []
    found = []
    for imp in imports:
        theirs = part_of(ROOT_TARGET if imp.target == ROOT_TARGET else imp.target)
        if theirs is None and imp.target.startswith(PACKAGE + "."):
            theirs = part_of(".".join(imp.target.split(".")[:2]))
        if theirs is None or theirs == mine or theirs in FOLDERS[mine]:
            continue
        shown = "the package root" if imp.target == ROOT_TARGET else imp.target
        found.append(
            f"{module} ({mine}/) imports {shown} ({theirs}/) at {path}:{imp.line}: "
            f"{mine}/ may import only {', '.join(FOLDERS[mine]) or 'nothing of ours'}"
        )
    return found


def violations(module: str, imports: list[Import], path: str) -> list[str]:
    """Imports a rule of RULES forbids."""
    found = []
    for rule in RULES:
        if not _matches(module, rule.modules) or _matches(module, rule.exempt):
            continue
        for imp in imports:
            for prefix in rule.forbidden:
                pattern = prefix.endswith(".*")
                hit = fnmatchcase(imp.target, prefix) if pattern else _points_at(imp.target, prefix)
                if prefix != module and hit:
                    shown = "the package root" if imp.target == ROOT_TARGET else imp.target
                    found.append(
                        f"{module} imports {shown} ({path}:{imp.line}), which points the wrong "
                        f"way (DESIGN.md: {rule.why})"
                    )
                    break
    return found


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (or a self-loop), as cycles.

    Each is returned as one closed path through the component (`[a, b, a]`), so a report can
    name the files in import order. Tarjan's algorithm, iterative.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    components.append(_closed_path(sorted(component), graph))
    return components


def _closed_path(component: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """A path from the component's first node back to itself, inside the component."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph.get(node, ())):
            if child == start:
                return [*paths[node], start]
            if child in members and child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return [start, start]


MODULES = package_modules()
KNOWN_MODULES = set(MODULES)


def _imports(module: str) -> list[Import]:
    path = MODULES[module]
    return imports_of(
        path.read_text(encoding="utf-8"),
        module,
        is_package=path.name == "__init__.py",
        known=KNOWN_MODULES,
    )


def import_graph(*, with_type_only: bool = False) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (the root `__init__` is `orq_notebook`)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        edges = set()
        for imp in _imports(module):
            if imp.type_only and not with_type_only:
                continue
            target = resolve(imp.target, KNOWN_MODULES)
            if target is not None and target != module:
                # Importing `pkg.sub._m` runs `pkg.sub/__init__` first; its own edges cover that.
                edges.add(target)
        graph[module] = edges
    return graph


def folder_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    folders: dict[str, set[str]] = {}
    for module, targets in graph.items():
        mine = part_of(module)
        if mine is None:
            continue
        edges = folders.setdefault(mine, set())
        edges.update(p for t in targets if (p := part_of(t)) is not None and p != mine)
    return folders


def _show(cycle: list[str]) -> str:
    return " -> ".join(str(MODULES[m].relative_to(ROOT)) if m in MODULES else m for m in cycle)


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("module", list(MODULES))
def test_imports_respect_the_layers_and_the_rules(module: str) -> None:
    imports = _imports(module)
    path = str(MODULES[module].relative_to(ROOT))
    problems = layer_violations(module, imports, path) + violations(module, imports, path)
    assert not problems, "\n".join(problems)


def test_no_module_imports_itself_through_others() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(_show(c) for c in cycles)


def test_no_folder_imports_itself_through_others() -> None:
    # Type-only imports count here: a folder below must not even name a type from above.
    cycles = find_cycles(folder_graph(import_graph(with_type_only=True)))
    assert not cycles, "folder cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_layer_table_itself_is_a_stack() -> None:
    assert find_cycles({name: set(below) for name, below in FOLDERS.items()}) == []
    order = list(FOLDERS)
    for name, below in FOLDERS.items():
        assert all(order.index(b) < order.index(name) for b in below), (name, below)


def test_every_module_belongs_to_a_folder() -> None:
    unclaimed = [m for m in MODULES if part_of(m) is None]
    assert not unclaimed, (
        f"modules in no part of tests/test_architecture.py: {unclaimed}; put each in the "
        "folder of the part it belongs to (ARCHITECTURE.md), or add the folder to FOLDERS"
    )


def test_folders_have_plain_names_and_private_modules() -> None:
    for module, path in MODULES.items():
        parts = module.split(".")
        if path.name == "__init__.py" or len(parts) < 3:
            continue
        assert not parts[1].startswith("_"), f"{path}: folders have plain names"
        assert parts[-1].startswith("_"), f"{path}: modules inside a folder are private (_name)"
    top = sorted(p.name for p in PACKAGE_DIR.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "_cli.py", "_version.py"], top


@pytest.mark.parametrize("module", list(MODULES))
def test_module_stays_small(module: str) -> None:
    path = MODULES[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, (
        f"{path.relative_to(ROOT)} has {lines} lines; split it by concern "
        f"(DESIGN.md: a file that grows past ~500 lines is a sign to split)"
    )


def test_architecture_md_names_every_folder() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    folders = sorted(p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").exists())
    missing = [f for f in folders if f"`{f}/`" not in text]
    assert not missing, f"ARCHITECTURE.md says nothing of {missing}"
    for path in {m.group(0) for m in __import__("re").finditer(r"orq_notebook/[\w/]+\.py", text)}:
        assert (ROOT / path).exists(), f"ARCHITECTURE.md names {path}, which does not exist"


# --- `import orq_notebook` stays light ----------------------------------------------------------

HEAVY = [
    "IPython", "ipywidgets", "ipykernel", "tqdm", "pandas", "uvicorn", "starlette",
    "matplotlib", "jsonschema", "numpy",
]  # fmt: skip
CHECK_IMPORT = """
import sys
import {module}
bad = sorted(m for m in sys.modules if m.split('.')[0] in {heavy})
print('\\n'.join(bad))
raise SystemExit(1 if bad else 0)
"""


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        (PACKAGE, HEAVY),
        # The server may use starlette and uvicorn, but never the notebook stack.
        (f"{PACKAGE}.local", ["IPython", "ipywidgets", "ipykernel", "tqdm", "pandas"]),
    ],
    ids=["orq_notebook", "orq_notebook.local"],
)
def test_import_does_not_pull_in_heavy_modules(module: str, heavy: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORT.format(module=module, heavy=set(heavy))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        f"`import {module}` failed or imported modules it must not (DESIGN.md: `import "
        f"orq_notebook` imports neither IPython nor ipywidgets; local/ never imports IPython):"
        f"\n{result.stdout}{result.stderr}"
    )


# --- the checker itself can fail ----------------------------------------------------------------

KNOWN = {
    f"{PACKAGE}.client._client",
    f"{PACKAGE}.client._models",
    f"{PACKAGE}.local",
    f"{PACKAGE}.local._app",
    f"{PACKAGE}.display._render",
}


def _targets(source: str, module: str, *, is_package: bool = False) -> list[str]:
    return [i.target for i in imports_of(source, module, is_package=is_package, known=KNOWN)]


def test_checker_sees_lazy_and_type_checking_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import ipywidgets\n"
        "def f():\n    import httpx\n    from IPython.core import magic\n"
        "class C:\n    def g(self):\n        from ..client._client import Client\n"
    )
    found = imports_of(source, f"{PACKAGE}.local._app", is_package=False, known=KNOWN)
    assert [(i.target, i.type_only) for i in found] == [
        ("typing.TYPE_CHECKING", False),
        ("ipywidgets", True),
        ("httpx", False),
        ("IPython.core.magic", False),
        (f"{PACKAGE}.client._client.Client", False),
    ]


def test_checker_resolves_relative_and_root_imports() -> None:
    module = f"{PACKAGE}.display._errors"
    assert _targets("from . import _render", module) == [f"{PACKAGE}.display._render"]
    assert _targets("from ..client._models import Invocation", module) == [
        f"{PACKAGE}.client._models.Invocation"
    ]
    assert _targets("from .. import __version__", module) == [ROOT_TARGET]
    assert _targets("from orq_notebook import Client", module) == [ROOT_TARGET]
    assert _targets("import orq_notebook", module) == [ROOT_TARGET]
    assert _targets("from . import _app", f"{PACKAGE}.local", is_package=True) == [
        f"{PACKAGE}.local._app"
    ]
    assert resolve(f"{PACKAGE}.client._models.Invocation", KNOWN) == f"{PACKAGE}.client._models"


@pytest.mark.parametrize(
    ("module", "source", "culprit"),
    [
        (f"{PACKAGE}.client._models", "def f():\n    import IPython\n", "IPython"),
        (f"{PACKAGE}.client._client", "from ..local import LocalServer\n", "local"),
        (f"{PACKAGE}.widgets._parts", "from ..notebook._session import S\n", "notebook"),
        (f"{PACKAGE}.display._render", "import httpx\n", "httpx"),
        (f"{PACKAGE}.display._result", "from orq_notebook import Client\n", "package root"),
        (f"{PACKAGE}.local._app", "from ..client._client import Client\n", "client._client"),
        (f"{PACKAGE}.batch._api", "import ipywidgets\n", "ipywidgets"),
        (f"{PACKAGE}.batch._api", "from ..widgets._compare import C\n", "widgets"),
        (f"{PACKAGE}.notebook._commands", "from IPython.core.magic import Magics\n", "magic"),
        (f"{PACKAGE}.notebook._session", "from ..humanloop._client import H\n", "humanloop"),
        (f"{PACKAGE}.client._models", "from .._cli import main\n", "_cli"),
    ],
)
def test_checker_reports_wrong_arrows(module: str, source: str, culprit: str) -> None:
    imports = imports_of(source, module, is_package=False, known=KNOWN)
    problems = layer_violations(module, imports, "x.py") + violations(module, imports, "x.py")
    assert problems, f"{module} importing {culprit} was not caught"
    assert culprit in problems[0]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        (f"{PACKAGE}.notebook._magics", "from IPython.core.magic import Magics\n"),
        (f"{PACKAGE}.batch._api", "from ..client import _client\nfrom tqdm.auto import tqdm\n"),
        (f"{PACKAGE}.display._render", "from ..client._models import I\nimport IPython\n"),
        (f"{PACKAGE}.local._app", "import starlette\nfrom ..client import _models\n"),
        (f"{PACKAGE}.notebook._humanloop_backend", "from ..humanloop._client import H\n"),
        (PACKAGE, "from .client._client import Client\n"),
    ],
)
def test_checker_allows_right_arrows(module: str, source: str) -> None:
    imports = imports_of(source, module, is_package=module == PACKAGE, known=KNOWN)
    assert layer_violations(module, imports, "x.py") + violations(module, imports, "x.py") == []


def test_cycle_finder_reports_cycles_by_name_and_ignores_a_dag() -> None:
    graph = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": set(),
        "e": {"e"},
        "f": {"d"},
    }
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_a_planted_cycle_in_the_real_graph_is_caught() -> None:
    # The real graph, with one arrow added the wrong way: the API client's models reaching up
    # into the notebook session (which imports them). The report names both files.
    graph = import_graph()
    graph[f"{PACKAGE}.client._models"].add(f"{PACKAGE}.notebook._session")
    cycles = find_cycles(graph)
    assert len(cycles) == 1
    shown = _show(cycles[0])
    assert "orq_notebook/client/_models.py" in shown
    assert "orq_notebook/notebook/_session.py" in shown
    assert find_cycles(folder_graph(graph)) != []


def test_type_only_imports_do_not_make_module_cycles() -> None:
    with_types = import_graph(with_type_only=True)
    without = import_graph()
    assert all(without[m] <= with_types[m] for m in MODULES)
