"""What a deployments file describes, once validated: plain frozen dataclasses and the
enums the official SDK accepts (reference §4.3, §7.3).

Every value the server emits comes from these tables, so a wrong parameter is refused when the
file is loaded instead of breaking a client's response validation later. The provider is any
string, as on orq.ai, whose list grows from release to release (an SDK older than a provider
refuses answers that name it, against orq.ai as here).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "CONFIG_ROLES",
    "FAULT_CODES",
    "MODEL_TYPES",
    "NAME_RULE",
    "STREAMED_TYPES",
    "DeploymentSpec",
    "EchoResponder",
    "Faults",
    "MockResponder",
    "OpenAIResponder",
    "Responder",
    "Variant",
    "check_parameter",
    "is_name",
    "utc_iso",
]

# Deployment keys and ids end up in URL paths (`/v2/deployments/{key}/versions`): nothing that
# would end or rewrite a path segment, and not `.` or `..`, which would change the endpoint.
_PATH_BREAKING = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")
NAME_RULE = "not empty, not `.` or `..`, without `/ \\ ? # %`, spaces or control characters"


def is_name(value: object) -> bool:
    """Whether `value` can be a deployment key or id (see `NAME_RULE`)."""
    return (
        isinstance(value, str) and value not in ("", ".", "..") and not _PATH_BREAKING.search(value)
    )


# orq.ai's error codes (reference: orq-api-additions §1.2) that `faults.status` can answer
# with, the first of each being the default; `faults.code` picks another one.
FAULT_CODES: dict[int, tuple[str, ...]] = {
    402: ("quota_exceeded",),
    408: ("request_timeout",),
    422: ("provider_credential_invalid", "model_configuration_missing", "variant_not_resolved"),
    429: ("rate_limit_exceeded",),
    500: ("internal_error",),
    502: ("provider_error",),
    503: ("service_unavailable", "provider_overloaded"),
    504: ("provider_timeout",),
}

MODEL_TYPES: tuple[str, ...] = (
    "chat", "completion", "embedding", "image", "tts", "stt", "rerank", "ocr", "moderation",
    "vision", "classify",
)  # fmt: skip

# orq.ai streams only these model types ("Only supported for completions and chat completions").
STREAMED_TYPES: tuple[str, ...] = ("chat", "completion")

CONFIG_ROLES: tuple[str, ...] = (
    "system", "developer", "assistant", "user", "exception", "tool", "prompt", "correction",
    "expected_output",
)  # fmt: skip

_NUMBER = "number"
_STRING = "string"
_PARAMETERS: dict[str, str | tuple[str, ...]] = {
    "temperature": _NUMBER,
    "maxTokens": _NUMBER,
    "topK": _NUMBER,
    "topP": _NUMBER,
    "frequencyPenalty": _NUMBER,
    "presencePenalty": _NUMBER,
    "numImages": _NUMBER,
    "seed": _NUMBER,
    "budgetTokens": _NUMBER,
    "dimensions": _STRING,
    "quality": _STRING,
    "style": _STRING,
    "format": ("url", "b64_json", "text", "json_object"),
    "photoRealVersion": ("v1", "v2"),
    "encoding_format": ("float", "base64"),
    "reasoningEffort": ("none", "disable", "minimal", "low", "medium", "high", "xhigh", "max"),
    "verbosity": ("low", "medium", "high"),
    "thinkingLevel": ("minimal", "low", "medium", "high"),
    "responseFormat": "responseFormat",
    "cacheControl": "cacheControl",
}
_RESPONSE_FORMAT_STRINGS = (
    "mp3", "opus", "aac", "flac", "wav", "pcm", "url", "base64_json", "json", "text", "srt",
    "verbose_json", "vtt",
)  # fmt: skip


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def check_parameter(name: str, value: Any, *, allow_unknown: bool = False) -> str | None:
    """Why `value` is not valid for model parameter `name`, or None when it is."""
    kind = _PARAMETERS.get(name)
    if kind is None and allow_unknown:
        return None
    if kind is None:
        guess = _camel(name) if _camel(name) in _PARAMETERS else None
        guess = guess or next(iter(difflib.get_close_matches(name, _PARAMETERS, 1)), None)
        hint = f" Did you mean {guess!r}?" if guess else ""
        return f"unknown model parameter.{hint} Known: {', '.join(sorted(_PARAMETERS))}."
    if kind == _NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {value!r}"
    if kind == _STRING:
        return None if isinstance(value, str) else f"expected a string, got {value!r}"
    if isinstance(kind, tuple):
        return None if value in kind else f"expected one of {', '.join(kind)}; got {value!r}"
    if kind == "cacheControl":
        if value is None or (
            isinstance(value, Mapping)
            and value.get("type") == "ephemeral"
            and value.get("ttl", "5m") in ("5m", "1h")
        ):
            return None
        return 'expected null or {type: ephemeral, ttl: "5m" | "1h"}'
    return _check_response_format(value)


def _check_response_format(value: Any) -> str | None:
    if value is None or value in _RESPONSE_FORMAT_STRINGS:
        return None
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind in ("text", "json_object"):
            return None
        schema = value.get("json_schema")
        if (
            kind == "json_schema"
            and isinstance(schema, Mapping)
            and isinstance(schema.get("name"), str)
            and isinstance(schema.get("schema"), Mapping)
        ):
            return None
    return (
        "expected {type: text}, {type: json_object}, "
        "{type: json_schema, json_schema: {name, schema}}, null, or one of "
        + ", ".join(_RESPONSE_FORMAT_STRINGS)
    )


@dataclass(frozen=True)
class EchoResponder:
    """Answers with a readable rendering of the final message list."""


@dataclass(frozen=True)
class MockResponder:
    """Answers with fixed text."""

    text: str


@dataclass(frozen=True)
class OpenAIResponder:
    """Calls `{base_url}/chat/completions` of an OpenAI-compatible server.

    `api_key_env` is the *name* of an environment variable holding the key; the key itself is
    read at request time and never stored here.
    """

    base_url: str
    model: str | None = None
    api_key_env: str | None = None


Responder = EchoResponder | MockResponder | OpenAIResponder


@dataclass(frozen=True)
class Faults:
    """Deliberate failures, for testing clients against a misbehaving server.

    status: answer invoke/stream with this status (a key of `FAULT_CODES`) ...
    code: ... and this orq error code (default: the status's first in `FAULT_CODES`) ...
    times: ... for the first `times` requests only (None: every request).
    retry_after: seconds, sent as `Retry-After` and `retry-after-ms` with the status.
    drop_after_chunks: close a stream's connection after this many chunks (no `[DONE]`).
    delay_ms: wait this long before answering invoke/stream.
    """

    status: int | None = None
    code: str | None = None
    times: int | None = None
    retry_after: float | None = None
    drop_after_chunks: int | None = None
    delay_ms: float = 0.0


@dataclass(frozen=True)
class Variant:
    """A routing rule: when every `when` item matches the request's `context`, use
    `prompt_config` (the deployment's config with the variant's override merged in)."""

    when: Mapping[str, Any]
    prompt_config: Mapping[str, Any]


@dataclass(frozen=True)
class DeploymentSpec:
    """One validated entry of a deployments file.

    `prompt_config` has all six list-endpoint fields filled in (provider, model, model_type,
    model_parameters, messages, tools). `created`/`updated` are None unless the file gave them.
    `has_default` is False when the entry gives only `variants` (each with a whole
    `prompt_config`): a request that matches none of them is orq's 422 `variant_not_resolved`,
    and `prompt_config` is then the first variant's, as the list endpoint shows it.
    `strict_variables` makes a `{{variable}}` with neither an input nor a default a 422
    instead of empty text (orq.ai renders it empty).
    """

    key: str
    id: str
    description: str
    variables: Mapping[str, Any]
    prompt_config: Mapping[str, Any]
    responder: Responder
    stream_delay_ms: float = 0.0
    variants: tuple[Variant, ...] = ()
    faults: Faults | None = None
    created: str | None = None
    updated: str | None = None
    fingerprint: str = ""
    has_default: bool = True
    strict_variables: bool = False


def utc_iso(moment: float | datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a `Z`, the form the API uses."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
