"""The deployments a local server serves, kept in step with their file.

`refresh()` costs one `stat`: the file is read again only when its mtime, size or inode
changed, so editing the file takes effect on the next request without a restart. An entry
whose content changed gets the next version ("v1", "v2", ...) and a new `updated` time; times
come from the file's mtime unless the entry gives `created`/`updated`. A file that became
invalid makes `refresh()` raise `DeploymentFileError` until it is fixed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ._egress import Egress
from ._loader import load_path, parse_data
from ._reading import DeploymentFileError
from ._spec import DeploymentSpec, OpenAIResponder, utc_iso

__all__ = ["DeploymentStore", "StoredDeployment", "Version", "paginate"]

T = TypeVar("T")


@dataclass(frozen=True)
class Version:
    """One version of a deployment: what the file said at `timestamp`."""

    number: int
    timestamp: str
    spec: DeploymentSpec

    @property
    def name(self) -> str:
        return f"v{self.number}"


@dataclass(frozen=True)
class StoredDeployment:
    """A deployment as served: its current spec, times and version history (newest first)."""

    spec: DeploymentSpec
    created: str
    updated: str
    history: tuple[Version, ...]

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> str:
        return self.history[0].name


class DeploymentStore:
    """Deployments loaded from a YAML/JSON file (`from_file`) or from data (`from_data`).

    >>> store = DeploymentStore.from_file("deployments.yaml")   # raises DeploymentFileError

    `allow_env` and `allow_hosts` are the environment variables and hosts the file may name
    (with `ORQ_LOCAL_ALLOW_ENV` / `ORQ_LOCAL_ALLOW_HOSTS`; see `orq_notebook.local._egress`).
    """

    def __init__(
        self,
        specs: Iterable[DeploymentSpec] = (),
        *,
        path: Path | None = None,
        egress: Egress | None = None,
    ) -> None:
        self._path = path
        self.egress = egress or Egress.resolve()
        self._lock = threading.Lock()
        self._entries: dict[str, StoredDeployment] = {}
        self._signature: tuple[int, int, int] | None = None
        self._error: DeploymentFileError | None = None
        self._failures: dict[str, int] = {}
        self._apply(list(specs), utc_iso(time.time()))

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        allow_env: Iterable[str] | None = None,
        allow_hosts: Iterable[str] | None = None,
    ) -> DeploymentStore:
        """Load `path` (YAML, or JSON when it ends in `.json`); raise `DeploymentFileError`."""
        store = cls(path=Path(path), egress=Egress.resolve(allow_env, allow_hosts))
        store.reload()
        return store

    @classmethod
    def from_data(
        cls,
        data: Any,
        *,
        source: str = "<data>",
        allow_env: Iterable[str] | None = None,
        allow_hosts: Iterable[str] | None = None,
    ) -> DeploymentStore:
        """Validate data shaped like a deployments file (`{"deployments": [...]}`)."""
        egress = Egress.resolve(allow_env, allow_hosts)
        return cls(parse_data(data, source=source, egress=egress), egress=egress)

    @property
    def path(self) -> Path | None:
        return self._path

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        source = str(self._path) if self._path else "data"
        return f"<DeploymentStore {source}: {', '.join(self._entries) or 'empty'}>"

    def refresh(self) -> None:
        """Reload the file if it changed since the last look; raise if it is now invalid."""
        if self._path is None:
            return
        signature = self._stat()
        if signature != self._signature:
            self._load(signature)
        elif self._error is not None:
            raise self._error

    def reload(self) -> None:
        """Read the file again now, changed or not."""
        if self._path is not None:
            self._load(self._stat())

    def deployments(self) -> list[StoredDeployment]:
        """Every deployment, newest first (equal times keep the file's order)."""
        return sorted(self._entries.values(), key=lambda d: d.created, reverse=True)

    @property
    def secrets_summary(self) -> str:
        """One line saying which environment variables the deployments send to which
        servers, e.g. ``The deployments file sends $OPENAI_API_KEY to https://api.openai.com/v1
        (deployment gpt).``; empty when nothing leaves this machine."""
        uses = [
            (d.key, d.spec.responder.base_url, d.spec.responder.api_key_env)
            for d in self.deployments()
            if isinstance(d.spec.responder, OpenAIResponder)
        ]
        return Egress.summary(uses)

    def get(self, key: str) -> StoredDeployment | None:
        return self._entries.get(key)

    def find(self, key_or_id: str) -> StoredDeployment | None:
        """The deployment with this key, or else with this id."""
        found = self._entries.get(key_or_id)
        return found or next((d for d in self._entries.values() if d.id == key_or_id), None)

    def take_failure(self, key: str) -> bool:
        """Whether this request should get the deployment's `faults.status` (counts it)."""
        entry = self._entries.get(key)
        faults = entry.spec.faults if entry else None
        if faults is None or faults.status is None:
            return False
        with self._lock:
            served = self._failures.get(key, 0)
            if faults.times is not None and served >= faults.times:
                return False
            self._failures[key] = served + 1
            return True

    def reset_failures(self, key: str) -> None:
        """Start counting `faults.times` again for this deployment."""
        with self._lock:
            self._failures.pop(key, None)

    def _stat(self) -> tuple[int, int, int] | None:
        assert self._path is not None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self, signature: tuple[int, int, int] | None) -> None:
        assert self._path is not None
        with self._lock:
            self._signature = signature
            try:
                specs = load_path(self._path, egress=self.egress)
            except DeploymentFileError as exc:
                self._error = exc
                raise
            self._error = None
            moment = utc_iso(signature[0] / 1e9) if signature else utc_iso(time.time())
            self._apply(specs, moment)

    def _apply(self, specs: Sequence[DeploymentSpec], moment: str) -> None:
        entries: dict[str, StoredDeployment] = {}
        for spec in specs:
            before = self._entries.get(spec.key)
            if before is not None and before.spec.fingerprint == spec.fingerprint:
                entries[spec.key] = before
                continue
            updated = spec.updated or moment
            if before is None:
                history: tuple[Version, ...] = (Version(1, updated, spec),)
                created = spec.created or moment
            else:
                history = (Version(before.history[0].number + 1, updated, spec), *before.history)
                created = spec.created or before.created
                self._failures.pop(spec.key, None)
            entries[spec.key] = StoredDeployment(spec, created, updated, history)
        self._entries = entries
        self._failures = {k: v for k, v in self._failures.items() if k in entries}


def paginate(
    items: Sequence[T],
    cursor_of: Callable[[T], Iterable[str]],
    *,
    limit: int,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> tuple[list[T], bool]:
    """One page of `items` and whether more lie beyond it, with Stripe-style cursors.

    `starting_after` gives the page after that item; `ending_before` the page before it.
    Raises `LookupError(cursor)` when no item answers to the cursor.
    """
    cursor = starting_after or ending_before
    if cursor is None:
        return list(items[:limit]), len(items) > limit
    index = next((i for i, item in enumerate(items) if cursor in cursor_of(item)), None)
    if index is None:
        raise LookupError(cursor)
    if starting_after is not None:
        rest = items[index + 1 :]
        return list(rest[:limit]), len(rest) > limit
    before = items[:index]
    return list(before[-limit:]), len(before) > limit
