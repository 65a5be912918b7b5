"""Where a session points: a `Connection`, and how each kind is opened.

orq.ai, an orq-compatible URL, a deployments file served by the local server, Humanloop's v4
API (hosted or local), or a recording replayed by the local server. Opening one starts what it
needs (a local server) but changes no session: `Session.switch_to` does that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..client._config import Settings

if TYPE_CHECKING:
    from ..client._cassette import Recording
    from ..local import LocalServer

__all__ = ["ORQ_HOSTS", "Connection", "new_connection", "recording_from_env", "replay_connection"]

ORQ_HOSTS = ("my.orq.ai", "api.orq.ai")
_RETIRED = "//api.humanloop.com"  # Humanloop's hosted API, shut down on 2025-09-08


@dataclass
class Connection:
    """Where the session points. The key is kept out of every repr."""

    kind: str  # "orq", "url", "local", "humanloop", "humanloop-local", "replay", ...
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    key_source: str = "none"
    server: LocalServer | None = field(default=None, repr=False)
    deployments_file: str | None = None
    recording: Recording | None = field(default=None, repr=False)  # what the clients record to

    @property
    def offline(self) -> bool:
        """Whether answers come from a recording alone (no key is needed)."""
        return self.kind.endswith("replay") or (
            self.recording is not None and self.recording.offline
        )

    def describe(self) -> str:
        where = {
            "orq": f"orq.ai at {self.base_url}",
            "url": f"the API at {self.base_url}",
            "local": f"the local server at {self.base_url} serving {self.deployments_file}",
            "humanloop": f"Humanloop's v4 API at {self.base_url}"
            + (
                " (retired on 2025-09-08: use --url or --local)"
                if _RETIRED in self.base_url
                else ""
            ),
            "humanloop-local": f"the local server's Humanloop v4 API at {self.base_url} "
            f"serving {self.deployments_file}",
            "replay": f"the local server at {self.base_url} replaying {self.deployments_file}",
            "humanloop-replay": f"the local server's Humanloop v4 API at {self.base_url} "
            f"replaying {self.deployments_file}",
        }[self.kind]
        key = f"an API key is set (from {self.key_source})" if self.api_key else "no API key is set"
        if self.offline and not self.api_key:
            key = "no API key is needed"
        return f"Connected to {where}; {key}.{_recording_note(self.recording)}"


def new_connection(
    url: str | None,
    local: str | Path | None,
    api_key: str | None,
    key_source: str | None,
    *,
    humanloop: bool,
) -> Connection:
    """A connection to orq.ai, a URL or a local server it starts (Humanloop's, with `humanloop`)."""
    if humanloop:
        return _humanloop_connection(url, local, api_key)
    settings = Settings.resolve(api_key=api_key, base_url=url)
    source = key_source or settings.api_key_source
    if local is not None:
        from ..local import LocalServer

        server = LocalServer(local)
        server.start()
        return Connection(
            "local",
            server.base_url,
            api_key=None,
            server=server,
            deployments_file=str(local),
        )
    kind = "orq" if any(h in settings.base_url for h in ORQ_HOSTS) else "url"
    return Connection(kind, settings.base_url, api_key=settings.api_key, key_source=source)


def _humanloop_connection(
    url: str | None, local: str | Path | None, api_key: str | None
) -> Connection:
    from ._humanloop_backend import humanloop_settings

    if local is None:
        settings = humanloop_settings(api_key, url)
        source = settings.api_key_source
        return Connection("humanloop", settings.base_url, settings.api_key, source)
    from ..local import LocalServer

    server = LocalServer(local).start()
    url = f"{server.base_url}/v4"
    return Connection("humanloop-local", url, server=server, deployments_file=str(local))


def recording_from_env() -> Recording | None:
    """The recording ORQ_RECORD / ORQ_REPLAY ask for, if any (loaded only then)."""
    if not os.environ.keys() & {"ORQ_RECORD", "ORQ_REPLAY"}:
        return None
    from ..client._cassette import recording_for

    return recording_for(None)


def replay_connection(replay: Recording, *, pace: bool, humanloop: bool) -> Connection:
    from ..local import LocalServer

    server = LocalServer(replay=replay, pace=pace).start()
    kind, url = (
        ("humanloop-replay", f"{server.base_url}/v4") if humanloop else ("replay", server.base_url)
    )
    return Connection(kind, url, server=server, deployments_file=str(replay.path))


def _recording_note(recording: Recording | None) -> str:
    """` Recording to FILE (rewrite).`: what `describe` adds for a recording session."""
    if recording is None:
        return ""
    if recording.offline:
        return f" Answers come from {recording.path} ({len(recording)} recorded); nothing is sent."
    what = "what is missing" if recording.mode == "new_episodes" else "every exchange"
    return f" Recording {what} to {recording.path} (mode {recording.mode})."
