"""Which recorded exchange answers a request, and why none does.

Pure data, no I/O. A request is reduced to its *signature*: the operation (`invoke`,
`stream`, `list`, `chat_deployed`, ...), the deployment (the body's `key`, Humanloop's
`project` / `project_id`, or the path's key or id), and the fields that decide the answer:
the query parameters and the body, minus the volatile fields below. Two requests with equal
signatures get the same answer.

Volatile by default (they label a request, they do not change its answer): orq's `metadata`,
`thread`, `identity`, `chain_id`, `conversation_id`, `user_id`; Humanloop's `metadata`,
`session_id`, `session_reference_id`, `parent_id`, `parent_reference_id`, `save`, `source`,
`source_datapoint_id`, `user` and `provider_api_keys`. `MatchRules(ignore=..., match=...)`
changes that: `ignore=["inputs.today"]` leaves out a field (dotted paths reach inside
objects), `match=["identity"]` takes a volatile field into account after all.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "VOLATILE",
    "MatchRules",
    "Signature",
    "api_path",
    "differences",
    "miss_message",
    "signature",
]

VOLATILE = frozenset(
    {
        # orq.ai
        "metadata",
        "thread",
        "identity",
        "chain_id",
        "conversation_id",
        "user_id",
        # Humanloop v4
        "session_id",
        "session_reference_id",
        "parent_id",
        "parent_reference_id",
        "save",
        "source",
        "source_datapoint_id",
        "user",
        "provider_api_keys",
    }
)
_API = re.compile(r"/v[0-9]+/")
_SHOWN = 4  # differing fields named in a miss; the rest are counted


@dataclass(frozen=True)
class MatchRules:
    """The fields left out of matching: `VOLATILE`, plus `ignore`, minus `match`."""

    ignore: frozenset[str] = VOLATILE

    @classmethod
    def build(cls, ignore: Iterable[str] = (), match: Iterable[str] = ()) -> MatchRules:
        return cls(frozenset((VOLATILE - set(match)) | set(ignore)))


@dataclass(frozen=True)
class Signature:
    """What decides a request's answer; `key` is its canonical text."""

    operation: str
    deployment: str | None
    fields: dict[str, Any]

    @property
    def key(self) -> str:
        return json.dumps(
            [self.operation, self.deployment, self.fields],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def describe(self) -> str:
        """`stream of 'support-answer'`, or `list` for an operation on no deployment."""
        return f"{self.operation} of {self.deployment!r}" if self.deployment else self.operation


def api_path(path: str) -> str:
    """The path from the API version on: `/prefix/v2/deployments` gives `/v2/deployments`."""
    found = _API.search(path)
    return path[found.start() :] if found else path


def _operation(method: str, path: str) -> tuple[str, str | None]:
    parts = [unquote(p) for p in api_path(path).strip("/").split("/")]
    method = method.upper()
    if parts[:2] == ["v2", "deployments"]:
        rest = parts[2:]
        if not rest and method == "GET":
            return "list", None
        if rest in (["get_config"], ["invoke"], ["stream"]) and method == "POST":
            return rest[0], None
        if len(rest) == 2 and rest[0] == "invalidate" and method == "DELETE":
            return "invalidate", rest[1]
        if len(rest) == 2 and rest[1] == "versions" and method == "GET":
            return "list_versions", rest[0]
    if parts[0] == "v4" and len(parts) == 2 and method == "POST":
        name = {"completion-deployed": "complete_deployed", "chat-deployed": "chat_deployed"}
        if parts[1] in name:
            return name[parts[1]], None
    return f"{method} {'/' + '/'.join(parts)}", None


def _without(value: Any, path: Sequence[str]) -> Any:
    if not isinstance(value, dict) or not path or path[0] not in value:
        return value
    if len(path) == 1:
        return {k: v for k, v in value.items() if k != path[0]}
    return {**value, path[0]: _without(value[path[0]], path[1:])}


def signature(method: str, url: str, body: Any, rules: MatchRules) -> Signature:
    """The signature of a request: `body` is its parsed JSON (or its text, or None)."""
    parts = urlsplit(url)
    operation, deployment = _operation(method, parts.path)
    fields: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        fields.setdefault(name, value)
    if operation in ("list", "list_versions"):
        fields.setdefault("limit", "10")  # the API's default: the SDK sends it, we do not
    if isinstance(body, dict):
        fields.update(body)
        deployment = deployment or _deployment_in(body)
    elif body not in (None, ""):
        fields["body"] = body
    for dotted in sorted(rules.ignore):
        fields = _without(fields, dotted.split("."))
    if isinstance(body, dict) and "key" in body and operation in ("invoke", "stream", "get_config"):
        fields.pop("key", None)  # it is the deployment, named apart
    if operation == "stream":
        fields.pop("stream", None)  # the path says it already; some clients leave it out
    return Signature(operation, deployment, fields)


def _deployment_in(body: Mapping[str, Any]) -> str | None:
    for name in ("key", "project", "project_id"):
        value = body.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """The dotted paths at which two JSON values differ (`inputs.question`, `messages[1]`)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for name in sorted(set(a) | set(b), key=str):
            path = f"{where}.{name}" if where else str(name)
            if name not in a or name not in b:
                out.append(path)
            else:
                out += differences(a[name], b[name], path)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{where}[{i}]")
        ]
    if type(a) is not type(b) or a != b:
        return [where or "the body"]
    return []


def _listing(names: Sequence[str]) -> str:
    shown = list(names[:_SHOWN])
    more = len(names) - len(shown)
    if more:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def miss_message(wanted: Signature, recorded: Sequence[Signature], source: str) -> str:
    """One line: why no recorded exchange of `source` answers `wanted`, and what to do."""
    head = f"No recorded answer in {source} for {wanted.describe()}"
    advice = (
        " To record it, use the new_episodes mode (ORQ_RECORD_MODE=new_episodes, or "
        "`%orq connect --record FILE --new-episodes`)."
    )
    same = [
        s for s in recorded if (s.operation, s.deployment) == (wanted.operation, wanted.deployment)
    ]
    if same:
        best = min((differences(wanted.fields, s.fields) for s in same), key=len)
        fields = _listing(best) if best else "nothing"
        verb = "differs" if len(best) == 1 else "differ"
        closest = (
            f"the closest of {len(same)} recorded requests"
            if len(same) > 1
            else "the recorded request"
        )
        return f"{head}: {fields} {verb} from {closest}.{advice}"
    if wanted.deployment is None:
        return f"{head}: none was recorded.{advice}"
    others = sorted({s.operation for s in recorded if s.deployment == wanted.deployment})
    if others:
        verb = "was" if len(others) == 1 else "were"
        return f"{head}: only {_listing(others)} {verb} recorded for it.{advice}"
    known = sorted({s.deployment for s in recorded if s.deployment})
    close = difflib.get_close_matches(wanted.deployment, known, n=3, cutoff=0.6)
    if close:
        options = " or ".join(repr(c) for c in close)
        return f"{head}: nothing was recorded for {wanted.deployment!r}. Did you mean {options}?"
    hint = f" (recorded: {_listing([repr(k) for k in known])})" if known else ""
    return f"{head}: nothing was recorded for {wanted.deployment!r}{hint}.{advice}"
