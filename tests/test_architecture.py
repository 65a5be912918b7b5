"""The import arrows of DESIGN.md ("Layers, and which way imports point"), enforced.

Every module of the package is parsed with `ast`, and every import is collected: top level,
inside functions (lazy imports), and under `if TYPE_CHECKING:` alike, because a dependency
that points the wrong way is wrong however it is spelled. The rules are data (`RULES`): a
module pattern, the import prefixes it may not use, and the DESIGN.md sentence that says why.
Modules that do not exist yet are simply not checked; a module that no layer claims fails
`test_every_module_belongs_to_a_layer`, so a new file cannot slip past the rules unseen.
"""

from __future__ import annotations

import ast
import subprocess
import sys
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


# --- the layers ---------------------------------------------------------------------------------

CORE = _ours(
    "_config",
    "_models",
    "_exceptions",
    "_client",
    "_deployments",
    "_streaming",
    "_response_stream",
    "_retry",
    "_templating",
    "_sse",
    "_version",
    "_humanloop",
    "_humanloop_models",
    "_humanloop_stream",
)
# Bottom of the core: what the client is built from, never the other way round.
CORE_LEAVES = _ours(
    "_config", "_models", "_exceptions", "_templating", "_version", "_humanloop_models"
)
DISPLAY = _ours("_display", "_render", "_result", "_widgets", "_widget_parts", "_compare", "_views")
JOIN = _ours(
    "_session", "_backends", "_magics", "_commands", "_magic_args", "_apps", "_humanloop_session"
)
BATCH = _ours("_batch", "_batch_result", "_batch_run", "_batch_limit")
LOCAL = (f"{PACKAGE}.local", f"{PACKAGE}.local.*")
ENTRY = (PACKAGE, f"{PACKAGE}.__main__", f"{PACKAGE}._cli")
LAYERS = {
    "core": CORE,
    "display": DISPLAY,
    "join": JOIN,
    "batch": BATCH,
    "local": LOCAL,
    "entry": ENTRY,
}

NOTEBOOK_LIBS = ("IPython", "ipywidgets", "ipykernel", "traitlets")
SERVER_LIBS = ("starlette", "uvicorn")
HTTP_LIBS = ("httpx", "httpx_sse")
OUR_NOTEBOOK_SIDE = (*DISPLAY, *JOIN, *BATCH)
OUR_CLIENT = _ours(
    "_client",
    "_deployments",
    "_streaming",
    "_response_stream",
    "_retry",
    "_sse",
    "_humanloop",
    "_humanloop_stream",
)
MAGIC_API = ("IPython.core.magic", "IPython.core.magic_arguments")


@dataclass(frozen=True)
class Rule:
    """Modules matching any of `modules` (fnmatch patterns) may not import `forbidden`."""

    modules: tuple[str, ...]
    forbidden: tuple[str, ...]
    why: str
    exempt: tuple[str, ...] = ()


RULES = [
    Rule(
        CORE,
        (*NOTEBOOK_LIBS, "tqdm", "pandas", *OUR_NOTEBOOK_SIDE, *LOCAL[:1], *SERVER_LIBS),
        "the core never imports IPython or ipywidgets, nor the notebook side; "
        "the client never imports the server",
    ),
    Rule(
        CORE_LEAVES,
        _ours(
            "_client",
            "_deployments",
            "_streaming",
            "_response_stream",
            "_retry",
            "_humanloop",
            "_humanloop_stream",
        ),
        "_client -> _streaming -> _models, _exceptions, _config: the arrows point down",
    ),
    Rule(
        _ours("_streaming", "_response_stream", "_retry", "_sse", "_humanloop_stream"),
        _ours("_client", "_deployments", "_humanloop"),
        "_client -> _streaming: the stream does not reach back into the client",
    ),
    Rule(
        DISPLAY,
        (
            *HTTP_LIBS,
            *OUR_CLIENT,
            *JOIN,
            *BATCH,
            *LOCAL[:1],
            *SERVER_LIBS,
        ),
        "the display side never imports httpx or the client; it renders models and errors and "
        "drives widgets through a small protocol, so it can be tested with a fake",
    ),
    Rule(
        LOCAL,
        (*OUR_CLIENT, *OUR_NOTEBOOK_SIDE, *NOTEBOOK_LIBS, "tqdm", ROOT_TARGET),
        "local/ (the server) never imports the client or IPython; they share only the wire models",
    ),
    Rule(
        BATCH,
        (*NOTEBOOK_LIBS, *_ours("_magics", "_commands", "_apps", "_widgets"), *LOCAL[:1]),
        "_magics -> _batch -> _client (async): batch runs without IPython or widgets",
    ),
    Rule(
        _ours("_session", "_backends"),
        (*NOTEBOOK_LIBS, *_ours("_magics", "_commands", "_apps")),
        "_session is the per-kernel state beneath _magics: it never imports IPython",
    ),
    Rule(
        ("*",),
        MAGIC_API,
        "only _magics joins IPython's magic machinery",
        exempt=_ours("_magics"),
    ),
    Rule(
        (*CORE, *DISPLAY, *BATCH, *_ours("_session", "_backends", "_apps")),
        (ROOT_TARGET,),
        "the package root imports the client and the public API; import the module you need",
    ),
]


# --- collecting imports -------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    target: str
    line: int


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
    return name in known or private or last == "local"


def imports_of(source: str, module: str, *, is_package: bool, known: set[str]) -> list[Import]:
    """Every import in `source`, at any depth, as absolute dotted targets."""
    found: list[Import] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = ROOT_TARGET if alias.name == PACKAGE else alias.name
                found.append(Import(target, node.lineno))
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
                found.append(Import(target, node.lineno))
    return sorted(found, key=lambda i: i.line)


def _points_at(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def _matches(module: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(module, pattern) for pattern in patterns)


def violations(module: str, imports: list[Import], path: str) -> list[str]:
    found = []
    for rule in RULES:
        if not _matches(module, rule.modules) or _matches(module, rule.exempt):
            continue
        for imp in imports:
            for prefix in rule.forbidden:
                if prefix != module and _points_at(imp.target, prefix):
                    shown = "the package root" if imp.target == ROOT_TARGET else imp.target
                    found.append(
                        f"{module} imports {shown} ({path}:{imp.line}), which points the wrong "
                        f"way (DESIGN.md: {rule.why})"
                    )
                    break
    return found


MODULES = package_modules()


@pytest.mark.parametrize("module", list(MODULES))
def test_imports_point_the_right_way(module: str) -> None:
    path = MODULES[module]
    imports = imports_of(
        path.read_text(encoding="utf-8"),
        module,
        is_package=path.name == "__init__.py",
        known=set(MODULES),
    )
    problems = violations(module, imports, str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


def test_every_module_belongs_to_a_layer() -> None:
    unclaimed = [m for m in MODULES if not any(_matches(m, p) for p in LAYERS.values())]
    assert not unclaimed, (
        f"modules in no layer of tests/test_architecture.py: {unclaimed}; "
        "add each to the layer DESIGN.md puts it in, so the import rules cover it"
    )


def test_layers_do_not_overlap() -> None:
    for module in MODULES:
        claimed = [name for name, patterns in LAYERS.items() if _matches(module, patterns)]
        assert len(claimed) <= 1, f"{module} is in several layers: {claimed}"


@pytest.mark.parametrize("module", list(MODULES))
def test_module_stays_small(module: str) -> None:
    path = MODULES[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, (
        f"{path.relative_to(ROOT)} has {lines} lines; split it by concern "
        f"(DESIGN.md: a file that grows past ~500 lines is a sign to split)"
    )


# --- `import orq_notebook` stays light ----------------------------------------------------------

HEAVY = ["IPython", "ipywidgets", "ipykernel", "tqdm", "pandas", "uvicorn", "starlette"]
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

KNOWN = {f"{PACKAGE}._client", f"{PACKAGE}._models", f"{PACKAGE}.local", f"{PACKAGE}.local._app"}


def _targets(source: str, module: str, *, is_package: bool = False) -> list[str]:
    return [i.target for i in imports_of(source, module, is_package=is_package, known=KNOWN)]


def test_checker_sees_lazy_and_type_checking_imports() -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import ipywidgets\n"
        "def f():\n    import httpx\n    from IPython.core import magic\n"
        "class C:\n    def g(self):\n        from .._client import Client\n"
    )
    targets = _targets(source, f"{PACKAGE}.local._app")
    assert targets == [
        "typing.TYPE_CHECKING",
        "ipywidgets",
        "httpx",
        "IPython.core.magic",
        f"{PACKAGE}._client.Client",
    ]


def test_checker_resolves_relative_and_root_imports() -> None:
    module = f"{PACKAGE}._display"
    assert _targets("from . import _client", module) == [f"{PACKAGE}._client"]
    assert _targets("from ._models import Invocation", module) == [f"{PACKAGE}._models.Invocation"]
    assert _targets("from . import __version__", module) == [ROOT_TARGET]
    assert _targets("from orq_notebook import Client", module) == [ROOT_TARGET]
    assert _targets("import orq_notebook", module) == [ROOT_TARGET]
    assert _targets("from . import _app", f"{PACKAGE}.local", is_package=True) == [
        f"{PACKAGE}.local._app"
    ]
    assert _targets("from .. import _models", f"{PACKAGE}.local._app") == [f"{PACKAGE}._models"]


@pytest.mark.parametrize(
    ("module", "source", "culprit"),
    [
        (f"{PACKAGE}._models", "def f():\n    import IPython\n", "IPython"),
        (f"{PACKAGE}._client", "from .local import LocalServer\n", f"{PACKAGE}.local"),
        (f"{PACKAGE}._widgets", "def f():\n    from ._session import Session\n", "_session"),
        (f"{PACKAGE}._display", "import httpx\n", "httpx"),
        (f"{PACKAGE}._result", "from orq_notebook import Client\n", "package root"),
        (f"{PACKAGE}.local._app", "from .._client import Client\n", "_client"),
        (f"{PACKAGE}._batch", "import ipywidgets\n", "ipywidgets"),
        (f"{PACKAGE}._commands", "from IPython.core.magic import Magics\n", "IPython.core.magic"),
    ],
)
def test_checker_reports_wrong_arrows(module: str, source: str, culprit: str) -> None:
    imports = imports_of(source, module, is_package=False, known=KNOWN)
    problems = violations(module, imports, "x.py")
    assert problems, f"{module} importing {culprit} was not caught"
    assert culprit in problems[0]
    assert "points the wrong way (DESIGN.md:" in problems[0]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        (f"{PACKAGE}._magics", "from IPython.core.magic import Magics\nfrom . import _client\n"),
        (f"{PACKAGE}._batch", "from . import _client\nfrom tqdm.auto import tqdm\n"),
        (f"{PACKAGE}._display", "from ._models import Invocation\nfrom ._exceptions import X\n"),
        (f"{PACKAGE}.local._app", "import starlette\nfrom .. import _models, _templating\n"),
        (PACKAGE, "from ._client import Client\n"),
    ],
)
def test_checker_allows_right_arrows(module: str, source: str) -> None:
    imports = imports_of(source, module, is_package=module == PACKAGE, known=KNOWN)
    assert violations(module, imports, "x.py") == []
