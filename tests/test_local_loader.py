"""Deployments files: what loads, and the one clear message for what does not."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from orq_notebook.local import DeploymentFileError, DeploymentStore, LocalServer
from orq_notebook.local._loader import parse_text
from orq_notebook.local._spec import EchoResponder, MockResponder, OpenAIResponder

FIXTURES = Path(__file__).parent / "fixtures"


def write(tmp_path: Path, text: str, name: str = "deployments.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, name: str = "deployments.yaml") -> str:
    path = write(tmp_path, text, name)
    with pytest.raises(DeploymentFileError) as info:
        DeploymentStore.from_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}"), message
    assert "\n" not in message
    return message.removeprefix(f"{path}, ").removeprefix(f"{path}: ")


def test_the_fixture_file_loads_with_defaults_filled_in() -> None:
    store = DeploymentStore.from_file(FIXTURES / "deployments.yaml")
    keys = [d.key for d in store.deployments()]
    assert keys == ["support-answer", "ask", "fixed", "counter", "flaky", "dropper"]
    ask = store.get("ask")
    assert ask is not None
    assert ask.spec.prompt_config["model_type"] == "chat"  # the default
    assert ask.spec.prompt_config["tools"] == []
    assert isinstance(ask.spec.responder, EchoResponder)
    fixed = store.get("fixed")
    assert fixed is not None and fixed.spec.responder == MockResponder(
        "You can return items within 30 days."
    )
    assert store.get("support-answer") is not None


def test_a_json_file_loads_with_its_own_id_and_times() -> None:
    store = DeploymentStore.from_file(FIXTURES / "deployments.json")
    entry = store.get("from-json")
    assert entry is not None
    assert entry.id == "3f0c1a52-6d0e-4c55-9a7e-2b8f4d1e9c10"
    assert (entry.created, entry.updated) == (
        "2025-05-02T09:14:11.512Z",
        "2025-06-18T16:40:03.077Z",
    )
    assert entry.version == "v1"


def test_ids_are_uuids_derived_from_the_key(tmp_path: Path) -> None:
    text = "deployments:\n  - {key: a, prompt_config: {model: m}}\n"
    first = DeploymentStore.from_file(write(tmp_path, text, "one.yaml")).get("a")
    second = DeploymentStore.from_file(write(tmp_path, text, "two.yaml")).get("a")
    assert first is not None and second is not None
    assert first.id == second.id
    assert uuid.UUID(first.id).version == 5


def test_unquoted_yaml_timestamps_and_variant_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        deployments:
          - key: a
            created: 2025-05-02T09:14:11Z
            prompt_config:
              model: m
              model_parameters: {temperature: 0.1, maxTokens: 9}
              messages: [{role: system, content: base}]
            variants:
              - when: {tier: gold}
                prompt_config:
                  model_parameters: {temperature: 1}
                  messages: [{role: system, content: gold}]
        """,
    )
    entry = DeploymentStore.from_file(path).get("a")
    assert entry is not None
    assert entry.created == "2025-05-02T09:14:11.000Z"
    variant = entry.spec.variants[0].prompt_config
    assert variant["model_parameters"] == {"temperature": 1, "maxTokens": 9}  # merged key by key
    assert variant["messages"] == [{"role": "system", "content": "gold"}]  # replaced
    assert variant["model"] == "m"


def test_openai_responder_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        deployments:
          - key: a
            prompt_config: {provider: openailike, model: llama3.2}
            responder: {openai: {base_url: "http://localhost:11434/v1/", api_key_env: OLLAMA_KEY}}
        """,
    )
    entry = DeploymentStore.from_file(path, allow_env=["OLLAMA_KEY"]).get("a")
    assert entry is not None
    assert entry.spec.responder == OpenAIResponder("http://localhost:11434/v1", None, "OLLAMA_KEY")


BAD_FILES = [
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m
          - key: b
        """,
        "line 4: YAML syntax error: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping on line 3)",
        id="yaml-syntax",
    ),
    pytest.param(
        """\
        deployments:
          - description: no key here
            prompt_config: {model: m}
        """,
        "line 2: deployments[0]: missing the required field `key`",
        id="missing-key",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
          - key: a
            prompt_config: {model: n}
        """,
        "line 4: deployments[1].key: duplicate key 'a' (also deployments[0])",
        id="duplicate-key",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            responder: echoo
        """,
        "line 4: deployments[0].responder: expected echo, {mock: text} or "
        "{openai: {base_url, model, api_key_env}}; got 'echoo'",
        id="bad-responder",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            responder: {openai: {model: x}}
        """,
        "line 4: deployments[0].responder.openai.base_url: expected an http(s) URL; got None",
        id="openai-without-url",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            respnder: echo
        """,
        "line 4: deployments[0].respnder: unknown field; did you mean `responder`?",
        id="unknown-field",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            key: b
            prompt_config: {model: m}
        """,
        "line 3: deployments[0].key: duplicate field",
        id="duplicate-field",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config:
              model: m
              model_parameters: {max_tokens: 5}
        """,
        "line 5: deployments[0].prompt_config.model_parameters.max_tokens: unknown model "
        "parameter. Did you mean 'maxTokens'? Known: budgetTokens, cacheControl, dimensions, "
        "encoding_format, format, frequencyPenalty, maxTokens, numImages, photoRealVersion, "
        "presencePenalty, quality, reasoningEffort, responseFormat, seed, style, temperature, "
        "thinkingLevel, topK, topP, verbosity.",
        id="snake-case-parameter",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m, model_parameters: {reasoningEffort: extreme}}
        """,
        "line 3: deployments[0].prompt_config.model_parameters.reasoningEffort: expected one of "
        "none, disable, minimal, low, medium, high, xhigh, max; got 'extreme'",
        id="bad-enum-parameter",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m, messages: [{role: human, content: hi}]}
        """,
        "line 3: deployments[0].prompt_config.messages[0].role: expected one of system, "
        "developer, assistant, user, exception, tool, prompt, correction, expected_output",
        id="bad-role",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            variants:
              - when: {environments: production}
                prompt_config: {model_type: chatbot}
        """,
        "line 6: deployments[0].variants[0].prompt_config.model_type: expected one of chat, "
        "completion, embedding, image, tts, stt, rerank, ocr, moderation, vision, classify",
        id="bad-variant",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            faults: {status: 404}
        """,
        "line 4: deployments[0].faults.status: expected one of "
        "402, 408, 422, 429, 500, 502, 503, 504",
        id="bad-fault-status",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            prompt_config: {model: m}
            faults: {retry_after: 1}
        """,
        "line 4: deployments[0].faults.retry_after: only meaningful with `status`",
        id="retry-after-without-status",
    ),
    pytest.param(
        """\
        deployments:
          - key: has space
            prompt_config: {model: m}
        """,
        "line 2: deployments[0].key: expected a key or id that is not empty, not `.` or `..`, "
        "without `/ \\ ? # %`, spaces or control characters; got 'has space'",
        id="bad-key",
    ),
    pytest.param(
        """\
        deployments:
          - key: a
        """,
        "line 2: deployments[0].prompt_config: missing the required field `prompt_config` "
        "(with at least `model`)",
        id="missing-prompt-config",
    ),
    pytest.param(
        "", "the file is empty; expected a mapping with a `deployments:` list", id="empty"
    ),
    pytest.param(
        """\
        deployments:
          - key: a
            variables: {x: .nan}
            prompt_config: {model: m}
        """,
        "line 3: deployments[0].variables.x: numbers must be finite",
        id="nan",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_a_bad_file_gives_one_message_naming_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert load_error(tmp_path, text) == expected


def test_any_provider_name_is_accepted_as_on_orq(tmp_path: Path) -> None:
    # orq.ai's provider list grows (SDK 4.18 added `munito`): the file is not pinned to one SDK.
    for provider in ("munito", "ollama", "a-provider-from-next-year"):
        text = f"deployments:\n  - key: a\n    prompt_config: {{provider: {provider}, model: m}}\n"
        (spec,) = parse_text(text)
        assert spec.prompt_config["provider"] == provider
    message = load_error(
        tmp_path, "deployments:\n  - key: a\n    prompt_config: {provider: '', model: m}\n"
    )
    assert message == "line 3: deployments[0].prompt_config.provider: expected a provider; got ''"


def test_a_key_written_into_the_file_is_refused_without_being_repeated(tmp_path: Path) -> None:
    text = """\
    deployments:
      - key: a
        prompt_config: {model: m}
        responder: {openai: {base_url: "http://x/v1", api_key: sk-secret-123}}
    """
    message = load_error(tmp_path, text)
    assert "sk-secret-123" not in message
    assert message.startswith("line 4: deployments[0].responder.openai.api_key: never put a key")


def test_json_syntax_errors_name_the_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, '{"deployments": [\n  {"key": "a",}\n]}', name="d.json")
    assert message == "line 2: JSON syntax error: Expecting property name enclosed in double quotes"


def test_a_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(DeploymentFileError, match="the file does not exist"):
        DeploymentStore.from_file(tmp_path / "nope.yaml")


def test_the_server_refuses_to_start_on_a_bad_file(tmp_path: Path) -> None:
    path = write(tmp_path, "deployments:\n  - key: a\n    responder: echo\n")
    server = LocalServer(path)
    with pytest.raises(DeploymentFileError, match="missing the required field `prompt_config`"):
        server.start()
    assert not server.running
    with pytest.raises(RuntimeError, match="not running"):
        server.base_url  # noqa: B018


def test_from_data_validates_like_a_file() -> None:
    store = DeploymentStore.from_data(
        {"deployments": [{"key": "a", "prompt_config": {"model": "m"}}]}
    )
    assert [d.key for d in store.deployments()] == ["a"]
    with pytest.raises(
        DeploymentFileError, match=r"^<data>: deployments\[0\]\.prompt_config\.model"
    ):
        DeploymentStore.from_data({"deployments": [{"key": "a", "prompt_config": {"model": 3}}]})
