"""What an orq error code (or, without one, an HTTP status) usually means, in one sentence.

The codes are those of orq's errors reference (docs.orq.ai/reference/errors). The sentences
name no notebook syntax: the client, the magics and the widgets all show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["hint_for", "no_content"]

_QUOTA = (
    "The workspace is out of quota: its plan or billing needs attention in orq.ai "
    "(the API key itself is fine)."
)
_PROVIDER_ERROR = (
    "The model provider failed while answering; try again, or give the deployment a fallback model."
)
_PROVIDER_OVERLOADED = (
    "The model provider is overloaded; try again in a moment, or give the deployment a "
    "fallback model."
)
_PROVIDER_TIMEOUT = (
    "The model provider did not answer in time; try again, or ask for a shorter answer."
)
_RATE = "Too many requests: wait a moment and retry, or send fewer at a time."

_BY_CODE: dict[str, str] = {
    "authentication_required": (
        "No valid `Authorization: Bearer` header reached the server: set ORQ_API_KEY or pass "
        "api_key=."
    ),
    "invalid_api_key": (
        "orq.ai does not know this API key: copy it again from the workspace's API keys page."
    ),
    "expired_api_key": "The API key has expired{expired_at}: create a new one in orq.ai.",
    "insufficient_scope": "The API key lacks the permission this operation needs{scope}.",
    "wrong_project": "The API key belongs to another project than this resource.",
    "workspace_disabled": "The workspace is disabled{reason}.",
    "quota_exceeded": _QUOTA,
    "invalid_request_body": "The server refused the request body; the message names the field.",
    "unsupported_engine": "The deployment's template engine is not supported by this endpoint.",
    "variant_not_resolved": (
        "No variant of the deployment matches the context sent (e.g. context.environments): "
        "check the deployment's routing rules."
    ),
    "model_configuration_missing": "The deployment has no model configured for this variant.",
    "provider_credential_invalid": (
        "The model provider refused the workspace's provider key (set in orq.ai's "
        "integrations), not your orq.ai API key."
    ),
    "deployment_not_found": (
        "No deployment has this key in the API key's workspace (keys are case-sensitive)."
    ),
    "integration_not_found": "The deployment's provider integration no longer exists in orq.ai.",
    "prompt_snippet_not_found": "A prompt snippet the deployment uses no longer exists.",
    "rate_limit_exceeded": _RATE,
    "provider_error": _PROVIDER_ERROR,
    "provider_timeout": _PROVIDER_TIMEOUT,
    "provider_overloaded": _PROVIDER_OVERLOADED,
    "internal_error": "orq.ai failed on its side; try again, and quote the request id if it lasts.",
    "not_implemented": "The server does not implement this operation.",
    "service_unavailable": "The service is unavailable for the moment; try again shortly.",
    "request_timeout": "The server gave up waiting for the request; try again.",
}

_BY_STATUS: dict[int, str] = {
    402: _QUOTA,
    429: _RATE,
    502: _PROVIDER_ERROR,
    503: _PROVIDER_OVERLOADED,
    504: _PROVIDER_TIMEOUT,
}


def hint_for(code: str | None, status: int, details: Any = None) -> str | None:
    """The sentence for orq error `code`, else for HTTP `status`; None when neither says more."""
    text = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if text is None:
        return None
    found = details if isinstance(details, Mapping) else {}
    return text.format(
        expired_at=_detail(found, "expired_at", " (on {})"),
        scope=_detail(found, "scope", " (the key's scope: {})"),
        reason=_detail(found, "reason", " ({})"),
    )


def _detail(details: Mapping[str, Any], name: str, form: str) -> str:
    # Server text: one short line, whatever came.
    value = " ".join(str(details.get(name) or "").split())
    return form.format(value[:80]) if value else ""


def no_content(key: str, what: str = "answer") -> str:
    """The line for a `204 No Content` (a success without a body, which the SDK returns as
    None): `no_content("summarize")`."""
    return f"The server answered 204 No Content for {key!r}: it sent no {what} to show."
