"""`%orq experiment` through a real InteractiveShell against the live local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from orq_notebook import ExperimentResult
from orq_notebook.experiments._stats import wilson_interval
from orq_notebook.local import LocalServer
from tests.shells import orq_shell

DEPLOYMENTS = """
deployments:
  - key: v1
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages: [{role: system, content: "A: {{q}}"}]
    responder: echo
  - key: v2
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages: [{role: system, content: "B: {{q}}"}]
    responder: echo
  - key: grader
    prompt_config:
      provider: openai
      model: gpt-4o-mini
      model_type: chat
      messages: [{role: system, content: "Grade {{output}}"}]
    responder: {mock: "PASS: fine"}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    path: Path = tmp_path_factory.mktemp("magic") / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    with LocalServer(path) as srv:
        yield srv


@pytest.fixture
def ip(server: LocalServer) -> Iterator[InteractiveShell]:
    with orq_shell(url=server.base_url, scratch="test_") as shell:
        shell.user_ns["test_cases"] = [
            {"q": f"q{i}", "expected": f"system: A: q{i}" if i < 3 else "?"} for i in range(4)
        ]
        yield shell


def line(ip: InteractiveShell, text: str) -> Any:
    with capture_output():
        return ip.run_line_magic("orq", text)


def usage_error(ip: InteractiveShell, text: str) -> str:
    with pytest.raises(UsageError) as info:
        line(ip, text)
    message = str(info.value)
    assert "\n" not in message.strip(), f"not one line: {message!r}"
    return message


def test_the_magic_runs_scores_and_stores_the_result(ip: InteractiveShell) -> None:
    result = line(
        ip, "experiment --from test_cases --targets v1 v2 --eval exact_match judge:grader "
        "--concurrency 2 -o test_run",
    )  # fmt: skip

    assert isinstance(result, ExperimentResult)
    assert ip.user_ns["test_run"] is result
    assert result.target_names == ["v1", "v2"]
    assert result.summarize("v1", "exact_match").interval == wilson_interval(3, 4)
    assert result.summarize("v2", "exact_match").interval == wilson_interval(0, 4)
    assert result.summarize("v2", "judge[grader]").interval == wilson_interval(4, 4)


def test_a_notebook_function_is_an_evaluator(ip: InteractiveShell) -> None:
    ip.user_ns["test_short"] = lambda output: len(output) < 14
    result = line(ip, "experiment --from test_cases --targets v1 --eval test_short valid_json")
    assert result.evaluator_names == ["check", "valid_json"]
    assert result.summarize("v1", "check").interval == wilson_interval(4, 4)


def test_mistakes_are_one_line_and_send_nothing(ip: InteractiveShell) -> None:
    assert "Unknown evaluator 'exact_mach'. Did you mean exact_match?" in usage_error(
        ip, "experiment --from test_cases --targets v1 --eval exact_mach"
    )
    assert "the following arguments are required: --targets" in usage_error(
        ip, "experiment --from test_cases --eval exact_match"
    )
    ip.user_ns["test_number"] = 3
    assert "holds a int, not an evaluator" in usage_error(
        ip, "experiment --from test_cases --targets v1 --eval test_number"
    )
    assert "the dataset must be a list of dicts or a pandas DataFrame, not int" in usage_error(
        ip, "experiment --from test_number --targets v1 --eval exact_match"
    )
    assert "concurrency takes a whole number of 1 or more, not 0" in usage_error(
        ip, "experiment --from test_cases --targets v1 --eval exact_match --concurrency 0"
    )


def test_help_lists_the_subcommand(ip: InteractiveShell) -> None:
    with capture_output() as out:
        ip.run_line_magic("orq", "help")
    assert "experiment  score deployments over a dataset" in out.stdout
    with capture_output() as out:
        ip.run_line_magic("orq", "experiment --help")
    assert "--eval NAME [NAME ...]" in out.stdout
