"""The `%orq` subcommands about one deployment's upkeep: its saved versions and its cache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..client._exceptions import NotFoundError
from ..display._render import Table

if TYPE_CHECKING:
    from ._commands import Host, Namespace
    from ._magic_args import MagicParser

__all__ = ["invalidate", "p_invalidate", "p_versions", "versions"]


def _positive(text: str) -> int:
    import argparse

    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def p_invalidate(p: MagicParser) -> None:
    p.add_argument("key", help="the deployment's key or id")
    p.epilog = (
        "Works on servers that have DELETE /v2/deployments/invalidate/{id}, such as the local "
        "server (`%orq connect --local`). orq.ai's API has no such endpoint today: invalidate "
        "a deployment's cache in orq.ai's web app."
    )


def p_versions(p: MagicParser) -> None:
    p.add_argument("key", help="the deployment's key or id")
    p.option("--variant", metavar="ID", help="only the versions of this variant")
    p.option("-n", type=_positive, default=10, metavar="N", help="the newest N versions")


def invalidate(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    target = a.key
    match = next((d for d in m.session.deployments(refresh=True) if target in (d.key, d.id)), None)
    if match is None:
        err = NotFoundError(f"No deployment with key or id {target!r}.", status_code=404)
        err.wanted_key = target  # type: ignore[attr-defined]
        raise err
    m.session.client.deployments.invalidate(match.id)
    print(f"Cache of {match.key!r} ({match.id}) invalidated.")


def versions(m: Host, a: Any, cell: str | None, ns: Namespace) -> Any:
    deployments = m.session.client.deployments
    try:
        page = deployments.list_versions(a.key, limit=min(a.n, 50), variant_id=a.variant)
    except NotFoundError as exc:
        exc.wanted_key = a.key  # type: ignore[attr-defined]
        raise
    rows = [
        {
            "version": v.version,
            "status": v.status,
            "saved": v.timestamp[:19].replace("T", " "),
            "model": v.prompt_config.model,
            "description": v.description,
            "variant": v.variant_id,
        }
        for v in page.data[: a.n]
    ]
    more = " (more exist)" if page.has_more or len(page.data) > a.n else ""
    return Table(rows, title=f"{len(rows)} versions of {a.key}{more}")
