"""What a batch checks once, before its first row: errors that would hold for every row.

An unknown deployment, a missing or refused key, or a server that cannot be reached would fail
every row the same way; the batch fails up front instead, with the one line `%orq invoke`
shows for it ("Did you mean" included). The check lists the deployments (for the prompt
template and the suggestions) and asks `get_config` once (with the first row's context): no
model is called, and an error that could be about one row alone (a 422, a 5xx) is left to the
rows themselves.

The same look gives the deployment's variables, so every row's inputs are checked as
`%%orq` checks them: a name close to a real variable is an error (before anything is sent),
open variables are one warning line saying in how many rows, and `strict_variables` makes
them errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
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
from ..client._models import Deployment
from ..client._variables import (
    Variables,
    VariablesError,
    afetch_variables,
    fetch_variables,
    open_warning,
)
from ..display._errors import did_you_mean, explain

__all__ = ["acheck_up_front", "check_rows", "check_up_front", "holds_for_every_row"]

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
    key: str,
    rows: Sequence[dict[str, Any]],
    context: dict[str, Any] | None,
    client: Client | None,
    settings: Settings | None,
    *,
    strict_variables: bool = False,
) -> None:
    """The check, with `client` (or a client made from `settings`, else the environment).

    `rows` are the inputs each row will send (shared ones merged in); no rows, no check."""
    if not rows:
        return
    owned = client is None
    if client is None:
        client = _sync_client(settings)
    try:
        listed: list[Deployment] = []
        try:
            listed = list(client.deployments.iter())
            variables = fetch_variables(
                client.deployments, key, context=context, templates=_template(listed, key)
            )
        except OrqError as exc:
            if holds_for_every_row(exc):
                raise _explained(exc, key, lambda: [d.key for d in listed]) from None
            return
    finally:
        if owned:
            client.close()
    check_rows(variables, rows, strict=strict_variables)


async def acheck_up_front(
    key: str,
    rows: Sequence[dict[str, Any]],
    context: dict[str, Any] | None,
    client: AsyncClient,
    *,
    strict_variables: bool = False,
) -> None:
    """`check_up_front` through an `AsyncClient`, on the running loop."""
    if not rows:
        return
    listed: list[Deployment] = []
    try:
        listed = [d async for d in client.deployments.iter()]
        variables = await afetch_variables(
            client.deployments.get_config, key, context=context, templates=_template(listed, key)
        )
    except OrqError as exc:
        if holds_for_every_row(exc):
            raise _explained(exc, key, lambda: [d.key for d in listed]) from None
        return
    check_rows(variables, rows, strict=strict_variables)


def _template(listed: Sequence[Deployment], key: str) -> Any:
    found = next((d for d in listed if key in (d.key, d.id)), None)
    return found.prompt_config.messages if found is not None else None


def check_rows(
    variables: Variables, rows: Sequence[dict[str, Any]], *, strict: bool = False
) -> None:
    """Every row's inputs against the variables: typos (and, strict, open ones) raise
    `VariablesError` before anything is sent; the rest is one warning line each."""
    open_in: dict[str, int] = {}
    unknown: dict[str, None] = {}
    errors: dict[str, None] = {}
    for inputs in rows:
        check = variables.check(inputs, strict=strict)
        errors.update(dict.fromkeys(check.errors()))
        for name in check.open:
            open_in[name] = open_in.get(name, 0) + 1
        unknown.update(dict.fromkeys(check.unknown))
    if errors:
        raise VariablesError(" ".join(errors))
    if open_in:
        counts = set(open_in.values())
        where = (
            ""
            if counts == {len(rows)}
            else f" in {max(counts)} of {len(rows)} rows"
            if len(counts) == 1
            else " in some rows"
        )
        print(open_warning(list(open_in), rows=where), file=sys.stderr)
    if unknown:
        line = variables.check(dict.fromkeys(unknown)).warnings(include_open=False)
        for text in line:
            print(text, file=sys.stderr)


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
