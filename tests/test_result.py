"""Tests of the display-side Result: building one, its reprs, mimebundles and provenance."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orq_notebook.client._models import Invocation, UserMessage
from orq_notebook.display._result import DEFAULT_MIMETYPES, Result
from orq_notebook.display._theme import MUTED_SMALL as SMALL

TRACE = "0af7651916cd43dd8448eb211c80319c"
ANSWER = "You can return it within **30 days**.\n<script>alert('x')</script>"


def _invocation(message: dict[str, Any] | None = None, **extra: Any) -> Invocation:
    body: dict[str, Any] = {
        "id": "01JABC",
        "created": "2025-01-01T00:00:00Z",
        "object": "chat",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "is_final": True,
        "telemetry": {"trace_id": TRACE, "span_id": "b7ad6b7169203331"},
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": message or {"type": "content", "role": "assistant", "content": ANSWER},
            }
        ],
        "usage": {"total_tokens": 57.0, "prompt_tokens": 12.0, "completion_tokens": 45.0},
        "retrievals": [
            {
                "document": "Returns are accepted within 30 days.",
                "metadata": {
                    "file_name": "policy.pdf",
                    "page_number": 2,
                    "file_type": "pdf",
                    "search_score": 0.91,
                },
            }
        ],
        "provider_response": {"anything": ["the", "provider", "sent"]},
        **extra,
    }
    return Invocation.model_validate(body)


def _result(**kwargs: Any) -> Result:
    defaults: dict[str, Any] = {
        "deployment": "support-answer",
        "messages": [{"role": "user", "content": "Can I return it?"}],
        "version": "v3",
        "latency": 1.237,
        "time_to_first_token": 0.21,
    }
    return Result.from_invocation(_invocation(), **{**defaults, **kwargs})


# ---------------------------------------------------------------------------------------------
# Building


def test_from_invocation_takes_every_field() -> None:
    res = _result()
    assert res.text == ANSWER and str(res) == ANSWER
    assert (res.deployment, res.version, res.model, res.provider) == (
        "support-answer",
        "v3",
        "gpt-4o-mini",
        "openai",
    )
    assert (res.trace_id, res.id, res.finish_reason) == (TRACE, "01JABC", "stop")
    assert res.usage == {"total_tokens": 57, "prompt_tokens": 12, "completion_tokens": 45}
    assert all(type(v) is int for v in res.usage.values())
    assert res.total_tokens == 57
    assert (res.latency, res.time_to_first_token) == (1.237, 0.21)
    assert res.retrievals[0]["metadata"]["file_name"] == "policy.pdf"
    assert res.raw["provider_response"] == {"anything": ["the", "provider", "sent"]}
    assert res.raw["telemetry"]["trace_id"] == TRACE
    assert (res.partial, res.error, res.tool_calls) == (False, None, [])


def test_messages_are_what_was_sent_then_the_answer() -> None:
    res = _result(messages=[UserMessage(content="Can I return it?")])
    assert res.messages == [
        {"role": "user", "content": "Can I return it?"},
        {"role": "assistant", "content": ANSWER},
    ]


def test_an_answer_the_caller_already_added_is_not_added_twice() -> None:
    sent = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": ANSWER}]
    assert _result(messages=sent).messages == sent
    earlier = [{"role": "assistant", "content": "an earlier answer"}]
    assert _result(messages=earlier).messages[-1] == {"role": "assistant", "content": ANSWER}


def test_without_usage_or_choices() -> None:
    inv = _invocation(usage=None, choices=[], retrievals=None)
    res = Result.from_invocation(inv, deployment="d", latency=None)
    assert (res.text, res.usage, res.total_tokens, res.finish_reason) == ("", None, None, None)
    assert res.messages == [{"role": "assistant", "content": ""}]
    assert "(no text)" in res.to_text() and "(no text)" in res.to_markdown()


def test_direct_construction_and_total_from_parts() -> None:
    res = Result("hi", deployment="d", usage={"prompt_tokens": 2, "completion_tokens": 3})
    assert res.total_tokens == 5
    assert res.messages == [] and res.raw == {} and res.latency is None


# ---------------------------------------------------------------------------------------------
# to_dict, repr, str


def test_to_dict_round_trips_through_json() -> None:
    res = _result()
    data = json.loads(json.dumps(res.to_dict()))
    assert data == res.to_dict()
    assert Result.from_dict(data) == res
    assert set(data) >= {"text", "deployment", "messages", "usage", "raw", "partial", "error"}


def test_repr_is_short_and_one_line() -> None:
    text = repr(_result())
    assert text.startswith("<Result support-answer gpt-4o-mini 1.24 s 57 tokens: 'You can return")
    assert text.endswith("…'>") and "\n" not in text and len(text) < 120
    assert "stopped" in repr(_result(partial=True))
    assert "failed" in repr(_result(partial=True, error="boom"))


# ---------------------------------------------------------------------------------------------
# Mimebundles


def test_default_bundle_is_markdown_and_plain() -> None:
    # Frontends rank text/html above text/markdown, so HTML is left out unless asked for.
    data, metadata = _result()._repr_mimebundle_()
    assert tuple(data) == DEFAULT_MIMETYPES == ("text/plain", "text/markdown")
    assert set(metadata) == {"orq_notebook"}


def test_include_and_exclude_are_honoured() -> None:
    res = _result()
    data, _ = res._repr_mimebundle_(include=["text/html"])
    assert set(data) == {"text/html"}
    data, _ = res._repr_mimebundle_(include=["text/html", "text/plain", "image/png"])
    assert set(data) == {"text/html", "text/plain"}
    data, _ = res._repr_mimebundle_(exclude=["text/markdown"])
    assert set(data) == {"text/plain"}
    data, _ = res._repr_mimebundle_(include=["text/html", "text/plain"], exclude=["text/plain"])
    assert set(data) == {"text/html"}


def test_plain_text_is_the_answer_and_a_footer() -> None:
    text = _result().to_text()
    answer, footer = text.rsplit("\n", 1)
    assert answer == ANSWER
    assert footer == (
        "── support-answer v3 · gpt-4o-mini (openai) · 1.24 s · 57 tokens (12 in, 45 out)"
        f" · 1 retrieval · trace {TRACE}"
    )


def test_markdown_renders_the_answer_without_its_html() -> None:
    md = _result().to_markdown()
    assert md.startswith("You can return it within **30 days**.  \n")  # the line break kept
    assert "<script>" not in md and "&lt;script>" in md
    assert md.endswith(
        f"{SMALL}support-answer v3 · gpt-4o-mini (openai) · 1.24 s · 57 tokens (12 in, 45 out)"
        f" · 1 retrieval · trace `{TRACE}`</small>"
    )


def test_markdown_closes_a_fence_the_model_left_open() -> None:
    res = Result("```python\nprint(1)", deployment="d")
    assert res.to_markdown() == f"```python\nprint(1)\n```\n\n{SMALL}d</small>"


def test_html_escapes_the_answer_and_has_a_compact_footer() -> None:
    html = _result().to_html()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "white-space:pre-wrap" in html
    for part in ("support-answer v3", "gpt-4o-mini (openai)", "1.24 s", "57 tokens", TRACE):
        assert part in html
    assert "#fff" not in html and "<style" not in html


def test_footer_values_are_escaped_too() -> None:
    res = Result("ok", deployment="<b>*key*</b>", model="m|<i>", trace_id="t`x")
    assert "<b>" not in res.to_html() and "<i>" not in res.to_html()
    md = res.to_markdown()
    assert "<b>" not in md and "<i>" not in md and r"\*key\*" in md and "`tx`" in md


def test_finish_reason_other_than_stop_is_shown() -> None:
    res = Result("cut", deployment="d", finish_reason="length")
    assert "finish: length" in res.to_text() and "finish: length" in res.to_markdown()
    assert "finish" not in Result("done", deployment="d", finish_reason="stop").to_text()


def test_metadata_is_the_provenance_and_nothing_secret() -> None:
    _, metadata = _result()._repr_mimebundle_()
    assert metadata == {
        "orq_notebook": {
            "deployment": "support-answer",
            "version": "v3",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "trace_id": TRACE,
            "usage": {"total_tokens": 57, "prompt_tokens": 12, "completion_tokens": 45},
            "latency": 1.237,
            "time_to_first_token": 0.21,
            "finish_reason": "stop",
            "id": "01JABC",
        }
    }
    json.dumps(metadata)


@pytest.mark.parametrize(
    ("partial", "error", "marker"),
    [(True, None, "⚠ stopped"), (True, "connection dropped", "⚠ failed")],
)
def test_partial_and_failed_answers_are_marked(
    partial: bool, error: str | None, marker: str
) -> None:
    res = _result(partial=partial, error=error)
    assert marker in res.to_text() and marker in res.to_html()
    assert marker in res.to_markdown()
    if error:
        for rendered in (res.to_text(), res.to_html(), res.to_markdown()):
            assert error in rendered
    assert "⚠" not in _result().to_text() + _result().to_markdown() + _result().to_html()


def test_tool_calls_are_rendered_readably() -> None:
    inv = _invocation(
        {
            "type": "tool_calls",
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        }
    )
    res = Result.from_invocation(inv, deployment="weather", latency=0.3)
    assert res.tool_calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert res.messages[-1]["tool_calls"] == res.tool_calls
    assert '→ tool call get_weather({\n  "city": "Paris"\n})' in res.to_text()
    md = res.to_markdown()
    assert r"**→ tool call** get\_weather <small>call\_1</small>" in md
    assert '```json\n{\n  "city": "Paris"\n}\n```' in md
    assert "<code>get_weather</code>" in res.to_html() and "(no text)" not in res.to_html()


def test_tool_call_arguments_cannot_escape_their_code_block() -> None:
    res = Result(
        "",
        deployment="d",
        tool_calls=[{"function": {"name": "f", "arguments": "```\n<img src=x>\n```"}}],
    )
    md = res.to_markdown()
    assert "````json\n```\n<img src=x>\n```\n````" in md


def test_mark_shown_shortens_the_next_display_only() -> None:
    res = _result()
    res.mark_shown()
    data, metadata = res._repr_mimebundle_()
    assert data == {"text/plain": repr(res)}
    assert metadata["orq_notebook"]["trace_id"] == TRACE
    data, _ = res._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/markdown"}
