"""`%orq connect --record FILE` and `--replay FILE`: the options, and opening the files.

Kept apart from `_commands` so the connect command stays one small function; the session
(`_session`) does the connecting.
"""

from __future__ import annotations

import difflib
import os
from typing import TYPE_CHECKING, Any

from ._magic_args import ArgumentError, MagicParser

if TYPE_CHECKING:
    from ..client._cassette import Mode, Recording

__all__ = ["add_record_options", "open_recordings"]


def add_record_options(p: MagicParser) -> None:
    """The recording options of `%orq connect`."""
    p.option(
        "--record",
        metavar="FILE",
        help="record every exchange to FILE (JSON Lines, keys redacted); with "
        "ORQ_RECORD_MODE=none the same line replays FILE instead",
    )
    p.option(
        "--new-episodes",
        dest="new_episodes",
        flag=True,
        help="with --record: answer what FILE holds, record only what is missing",
    )
    p.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="ENV_VAR",
        help="with --record: also redact the value of this environment variable (repeatable)",
    )
    p.option("--pace", flag=True, help="with --replay: answer at the recorded pace")


def open_recordings(a: Any) -> tuple[Recording | None, Recording | None]:
    """`(the recording to record to, the recording to replay)`, read and checked, or a
    one-line `ArgumentError`."""
    if a.record and a.replay:
        raise ArgumentError(
            "--record and --replay do not go together: record once, then replay the file."
        )
    if (a.new_episodes or a.redact) and not a.record:
        raise ArgumentError("--new-episodes and --redact go with --record FILE.")
    if a.pace and not a.replay:
        raise ArgumentError("--pace goes with --replay FILE.")
    if not (a.record or a.replay):
        return None, None
    from ..client._cassette import Recording

    try:
        record = None
        if a.record:
            mode: Mode | None = "new_episodes" if a.new_episodes else None
            record = Recording(a.record, mode=mode, redact_env=a.redact)
            if not record.offline:
                _check_names(a.redact)
        replay = Recording(a.replay, mode="none") if a.replay else None
    except ValueError as exc:  # RecordingFileError, an unknown ORQ_RECORD_MODE
        raise ArgumentError(" ".join(str(exc).split())) from None
    return record, replay


def _check_names(names: list[str]) -> None:
    for name in names:
        if not os.environ.get(name):
            close = difflib.get_close_matches(name, list(os.environ), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ArgumentError(
                f"--redact {name}: no environment variable {name} is set, so there is nothing "
                f"to redact.{hint}"
            )
