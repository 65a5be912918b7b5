"""The JSON bodies the local server sends, built field by field from the API reference.

Error bodies are orq.ai's documented shape (`{"error": {"code", "message", "doc_url"}}`, with
`details` when there are any) plus a top-level `message`, and no top-level `code`::

    {"message": "Deployment with key 'x' was not found. ...",
     "error": {"code": "deployment_not_found", "message": "...",
               "doc_url": "https://docs.orq.ai/errors/deployment_not_found"}}

The top-level `message` is what the official SDK needs to map a 401 to `ErrorResponse` and a
500 of the list endpoint to `HonoAPIError`; leaving out a top-level `code` lets one envelope
parse as both (reference: orq-api-additions §1.4).
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
    "invalid_body",
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
DOCS = "https://docs.orq.ai/errors"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class RequestError(Exception):
    """An error answer: HTTP status, a readable message, orq's machine-readable code, and
    the field at fault (sent as `error.details.field`)."""

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
        details = None if self.field is None else {"field": self.field}
        return error_body(self.message, self.code, details)


def invalid_body(message: str, *, field: str | None = None) -> RequestError:
    """orq's answer to a request it cannot accept as given: 400 `invalid_request_body`."""
    return RequestError(400, message, "invalid_request_body", field=field)


def error_body(message: str, code: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The error envelope (see the module docstring)."""
    error: dict[str, Any] = {"code": code, "message": message, "doc_url": f"{DOCS}/{code}"}
    if details:
        error["details"] = dict(details)
    return {"message": message, "error": error}


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
