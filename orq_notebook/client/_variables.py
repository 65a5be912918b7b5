"""A deployment's `{{variables}}`: what its prompt needs, what is given, what would go blank.

    variables = client.deployments.variables("support-answer")
    variables.names                      # ['company', 'tone', 'tier']
    variables["company"].default         # 'Acme'
    check = variables.check({"compnay": "Initech"})
    check.raise_for_errors()             # VariablesError: ... Did you mean: company?
    check.warnings()                     # ['⚠ {{tier}} has no value and no default: ...']

The model is built from the deployment's prompt template (the list endpoint's
`prompt_config.messages`) and its resolved configuration (`get_config` without inputs): a
variable's default is whatever the server put in its place. orq.ai renders a variable that has
neither a value nor a default as empty text (no error), so an *open* variable is not an error
there; the local server can be made strict (a 422), and then the names it reports are resolved
with markers so the other defaults still show. The same check serves `%%orq`, `%orq invoke`,
batch runs and the widgets, so each says the same thing about the same inputs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from ._exceptions import OrqError, UnprocessableEntityError
from ._models import ConfigMessage, DeploymentConfig
from ._templating import find_variables, render

if TYPE_CHECKING:
    from ._deployments import AsyncDeployments, Deployments

__all__ = [
    "Variable",
    "VariableCheck",
    "Variables",
    "VariablesError",
    "afetch_variables",
    "fetch_variables",
    "infer_defaults",
    "message_text",
    "variables_of",
]

Status = Literal["given", "default", "open"]
# How many times a strict server's 422 ("Missing value for {{x}}") is answered with markers.
_MAX_RETRIES = 8


class VariablesError(OrqError, ValueError):
    """Inputs that cannot be right: a name close to a real variable (a typo), or, with
    `strict_variables`, a variable that would be sent blank."""


# -- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One `{{variable}}` of a deployment's prompt.

    Attributes:
        name: as written between the braces.
        places: where it appears (`"system message"`, `"user message 2"`, ...).
        default: the value the deployment puts there when none is given (None: no default,
            or none could be learnt).
        value: the value given now (None when not given).
        source: where that value came from: `--var`, `--inputs`, `--inputs NAME` (a notebook
            variable), `widget field`, `inputs`, `row` ... (None when not given).
    """

    name: str
    places: tuple[str, ...] = ()
    default: str | None = None
    value: Any = None
    source: str | None = None

    @property
    def status(self) -> Status:
        """`given`, `default` (not given, the default applies) or `open` (sent blank)."""
        if self.source is not None:
            return "given"
        return "default" if self.default is not None else "open"

    @property
    def shown(self) -> str:
        """The value that goes out: the given one, else the default, else empty."""
        if self.source is not None:
            return self.value if isinstance(self.value, str) else render("{{v}}", {"v": self.value})
        return self.default or ""


@dataclass(frozen=True)
class Variables(Sequence[Variable]):
    """The variables of deployment `key`, in order of first appearance in its prompt.

    `config` is the configuration they were learnt from (`get_config` without inputs), or
    None; `defaults_known` is False when the server would not tell the defaults.
    `unknown` maps given names that are not variables of the prompt to their source.
    """

    key: str
    items: tuple[Variable, ...] = ()
    config: DeploymentConfig | None = field(default=None, repr=False, compare=False)
    defaults_known: bool = True
    unknown: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.items)

    def __getitem__(self, which: Any) -> Any:
        if isinstance(which, str):
            for variable in self.items:
                if variable.name == which:
                    return variable
            raise KeyError(which)
        return self.items[which]

    def __contains__(self, name: object) -> bool:
        return any(v.name == name for v in self.items)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.items]

    def has(self, name: str) -> bool:
        """Whether `name` is one of the variables (`name in variables` works too)."""
        return any(v.name == name for v in self.items)

    def open(self) -> list[str]:
        """The variables that would be sent as empty text."""
        return [v.name for v in self.items if v.status == "open"]

    def given(
        self, values: Mapping[str, Any], source: str | Mapping[str, str] = "inputs"
    ) -> Variables:
        """A copy with `values` given (from `source`: one label, or one per name)."""

        def where(name: str) -> str:
            return source if isinstance(source, str) else source.get(name, "inputs")

        items = tuple(
            replace(v, value=values[v.name], source=where(v.name)) if v.name in values else v
            for v in self.items
        )
        names = set(self.names)
        unknown = {n: where(n) for n in values if n not in names}
        return replace(self, items=items, unknown=unknown)

    def check(self, values: Mapping[str, Any], *, strict: bool = False) -> VariableCheck:
        """What `values` (the inputs about to be sent) leave open or get wrong."""
        given = self.given(values)
        typos: dict[str, list[str]] = {}
        unknown: list[str] = []
        for name in given.unknown:
            close = _close_names(name, self.names)
            if close:
                typos[name] = close
            else:
                unknown.append(name)
        return VariableCheck(self.key, given.open(), typos, unknown, strict)

    def rows(self) -> list[dict[str, str]]:
        """One row per variable: name, value (or default), status, where it came from."""
        return [
            {
                "name": v.name,
                "value": v.shown,
                "status": v.status,
                "from": v.source or ("deployment" if v.status == "default" else ""),
                "used in": ", ".join(v.places),
            }
            for v in self.items
        ]

    def __repr__(self) -> str:
        shown = ", ".join(f"{v.name}={v.status}" for v in self.items)
        return f"<Variables {self.key}: {shown or 'none'}>"


def _close_names(name: str, names: Sequence[str]) -> list[str]:
    lowered = {n.lower(): n for n in names}
    if name.lower() in lowered:
        return [lowered[name.lower()]]
    return difflib.get_close_matches(name, list(names), n=3, cutoff=0.75)


@dataclass(frozen=True)
class VariableCheck:
    """The outcome of `Variables.check`: what to warn about, and what is an error.

    Attributes:
        open: variables with neither a value nor a default (sent as empty text).
        typos: given names that are not variables but close to one -> the close ones.
        unknown: given names that match no variable (sent anyway: inputs can also feed
            tools and knowledge bases).
        strict: open variables are errors, not warnings.
    """

    key: str
    open: list[str]
    typos: dict[str, list[str]]
    unknown: list[str]
    strict: bool = False

    def errors(self) -> list[str]:
        lines = [
            f"{name!r} is not a variable of {self.key}'s prompt. Did you mean: {', '.join(close)}?"
            for name, close in self.typos.items()
        ]
        if self.strict and self.open:
            lines.append(
                f"{_braced(self.open)} {_has(self.open)} no value and no default "
                "(strict_variables is on): give "
                + ("it a value." if len(self.open) == 1 else "them values.")
            )
        return lines

    def warnings(self, *, include_open: bool = True) -> list[str]:
        """One line each (the same text in the magics, batch runs and the widgets)."""
        lines = []
        if self.open and not self.strict and include_open:
            lines.append(open_warning(self.open))
        if self.unknown:
            names = ", ".join(repr(n) for n in self.unknown)
            noun = "is not a variable" if len(self.unknown) == 1 else "are not variables"
            lines.append(
                f"⚠ {names} {noun} of {self.key}'s prompt; sent anyway (inputs can also "
                "feed tools and knowledge bases)."
            )
        return lines

    def raise_for_errors(self) -> None:
        """Raise `VariablesError` (one line) when `errors()` has any."""
        errors = self.errors()
        if errors:
            raise VariablesError(" ".join(errors))


def open_warning(names: Sequence[str], *, rows: str = "") -> str:
    """`⚠ {{tier}} has no value and no default: it is sent as empty text.`"""
    it = "it is" if len(names) == 1 else "they are"
    return (
        f"⚠ {_braced(names)} {_has(names)} no value and no default{rows}: {it} sent as empty text."
    )


def _braced(names: Sequence[str]) -> str:
    shown = [f"{{{{{n}}}}}" for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _has(names: Sequence[str]) -> str:
    return "has" if len(names) == 1 else "have"


# -- templates and their resolution ---------------------------------------------------------------


def message_text(message: ConfigMessage) -> str:
    """The text of a prompt message (the text parts of a multi-part content, joined)."""
    content = message.content
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content or () if p.get("type") == "text")


def variables_of(messages: Iterable[ConfigMessage]) -> list[str]:
    """The distinct `{{variables}}` of the messages, in order of first appearance."""
    names: dict[str, None] = {}
    for message in messages:
        names.update(dict.fromkeys(find_variables(message_text(message))))
    return list(names)


def infer_defaults(
    templates: Sequence[ConfigMessage], resolved: Sequence[ConfigMessage]
) -> dict[str, str]:
    """Variable values the server filled in: each template is matched against its resolution.

    `templates` are a deployment's raw prompt messages (`{{company}}`), `resolved` what
    `get_config` returned without inputs ("Acme"): the server's defaults are what differs.
    Messages that do not line up, and variables left unresolved, give nothing; an empty
    value (orq.ai's rendering of a variable without default) is no default either.
    """
    defaults: dict[str, str] = {}
    for template, done in zip(templates, resolved, strict=False):
        if template.role != done.role:
            continue
        pattern, groups = _template_pattern(message_text(template))
        match = pattern.fullmatch(message_text(done))
        if match is None:
            continue
        for group, name in groups.items():
            value = match.group(group)
            if value and not find_variables(value):
                defaults.setdefault(name, value)
    return defaults


def _template_pattern(template: str) -> tuple[re.Pattern[str], dict[str, str]]:
    # Rendering with numbered markers finds the placeholders with the templating's own rules.
    names: list[str] = []

    def marker(name: str) -> str:
        names.append(name)
        return f"\x00{len(names) - 1}\x00"

    pieces = render(template, marker).split("\x00")
    groups: dict[str, str] = {}  # regex group -> variable name
    parts = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            parts.append(re.escape(piece))
            continue
        name = names[int(piece)]
        group = next((g for g, n in groups.items() if n == name), None)
        if group is None:
            group = f"v{len(groups)}"
            groups[group] = name
            parts.append(f"(?P<{group}>.*?)")
        else:
            parts.append(f"(?P={group})")
    return re.compile("".join(parts), re.DOTALL), groups


def _places(templates: Sequence[ConfigMessage]) -> dict[str, list[str]]:
    counts: dict[str, int] = {}
    labels = []
    for message in templates:
        counts[message.role] = counts.get(message.role, 0) + 1
        labels.append((message.role, counts[message.role]))
    places: dict[str, list[str]] = {}
    for message, (role, n) in zip(templates, labels, strict=True):
        label = f"{role} message" + (f" {n}" if counts[role] > 1 else "")
        for name in find_variables(message_text(message)):
            places.setdefault(name, []).append(label)
    return places


def build_variables(
    key: str,
    templates: Sequence[ConfigMessage] | None,
    config: DeploymentConfig | None,
    *,
    marked: Iterable[str] = (),
) -> Variables:
    """The model from a template (None: unknown) and the config resolved without inputs.

    `marked` names were sent as `{{name}}` markers (a strict server's missing variables):
    they have no default."""
    resolved = config.messages if config is not None else []
    source = list(templates) if templates else list(resolved)
    defaults = infer_defaults(source, resolved) if templates and config is not None else {}
    for name in marked:
        defaults.pop(name, None)
    places = _places(source)
    items = tuple(
        Variable(name, tuple(places.get(name, ())), defaults.get(name))
        for name in variables_of(source)
    )
    return Variables(key, items, config=config, defaults_known=config is not None)


# -- fetching: the sync and async twins differ only in `await` ------------------------------------


def _markers_for(exc: OrqError, known: Sequence[str], sent: Mapping[str, str]) -> dict[str, str]:
    """Inputs that answer a strict server's 422: `{{name}}` for each variable it names."""
    if not isinstance(exc, UnprocessableEntityError):
        return {}
    named = [n for n in find_variables(exc.message) if n not in sent]
    if known:
        named = [n for n in named if n in known]
    return {n: f"{{{{{n}}}}}" for n in named}


def fetch_variables(
    deployments: Deployments,
    key: str,
    *,
    context: Mapping[str, Any] | None = None,
    templates: Sequence[ConfigMessage] | None = None,
) -> Variables:
    """`client.deployments.variables(key)`: list (for the template) and `get_config`."""
    if templates is None:
        found = next((d for d in deployments.iter() if key in (d.key, d.id)), None)
        templates = found.prompt_config.messages if found is not None else None
    known = variables_of(templates or [])
    markers: dict[str, str] = {}
    for _ in range(_MAX_RETRIES):
        try:
            config = deployments.get_config(key, inputs=markers or None, context=context)
        except OrqError as exc:
            more = _markers_for(exc, known, markers)
            if not more:
                raise
            markers.update(more)
            continue
        return build_variables(key, templates, config, marked=markers)
    return build_variables(key, templates, None)


async def afetch_variables(
    get_config: Callable[..., Awaitable[DeploymentConfig | None]],
    key: str,
    *,
    context: Mapping[str, Any] | None = None,
    templates: Sequence[ConfigMessage] | None = None,
) -> Variables:
    """`fetch_variables` with an async `get_config(key, inputs=, context=)` (the template is
    passed in: the widgets have the list already; `AsyncDeployments.variables` lists)."""
    known = variables_of(templates or [])
    markers: dict[str, str] = {}
    for _ in range(_MAX_RETRIES):
        try:
            config = await get_config(key, inputs=markers or None, context=context)
        except OrqError as exc:
            more = _markers_for(exc, known, markers)
            if not more:
                raise
            markers.update(more)
            continue
        return build_variables(key, templates, config, marked=markers)
    return build_variables(key, templates, None)


async def afetch_deployment_variables(
    deployments: AsyncDeployments,
    key: str,
    *,
    context: Mapping[str, Any] | None = None,
) -> Variables:
    """`await client.deployments.variables(key)`."""
    templates = None
    async for d in deployments.iter():
        if key in (d.key, d.id):
            templates = d.prompt_config.messages
            break
    return await afetch_variables(deployments.get_config, key, context=context, templates=templates)
