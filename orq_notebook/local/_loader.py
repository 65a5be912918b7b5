"""Validating a deployments file (YAML; JSON when the name ends in `.json`) into
`DeploymentSpec`s.

Every problem becomes one `DeploymentFileError` that names the file, the line and the field,
e.g. ``deployments.yaml, line 12: deployments[1].responder: expected echo, ...``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

from ._egress import Egress
from ._reading import DeploymentFileError, FieldPath, check_bounds, dotted, read_data, read_file
from ._spec import (
    CONFIG_ROLES,
    FAULT_CODES,
    MODEL_TYPES,
    NAME_RULE,
    DeploymentSpec,
    EchoResponder,
    Faults,
    MockResponder,
    OpenAIResponder,
    Responder,
    Variant,
    check_parameter,
    is_name,
    utc_iso,
)

__all__ = ["load_path", "parse_data", "parse_text", "stable_id"]

_ENTRY_FIELDS = (
    "key",
    "id",
    "description",
    "variables",
    "prompt_config",
    "responder",
    "stream_delay_ms",
    "variants",
    "faults",
    "created",
    "updated",
    "strict_variables",
)
_CONFIG_FIELDS = ("provider", "model", "model_type", "model_parameters", "messages", "tools")
_RESPONDER_HELP = "expected echo, {mock: text} or {openai: {base_url, model, api_key_env}}"
_ID_NAMESPACE = uuid.UUID("5b1f3c1e-8d0a-4f61-9f3b-6a2f0e7c9d41")


def stable_id(name: str) -> str:
    """A UUID derived from `name`: the same key gives the same id on every machine and run."""
    return str(uuid.uuid5(_ID_NAMESPACE, name))


def load_path(path: Path, *, egress: Egress | None = None) -> list[DeploymentSpec]:
    """Read and validate the file at `path`; `egress` (default: from the environment) says
    which hosts and environment variables it may name."""
    try:
        text = read_file(path)
    except FileNotFoundError:
        raise DeploymentFileError("the file does not exist", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeploymentFileError(f"cannot read the file: {exc}", source=str(path)) from None
    is_json = path.suffix.lower() == ".json"
    return parse_text(text, source=str(path), is_json=is_json, egress=egress)


def parse_text(
    text: str, *, source: str = "<string>", is_json: bool = False, egress: Egress | None = None
) -> list[DeploymentSpec]:
    """Validate the text of a deployments file."""
    data, lines = read_data(text, source, is_json=is_json)
    return _Validator(source, lines, egress or Egress.resolve()).document(data)


def parse_data(
    data: Any, *, source: str = "<data>", egress: Egress | None = None
) -> list[DeploymentSpec]:
    """Validate already-parsed data shaped like a deployments file."""
    check_bounds(data, source)
    return _Validator(source, {}, egress or Egress.resolve()).document(data)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Validator:
    def __init__(self, source: str, lines: dict[FieldPath, int], egress: Egress) -> None:
        self.source, self.lines, self.egress = source, lines, egress

    def fail(self, path: FieldPath, problem: str) -> NoReturn:
        line, probe = None, path
        while line is None and probe:
            line, probe = self.lines.get(probe), probe[:-1]
        raise DeploymentFileError(
            problem, source=self.source, line=line or self.lines.get(()), field=dotted(path)
        )

    def mapping(self, value: Any, path: FieldPath, fields: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping with {', '.join(fields)}; got {value!r}")
        for name in value:
            if name not in fields:
                close = difflib.get_close_matches(str(name), fields, n=3, cutoff=0.6)
                hint = (
                    f"did you mean {' or '.join(f'`{c}`' for c in close)}?"
                    if close
                    else f"expected one of {', '.join(fields)}"
                )
                self.fail((*path, name), f"unknown field; {hint}")
        return value

    def string(
        self, value: Any, path: FieldPath, *, pattern: str = r"[\s\S]*", what: str = "a string"
    ) -> str:
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            self.fail(path, f"expected {what}; got {value!r}")
        return value

    def number(
        self, value: Any, path: FieldPath, *, integer: bool = False, low: float = 0
    ) -> float:
        if not _is_number(value) or (integer and int(value) != value) or value < low:
            kind = "an integer" if integer else "a number"
            self.fail(path, f"expected {kind} >= {low:g}; got {value!r}")
        return float(value)

    def jsonable(self, value: Any, path: FieldPath) -> Any:
        """Plain JSON data: YAML dates become ISO strings; anything else JSON lacks is refused."""
        if isinstance(value, (datetime, date)):
            return utc_iso(value) if isinstance(value, datetime) else value.isoformat()
        if isinstance(value, Mapping):
            for key in value:
                if not isinstance(key, str):
                    self.fail((*path, str(key)), f"keys must be strings; got {key!r}")
            return {k: self.jsonable(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.jsonable(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(path, "numbers must be finite")
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        self.fail(path, f"not a JSON value: {value!r}")

    def document(self, data: Any) -> list[DeploymentSpec]:
        if data is None:
            self.fail((), "the file is empty; expected a mapping with a `deployments:` list")
        top = self.mapping(data, (), ("deployments", "strict_variables"))
        strict = self.boolean(top.get("strict_variables", False), ("strict_variables",))
        entries = top.get("deployments")
        if not isinstance(entries, list):
            self.fail(("deployments",), f"expected a list of deployments; got {entries!r}")
        specs: list[DeploymentSpec] = []
        first: dict[tuple[str, str], int] = {}
        for index, raw in enumerate(entries):
            path = ("deployments", index)
            spec = self.entry(self.jsonable(raw, path), path, strict)
            for kind, value in (("key", spec.key), ("id", spec.id)):
                if (kind, value) in first:
                    other = first[(kind, value)]
                    self.fail(
                        (*path, kind), f"duplicate {kind} {value!r} (also deployments[{other}])"
                    )
                first[(kind, value)] = index
            specs.append(spec)
        return specs

    def boolean(self, value: Any, path: FieldPath) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false; got {value!r}")
        return value

    def name(self, value: Any, path: FieldPath) -> str:
        if not is_name(value):
            self.fail(path, f"expected a key or id that is {NAME_RULE}; got {value!r}")
        return str(value)

    def entry(self, raw: Any, path: FieldPath, strict: bool) -> DeploymentSpec:
        entry = self.mapping(raw, path, _ENTRY_FIELDS)
        if "key" not in entry:
            self.fail(path, "missing the required field `key`")
        key = self.name(entry["key"], (*path, "key"))
        variables = entry.get("variables") or {}
        if not isinstance(variables, Mapping):
            self.fail((*path, "variables"), f"expected a mapping of defaults; got {variables!r}")
        variants = entry.get("variants") or []
        if not isinstance(variants, list):
            self.fail((*path, "variants"), f"expected a list; got {variants!r}")
        has_default = entry.get("prompt_config") is not None or not variants
        if has_default:
            config = self.prompt_config(entry.get("prompt_config"), (*path, "prompt_config"), None)
            routed = tuple(
                self.variant(v, (*path, "variants", i), config) for i, v in enumerate(variants)
            )
        else:  # variants only: each is a whole prompt_config, and nothing is the default
            routed = tuple(
                self.variant(v, (*path, "variants", i), None) for i, v in enumerate(variants)
            )
            config = dict(routed[0].prompt_config)
        strict = self.boolean(entry.get("strict_variables", strict), (*path, "strict_variables"))
        responder = self.responder(entry.get("responder", "echo"), (*path, "responder"))
        if isinstance(responder, OpenAIResponder):
            for i, variant_config in enumerate([config, *(v.prompt_config for v in routed)]):
                if variant_config["model_type"] not in ("chat", "completion"):
                    where = (*path, "prompt_config") if i == 0 else (*path, "variants", i - 1)
                    self.fail(
                        (*where, "model_type"),
                        f"the openai responder answers chat and completion models, not "
                        f"{variant_config['model_type']!r}: use echo or {{mock: <url>}}",
                    )
        return DeploymentSpec(
            key=key,
            id=self.name(entry["id"], (*path, "id")) if "id" in entry else stable_id(key),
            description=self.string(entry.get("description", ""), (*path, "description")),
            variables=dict(variables),
            prompt_config=config,
            responder=responder,
            stream_delay_ms=self.number(
                entry.get("stream_delay_ms", 0), (*path, "stream_delay_ms")
            ),
            variants=routed,
            faults=self.faults(entry["faults"], (*path, "faults")) if "faults" in entry else None,
            created=self.timestamp(entry.get("created"), (*path, "created")),
            updated=self.timestamp(entry.get("updated"), (*path, "updated")),
            fingerprint=json.dumps(entry, sort_keys=True),
            has_default=has_default,
            strict_variables=strict,
        )

    def timestamp(self, value: Any, path: FieldPath) -> str | None:
        if value is None:
            return None
        try:
            return utc_iso(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        except ValueError:
            self.fail(path, f"expected an ISO 8601 date-time; got {value!r}")

    def prompt_config(
        self, raw: Any, path: FieldPath, base: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if raw is None and base is None:
            self.fail(path, "missing the required field `prompt_config` (with at least `model`)")
        given = self.mapping(raw, path, _CONFIG_FIELDS)
        if base is None:
            merged: dict[str, Any] = {"provider": "openai", "model_type": "chat"}
            merged |= {"model_parameters": {}, "messages": [], "tools": []}
            if "model" not in given:
                self.fail(path, "missing the required field `model`")
        else:
            merged = dict(base)
        for name, value in given.items():
            if name == "model_parameters" and base is not None and isinstance(value, Mapping):
                merged[name] = {**base[name], **value}
            else:
                merged[name] = value
        # Any provider name, as orq.ai's list grows (4.18 added `munito`); for a local
        # OpenAI-compatible server (Ollama, vLLM, LM Studio) `openailike` is the honest one.
        self.string(merged["provider"], (*path, "provider"), pattern=r"\S+", what="a provider")
        self.string(merged["model"], (*path, "model"), pattern=r"\S.*", what="a model name")
        if merged["model_type"] not in MODEL_TYPES:
            self.fail((*path, "model_type"), f"expected one of {', '.join(MODEL_TYPES)}")
        parameters = merged["model_parameters"]
        if not isinstance(parameters, Mapping):
            self.fail((*path, "model_parameters"), f"expected a mapping; got {parameters!r}")
        for name, value in parameters.items():
            problem = check_parameter(name, value)
            if problem:
                self.fail((*path, "model_parameters", name), problem)
        messages, tools = merged["messages"], merged["tools"]
        if not isinstance(messages, list):
            self.fail((*path, "messages"), f"expected a list of messages; got {messages!r}")
        if not isinstance(tools, list):
            self.fail((*path, "tools"), f"expected a list of tools; got {tools!r}")
        merged["messages"] = [
            self.message(m, (*path, "messages", i)) for i, m in enumerate(messages)
        ]
        merged["tools"] = [self.tool(t, (*path, "tools", i)) for i, t in enumerate(tools)]
        return merged

    def message(self, raw: Any, path: FieldPath) -> dict[str, Any]:
        message = dict(self.mapping(raw, path, ("role", "content", "tool_calls", "tool_call_id")))
        if message.get("role") not in CONFIG_ROLES:
            self.fail((*path, "role"), f"expected one of {', '.join(CONFIG_ROLES)}")
        if "content" not in message and "tool_calls" not in message:
            self.fail(path, "missing the field `content`")
        content = message.setdefault("content", None)
        if isinstance(content, list):
            for i, part in enumerate(content):
                self.part(part, (*path, "content", i))
        elif content is not None and not isinstance(content, str):
            self.fail((*path, "content"), "expected a string, a list of parts, or null")
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list):
            self.fail((*path, "tool_calls"), f"expected a list; got {calls!r}")
        for i, call in enumerate(calls):
            where = (*path, "tool_calls", i)
            call = self.mapping(call, where, ("id", "index", "type", "function"))
            function = self.mapping(
                call.get("function"), (*where, "function"), ("name", "arguments")
            )
            self.string(function.get("name"), (*where, "function", "name"))
            self.string(function.get("arguments"), (*where, "function", "arguments"))
        if message.get("tool_call_id") is not None:
            self.string(message["tool_call_id"], (*path, "tool_call_id"))
        return message

    def part(self, raw: Any, path: FieldPath) -> None:
        kind = raw.get("type") if isinstance(raw, Mapping) else None
        if kind == "text":
            self.string(self.mapping(raw, path, ("type", "text")).get("text"), (*path, "text"))
        elif kind == "image_url":
            image = self.mapping(raw, path, ("type", "image_url")).get("image_url")
            image = self.mapping(image, (*path, "image_url"), ("url", "detail", "id"))
            self.string(image.get("url"), (*path, "image_url", "url"))
        elif kind == "file":
            file = self.mapping(raw, path, ("type", "file")).get("file")
            self.mapping(file, (*path, "file"), ("file_data", "uri", "mimeType", "filename"))
        else:
            self.fail(path, f"expected a part with type text, image_url or file; got {raw!r}")

    def tool(self, raw: Any, path: FieldPath) -> dict[str, Any]:
        tool = dict(self.mapping(raw, path, ("type", "function", "display_name", "id")))
        if "display_name" in tool:
            self.string(tool["display_name"], (*path, "display_name"))
        if "id" in tool and not _is_number(tool["id"]):
            self.fail((*path, "id"), f"expected a number; got {tool['id']!r}")
        if tool.setdefault("type", "function") != "function":
            self.fail((*path, "type"), "expected `function`")
        fields = ("name", "description", "parameters", "strict")
        function = dict(self.mapping(tool.get("function"), (*path, "function"), fields))
        self.string(
            function.get("name"),
            (*path, "function", "name"),
            pattern=r"[\w-]{1,64}",
            what="a function name (letters, digits, _ and -; at most 64)",
        )
        schema = function.setdefault("parameters", {"type": "object", "properties": {}})
        where = (*path, "function", "parameters")
        if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
            self.fail(where, "expected a JSON Schema object: {type: object, properties: {...}}")
        if not isinstance(schema.get("properties", {}), Mapping):
            self.fail((*where, "properties"), "expected a mapping")
        if schema.get("additionalProperties", False) is not False:
            self.fail((*where, "additionalProperties"), "only `false` is accepted by the API")
        function["parameters"] = {"type": "object", "properties": {}, **schema}
        tool["function"] = function
        return tool

    def responder(self, raw: Any, path: FieldPath) -> Responder:
        if raw == "echo" or (isinstance(raw, Mapping) and list(raw) == ["echo"]):
            return EchoResponder()
        if not isinstance(raw, Mapping) or len(raw) != 1:
            self.fail(path, f"{_RESPONDER_HELP}; got {raw!r}")
        if "mock" in raw:
            return MockResponder(self.string(raw["mock"], (*path, "mock")))
        if "openai" not in raw:
            self.fail(path, f"{_RESPONDER_HELP}; got {raw!r}")
        where = (*path, "openai")
        if isinstance(raw["openai"], Mapping) and "api_key" in raw["openai"]:
            self.fail(
                (*where, "api_key"),
                "never put a key in the file: name an environment "
                "variable that holds it with `api_key_env`",
            )
        options = self.mapping(raw["openai"], where, ("base_url", "model", "api_key_env"))
        base_url = self.string(
            options.get("base_url"),
            (*where, "base_url"),
            pattern=r"https?://\S+",
            what="an http(s) URL",
        )
        model = options.get("model")
        env = options.get("api_key_env")
        env = None if env is None else self.string(env, (*where, "api_key_env"), pattern=r"\S+")
        try:
            refused = self.egress.refusal(base_url, env)
        except ValueError as exc:
            self.fail((*where, "base_url"), str(exc))
        if refused is not None:  # a secret or a host the user did not allow (see _egress)
            self.fail((*where, refused[0]), refused[1])
        return OpenAIResponder(
            base_url=base_url.rstrip("/"),
            model=None if model is None else self.string(model, (*where, "model")),
            api_key_env=env,
        )

    def variant(self, raw: Any, path: FieldPath, base: Mapping[str, Any] | None) -> Variant:
        variant = self.mapping(raw, path, ("when", "prompt_config"))
        when = variant.get("when", {})
        if not isinstance(when, Mapping):
            self.fail(
                (*path, "when"), f"expected a mapping matched against `context`; got {when!r}"
            )
        given = variant.get("prompt_config", {} if base is not None else None)
        config = self.prompt_config(given, (*path, "prompt_config"), base)
        return Variant(when=dict(when), prompt_config=config)

    def faults(self, raw: Any, path: FieldPath) -> Faults:
        fields = ("status", "code", "times", "retry_after", "drop_after_chunks", "delay_ms")
        faults = self.mapping(raw, path, fields)
        status = faults.get("status")
        if status is not None and (not isinstance(status, int) or status not in FAULT_CODES):
            self.fail((*path, "status"), f"expected one of {', '.join(map(str, FAULT_CODES))}")
        for name in ("code", "times", "retry_after"):
            if name in faults and status is None:
                self.fail((*path, name), "only meaningful with `status`")
        code = faults.get("code")
        if status is not None and code is not None and code not in FAULT_CODES[status]:
            self.fail((*path, "code"), f"expected one of {', '.join(FAULT_CODES[status])}")

        def optional(name: str, integer: bool, low: float) -> float | None:
            value = faults.get(name)
            return (
                None
                if value is None
                else self.number(value, (*path, name), integer=integer, low=low)
            )

        times, drop = optional("times", True, 1), optional("drop_after_chunks", True, 0)
        return Faults(
            status=None if status is None else int(status),
            code=None if status is None else code or FAULT_CODES[status][0],
            times=None if times is None else int(times),
            retry_after=optional("retry_after", False, 0),
            drop_after_chunks=None if drop is None else int(drop),
            delay_ms=optional("delay_ms", False, 0) or 0.0,
        )
