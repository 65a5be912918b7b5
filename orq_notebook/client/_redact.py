"""Keeping the API key out of everything a server can echo back.

A careless server may repeat the key: in an error body, a request id header, a stream event,
and not always as it was sent (URL-quoted, base64-encoded with its `Bearer ` prefix, upper
case). `Redactor` replaces every such form; `filter_logs` applies every live client's
redactor to the httpx and httpcore loggers, whose DEBUG output includes response headers.
"""

from __future__ import annotations

import base64
import logging
import re
import weakref
from urllib.parse import quote

__all__ = ["MIN_SECRET", "Redactor", "filter_logs"]

MIN_SECRET = 8  # shorter "keys" (tests' "k") would mangle ordinary words, and are no secret
PLACEHOLDER = "<redacted>"


class Redactor:
    """`redact(text)`: `text` with every known form of the secret replaced by `<redacted>`."""

    def __init__(self, secret: str | None) -> None:
        key = (secret or "").strip()
        self._pattern: re.Pattern[str] | None = None
        if len(key) >= MIN_SECRET:
            forms = {key, quote(key, safe=""), quote(key)}
            for raw in (key, f"Bearer {key}"):
                encoded = base64.b64encode(raw.encode("utf-8", "surrogatepass"))
                forms.add(encoded.decode().rstrip("="))
                forms.add(
                    base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass"))
                    .decode()
                    .rstrip("=")
                )
            ordered = sorted(forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)
            _LIVE.add(self)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(PLACEHOLDER, text)

    def __bool__(self) -> bool:
        return self._pattern is not None


_LIVE: weakref.WeakSet[Redactor] = weakref.WeakSet()

# httpcore logs through one logger per module; a filter applies only to its own logger.
_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "orq_notebook",
)


class _Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redactors = list(_LIVE)
        if not redactors:
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        shown = text
        for redact in redactors:
            shown = redact(shown)
        if shown != text:
            record.msg, record.args = shown, None
        return True


_FILTER = _Filter()


def filter_logs() -> None:
    """Redact live clients' keys in the HTTP loggers' records (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
