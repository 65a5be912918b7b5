"""`Recording`: a file of exchanges with orq.ai that it reads, matches and appends to, and
where a client's recording comes from (`record=`, `ORQ_RECORD`, `ORQ_REPLAY`). Plain data and
a text file: no HTTP here, so the local server's replay (`local/`) and the client's recording
transport (`_recording`) share it. The line format is in `_cassette_format`.

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
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, get_args

from ._cassette_format import (
    FORMAT,
    HEADER,
    KEPT_REQUEST_HEADERS,
    Answer,
    Event,
    Exchange,
    FormatError,
    Wanted,
    compact,
    exchange_from,
    line_of,
)
from ._exceptions import OrqError
from ._matching import MatchRules, Signature, miss_message, signature
from ._redaction import Redactor, secret_in_header

__all__ = [
    "MODES",
    "MODE_ENV",
    "RECORD_ENV",
    "REDACT_ENV",
    "REPLAY_ENV",
    "NOT_RECORDED",
    "Mode",
    "Recording",
    "RecordingFileError",
    "recording_for",
    "shared",
]

Mode = Literal["rewrite", "new_episodes", "none"]
MODES: tuple[Mode, ...] = get_args(Mode)
RECORD_ENV = "ORQ_RECORD"
REPLAY_ENV = "ORQ_REPLAY"
MODE_ENV = "ORQ_RECORD_MODE"
REDACT_ENV = "ORQ_RECORD_REDACT"
# Transient failures the client retries: not answers, so not recorded.
NOT_RECORDED = frozenset({429, 502, 503, 504})


class RecordingFileError(OrqError, ValueError):
    """A recording that cannot be read (a broken line, a missing file in replay)."""


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
                        raise FormatError(
                            f"format {data['orq_notebook_recording']!r} is not {FORMAT}"
                        )
                    continue
                out.append(exchange_from(data, self.rules))
            except (ValueError, RecursionError, FormatError) as exc:
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
        line = self.redactor.text(line_of(exchange), secrets)
        with self._lock:
            if self._fresh:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text("", encoding="utf-8")
                self._fresh = False
            new = not self.path.exists() or self.path.stat().st_size == 0
            with self.path.open("a", encoding="utf-8") as out:
                if new:
                    out.write(compact(HEADER) + "\n")
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
