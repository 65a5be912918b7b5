"""The official `humanloop` SDK of the v4 era (0.5.18) as an independent client of the local
server's `/v4` routes.

The SDK cannot live in our environment: it pins `urllib3<2` (we have 2.x) and brings aiohttp.
So this test builds a separate virtual environment on first use, cached in the temp directory
(`orq-notebook-humanloop-sdk-0.5.18`), and runs the SDK there in a subprocess. It is skipped,
saying why, when pip cannot install the SDK (no route to the package index).

The SDK's `complete_deployed` returns the body as a plain dict (its own deserializer is broken:
`skip_deserialization=False` fails with a NameError in 0.5.18), so the script also validates
every body with the SDK's generated schemas (`CompletionResponse`, `ChatResponse`), which are
stricter than spec 4.0.1: they refuse `null` for `user`, `logprobs`, `suffix`, `metadata`.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orq_notebook.local import LocalServer
from orq_notebook.local._humanloop_app import project_id_for
from tests.sidevenv import venv_with

SDK = "humanloop==0.5.18"
KEY = "sdk-test-key"

DEPLOYMENTS = """\
deployments:
  - key: summariser
    variables: {tone: plain}
    prompt_config:
      model: gpt-4o-mini
      messages:
        - {role: system, content: "Summarise in a {{tone}} tone: {{ticket}}"}
    responder: echo
  - key: fixed
    prompt_config: {model: gpt-4o-mini, messages: []}
    responder: {mock: "Reseat the toner cartridge."}
"""

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from humanloop import ApiException, Humanloop
    from humanloop.model.chat_response import ChatResponse
    from humanloop.model.completion_response import CompletionResponse

    base, key, project_id = sys.argv[1:4]
    hl = Humanloop(api_key=key, host=base)
    config = hl.completions.api_client.configuration
    out = {}

    def checked(response, schema):
        schema.from_openapi_data_oapg(response.body, _configuration=config)  # raises if invalid
        return json.loads(json.dumps(response.body))

    out["complete"] = checked(
        hl.complete_deployed(
            project="summariser", inputs={"ticket": "E42"}, num_samples=2, metadata={"nb": "x"}
        ),
        CompletionResponse,
    )
    out["by_id"] = checked(hl.complete_deployed(project_id=project_id), CompletionResponse)
    out["chat"] = checked(
        hl.chat_deployed(project="fixed", messages=[{"role": "user", "content": "Hi"}]),
        ChatResponse,
    )

    async def stream():
        response = await hl.complete_deployed_stream(project="summariser", inputs={"ticket": "E42"})
        return [item async for item in response.content]

    out["stream"] = asyncio.run(stream())
    wrong = Humanloop(api_key="wrong", host=base)
    for name, call in (
        ("missing", lambda: hl.complete_deployed(project="summariser")),
        ("unknown", lambda: hl.complete_deployed(project="nope")),
        ("badkey", lambda: wrong.complete_deployed(project="fixed")),
    ):
        try:
            call()
            out[name] = None
        except ApiException as exc:
            out[name] = {"status": exc.status, "body": json.loads(json.dumps(exc.body))}
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    return venv_with(SDK, check="import humanloop")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    path = tmp_path_factory.mktemp("sdk") / "deployments.yaml"
    path.write_text(DEPLOYMENTS, encoding="utf-8")
    with LocalServer(path, api_key=KEY) as srv:
        yield srv


def test_the_v4_sdk_reads_every_answer_of_the_local_server(
    sdk_python: Path, server: LocalServer
) -> None:
    run = subprocess.run(
        [sdk_python, "-c", SCRIPT, f"{server.base_url}/v4", KEY, project_id_for("fixed")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)

    complete = out["complete"]
    assert [s["index"] for s in complete["data"]] == [0, 1]
    assert complete["data"][0]["output"] == "system: Summarise in a plain tone: E42"
    assert complete["metadata"] == {"nb": "x"}
    assert complete["project_id"] == project_id_for("summariser")
    assert out["by_id"]["data"][0]["output"] == "Reseat the toner cartridge."
    assert out["chat"]["data"][0]["output_message"]["content"] == "Reseat the toner cartridge."

    stream = out["stream"]
    assert "".join(item["output"] for item in stream) == "system: Summarise in a plain tone: E42"
    assert len(stream) > 1 and len({item["id"] for item in stream}) == 1

    assert out["missing"]["status"] == 422
    assert out["missing"]["body"]["detail"][0]["loc"] == ["body", "inputs"]
    assert out["unknown"]["status"] == 404 and "nope" in out["unknown"]["body"]["detail"]
    assert out["badkey"]["status"] == 401 and isinstance(out["badkey"]["body"]["detail"], str)
