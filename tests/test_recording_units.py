"""The plain-data parts of recordings, one function at a time: signatures, differences, the
miss line, redaction, and the file round trip (with hypothesis for the bodies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from orq_notebook.client._cassette import Recording
from orq_notebook.client._cassette_format import Answer, Event, Wanted, encode_event
from orq_notebook.client._matching import MatchRules, differences, miss_message, signature
from orq_notebook.client._redaction import Redactor, secret_in_header

RULES = MatchRules.build()


def sig(url: str, body: Any = None, method: str = "POST", rules: MatchRules = RULES) -> Any:
    return signature(method, url, body, rules)


def test_signatures_name_the_operation_and_deployment_behind_any_prefix() -> None:
    base = "http://127.0.0.1:1/some/prefix"
    cases = [
        (("GET", "/v2/deployments?limit=5", None), ("list", None)),
        (("POST", "/v2/deployments/invoke", {"key": "a"}), ("invoke", "a")),
        (("POST", "/v2/deployments/stream", {"key": "a", "stream": True}), ("stream", "a")),
        (("POST", "/v2/deployments/get_config", {"key": "a"}), ("get_config", "a")),
        (("DELETE", "/v2/deployments/invalidate/id%201", None), ("invalidate", "id 1")),
        (("GET", "/v2/deployments/a/versions", None), ("list_versions", "a")),
        (("POST", "/v4/chat-deployed", {"project": "p"}), ("chat_deployed", "p")),
        (
            ("POST", "/v4/completion-deployed", {"project_id": "pr_1"}),
            ("complete_deployed", "pr_1"),
        ),
        (("GET", "/health", None), ("GET /some/prefix/health", None)),
    ]
    for (method, path, body), expected in cases:
        found = sig(base + path, body, method)
        assert (found.operation, found.deployment) == expected, path


def test_volatile_fields_and_defaults_do_not_change_a_signature() -> None:
    plain = sig("https://x/v2/deployments/invoke", {"key": "a", "inputs": {"q": 1}})
    labelled = sig(
        "https://x/v2/deployments/invoke",
        {"key": "a", "inputs": {"q": 1}, "metadata": {"run": 2}, "thread": {"id": "t"}},
    )
    assert plain.key == labelled.key
    assert sig("https://x/v2/deployments", method="GET").key == (
        sig("https://x/v2/deployments?limit=10", method="GET").key
    )
    stream = sig("https://x/v2/deployments/stream", {"key": "a"})
    assert stream.key == sig("https://x/v2/deployments/stream", {"key": "a", "stream": True}).key
    invoke = sig("https://x/v2/deployments/invoke", {"key": "a"})
    assert invoke.key != sig("https://x/v2/deployments/invoke", {"key": "a", "stream": True}).key


def test_rules_ignore_dotted_fields_and_match_volatile_ones() -> None:
    rules = MatchRules.build(ignore=["inputs.today"], match=["identity"])
    a = sig("https://x/v2/deployments/invoke", {"key": "k", "inputs": {"today": 1}}, rules=rules)
    b = sig("https://x/v2/deployments/invoke", {"key": "k", "inputs": {"today": 2}}, rules=rules)
    c = sig("https://x/v2/deployments/invoke", {"key": "k", "identity": {"id": "u"}}, rules=rules)
    assert a.key == b.key != c.key


def test_differences_are_dotted_paths() -> None:
    a = {"inputs": {"q": 1, "r": 2}, "messages": [{"content": "a"}, {"content": "b"}]}
    b = {"inputs": {"q": 1, "r": 3}, "messages": [{"content": "a"}, {"content": "c"}], "x": 1}
    assert differences(a, b) == ["inputs.r", "messages[1].content", "x"]
    assert differences({"m": [1]}, {"m": [1, 2]}) == ["m"]
    assert differences(1, 1.0) == ["the body"]
    assert differences({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}) == []


def test_the_miss_line_says_what_to_do() -> None:
    url = "https://x/v2/deployments/invoke"
    recorded = [
        sig(url, {"key": "support", "inputs": {"q": "a"}}),
        sig(url, {"key": "support", "inputs": {"q": "b", "r": 1}}),
        sig("https://x/v2/deployments/stream", {"key": "other"}),
    ]
    line = miss_message(sig(url, {"key": "support", "inputs": {"q": "c"}}), recorded, "f.jsonl")
    assert line.startswith("No recorded answer in f.jsonl for invoke of 'support': inputs.q ")
    assert "closest of 2 recorded requests" in line
    line = miss_message(sig(url, {"key": "other"}), recorded, "f.jsonl")
    assert "only stream was recorded for it" in line
    line = miss_message(sig(url, {"key": "suport"}), recorded, "f.jsonl")
    assert line.endswith("Did you mean 'support'?")
    line = miss_message(sig(url, {"key": "zzz"}), recorded, "f.jsonl")
    assert "(recorded: 'other' and 'support')" in line
    many = {f"f{i}": i for i in range(9)}
    line = miss_message(sig(url, {"key": "support", **many}), recorded[:1], "f.jsonl")
    assert "and 6 more differ" in line and "\n" not in line


def test_redaction_reaches_keys_fields_and_named_variables() -> None:
    env = {"SOME_API_KEY": "abcdefgh12345678", "MINE": "named-secret-value", "PATH": "/usr/bin"}
    redactor = Redactor(["given-secret-value"], redact_env=["MINE"], env=env)
    redactor.learn("learned-key-12345")
    value = {
        "text": "abcdefgh12345678 named-secret-value given-secret-value learned-key-12345 /usr/bin",
        "provider_api_keys": {"openai": "short"},
        "nested": [{"password": "pw"}, {"max_tokens": 5}],
        "learned-key-12345": 1,
    }
    out = json.dumps(redactor.value(value))
    for secret in ("abcdefgh12345678", "named-secret-value", "given-secret", "learned-key", "pw"):
        assert secret not in out
    assert "/usr/bin" in out and '"max_tokens": 5' in out
    assert Redactor(["k"]).text("keep kind words") == "keep kind words"  # too short to hunt
    assert secret_in_header("Authorization", "Bearer sk-1") == "sk-1"
    assert secret_in_header("X-API-KEY", "hl-key") == "hl-key"
    assert secret_in_header("Accept", "text/event-stream") is None


def test_events_go_back_on_the_wire_as_they_came() -> None:
    assert encode_event(Event(0.1, data={"a": "é"})) == 'data: {"a":"é"}\n\n'.encode()
    assert encode_event(Event(0, text="[DONE]")) == b"data: [DONE]\n\n"
    assert encode_event(Event(0, text="a\nb", name="x", id="7")) == (
        b"event: x\nid: 7\ndata: a\ndata: b\n\n"
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(inputs=st.dictionaries(st.text(min_size=1, max_size=8), JSON, max_size=4), answer=JSON)
def test_any_body_survives_the_file_and_is_found_again(
    tmp_path: Path, inputs: dict[str, Any], answer: Any
) -> None:
    path = tmp_path / "prop.jsonl"
    path.unlink(missing_ok=True)
    wanted = Wanted("POST", "https://x/v2/deployments/invoke", {"key": "k", "inputs": inputs})
    writer = Recording(path, mode="rewrite", env={})
    writer.add(wanted, Answer(200, {"content-type": "application/json"}, body={"a": answer}))
    reader = Recording(path, mode="none", env={})
    found = reader.lookup(Wanted("POST", "https://y/v2/deployments/invoke", wanted.body))
    assert found is not None and json.loads(found.content()) == {"a": answer}
    if inputs:
        other = {"key": "k", "inputs": {**inputs, "\x00new": 1}}
        assert reader.lookup(Wanted("POST", "https://x/v2/deployments/invoke", other)) is None
