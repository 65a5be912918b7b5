"""Recordings of exchanges with orq.ai: the file format, and `Recording`, which reads,
matches and appends them. Plain data and a text file: no HTTP here, so the local server's
replay (`local/`) and the client's recording transport (`_recording`) share it.

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

Modes (`Recording(path, mode=...)`, `ORQ_RECORD_MODE`), as pytest-recording names them:

* `rewrite` (default): the file starts over at the first exchange; every request goes to the
  service and is kept.
* `new_episodes`: requests the file answers are answered from it; the others go to the
  service and are appended.
* `none`: everything is answered from the file; a request it cannot answer fails with one
  line naming the deployment and the fields that differ. Nothing is sent.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

from ._exceptions import OrqError
from ._matching import MatchRules, Signature, miss_message, signature
from ._redaction import Redactor, secret_in_header

__all__ = [
    "MODES",
    "MODE_ENV",
    "RECORD_ENV",
    "REDACT_ENV",
    "REPLAY_ENV",
    "Answer",
    "Event",
    "Exchange",
    "Mode",
    "Recording",
    "RecordingFileError",
    "Wanted",
    "decode_body",
    "encode_event",
    "miss_body",
    "recording_for",
]

Mode = Literal["rewrite", "new_episodes", "none"]
MODES: tuple[Mode, ...] = get_args(Mode)
RECORD_ENV = "ORQ_RECORD"
REPLAY_ENV = "ORQ_REPLAY"
MODE_ENV = "ORQ_RECORD_MODE"
REDACT_ENV = "ORQ_RECORD_REDACT"
FORMAT = 1
_HEADER = {
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
# Transient failures the client retries: not answers, so not recorded.
NOT_RECORDED = frozenset({429, 502, 503, 504})


class RecordingFileError(OrqError, ValueError):
    """A recording that cannot be read (a broken line, a missing file in replay)."""


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
        return _compact(self.body).encode()


@dataclass(frozen=True)
class Exchange:
    request: Wanted
    answer: Answer
    recorded: str
    signature: Signature


def _compact(value: Any) -> str:
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
    data = event.text if event.text is not None else _compact(event.data)
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def miss_body(message: str, *, humanloop: bool) -> dict[str, Any]:
    """A miss as the service shapes a 404: orq's `{message, code, error}` or Humanloop's
    FastAPI `{detail}`."""
    if humanloop:
        return {"detail": message}
    return {"message": message, "code": 404, "error": {"code": "not_recorded", "message": message}}


# -- the file ----------------------------------------------------------------------------------


def _headers_out(headers: Mapping[str, str], kept: Iterable[str]) -> dict[str, str]:
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


def _line(exchange: Exchange) -> str:
    request, answer = exchange.request, exchange.answer
    req: dict[str, Any] = {
        "method": request.method,
        "url": request.url,
        "headers": _headers_out(request.headers, KEPT_REQUEST_HEADERS),
    }
    if isinstance(request.body, str):
        req["text"] = request.body
    elif request.body is not None:
        req["json"] = request.body
    resp: dict[str, Any] = {
        "status": answer.status,
        "headers": _headers_out(answer.headers, KEPT_RESPONSE_HEADERS),
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
    return _compact(line)


class _Bad(Exception):
    pass


_KINDS = {dict: "an object", str: "text", int: "a whole number"}


def _need(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise _Bad(f"{name!r} is missing or not {_KINDS[kind]}")
    return value


def _text_headers(data: Mapping[str, Any], name: str) -> dict[str, str]:
    headers = data.get(name, {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise _Bad(f"{name!r} must map header names to text")
    return {str(k).lower(): v for k, v in headers.items()}


def _event_in(data: Any) -> Event:
    if not isinstance(data, dict) or not isinstance(data.get("t"), (int, float)):
        raise _Bad("an event needs a time 't' (seconds)")
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise _Bad("an event's 'text' must be text")
    if text is None and "data" not in data:
        raise _Bad("an event needs 'data' or 'text'")
    name, ident = data.get("event"), data.get("id")
    return Event(
        max(0.0, float(data["t"])),
        data.get("data"),
        text,
        name if isinstance(name, str) else None,
        ident if isinstance(ident, str) else None,
    )


def _exchange_in(data: Any, rules: MatchRules) -> Exchange:
    if not isinstance(data, dict):
        raise _Bad("not a JSON object")
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
        raise _Bad(f"status {status} cannot be replayed (200-599)")
    headers = _headers_out(_text_headers(response, "headers"), KEPT_RESPONSE_HEADERS)
    events = response.get("events")
    if events is not None and not isinstance(events, list):
        raise _Bad("'events' must be a list")
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


# -- the recording -----------------------------------------------------------------------------


class Recording:
    """A file of recorded exchanges, in one of three modes (see the module docstring).

    ```python
    Client(record="answers.jsonl")                                   # record (rewrite)
    Client(record=Recording("answers.jsonl", mode="new_episodes"))   # fill the gaps
    LocalServer(replay="answers.jsonl")                              # answer from it
    ```

    Args:
        path: the recording, a JSON Lines file.
        mode: `rewrite`, `new_episodes` or `none`; default `ORQ_RECORD_MODE`, else `rewrite`.
        ignore: more fields to leave out of matching (`"inputs.today"`).
        match: volatile fields to match after all (`"identity"`, `"metadata"`).
        secrets: values to redact wherever they appear (besides keys and auth headers).
        redact_env: names of environment variables whose values are redacted (besides
            `ORQ_RECORD_REDACT`'s and every `*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`).
        env: where to read the environment (default `os.environ`).

    In `rewrite` mode the file is emptied when the first exchange is recorded (opening a
    recording never loses anything). Recordings are safe to share between threads and
    clients: each exchange is one appended line.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: Mode | None = None,
        ignore: Iterable[str] = (),
        match: Iterable[str] = (),
        secrets: Iterable[str] = (),
        redact_env: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if env is None else env
        chosen = mode or environ.get(MODE_ENV) or "rewrite"
        if chosen not in MODES:
            raise ValueError(
                f"Unknown recording mode {chosen!r}; the modes are {', '.join(MODES)}."
            )
        self.path = Path(path)
        self.mode: Mode = chosen
        self.rules = MatchRules.build(ignore, match)
        names = [n.strip() for n in environ.get(REDACT_ENV, "").split(",") if n.strip()]
        self.redactor = Redactor(secrets, redact_env=[*redact_env, *names], env=env)
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._by_key: dict[str, list[Exchange]] = {}
        self._plays: dict[str, int] = {}
        self._fresh = self.mode == "rewrite"  # emptied at the first exchange, not before
        if self.mode != "rewrite" and (self.path.exists() or self.mode == "none"):
            for exchange in self._read():
                self._index(exchange)

    def __repr__(self) -> str:
        return f"<Recording {str(self.path)!r} mode={self.mode} exchanges={len(self)}>"

    def __len__(self) -> int:
        return len(self._exchanges)

    def __bool__(self) -> bool:  # an empty recording is still a recording
        return True

    @property
    def offline(self) -> bool:
        """Whether nothing is ever sent (mode `none`): no network and no key needed."""
        return self.mode == "none"

    def _read(self) -> list[Exchange]:
        where = str(self.path)
        try:
            # "\n" only: JSON escapes it inside strings, but not U+0085 or U+2028, which
            # `splitlines()` would also split at.
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except FileNotFoundError:
            raise RecordingFileError(
                f"There is no recording at {where}: record one first (`%orq connect --record "
                f"{where}`, or ORQ_RECORD={where})."
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordingFileError(f"The recording {where} cannot be read: {exc}.") from None
        out: list[Exchange] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if isinstance(data, dict) and "orq_notebook_recording" in data:
                    if data["orq_notebook_recording"] != FORMAT:
                        raise _Bad(f"format {data['orq_notebook_recording']!r} is not {FORMAT}")
                    continue
                out.append(_exchange_in(data, self.rules))
            except (ValueError, RecursionError, _Bad) as exc:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise RecordingFileError(
                    f"{where}, line {number}: not a recorded exchange ({why})."
                ) from None
        return out

    def _index(self, exchange: Exchange) -> None:
        self._exchanges.append(exchange)
        self._by_key.setdefault(exchange.signature.key, []).append(exchange)

    # -- matching ---------------------------------------------------------------------------

    def signature_of(self, request: Wanted) -> Signature:
        body = self.redactor.value(request.body) if request.body is not None else None
        return signature(request.method, request.url, body, self.rules)

    def lookup(self, request: Wanted) -> Answer | None:
        """The recorded answer to `request`, or None. Requests recorded several times get
        their answers in order, then the last one again."""
        key = self.signature_of(request).key
        with self._lock:
            found = self._by_key.get(key)
            if not found:
                return None
            plays = self._plays.get(key, 0)
            self._plays[key] = plays + 1
            return found[min(plays, len(found) - 1)].answer

    def miss(self, request: Wanted) -> str:
        """One line: why nothing recorded answers `request` (the deployment, the fields)."""
        with self._lock:
            recorded = [e.signature for e in self._exchanges]
        return miss_message(self.signature_of(request), recorded, self.path.name)

    # -- recording --------------------------------------------------------------------------

    def learn_secrets(self, headers: Mapping[str, str]) -> None:
        """Remember the keys a request carries in its auth headers, to redact them."""
        for name, value in headers.items():
            secret = secret_in_header(name, value)
            if secret is not None:
                self.redactor.learn(secret)

    def add(self, request: Wanted, answer: Answer) -> Exchange | None:
        """Redact and append one exchange; transient failures (429, 502-504) are skipped."""
        if answer.status in NOT_RECORDED:
            return None
        secrets = self.redactor.secrets()
        body = request.body
        if body is not None:
            body = self.redactor.value(body, secrets=secrets)
        kept = Wanted(
            request.method,
            self.redactor.text(request.url, secrets),
            body,
            {k: v for k, v in request.headers.items() if k.lower() in KEPT_REQUEST_HEADERS},
        )
        answer = Answer(
            answer.status,
            {k: self.redactor.text(v, secrets) for k, v in answer.headers.items()},
            answer.elapsed,
            self.redactor.value(answer.body, fields=False, secrets=secrets),
            None if answer.text is None else self.redactor.text(answer.text, secrets),
            None
            if answer.events is None
            else tuple(
                Event(
                    e.t,
                    self.redactor.value(e.data, fields=False, secrets=secrets),
                    None if e.text is None else self.redactor.text(e.text, secrets),
                    e.name,
                    e.id,
                )
                for e in answer.events
            ),
            answer.complete,
        )
        recorded = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        exchange = Exchange(
            kept, answer, recorded, signature(kept.method, kept.url, kept.body, self.rules)
        )
        # A last pass over the line as written: nothing escapes through a JSON escape.
        line = self.redactor.text(_line(exchange), secrets)
        with self._lock:
            if self._fresh:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text("", encoding="utf-8")
                self._fresh = False
            new = not self.path.exists() or self.path.stat().st_size == 0
            with self.path.open("a", encoding="utf-8") as out:
                if new:
                    out.write(_compact(_HEADER) + "\n")
                out.write(line + "\n")
            self._index(exchange)
        return exchange


# -- where a client's recording comes from -------------------------------------------------------

_shared: dict[Path, Recording] = {}
_shared_lock = threading.Lock()


def shared(
    path: str | os.PathLike[str], *, mode: Mode | None = None, env: Mapping[str, str] | None = None
) -> Recording:
    """The process's recording of `path`, opened on first use: clients that name the same
    file (the session's, a batch's twin, one made from `ORQ_RECORD`) write to one recording
    rather than emptying it in turn."""
    resolved = Path(path).resolve()
    with _shared_lock:
        found = _shared.get(resolved)
        if found is None or (mode is not None and found.mode != mode):
            found = _shared[resolved] = Recording(path, mode=mode, env=env)
        return found


def recording_for(
    record: Recording | str | os.PathLike[str] | Literal[False] | None,
    env: Mapping[str, str] | None = None,
) -> Recording | None:
    """The recording a client uses: `record=` itself, or from `ORQ_RECORD` / `ORQ_REPLAY`
    when it is None; `record=False` ignores the environment."""
    if isinstance(record, Recording):
        return record
    if record is False:
        return None
    if record is not None:
        return shared(record, env=env)
    environ = os.environ if env is None else env
    record_to, replay_from = environ.get(RECORD_ENV), environ.get(REPLAY_ENV)
    if record_to and replay_from:
        raise RecordingFileError(
            f"Both {RECORD_ENV} and {REPLAY_ENV} are set: unset one (record, or replay)."
        )
    if replay_from:
        return shared(replay_from, mode="none", env=env)
    if record_to:
        return shared(record_to, env=env)
    return None
