"""Properties that must hold for any input (hypothesis).

* SSE decoding through the real clients: any answer, any line endings, comments and pings in
  between, and the bytes split at arbitrary points by the transport, give the same chunks.
* `{{variable}}` interpolation: one pass, values never re-expanded, text without `{{` left
  as it is, missing names reported exactly.
* The magic argument parsers: any tokens give a Namespace or an `ArgumentError` (or stop after
  `--help`), never another exception; the order of options does not matter; a repeated
  option is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from orq_notebook.client._client import AsyncClient, Client
from orq_notebook.client._templating import MissingVariablesError, find_variables, render
from orq_notebook.notebook._commands import COMMANDS, _parser, resolve_value  # as the magics use it
from orq_notebook.notebook._magic_args import (
    ArgumentError,
    _HelpShown,
    parse_assignments,
    split_line,
)
from tests.faults._wire import chunk_json

# -- SSE under any chunking, through Client and AsyncClient -------------------------------------

NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def transcripts(draw: st.DrawFn) -> tuple[list[str], bytes]:
    """An answer's pieces and its SSE body, with pings and comments mixed in."""
    pieces = draw(st.lists(st.text(max_size=12), max_size=6))
    nl = draw(NEWLINES)
    events = [f"data: {chunk_json(p)}{nl}{nl}" for p in pieces]
    noise = [f": keep-alive{nl}{nl}", f"event: ping{nl}{nl}", f"id: 7{nl}retry: 10{nl}{nl}"]
    for extra in draw(st.lists(st.sampled_from(noise), max_size=3)):
        events.insert(draw(st.integers(0, len(events))), extra)
    events += [f"data: {chunk_json('', final=True)}{nl}{nl}", f"data: [DONE]{nl}{nl}"]
    bom = "\ufeff" if draw(st.booleans()) else ""
    return pieces, (bom + "".join(events)).encode()


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted({c % len(body) for c in cuts} - {0}), len(body)]
    return [body[a:b] for a, b in pairwise(points)]


def _respond(parts: list[bytes], asynchronous: bool) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        content: Any
        if asynchronous:

            async def stream() -> AsyncIterator[bytes]:
                for part in parts:
                    yield part

            content = stream()
        else:
            content = iter(parts)
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=content)

    return httpx.MockTransport(answer)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transcripts(), st.lists(st.integers(min_value=1), max_size=30))
def test_any_chunking_gives_the_same_chunks_through_both_clients(
    transcript: tuple[list[str], bytes], cuts: list[int]
) -> None:
    pieces, body = transcript
    parts = _split(body, cuts)
    expected = [*pieces, ""]  # then the final chunk, empty

    client = Client(base_url="http://test", transport=_respond(parts, False))
    with client, client.deployments.stream("k") as s:
        contents = [c.content for c in s]
    assert contents == expected
    assert s.text == "".join(pieces) and s.completed and s.chunk_count == len(expected)

    async def run() -> tuple[list[str | None], Any]:
        transport = _respond(parts, True)
        client = AsyncClient(base_url="http://test", transport=transport)
        async with client, client.deployments.stream("k") as s:
            return [c.content async for c in s], s

    contents, s = asyncio.run(run())
    assert contents == expected
    assert s.text == "".join(pieces) and s.completed


# -- {{variable}} interpolation -----------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
NO_BRACES = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=15)
# Values that look like templates themselves: they must come out exactly as they went in.
VALUES = st.one_of(st.text(max_size=15), NAMES.map(lambda n: "{{" + n + "}}"), NO_BRACES)


@given(st.text().filter(lambda t: "{{" not in t))
def test_text_without_double_braces_is_unchanged(text: str) -> None:
    def never(name: str) -> str:
        raise AssertionError(f"looked up {name!r}")

    assert render(text, never) == text
    assert find_variables(text) == []


@given(
    st.lists(st.tuples(NAMES, st.booleans(), NO_BRACES), max_size=6),
    NO_BRACES,
    st.dictionaries(NAMES, VALUES),
)
def test_one_pass_and_values_are_never_re_expanded(
    parts: list[tuple[str, bool, str]], head: str, values: dict[str, str]
) -> None:
    template, expected = head, head
    for name, spaced, literal in parts:
        values.setdefault(name, f"<{name}>")
        template += ("{{ " + name + " }}" if spaced else "{{" + name + "}}") + literal
        expected += values[name] + literal
    assert render(template, values) == expected
    assert find_variables(template) == list(dict.fromkeys(n for n, _, _ in parts))


@given(st.lists(st.tuples(NAMES, NO_BRACES), min_size=1, max_size=6), st.data())
def test_missing_names_are_reported_exactly_and_kept_when_not_strict(
    parts: list[tuple[str, str]], data: st.DataObject
) -> None:
    names = list(dict.fromkeys(n for n, _ in parts))
    known = data.draw(st.sets(st.sampled_from(names)))
    values = {n: n.upper() for n in known}
    template = "".join("{{" + n + "}}" + lit for n, lit in parts)
    missing = [n for n in names if n not in known]

    loose = render(template, values, strict=False)
    assert loose == "".join(
        (values[n] if n in values else "{{" + n + "}}") + lit for n, lit in parts
    )
    if missing:
        with pytest.raises(MissingVariablesError) as info:
            render(template, values)
        assert info.value.names == missing
    else:
        assert render(template, values) == loose


@given(
    st.dictionaries(
        NAMES,
        st.one_of(st.integers(), st.booleans(), st.none(), st.lists(st.integers(), max_size=3)),
    )
)
def test_values_that_are_not_text_are_written_as_json(values: dict[str, Any]) -> None:
    template = " ".join("{{" + n + "}}" for n in values)
    assert render(template, values) == " ".join(json.dumps(v) for v in values.values())


@given(
    st.text(alphabet=st.sampled_from("{} ab_.[]0'\"\n"), max_size=30),
    st.dictionaries(st.text(max_size=4), st.text(max_size=6)),
)
def test_any_text_renders_or_names_what_is_missing(text: str, values: dict[str, str]) -> None:
    try:
        out = render(text, values)
    except MissingVariablesError as exc:
        assert exc.names and set(exc.names) <= set(find_variables(text))
    else:
        assert isinstance(out, str)
        if not find_variables(text):
            assert out == text


# -- the magic argument parsers -----------------------------------------------------------------


def _options(name: str) -> list[str]:
    parser = _parser(name, "", COMMANDS[name][0])
    return [s for action in parser._actions for s in action.option_strings]


WORDS = [
    "x",
    "1",
    "-1",
    "0",
    "--",
    "-",
    "{}",
    '{"a": 1}',
    "a=b",
    "=",
    "",
    "ключ",
    "--bogus",
    "-z",
    "--var=a=b",
    "--mock=",
    "-n5",
    "--no",
    "KEY",
    "[1]",
    "--inputs={bad",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(COMMANDS)), st.data())
def test_any_tokens_give_a_namespace_or_an_argument_error(name: str, data: st.DataObject) -> None:
    vocabulary = sorted(set(_options(name)) | set(WORDS))
    tokens = data.draw(st.lists(st.sampled_from(vocabulary), max_size=8))
    parser = _parser(name, COMMANDS[name][2], COMMANDS[name][0])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            parsed = parser.parse(tokens)
        except (ArgumentError, _HelpShown) as exc:
            assert "\n" not in str(exc).strip(), f"not one line: {exc}"
            return
    assert isinstance(parsed, argparse.Namespace)


# Options of `%%orq KEY` that take one value, and switches.
VALUED = [
    "--inputs",
    "--context",
    "--metadata",
    "--system",
    "--thread",
    "--mock",
    "--out",
    "--documents",
    "--identity",
    "--messages",
    "--extra-params",
]
SWITCHES = ["--no-stream", "--quiet", "--raw", "--include-retrievals", "--include-usage"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(VALUED), unique=True, max_size=5),
    st.lists(st.sampled_from(SWITCHES), unique=True, max_size=3),
    st.lists(st.from_regex(r"[a-z]{1,3}=[a-z]{0,3}", fullmatch=True), max_size=3),
    st.randoms(use_true_random=False),
)
def test_the_order_of_options_does_not_matter(
    valued: list[str], switches: list[str], variables: list[str], rnd: Any
) -> None:
    units = [[o, f"value-of{o}"] for o in valued] + [[s] for s in switches]
    units += [["--var", v] for v in variables]
    tokens = [token for unit in units for token in unit]
    rnd.shuffle(units)
    shuffled = [token for unit in units for token in unit]
    first = _parser("invoke", "", COMMANDS["invoke"][0]).parse(["KEY", *tokens])
    second = _parser("invoke", "", COMMANDS["invoke"][0]).parse(["KEY", *shuffled])
    assert sorted(first.var) == sorted(second.var) == sorted(variables)
    first.var = second.var = None
    assert first == second


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(VALUED + SWITCHES),
    st.lists(st.sampled_from(VALUED), max_size=3),
    st.integers(0, 10),
)
def test_an_option_given_twice_is_refused(option: str, others: list[str], at: int) -> None:
    unit = [option] if option in SWITCHES else [option, "v"]
    rest = [t for o in dict.fromkeys(others) if o != option for t in (o, "w")]
    tokens = unit + rest
    position = min(at, len(tokens))
    tokens = tokens[:position] + unit + tokens[position:]
    with pytest.raises(ArgumentError):
        _parser("invoke", "", COMMANDS["invoke"][0]).parse(["KEY", *tokens])


@given(st.text(max_size=60))
def test_splitting_any_line_gives_words_or_one_line_error(line: str) -> None:
    try:
        words = split_line(line)
    except ArgumentError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(w, str) for w in words)


@given(st.lists(st.text(max_size=12), max_size=5))
def test_assignments_parse_or_name_the_bad_pair(pairs: list[str]) -> None:
    try:
        parsed = parse_assignments(pairs)
    except ArgumentError as exc:
        assert "NAME=VALUE" in str(exc)
    else:
        for pair in pairs:
            name, _, value = pair.partition("=")
            assert parsed[name.strip()] is not None
        assert all("=" in p for p in pairs)


OPTION_VALUES = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(["rows", "config", "nope", ".", "b", "a", "x", "[0]", "1"]),
        min_size=1,
        max_size=4,
    ).map("".join),
)


@given(OPTION_VALUES)
@example("config.b").via("a dotted name that does not resolve")
@example("rows.x.y").via("a dotted name that does not resolve")
def test_a_json_option_value_resolves_or_explains(text: str) -> None:
    namespace = {"rows": [{"a": 1}], "config": {"b": 2}}
    try:
        value = resolve_value("--inputs", text, namespace, expect=dict)
    except ArgumentError as exc:
        assert "--inputs" in str(exc) or "not defined" in str(exc)
        assert "\n" not in str(exc)
    else:
        assert isinstance(value, dict)
