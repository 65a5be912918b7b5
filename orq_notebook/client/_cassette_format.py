"""The recording file, line by line: requests, answers and stream events as plain data.

No I/O and no HTTP: the client's recording transport (`_recording`), `Recording` (`_cassette`)
and the local server's replay (`local/_replay`) all speak it.

The file is JSON Lines, one exchange per line, so a new exchange is one appended line and a
changed answer one changed line in a diff. The first line names the format::

    {"orq_notebook_recording": 1, "note": "..."}
    {"operation": "invoke", "deployment": "support-answer", "recorded": "2025-06-18T16:40:03Z",
     "request": {"method": "POST", "url": "https://my.orq.ai/v2/deployments/invoke",
                 "headers": {...}, "json": {...}},
     "response": {"status": 200, "headers": {"content-type": "application/json"},
                  "elapsed": 0.412, "json": {...}}}

(each exchange on one line in the file). A body is `json` (parsed) or `text`; a stream's
response has `events` instead: `{"t": seconds after the answer began, "data": JSON or "text":
"[DONE]"}`, and `"complete": false` when it was cut short. Only a few plain headers are kept
(content type, retry hints, request ids); never an auth header. See `_redaction` for what is
redacted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._matching import MatchRules, Signature, signature

__all__ = [
    "FORMAT",
    "HEADER",
    "KEPT_REQUEST_HEADERS",
    "KEPT_RESPONSE_HEADERS",
    "Answer",
    "Event",
    "Exchange",
    "FormatError",
    "Wanted",
    "compact",
    "decode_body",
    "encode_event",
    "exchange_from",
    "kept_headers",
    "line_of",
    "miss_body",
]

FORMAT = 1
HEADER = {
    "orq_notebook_recording": FORMAT,
    "note": "Exchanges recorded by orq-notebook, one per line. API keys, auth headers and "
    "named secrets are redacted.",
}
# Headers worth keeping: what the client reads. Never an auth header, a cookie or a redirect.
KEPT_REQUEST_HEADERS = ("accept", "content-type")
KEPT_RESPONSE_HEADERS = (
    "content-type",
    "retry-after",
    "retry-after-ms",
    "x-request-id",
    "x-trace-id",
)


@dataclass(frozen=True)
class Wanted:
    """A request as the recording sees it: method, URL and body (parsed JSON, or text)."""

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, method: str, url: str, content: bytes, headers: Mapping[str, str]) -> Wanted:
        return cls(method.upper(), url, decode_body(content), dict(headers))


@dataclass(frozen=True)
class Event:
    """One server-sent event: when it came (seconds after the answer began) and its data."""

    t: float
    data: Any = None  # parsed JSON, or None when `text` holds it
    text: str | None = None
    name: str | None = None  # the `event:` field
    id: str | None = None


@dataclass(frozen=True)
class Answer:
    """A recorded response: status, kept headers, time to answer, and a body or events."""

    status: int
    headers: dict[str, str]
    elapsed: float = 0.0
    body: Any = None
    text: str | None = None
    events: tuple[Event, ...] | None = None
    complete: bool = True

    def content(self) -> bytes:
        """The body as sent (JSON compact, as orq sends it); empty for a stream."""
        if self.text is not None:
            return self.text.encode()
        if self.body is None:
            return b""
        return compact(self.body).encode()


@dataclass(frozen=True)
class Exchange:
    request: Wanted
    answer: Answer
    recorded: str
    signature: Signature


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode_body(content: bytes | str) -> Any:
    """A JSON object or array, parsed; any other body as its text (None when empty).

    Only objects and arrays are parsed, so a `str` always means text sent as it is.
    """
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return value if isinstance(value, (dict, list)) else text


def encode_event(event: Event) -> bytes:
    """An event as it goes on the wire: `data: ...` lines and a blank line."""
    lines = []
    if event.name is not None:
        lines.append(f"event: {event.name}")
    if event.id is not None:
        lines.append(f"id: {event.id}")
    data = event.text if event.text is not None else compact(event.data)
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def miss_body(message: str, *, humanloop: bool) -> dict[str, Any]:
    """A miss as the service shapes a 404: orq's `{message, error: {code, message}}` or Humanloop's
    FastAPI `{detail}`."""
    if humanloop:
        return {"detail": message}
    return {"message": message, "error": {"code": "not_recorded", "message": message}}


# -- lines ---------------------------------------------------------------------------------------


def kept_headers(headers: Mapping[str, str], kept: Iterable[str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name] for name in kept if name in lowered}


def _event_out(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"t": round(event.t, 4)}
    if event.name is not None:
        out["event"] = event.name
    if event.id is not None:
        out["id"] = event.id
    if event.text is not None:
        out["text"] = event.text
    else:
        out["data"] = event.data
    return out


def line_of(exchange: Exchange) -> str:
    request, answer = exchange.request, exchange.answer
    req: dict[str, Any] = {
        "method": request.method,
        "url": request.url,
        "headers": kept_headers(request.headers, KEPT_REQUEST_HEADERS),
    }
    if isinstance(request.body, str):
        req["text"] = request.body
    elif request.body is not None:
        req["json"] = request.body
    resp: dict[str, Any] = {
        "status": answer.status,
        "headers": kept_headers(answer.headers, KEPT_RESPONSE_HEADERS),
        "elapsed": round(answer.elapsed, 4),
    }
    if answer.events is not None:
        resp["events"] = [_event_out(e) for e in answer.events]
        if not answer.complete:
            resp["complete"] = False
    elif answer.text is not None:
        resp["text"] = answer.text
    elif answer.body is not None:
        resp["json"] = answer.body
    sig = exchange.signature
    line: dict[str, Any] = {"operation": sig.operation, "deployment": sig.deployment}
    line |= {"recorded": exchange.recorded, "request": req, "response": resp}
    return compact(line)


class FormatError(Exception):
    """A line that is not a recorded exchange; the message says why."""


_KINDS = {dict: "an object", str: "text", int: "a whole number"}


def _need(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise FormatError(f"{name!r} is missing or not {_KINDS[kind]}")
    return value


def _text_headers(data: Mapping[str, Any], name: str) -> dict[str, str]:
    headers = data.get(name, {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise FormatError(f"{name!r} must map header names to text")
    return {str(k).lower(): v for k, v in headers.items()}


def _event_in(data: Any) -> Event:
    if not isinstance(data, dict) or not isinstance(data.get("t"), (int, float)):
        raise FormatError("an event needs a time 't' (seconds)")
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise FormatError("an event's 'text' must be text")
    if text is None and "data" not in data:
        raise FormatError("an event needs 'data' or 'text'")
    name, ident = data.get("event"), data.get("id")
    return Event(
        max(0.0, float(data["t"])),
        data.get("data"),
        text,
        name if isinstance(name, str) else None,
        ident if isinstance(ident, str) else None,
    )


def exchange_from(data: Any, rules: MatchRules) -> Exchange:
    if not isinstance(data, dict):
        raise FormatError("not a JSON object")
    request, response = _need(data, "request", dict), _need(data, "response", dict)
    body = request.get("json", request.get("text"))
    wanted = Wanted(
        _need(request, "method", str).upper(),
        _need(request, "url", str),
        body,
        _text_headers(request, "headers"),
    )
    status = _need(response, "status", int)
    if not 200 <= status <= 599:
        raise FormatError(f"status {status} cannot be replayed (200-599)")
    headers = kept_headers(_text_headers(response, "headers"), KEPT_RESPONSE_HEADERS)
    events = response.get("events")
    if events is not None and not isinstance(events, list):
        raise FormatError("'events' must be a list")
    text = response.get("text")
    answer = Answer(
        status,
        headers,
        max(0.0, float(response.get("elapsed", 0) or 0)),
        body=response.get("json"),
        text=text if isinstance(text, str) else None,
        events=None if events is None else tuple(_event_in(e) for e in events),
        complete=response.get("complete", True) is not False,
    )
    recorded = data.get("recorded")
    sig = signature(wanted.method, wanted.url, wanted.body, rules)
    return Exchange(wanted, answer, recorded if isinstance(recorded, str) else "", sig)
