"""What a deployments file describes, once validated: plain frozen dataclasses and the
enums the official SDK accepts (reference §4.3, §4.4, §7.3).

Every value the server emits comes from these tables, so a wrong provider or parameter is
refused when the file is loaded instead of breaking a client's response validation later.
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
    "MODEL_TYPES",
    "PROVIDERS",
    "DeploymentSpec",
    "EchoResponder",
    "Faults",
    "MockResponder",
    "OpenAIResponder",
    "Responder",
    "Variant",
    "check_parameter",
    "utc_iso",
]

# The closed Provider enum of orq-ai-sdk 4.17.13 (spec snapshot + the 7 values the SDK added).
PROVIDERS: tuple[str, ...] = (
    "openai", "groq", "cohere", "azure", "aws", "google", "google-ai", "huggingface",
    "togetherai", "perplexity", "anthropic", "leonardoai", "fal", "nvidia", "jina", "elevenlabs",
    "litellm", "cerebras", "openailike", "bytedance", "mistral", "deepseek", "moonshotai", "zai",
    "minimax", "xai", "alibaba", "tensorix", "scaleway", "hcompany", "inceptron", "wafer",
    "poolside", "tencent", "nebius", "fireworks", "baseten", "reson8", "slack", "orq",
    "inception", "meta", "greenpt", "liquid", "typesafe", "berget", "cloudflare",
)  # fmt: skip

MODEL_TYPES: tuple[str, ...] = (
    "chat", "completion", "embedding", "image", "tts", "stt", "rerank", "ocr", "moderation",
    "vision", "classify",
)  # fmt: skip

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

    status: answer invoke/stream with this status (429, 500 or 503) ...
    times: ... for the first `times` requests only (None: every request).
    retry_after: seconds, sent as `Retry-After` and `retry-after-ms` with the status.
    drop_after_chunks: close a stream's connection after this many chunks (no `[DONE]`).
    delay_ms: wait this long before answering invoke/stream.
    """

    status: int | None = None
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


def utc_iso(moment: float | datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a `Z`, the form the API uses."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
