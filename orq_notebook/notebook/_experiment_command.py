"""`%orq experiment`: the common case of `run_experiment`, from one magic line.

```
%orq experiment --from cases --targets support-v1 support-v2 --eval exact_match judge:grader -o run
```

`--eval` takes the text forms of `Evaluator` (`exact_match`, `valid_json`, `contains:TEXT`,
`regex:PATTERN`, `length:MIN..MAX`, `judge:KEY`), or the name of a notebook variable holding
an evaluator or a callable. Variants, named targets and the other options are for the
Python API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._magic_args import ArgumentError, MagicParser, lookup, resolve_value

if TYPE_CHECKING:
    from ._commands import Host

__all__ = ["experiment", "experiment_parser"]


def experiment_parser(p: MagicParser) -> None:
    p.option(
        "--from",
        dest="source",
        required=True,
        metavar="VAR",
        help="the dataset: a list of dicts or a DataFrame (inputs, optional `expected`)",
    )
    p.option("--targets", nargs="+", required=True, metavar="KEY", help="deployment keys")
    p.option(
        "--eval",
        dest="evaluators",
        nargs="+",
        required=True,
        metavar="NAME",
        help="exact_match, valid_json, contains:TEXT, regex:PATTERN, length:MIN..MAX, "
        "judge:KEY, or a notebook variable holding an evaluator or a function",
    )
    p.option("--reference", nargs="+", default=(), metavar="COLUMN",
             help="columns that evaluators read and that are not sent")  # fmt: skip
    p.option("--concurrency", type=int, default=8, metavar="N", help="requests in flight")
    p.option("--no-progress", dest="no_progress", flag=True, help="no progress bars")
    p.option("-o", "--out", metavar="VAR", help="store the ExperimentResult in VAR")


def _evaluator(token: str, ns: dict[str, Any]) -> Any:
    from ..experiments._base import BaseEvaluator
    from ..experiments._catalog import from_text

    try:
        return from_text(token)
    except ValueError as exc:
        named = token.isidentifier() or "." in token
        if not named:
            raise ArgumentError(str(exc)) from None
        try:
            value = lookup(token, ns, option="--eval")
        except ArgumentError:
            raise ArgumentError(str(exc)) from None
        if isinstance(value, BaseEvaluator) or callable(value):
            return value
        raise ArgumentError(
            f"--eval {token}: the variable holds a {type(value).__name__}, not an evaluator "
            "or a function."
        ) from None


def experiment(m: Host, a: Any, cell: str | None, ns: dict[str, Any]) -> Any:
    from ..experiments._run import run_experiment

    rows = resolve_value("--from", a.source, ns, expect=object)
    evaluators = [_evaluator(token, ns) for token in a.evaluators]
    try:
        result = run_experiment(
            rows,
            list(a.targets),
            evaluators,
            concurrency=a.concurrency,
            client=m.session.client,
            reference=list(a.reference),
            progress=not a.no_progress,
        )
    except ValidationError:
        raise  # a bad request field: the magic names it
    except (TypeError, ValueError, ModuleNotFoundError) as exc:  # refused before any request
        raise ArgumentError(f"{exc} (see `%orq experiment --help`).") from None
    if a.out:
        m.set_variable(a.out, result)
    if result.interrupted:
        answered = result.counts()["ok"]
        raise ArgumentError(
            f"Interrupted: {answered} answers and their scores are kept"
            + (f" in {a.out}." if a.out else "; use -o VAR to keep them.")
        )
    return result
