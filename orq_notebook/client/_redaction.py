"""What a recording must never hold: keys, auth headers and the secrets a user names.

Pure data, no I/O: `Redactor` rewrites text and JSON values before they are written to a
recording. Four nets, each catching what the others may miss:

* **Auth headers** (`Authorization`, `X-API-KEY`, ...) are never recorded, and their values
  are redacted wherever else they appear (a server that echoes the key).
* **Secret-named fields** in a request body (`provider_api_keys`, `api_key`, `password`, ...)
  have their values replaced, whatever the values are.
* **Named secrets**: the values of environment variables the user names (`redact_env=`,
  `ORQ_RECORD_REDACT=NAME,NAME`, `%orq connect --record FILE --redact NAME`), and values
  given directly (`secrets=`).
* **Secret-looking environment variables**: the values of every variable whose name ends in
  `_API_KEY`, `_TOKEN`, `_SECRET` or `_PASSWORD` (`ORQ_API_KEY`, `OPENAI_API_KEY`, ...).

A value shorter than 8 characters is not searched for in text: it would mangle ordinary words
(a test key like `k`), and is not a secret worth the name. Headers and fields are dropped
whatever their length.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SENSITIVE_HEADERS",
    "Redactor",
    "is_secret_field",
    "secret_in_header",
]

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 8
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"}
)
_SECRET_FIELDS = frozenset(
    {
        "api_key",
        "apikey",
        "api-key",
        "authorization",
        "password",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "client_secret",
        "provider_api_keys",
    }
)
_SECRET_FIELD_SUFFIXES = ("_api_key", "_secret", "_password", "_token")
_SECRET_ENV = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)


def is_secret_field(name: str) -> bool:
    """Whether a JSON field of this name holds a secret (`api_key`, `provider_api_keys`...)."""
    lowered = name.lower()
    return lowered in _SECRET_FIELDS or lowered.endswith(_SECRET_FIELD_SUFFIXES)


def secret_in_header(name: str, value: str) -> str | None:
    """The secret carried by a header (`Bearer KEY` gives `KEY`), or None for other headers."""
    if name.lower() not in SENSITIVE_HEADERS:
        return None
    scheme, _, rest = value.strip().partition(" ")
    return rest.strip() if scheme.lower() in ("bearer", "basic", "token") and rest else value


class Redactor:
    """Replaces secrets in text and JSON values with `<redacted>`.

    Args:
        secrets: values to redact wherever they appear.
        redact_env: names of environment variables whose values are redacted.
        env: where to read them (default `os.environ`, read at each use, so a key set after
            the recording started is still caught).
    """

    def __init__(
        self,
        secrets: Iterable[str] = (),
        *,
        redact_env: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._given = {s for s in secrets if s}
        self._names = tuple(redact_env)
        self._env = env
        self._seen: set[str] = set()  # keys seen in auth headers
        self._lock = threading.Lock()

    def learn(self, secret: str) -> None:
        """Remember a secret seen in a request (an auth header's key)."""
        if secret.strip():
            with self._lock:
                self._seen.add(secret.strip())

    def secrets(self) -> list[str]:
        """Every value searched for, longest first (so a key's prefix never hides it)."""
        env = os.environ if self._env is None else self._env
        found = set(self._given)
        found.update(env.get(name, "") for name in self._names)
        found.update(value for name, value in env.items() if _SECRET_ENV.search(name))
        with self._lock:
            found |= self._seen
        return sorted((s for s in found if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)

    def text(self, text: str, secrets: list[str] | None = None) -> str:
        """`text` with every secret replaced."""
        for secret in self.secrets() if secrets is None else secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def value(self, value: Any, *, fields: bool = True, secrets: list[str] | None = None) -> Any:
        """A JSON value with secrets replaced in every string (and every key), and with the
        values of secret-named fields replaced when `fields` is true."""
        found = self.secrets() if secrets is None else secrets
        return self._walk(value, fields, found)

    def _walk(self, value: Any, fields: bool, secrets: list[str]) -> Any:
        if isinstance(value, str):
            return self.text(value, secrets)
        if isinstance(value, list):
            return [self._walk(item, fields, secrets) for item in value]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = self.text(str(key), secrets)
                if fields and is_secret_field(str(key)) and item not in (None, "", {}, []):
                    out[name] = REDACTED
                else:
                    out[name] = self._walk(item, fields, secrets)
            return out
        return value
