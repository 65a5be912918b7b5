"""The JSON bodies the local server sends, built field by field from the API reference.

Error bodies (every error has a top-level `message`)::

    {"message": "...", "code": 404, "error": {"code": "deployment_not_found", "message": "..."}}

`code` is the HTTP status as an integer, except 401 (`16`, the shape the official SDK reads
as `ErrorResponse`) and 500 on `GET /v2/deployments` (`"500"`, a string, for `HonoAPIError`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from ._loader import stable_id
from ._spec import utc_iso
from ._store import StoredDeployment, Version

__all__ = [
    "DONE",
    "RequestError",
    "deployment_body",
    "error_body",
    "list_error_body",
    "new_ulid",
    "now_iso",
    "sse",
    "telemetry",
    "tool_for_config",
    "tool_for_list",
    "variant_id",
    "version_body",
    "version_id",
]

DONE = b"data: [DONE]\n\n"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class RequestError(Exception):
    """An error answer: HTTP status, a readable message, a machine-readable code."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.field = status, message, code, field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body = error_body(self.status, self.message, self.code)
        if self.field is not None:
            body["error"]["field"] = self.field
        return body


def error_body(status: int, message: str, code: str) -> dict[str, Any]:
    """`{"message", "code", "error": {"code", "message"}}`; 401 gets code 16 (see module doc)."""
    return {
        "message": message,
        "code": 16 if status == 401 else status,
        "error": {"code": code, "message": message},
    }


def list_error_body(message: str) -> dict[str, Any]:
    """A 500 from `GET /v2/deployments`: the SDK wants `code` as a string there."""
    return {"message": message, "code": "500"}


def new_ulid() -> str:
    """A ULID (26 Crockford base-32 characters, time-ordered), as the API uses for response ids."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def telemetry() -> dict[str, str]:
    """Fresh OpenTelemetry-shaped ids: a 32-hex trace id and a 16-hex span id."""
    return {"trace_id": os.urandom(16).hex(), "span_id": os.urandom(8).hex()}


def sse(event: Mapping[str, Any]) -> bytes:
    """One data-only server-sent event carrying compact JSON."""
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return f"data: {text}\n\n".encode()


def tool_for_list(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool as `prompt_config.tools[]` of the list endpoint (reference §3.2)."""
    function, schema = tool["function"], tool["function"]["parameters"]
    parameters: dict[str, Any] = {"type": "object", "properties": schema.get("properties", {})}
    for name in ("required", "additionalProperties"):
        if name in schema:
            parameters[name] = schema[name]
    out_function = {"name": function["name"], "parameters": parameters}
    out_function |= {k: function[k] for k in ("description", "strict") if k in function}
    out = {"type": "function", "function": out_function}
    return out | {k: tool[k] for k in ("display_name", "id") if k in tool}


def tool_for_config(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool as `tools[]` of get_config (reference §4.1)."""
    function = tool["function"]
    keep = ("name", "description", "parameters")
    return {"type": "function", "function": {k: function[k] for k in keep if k in function}}


def _prompt_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "tools": [tool_for_list(t) for t in config["tools"]],
        "model": config["model"],
        "model_type": config["model_type"],
        "model_parameters": dict(config["model_parameters"]),
        "provider": config["provider"],
        "messages": [dict(m) for m in config["messages"]],
    }


def deployment_body(deployment: StoredDeployment) -> dict[str, Any]:
    """One `data[]` entry of `GET /v2/deployments` (reference §3.2)."""
    spec = deployment.spec
    return {
        "id": spec.id,
        "created": deployment.created,
        "updated": deployment.updated,
        "key": spec.key,
        "description": spec.description,
        "prompt_config": _prompt_config(spec.prompt_config),
        "version": deployment.version,
    }


def version_id(deployment: StoredDeployment, version: Version) -> str:
    return stable_id(f"{deployment.key}@{version.name}")


def variant_id(deployment: StoredDeployment) -> str:
    """The id of a deployment's one (default) variant, as the versions endpoint reports it."""
    return stable_id(f"{deployment.key}#default-variant")


def version_body(deployment: StoredDeployment, version: Version) -> dict[str, Any]:
    """One `data[]` entry of `GET /v2/deployments/{key_or_id}/versions` (reference §9)."""
    spec, config = version.spec, version.spec.prompt_config
    prompt_config = _prompt_config(config)
    del prompt_config["tools"]
    prompt_config |= {
        "model_db_id": f"{config['provider']}/{config['model']}",
        "version": version.name,
    }
    return {
        "_id": version_id(deployment, version),
        "deployment_id": deployment.id,
        "variant_id": variant_id(deployment),
        "prompt_config": prompt_config,
        "fallbacks": [],
        "tools": [tool_for_list(t) for t in config["tools"]],
        "variables": [{"key": k, "value": v} for k, v in spec.variables.items()],
        "timestamp": version.timestamp,
        "version": version.name,
        "description": spec.description,
        "status": "live" if version is deployment.history[0] else "published",
        "user_id": None,
    }


def now_iso() -> str:
    return utc_iso(time.time())
