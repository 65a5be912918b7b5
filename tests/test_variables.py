"""A deployment's variables (`client/_variables.py`): the model, the check, and fetching it
from servers that answer a missing variable as orq.ai does (blank) or strictly (422)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from orq_notebook import Client
from orq_notebook.client._models import ConfigMessage, DeploymentConfig
from orq_notebook.client._variables import (
    Variables,
    VariablesError,
    build_variables,
    open_warning,
)

TEMPLATE = [
    ConfigMessage(role="system", content="You answer for {{company}} in a {{tone}} tone."),
    ConfigMessage(role="user", content="I am a {{tier}} customer of {{company}}."),
]


def config(*texts: str) -> DeploymentConfig:
    roles = ["system", "user"]
    return DeploymentConfig(
        id="c",
        provider="openai",
        model="gpt-4o-mini",
        version="v2",
        parameters={},
        messages=[{"role": r, "content": t} for r, t in zip(roles, texts, strict=False)],
    )


# orq.ai renders a variable without a value or default as empty text.
BLANKS = config("You answer for Acme in a friendly tone.", "I am a  customer of Acme.")


def test_the_model_knows_places_defaults_and_what_is_open() -> None:
    v = build_variables("support", TEMPLATE, BLANKS)
    assert v.names == ["company", "tone", "tier"]
    assert v["company"].places == ("system message", "user message")
    assert (v["company"].default, v["tone"].default, v["tier"].default) == (
        "Acme",
        "friendly",
        None,
    )
    assert [x.status for x in v] == ["default", "default", "open"]
    assert v.open() == ["tier"] and v.config is BLANKS and v.defaults_known
    given = v.given({"tier": "gold", "extra": 1}, {"tier": "--var", "extra": "--inputs"})
    assert given["tier"].status == "given" and given["tier"].source == "--var"
    assert given.open() == [] and given.unknown == {"extra": "--inputs"}
    assert given.rows()[2] == {
        "name": "tier",
        "value": "gold",
        "status": "given",
        "from": "--var",
        "used in": "user message",
    }


def test_the_check_errs_on_typos_warns_on_open_and_unknown_names() -> None:
    v = build_variables("support", TEMPLATE, BLANKS)
    check = v.check({"compnay": "Initech", "topic": "x"})
    assert check.typos == {"compnay": ["company"]} and check.unknown == ["topic"]
    with pytest.raises(VariablesError, match=r"'compnay' is not a variable .* company\?"):
        check.raise_for_errors()
    assert check.warnings() == [
        "⚠ {{tier}} has no value and no default: it is sent as empty text.",
        "⚠ 'topic' is not a variable of support's prompt; sent anyway (inputs can also feed "
        "tools and knowledge bases).",
    ]
    assert v.check({"Tier": "gold"}).typos == {"Tier": ["tier"]}  # case is a typo too
    strict = v.check({}, strict=True)
    assert strict.warnings() == [] and "strict_variables" in strict.errors()[0]
    assert v.check({"tier": "gold"}, strict=True).errors() == []
    assert open_warning(["a", "b"], rows=" in 2 of 3 rows") == (
        "⚠ {{a}} and {{b}} have no value and no default in 2 of 3 rows: they are sent as "
        "empty text."
    )


def test_without_a_config_the_defaults_are_unknown_not_open() -> None:
    v = build_variables("support", TEMPLATE, None)
    assert v.names == ["company", "tone", "tier"] and not v.defaults_known
    assert isinstance(v, Variables) and v.config is None


def _transport(strict: bool) -> tuple[httpx.MockTransport, list[dict[str, Any]]]:
    """A server with the template above: blanks (orq.ai) or a 422 per missing variable."""
    sent: list[dict[str, Any]] = []
    defaults = {"company": "Acme", "tone": "friendly"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            deployment = {
                "id": "d1",
                "created": "2024-01-01",
                "updated": "2024-01-01",
                "key": "support",
                "version": "v2",
                "prompt_config": {
                    "provider": "openai",
                    "model": "gpt-4o-mini",
                    "model_type": "chat",
                    "messages": [m.model_dump() for m in TEMPLATE],
                },
            }
            return httpx.Response(
                200, json={"object": "list", "data": [deployment], "has_more": False}
            )
        body = json.loads(request.content)
        sent.append(body)
        values = {**defaults, **(body.get("inputs") or {})}
        if strict and "tier" not in values:
            return httpx.Response(422, json={"message": "Missing value for {{tier}}."})
        texts = [str(m.content) for m in TEMPLATE]
        for name in ("company", "tone", "tier"):
            texts = [t.replace(f"{{{{{name}}}}}", str(values.get(name, ""))) for t in texts]
        return httpx.Response(200, json=config(*texts).model_dump())

    return httpx.MockTransport(handler), sent


@pytest.mark.parametrize("strict", [False, True], ids=["blanks like orq.ai", "strict 422"])
def test_client_variables_learn_the_same_model_from_either_server(strict: bool) -> None:
    transport, sent = _transport(strict)
    with Client("k", "http://t", transport=transport) as client:
        v = client.deployments.variables("support")
    assert v.names == ["company", "tone", "tier"]
    assert [x.status for x in v] == ["default", "default", "open"]
    assert (v["company"].default, v["tone"].default) == ("Acme", "friendly")
    # A strict server is asked again with `{{tier}}` as tier's value: the rest still shows.
    assert [b.get("inputs") for b in sent] == ([None, {"tier": "{{tier}}"}] if strict else [None])


def test_async_client_variables() -> None:
    import asyncio

    from orq_notebook import AsyncClient

    transport, _ = _transport(strict=True)

    async def main() -> Variables:
        async with AsyncClient("k", "http://t", transport=transport) as client:
            return await client.deployments.variables("support")

    assert asyncio.run(main()).open() == ["tier"]
