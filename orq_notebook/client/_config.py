"""Client settings resolved from arguments, then the environment, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cassette import Recording

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "Settings",
]

DEFAULT_BASE_URL = "https://my.orq.ai"
# A whole non-streamed answer (and a stream's first chunk) may take this long: the official
# SDK's 600 s, since long generations take minutes.
DEFAULT_TIMEOUT = 600.0
# The longest silence between two chunks of a stream.
DEFAULT_IDLE_TIMEOUT = 300.0
CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2
API_KEY_ENV = "ORQ_API_KEY"
BASE_URL_ENV = "ORQ_BASE_URL"


def mask(secret: str | None) -> str:
    """A fixed placeholder for a secret: never a prefix, suffix or length of it."""
    return "<not set>" if not secret else "<set>"


@dataclass(frozen=True)
class Settings:
    """Where and how a client talks to the API.

    The key is kept out of `repr` so it cannot reach a log line or a notebook output.
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    api_key_source: str = "none"
    environment: str | None = None
    contact_id: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    retry_unsafe: bool = False
    # Set by the client from `record=` (or ORQ_RECORD / ORQ_REPLAY), so a twin made from
    # these settings (a batch's AsyncClient) records to, or replays from, the same file.
    recording: Recording | None = field(default=None, repr=False, compare=False)

    def client_kwargs(self) -> dict[str, Any]:
        """The arguments that make another client with these settings (`AsyncClient(**...)`)."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "environment": self.environment,
            "contact_id": self.contact_id,
            "timeout": self.timeout,
            "idle_timeout": self.idle_timeout,
            "max_retries": self.max_retries,
            "retry_unsafe": self.retry_unsafe,
            # The same recording, or none at all (not ORQ_RECORD read again).
            "record": self.recording if self.recording is not None else False,
        }

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        environment: str | None = None,
        contact_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        idle_timeout: float | None = None,
        retry_unsafe: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Fill what was not given from `env` (default `os.environ`), then from defaults."""
        env = os.environ if env is None else env
        if api_key:
            source = "argument"
        elif env.get(API_KEY_ENV):
            api_key, source = env[API_KEY_ENV], API_KEY_ENV
        else:
            api_key, source = None, "none"
        url = base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        return cls(
            base_url=url.rstrip("/"),
            api_key=api_key,
            api_key_source=source,
            environment=environment,
            contact_id=contact_id,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            idle_timeout=DEFAULT_IDLE_TIMEOUT if idle_timeout is None else idle_timeout,
            retry_unsafe=retry_unsafe,
        )
