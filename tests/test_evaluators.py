"""The evaluators of experiments, one by one, on answers with a known verdict.

No server here: each evaluator is called on a `Case` as the experiment would call it. The
judge's parsing is tested on replies of every shape it reads; `test_experiments.py` runs
judges through a deployment.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from orq_notebook import Evaluator
from orq_notebook.experiments._base import Case, Score, score_of
from orq_notebook.experiments._catalog import from_text, resolve_evaluators
from orq_notebook.experiments._judge import parse_verdict


def case(output: str, expected: Any = None, **more: Any) -> Case:
    return Case(output, expected, **more)


def test_exact_match() -> None:
    e = Evaluator.exact_match()
    assert e(case(" Paris\n", "Paris")) == Score(True)
    assert e(case("paris", "Paris")).value is False
    assert Evaluator.exact_match(ignore_case=True)(case("paris", "Paris")).value is True
    assert Evaluator.exact_match(strip=False)(case(" Paris", "Paris")).value is False
    missing = e(case("Paris"))
    assert missing.value is None and "no 'expected' value" in (missing.error or "")
    other = Evaluator.exact_match("city")(case("Paris", reference={"city": "Paris"}))
    assert other.value is True


def test_contains() -> None:
    assert Evaluator.contains("30 days")(case("within 30 days.")).value is True
    no = Evaluator.contains(["30 days", "refund"])(case("within 30 days."))
    assert no.value is False and no.reason == "missing 'refund'"
    assert Evaluator.contains(["x", "days"], require="any")(case("30 days")).value is True
    assert Evaluator.contains("DAYS", ignore_case=True)(case("30 days")).value is True
    by_column = Evaluator.contains(column="must")
    assert by_column(case("a b", reference={"must": ["a", "b"]})).value is True
    assert by_column(case("a", inputs={"must": "b"})).value is False
    with pytest.raises(TypeError):
        Evaluator.contains()
    with pytest.raises(TypeError):
        Evaluator.contains("")


def test_regex() -> None:
    assert Evaluator.regex(r"\d+ days")(case("in 30 days")).value is True
    assert Evaluator.regex(r"\d+", fullmatch=True)(case("30 days")).value is False
    with pytest.raises(ValueError, match="not a valid pattern"):
        Evaluator.regex("(")


def test_valid_json() -> None:
    e = Evaluator.valid_json()
    assert e(case(' {"a": 1} ')).value is True
    bad = e(case("{'a': 1}"))
    assert bad.value is False and (bad.reason or "").startswith("not JSON")


def test_json_schema() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string"}},
              "required": ["email"]}  # fmt: skip
    e = Evaluator.json_schema(schema)
    assert e(case('{"email": "a@b.c"}')).value is True
    wrong = e(case('{"email": 3}'))
    assert wrong.value is False and (wrong.reason or "").startswith("email:")
    assert e(case("{}")).reason == "the value: 'email' is a required property"
    assert e(case("nope")).value is False
    with pytest.raises(ValueError, match="schema is not valid"):
        Evaluator.json_schema({"type": "nonsense"})


def test_json_schema_without_jsonschema_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # `import jsonschema` now fails
    with pytest.raises(ModuleNotFoundError, match=r"orq-notebook\[schema\]"):
        Evaluator.json_schema({"type": "object"})


def test_length() -> None:
    assert Evaluator.length(max=5)(case("12345")).value is True
    long = Evaluator.length(max=5)(case("123456"))
    assert long.value is False and long.reason == "6 characters, more than 5"
    assert Evaluator.length(2, unit="words")(case("one")).reason == "1 words, fewer than 2"
    assert Evaluator.length(1, 3, unit="words")(case("a b c")).value is True
    with pytest.raises(TypeError):
        Evaluator.length()
    with pytest.raises(ValueError):
        Evaluator.length(5, 1)


def test_callables_by_parameter_names_or_position() -> None:
    def refund(output: str) -> bool:
        return "refund" in output

    assert Evaluator.check(refund)(case("a refund")) == Score(True)
    assert Evaluator.check(refund).name == "refund"
    by_name = Evaluator.check(lambda expected, output: (output == expected, "compared"))
    assert by_name(case("x", "x")) == Score(True, "compared")
    two = Evaluator.check(lambda a, b: len(a) - len(b))
    assert two(case("abc", "a")) == Score(2.0)
    label = Evaluator.check(lambda case: {"label": "polite", "reason": case.target})
    assert label(case("hi", target="v2")) == Score("polite", "v2")


def test_an_evaluator_that_raises_or_returns_nonsense_records_an_error() -> None:
    def broken(output: str) -> bool:
        raise RuntimeError("boom")

    assert Evaluator.check(broken)(case("x")).error == "RuntimeError: boom"
    assert "expected a bool" in (Evaluator.check(lambda o: [o])(case("x")).error or "")
    assert "finite" in (Evaluator.check(lambda o: float("nan"))(case("x")).error or "")


def test_score_of_reads_every_accepted_shape() -> None:
    assert score_of(True) == Score(True)
    assert score_of(3) == Score(3.0)
    assert score_of(("good", 1)) == Score("good", "1")
    assert score_of({"passed": False, "reason": "r"}) == Score(False, "r")
    assert score_of({"x": 1}).error is not None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"score": 4, "reason": "clear"}', Score(4.0, "clear")),
        ('Sure!\n```json\n{"passed": true, "explanation": "ok"}\n```', Score(True, "ok")),
        ('Verdict: {"verdict": "FAIL", "reason": "wrong date"} done', Score(False, "wrong date")),
        ('{"label": "polite"}', Score("polite")),
        ('{"rating": "0.8"}', Score(0.8)),
        ("PASS - cites the policy", Score(True, "cites the policy")),
        ("**No.** It is wrong.", Score(False, "It is wrong")),
        ("Score: 3/5. Misses the date.", Score(3.0, "Misses the date")),
        ("4/5", Score(4.0)),
        ("The answer deserves a rating of 2", Score(2.0)),
    ],
)
def test_judge_replies_are_read(reply: str, expected: Score) -> None:
    assert parse_verdict(reply) == expected


def test_an_unreadable_judge_reply_is_an_error_quoting_it() -> None:
    score = parse_verdict("I would rather not say.")
    assert score.value is None
    assert score.error == (
        "could not read a verdict from the judge's answer: 'I would rather not say.'"
    )


def test_judge_pass_at_turns_scores_into_pass_fail() -> None:
    judge = Evaluator.judge("j", pass_at=4)
    assert judge.name == "judge[j]>=4"
    assert judge.read('{"score": 4, "reason": "ok"}') == Score(True, "score 4: ok")
    assert judge.read("Score: 2") == Score(False, "score 2")
    assert judge.request(case("ans", {"a": 1}, inputs={"q": "hi"})) == {
        "output": "ans", "input": "hi", "expected": '{"a": 1}',
    }  # fmt: skip


def test_text_forms() -> None:
    names = [e.name for e in resolve_evaluators(
        ["exact_match", "valid_json", "contains:30 days", "regex:^A", "length:..400",
         "length:2..5 words", "judge:j>=3.5", "judge:j"]
    )]  # fmt: skip
    assert names == [
        "exact_match", "valid_json", "contains[30 days]", "regex[^A]", "length[..400]",
        "length[2..5 words]", "judge[j]>=3.5", "judge[j]",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="Did you mean exact_match"):
        from_text("exact_mach")
    with pytest.raises(ValueError, match="length takes MIN..MAX"):
        from_text("length:400")
    with pytest.raises(ValueError, match="json_schema needs a schema"):
        from_text("json_schema")
    with pytest.raises(TypeError, match="is a class"):
        resolve_evaluators([type(Evaluator.valid_json())])
    with pytest.raises(ValueError, match="at least one evaluator"):
        resolve_evaluators([])


def test_duplicate_names_are_numbered() -> None:
    names = [e.name for e in resolve_evaluators(["valid_json", "valid_json"])]
    assert names == ["valid_json", "valid_json#2"]
