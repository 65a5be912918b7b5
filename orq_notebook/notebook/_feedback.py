"""`%orq feedback good|bad [--comment TEXT]`: rate the last answer, and how answers learn
where their feedback goes.

```
%%orq support-answer
Can I return a jacket?
```
```
%orq feedback good --comment "Right, and short."
```

The rating goes to orq as the built-in `rating` property (`good` / `bad`) on the answer's trace;
the comment as `correction`, orq's one built-in free-text property (orq-api-additions §3.3).
`--undo` takes both back.
"""

from __future__ import annotations

from typing import Any

from ..client._config import Settings
from ..client._sender import FeedbackSender
from ..display._result import Result
from ._magic_args import ArgumentError, MagicParser

__all__ = ["attach_sender", "feedback_command", "feedback_parser"]

COMMENT_PROPERTY = "correction"


def attach_sender(result: Result, settings: Settings) -> Result:
    """Let `result.feedback(...)` reach the connection with `settings` (the answer's own)."""
    result.attach_feedback(FeedbackSender(settings))
    return result


def feedback_parser(p: MagicParser) -> None:
    p.add_argument("rating", nargs="?", choices=("good", "bad"), help="👍 good or 👎 bad")
    p.option(
        "--comment",
        metavar="TEXT",
        help=f"free text, sent as orq's `{COMMENT_PROPERTY}` property (its free-text feedback)",
    )
    p.option("--undo", flag=True, help="take back the rating and comment sent on the last result")


def feedback_command(m: Any, a: Any, cell: str | None, ns: dict[str, Any]) -> Any:
    result: Result | None = m.session.last
    if result is None:
        raise ArgumentError("Nothing has been invoked in this session yet: run `%%orq KEY` first.")
    where = f"{result.deployment} (trace {result.trace_id})"
    if a.undo:
        if a.rating or a.comment is not None:
            raise ArgumentError("--undo takes back what was sent; give it alone.")
        taken = [p for p in ("rating", COMMENT_PROPERTY) if p in result.feedback_given]
        if not taken:
            raise ArgumentError(f"No feedback was sent on the last result, {where}.")
        for prop in taken:
            result.remove_feedback(prop)
        print(f"Feedback taken back on {where}: {', '.join(taken)}.")
        return None
    if a.rating is None and a.comment is None:
        raise ArgumentError("Say good or bad: `%orq feedback good [--comment TEXT]`.")
    if a.comment is not None and not a.comment.strip():
        raise ArgumentError("--comment is empty.")
    sent = []
    if a.rating:
        result.feedback("rating", a.rating)
        sent.append(f"{'👍' if a.rating == 'good' else '👎'} {a.rating}")
    if a.comment is not None:
        result.feedback(COMMENT_PROPERTY, a.comment)
        sent.append("a comment")
    print(f"Feedback sent on {where}: {' and '.join(sent)}.")
    return None
