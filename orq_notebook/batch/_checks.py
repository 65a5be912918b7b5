"""What a batch checks once, before its first row: errors that would hold for every row.

An unknown deployment, a missing or refused key, or a server that cannot be reached would fail
every row the same way; the batch fails up front instead, with the one line `%orq invoke`
shows for it ("Did you mean" included). The check is one `get_config` with the first row's
inputs and context: it costs no model call, and an error it raises that could be about that
row alone (a 422, a 5xx) is left to the rows themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..client._client import AsyncClient, Client
from ..client._config import Settings
from ..client._exceptions import (
    APIConnectionError,
    AuthenticationError,
    MissingAPIKeyError,
    NotFoundError,
    OrqError,
    PermissionDeniedError,
)
from ..display._errors import did_you_mean, explain

__all__ = ["acheck_up_front", "check_up_front", "holds_for_every_row"]

_EVERY_ROW = (
    MissingAPIKeyError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    APIConnectionError,
)


def holds_for_every_row(exc: BaseException) -> bool:
    """Whether `exc`, raised for one row, would be raised for every row of the batch."""
    return isinstance(exc, _EVERY_ROW)


def _explained(exc: OrqError, key: str, keys: Callable[[], Iterable[str]]) -> OrqError:
    """`exc` with the message `%orq invoke` would show (a 404 gets "Did you mean")."""
    if isinstance(exc, NotFoundError):
        exc.wanted_key = key  # type: ignore[attr-defined]
        try:
            exc.suggestions = did_you_mean(key, keys())  # type: ignore[attr-defined]
        except OrqError:
            exc.suggestions = None  # type: ignore[attr-defined]
        exc.message = explain(exc, surface="script")
        exc.args = (exc.message,)
    return exc


def check_up_front(
    key: str, fields: dict[str, Any] | None, client: Client | None, settings: Settings | None
) -> None:
    """The check, with `client` (or a client made from `settings`, else the environment).

    `fields` is None when there are no rows (nothing to check)."""
    if fields is None:
        return
    owned = client is None
    if client is None:
        client = _sync_client(settings)
    try:
        client.deployments.get_config(key, **fields)
    except OrqError as exc:
        if holds_for_every_row(exc):
            sync_client = client
            keys = lambda: [d.key for d in sync_client.deployments.iter()]  # noqa: E731
            raise _explained(exc, key, keys) from None
    finally:
        if owned:
            client.close()


async def acheck_up_front(key: str, fields: dict[str, Any] | None, client: AsyncClient) -> None:
    """`check_up_front` through an `AsyncClient`, on the running loop."""
    if fields is None:
        return
    try:
        await client.deployments.get_config(key, **fields)
    except OrqError as exc:
        if not holds_for_every_row(exc):
            return
        keys: list[str] = []
        if isinstance(exc, NotFoundError):
            try:
                keys = [d.key async for d in client.deployments.iter()]
            except OrqError:
                keys = []
        raise _explained(exc, key, lambda: keys) from None


def _sync_client(settings: Settings | None) -> Client:
    if settings is None:
        return Client()
    return Client(
        api_key=settings.api_key,
        base_url=settings.base_url,
        environment=settings.environment,
        contact_id=settings.contact_id,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )
