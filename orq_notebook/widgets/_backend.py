"""The seam between the widgets and a connection: what a widget asks of its backend.

`notebook/_backends.ClientBackend` implements it over an `AsyncClient`; tests use a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..client._models import Deployment, DeploymentConfig
from ..display._result import Result

__all__ = ["PlaygroundBackend"]


class PlaygroundBackend(Protocol):
    """What the widgets need from a connection; `_backends.ClientBackend` is the real one."""

    async def list_deployments(self) -> list[Deployment]: ...

    async def get_config(
        self,
        key: str,
        *,
        inputs: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> DeploymentConfig: ...

    async def run(
        self,
        key: str,
        *,
        inputs: dict[str, Any],
        message: str | None,
        context: dict[str, Any] | None,
        on_text: Callable[[str], None],
    ) -> Result:
        """Stream an answer: `on_text(piece)` per piece, then the final Result.

        Cancelling the task stops the stream and closes the connection.
        """
        ...
