"""👍 / 👎 in the playground and in each compare column, clicked through their callbacks,
with the real backend (`ClientBackend` over an `AsyncClient`) against the live local server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from orq_notebook import AsyncClient
from orq_notebook.display._result import Result
from orq_notebook.local import LocalServer
from orq_notebook.notebook._backends import ClientBackend
from orq_notebook.widgets._compare import CompareWidget
from orq_notebook.widgets._playground import PlaygroundWidget

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def backend(local_server: LocalServer) -> AsyncIterator[ClientBackend]:
    async with AsyncClient(base_url=local_server.base_url, max_retries=0) as client:
        yield ClientBackend(client)


def ratings(server: LocalServer, trace_id: str | None) -> list[Any]:
    answer = httpx.get(f"{server.base_url}/v2/feedback", params={"trace_id": trace_id}, timeout=10)
    return [f["value"] for f in answer.json()["data"] if f["property"] == "rating"]


@pytest.mark.anyio
async def test_playground_thumbs(backend: ClientBackend, local_server: LocalServer) -> None:
    w = PlaygroundWidget(backend, key="fixed", interval=0)
    await w.wait()
    buttons = w.feedback
    assert buttons.widget in w.children
    assert buttons.up.disabled and buttons.down.disabled  # nothing to rate yet
    assert buttons.click("good") is None

    w.run()
    result = await w.wait()
    assert isinstance(result, Result) and result.trace_id
    assert not buttons.up.disabled and not buttons.down.disabled

    buttons.up.click()  # what a click in the browser calls
    await buttons.wait()
    assert ratings(local_server, result.trace_id) == [["good"]]
    assert (buttons.up.button_style, buttons.down.button_style) == ("success", "")
    assert "Rated good on orq." in buttons.note.value

    buttons.down.click()  # the other one replaces the rating
    await buttons.wait()
    assert ratings(local_server, result.trace_id) == [["bad"]]
    assert (buttons.up.button_style, buttons.down.button_style) == ("", "danger")

    buttons.down.click()  # the chosen one again takes it back
    await buttons.wait()
    assert ratings(local_server, result.trace_id) == []
    assert (buttons.up.button_style, buttons.down.button_style) == ("", "")
    assert "taken back" in buttons.note.value

    w.run()  # a new run arms the buttons for the new answer
    second = await w.wait()
    assert second is not None and buttons.result is second and second.trace_id != result.trace_id


@pytest.mark.anyio
async def test_compare_columns_rate_their_own_answer(
    backend: ClientBackend, local_server: LocalServer
) -> None:
    w = CompareWidget(backend, ["fixed", "ask"], inputs={"name": "Ada", "question": "Why?"})
    w.run()
    results = await w.wait()
    assert all(isinstance(r, Result) for r in results)
    first, second = (c.feedback for c in w.columns)
    second.down.click()
    await second.wait()
    assert ratings(local_server, results[1].trace_id) == [["bad"]]  # type: ignore[union-attr]
    assert ratings(local_server, results[0].trace_id) == []  # type: ignore[union-attr]
    assert first.up.button_style == "" and second.down.button_style == "danger"


@pytest.mark.anyio
async def test_a_failed_rating_is_one_line_and_changes_nothing(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    server = serve_deployments("deployments: [{key: a, prompt_config: {model: m}}]")
    async with AsyncClient(base_url=server.base_url, max_retries=0) as client:
        w = PlaygroundWidget(ClientBackend(client), key="a", interval=0)
        await w.wait()
        w.run()
        result = await w.wait()
        assert result is not None
        server.stop()  # the server goes away between the answer and the click
        w.feedback.up.click()
        await w.feedback.wait()
    assert w.feedback.note.value.startswith("<b>⚠</b> APIConnectionError")
    assert w.feedback.up.button_style == "" and not w.feedback.up.disabled
    assert result.feedback_given == {}


@pytest.mark.anyio
async def test_answers_without_a_connection_say_why_there_are_no_thumbs() -> None:
    w = PlaygroundWidget(_NoServer(), key="x", interval=0)  # type: ignore[arg-type]
    await w.wait()
    w.run()
    await w.wait()
    assert w.feedback.up.disabled
    assert "not connected to a server" in w.feedback.note.value


class _NoServer:
    async def list_deployments(self) -> list[Any]:
        return []

    async def get_config(self, key: str, **_: Any) -> Any:
        raise LookupError(key)

    async def run(self, key: str, *, on_text: Any, **_: Any) -> Result:
        on_text("Hi")
        return Result("Hi", deployment=key, trace_id="t-1")
