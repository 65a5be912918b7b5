"""From a request body and a deployment to exactly what would be sent to the model.

* `context` picks the first variant whose every `when` item matches (a list on either side
  matches when any value is shared: `environments: production` matches `["production"]`);
  with none, the deployment's own `prompt_config`, or, for a deployment of variants only,
  orq's 422 `variant_not_resolved`.
* `inputs`, over the deployment's `variables` defaults, fill `{{variables}}` in the configured
  messages in one pass; a variable with neither becomes empty text, as on orq.ai ("missing
  inputs silently omit prompt content"), or a 422 naming it with `strict_variables`.
  Request messages are never templated.
* `prefix_messages` go after the configured leading system message(s), `messages` at the end.
* `extra_params` override the configured model parameters.

Usage numbers are an approximation, documented as such: one token per word or punctuation
mark (regex ``\\w+|[^\\w\\s]``) in the text of the messages (prompt) and of the answer
(completion), unless an OpenAI-compatible upstream reported its own counts.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..client._models import InvokeRequest
from ..client._templating import find_variables, render
from ._spec import CONFIG_ROLES, check_parameter
from ._store import StoredDeployment
from ._wire import RequestError, invalid_body

__all__ = [
    "Prepared",
    "config_message",
    "content_text",
    "count_tokens",
    "open_variables",
    "parse_request",
    "prepare",
    "retrievals",
    "usage",
]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")
_PART_TYPES = {"text", "image_url", "input_audio", "file", "refusal", "reasoning"}
_BRANCH = re.compile(r"str|int|float|bool|none|.*\[.*")


@dataclass(frozen=True)
class Prepared:
    """A request resolved against a deployment: the final messages and parameters."""

    deployment: StoredDeployment
    request: InvokeRequest
    config: Mapping[str, Any]
    messages: list[dict[str, Any]]
    parameters: dict[str, Any]

    @property
    def model(self) -> str:
        return str(self.config["model"])

    @property
    def provider(self) -> str:
        return str(self.config["provider"])

    @property
    def model_type(self) -> str:
        return str(self.config["model_type"])

    @property
    def object(self) -> str:
        """The answer's `object`: `image` for image models, `completion`, else `chat`."""
        kind = self.model_type
        return kind if kind in ("image", "completion") else "chat"


def _field(loc: tuple[int | str, ...]) -> str:
    out, after_index = "", False
    for part in loc:
        # Union branch labels and discriminator tags are pydantic's, not the caller's fields.
        skip = isinstance(part, str) and (
            _BRANCH.fullmatch(part) or (after_index and part in {*CONFIG_ROLES, *_PART_TYPES})
        )
        if not skip:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        after_index = isinstance(part, int)
    return out or "body"


def parse_request(data: Any) -> InvokeRequest:
    """Validate a JSON body as orq.ai does: unknown keys are ignored at every depth (the SDK
    adds fields from release to release: `file_id`, `reasoning_content`, `extra_content`...,
    and sends `stream` where no schema has it); a wrong value is a 400 naming the field."""
    if not isinstance(data, dict):
        raise invalid_body("The request body must be a JSON object.")
    try:
        request = InvokeRequest.model_validate(data, extra="ignore")
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field(first["loc"])
        raise invalid_body(f"Invalid request body: {field}: {first['msg']}.", field=field) from None
    try:
        request.to_wire()  # what `prepare` does later; a value nested too deeply fails here
    except ValueError as exc:
        raise invalid_body(f"Invalid request body: {exc}.") from None
    return request


def _scalar(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the SDK sends numbers as floats: 1 and 1.0 should match
    return json.dumps(value, sort_keys=True)


def _matches(when: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for name, expected in when.items():
        if name not in context:
            return False
        wanted = {_scalar(v) for v in (expected if isinstance(expected, list) else [expected])}
        given = context[name] if isinstance(context[name], list) else [context[name]]
        if not any(_scalar(v) in wanted for v in given):
            return False
    return True


def _render_content(content: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(content, str):
        return render(content, values)
    if isinstance(content, list):
        return [
            {**part, "text": render(part["text"], values)} if part.get("type") == "text" else part
            for part in content
        ]
    return content


def _templates(messages: list[Mapping[str, Any]]) -> list[str]:
    texts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p["text"] for p in content if p.get("type") == "text"]
    return texts


def _variant(deployment: StoredDeployment, context: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = deployment.spec
    for variant in spec.variants:
        if _matches(variant.when, context):
            return variant.prompt_config
    if spec.has_default:
        return spec.prompt_config
    rules = "; ".join(json.dumps(dict(v.when), sort_keys=True) for v in spec.variants)
    raise RequestError(
        422,
        f"No variant of deployment {spec.key!r} matches the context "
        f"{json.dumps(dict(context), sort_keys=True)} and it has no default; its variants "
        f"want: {rules}.",
        "variant_not_resolved",
        field="context",
    )


def open_variables(
    deployment: StoredDeployment, config: Mapping[str, Any], inputs: Mapping[str, Any]
) -> list[str]:
    """The `{{variables}}` of `config`'s messages with neither an input nor a default."""
    values = {**deployment.spec.variables, **inputs}
    needed = [n for t in _templates(config["messages"]) for n in find_variables(t)]
    return list(dict.fromkeys(n for n in needed if n not in values))


def prepare(
    deployment: StoredDeployment, request: InvokeRequest, *, strict: bool | None = None
) -> Prepared:
    """Resolve variant, variables, messages and parameters; raise `RequestError` (422).

    `strict` (default: the deployment's `strict_variables`) makes a variable with neither an
    input nor a default a 422 naming it; otherwise it renders as empty text, as on orq.ai.
    """
    spec = deployment.spec
    config = _variant(deployment, request.context or {})
    values = {**spec.variables, **(request.inputs or {})}
    missing = open_variables(deployment, config, request.inputs or {})
    if missing and (spec.strict_variables if strict is None else strict):
        names = ", ".join(f"{{{{{n}}}}}" for n in missing)
        noun = "value" if len(missing) == 1 else "values"
        why = (
            " (this deployment has `strict_variables`; orq.ai renders them empty)"
            if strict is None
            else ""
        )
        raise RequestError(
            422,
            f"Missing {noun} for {names} in deployment {spec.key!r}: pass it in `inputs` or give "
            f"it a default under `variables` in the deployments file{why}.",
            "missing_variables",
            field="inputs",
        )
    values |= dict.fromkeys(missing, "")
    configured = [
        {**m, "content": _render_content(m.get("content"), values)} for m in config["messages"]
    ]
    split = 0
    while split < len(configured) and configured[split]["role"] == "system":
        split += 1
    wire = request.to_wire()
    messages = [
        *configured[:split],
        *wire.get("prefix_messages", []),
        *configured[split:],
        *wire.get("messages", []),
    ]
    extra = request.extra_params or {}
    for name, value in extra.items():
        problem = check_parameter(name, value, allow_unknown=True)  # unknown: for the provider
        if problem:
            field = f"extra_params.{name}"
            raise invalid_body(f"Invalid request body: {field}: {problem}.", field=field)
    parameters = {**config["model_parameters"], **extra}
    return Prepared(deployment, request, config, messages, parameters)


def config_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message in the get_config shape (reference §7.3). Request-only parts (audio,
    refusal, reasoning) have no place there and are left out."""
    content = message.get("content")
    if isinstance(content, list):
        content = [
            _config_part(p) for p in content if p.get("type") in ("text", "image_url", "file")
        ]
    out: dict[str, Any] = {"role": message["role"], "content": content}
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [
            {
                **({"id": c["id"]} if c.get("id") else {}),
                "type": "function",
                "function": {
                    "name": c["function"].get("name") or "",
                    "arguments": c["function"].get("arguments") or "",
                },
            }
            for c in calls
        ]
    if "tool_call_id" in message:
        out["tool_call_id"] = message["tool_call_id"]
    return out


def _config_part(part: Mapping[str, Any]) -> dict[str, Any]:
    if part["type"] == "text":
        return {"type": "text", "text": part["text"]}
    if part["type"] == "image_url":
        image = {k: v for k, v in part["image_url"].items() if k in ("url", "detail", "id")}
        return {"type": "image_url", "image_url": image}
    keep = ("file_data", "uri", "mimeType", "filename")
    return {"type": "file", "file": {k: v for k, v in part["file"].items() if k in keep}}


def _describe_part(part: Mapping[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part["text"])
    if kind == "image_url":
        url = str(part["image_url"]["url"])
        if url.startswith("data:"):  # the type and size, not kilobytes of base64
            head, _, data = url.partition(",")
            size = len(data) * 3 // 4 - data.count("=")
            return f"[image: {head[5:].split(';')[0]}, {size} bytes inline]"
        return f"[image: {url}]"
    if kind == "input_audio":
        return f"[audio: {part['input_audio']['format']}]"
    if kind == "file":
        file = part["file"]
        return f"[file: {file.get('filename') or file.get('uri') or file.get('file_id') or 'data'}]"
    if kind == "refusal":
        return f"[refusal: {part.get('refusal') or ''}]"
    return f"[{kind}]"


def content_text(message: Mapping[str, Any], *, describe: bool = False) -> str:
    """The text of a message; with `describe`, non-text parts and tool calls as `[...]`."""
    content = message.get("content")
    if isinstance(content, str):
        pieces = [content]
    elif isinstance(content, list):
        pieces = [_describe_part(p) if describe else p.get("text", "") for p in content]
        pieces = [p for p in pieces if p]
    else:
        pieces = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        name, arguments = function.get("name") or "", function.get("arguments") or ""
        pieces.append(f"[tool call: {name}({arguments})]" if describe else f"{name} {arguments}")
    return " ".join(pieces)


def count_tokens(text: str) -> int:
    """Approximate tokens: one per word or punctuation mark (see the module docstring)."""
    return len(_TOKEN.findall(text))


def usage(prepared: Prepared, answer: str) -> dict[str, int]:
    """Approximate `usage` for the final messages and the answer."""
    prompt = sum(count_tokens(content_text(m)) for m in prepared.messages)
    completion = count_tokens(answer)
    return {
        "total_tokens": prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
    }


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[word] for word, count in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return round(dot / norm, 4) if norm else 0.0


def retrievals(prepared: Prepared) -> list[dict[str, Any]]:
    """`retrievals` built from the request's `documents`, best match first.

    `search_score` is the cosine similarity of word counts between each document and the last
    user message: deterministic, between 0 and 1.
    """
    users = [m for m in prepared.messages if m["role"] == "user"]
    query = Counter(_WORD.findall(content_text(users[-1]).lower())) if users else Counter()
    found = []
    for index, document in enumerate(prepared.request.documents or []):
        meta = document.metadata
        page = meta.page_number if meta else None
        words = Counter(_WORD.findall(document.text.lower()))
        found.append(
            {
                "document": document.text,
                "metadata": {
                    "file_name": (meta.file_name if meta else None) or f"document-{index + 1}",
                    "page_number": int(page) if page is not None and page.is_integer() else page,
                    "file_type": (meta.file_type if meta else None) or "text/plain",
                    "search_score": _cosine(query, words),
                },
            }
        )
    return sorted(found, key=lambda r: -float(r["metadata"]["search_score"]))
