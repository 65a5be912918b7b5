"""The public widget classes: the display-side widgets joined to the session's connection.

`_widgets` knows only a small backend protocol; this module turns what a user passes as
`client=` (nothing, a `Client`, an `AsyncClient` or a backend) into that backend.
"""

from __future__ import annotations

from typing import Any

from ..client._client import AsyncClient, Client
from ..widgets._compare import CompareWidget
from ..widgets._playground import PlaygroundWidget
from ._backends import ClientBackend, async_twin
from ._session import current_session

__all__ = ["Compare", "Playground", "backend_for"]


def backend_for(client: Any) -> Any:
    """Turn what a user passes as `client=` into a widget backend."""
    if client is None:
        return current_session().backend()
    if isinstance(client, AsyncClient):
        return ClientBackend(client)
    if isinstance(client, Client):
        settings = client.settings
        return ClientBackend(lambda: async_twin(settings))
    return client  # already a backend


class Playground(PlaygroundWidget):
    """Try a deployment: pick it, fill its variables, Run/Stop, watch the answer stream.

    Usage: `Playground()` in a cell, or `%orq playground KEY`.

    Args:
        key: the deployment selected at start (default: the first one listed).
        client: a `Client`, an `AsyncClient`, a backend, or None for the notebook's connection.
        strict_variables: refuse to run with a variable that has no value and no default
            (by default Run warns, as `%%orq` does, and orq.ai sends it as empty text).
    """

    def __init__(
        self, key: str | None = None, client: Any = None, *, strict_variables: bool = False
    ) -> None:
        super().__init__(backend_for(client), key=key, strict_variables=strict_variables)


class Compare(CompareWidget):
    """The same inputs sent to several deployments, or one deployment under several contexts.

    Usage: `Compare(["summarize", "summarize-v2"], inputs={"text": doc})`.

    Args:
        keys: deployment keys, one column each (a single key with several `contexts` compares
            the deployment's variants).
        client: a `Client`, an `AsyncClient`, a backend, or None for the notebook's connection.
        contexts: one routing context per column.
        inputs: variable values sent to every column.
        message: a user message sent to every column.
        strict_variables: refuse to run with a variable that has no value and no default.
    """

    def __init__(
        self,
        keys: list[str] | str,
        client: Any = None,
        *,
        contexts: list[dict[str, Any]] | None = None,
        inputs: dict[str, Any] | None = None,
        message: str | None = None,
        strict_variables: bool = False,
    ) -> None:
        super().__init__(
            backend_for(client),
            [keys] if isinstance(keys, str) else list(keys),
            contexts=contexts,
            inputs=inputs,
            message=message,
            strict_variables=strict_variables,
        )
