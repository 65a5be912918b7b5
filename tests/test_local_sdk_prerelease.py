"""The official SDK's next release, `orq-ai-sdk==4.18.0rc4`, as an independent client of the
local server: every answer must validate in its models, as with 4.17.13 (test_local_sdk.py).

The prerelease must not replace 4.17.13 in our environment, so this test builds a separate
virtual environment on first use, cached in the temp directory
(`orq-notebook-orq-sdk-4.18.0rc4`), and runs the SDK there in a subprocess, the way
test_humanloop_sdk.py runs Humanloop's. It is skipped, saying why, when pip cannot install
the SDK (no route to the package index).

4.18 adds the provider `munito` to its closed enum; the local server accepts any provider, so
a deployment naming it validates here (and, as against orq.ai, not in 4.17.13).
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orq_notebook.local import LocalServer
from tests.sidevenv import venv_with

SDK = "orq-ai-sdk==4.18.0rc4"
FIXTURES = Path(__file__).parent / "fixtures"
KEY = "prerelease-key"

EXTRA = """
  - key: draw
    prompt_config:
      model: dall-e-3
      model_type: image
      messages: [{role: user, content: "Draw {{subject}}"}]
  - key: newest-provider
    prompt_config: {provider: munito, model: m1}
    responder: {mock: "From a provider 4.17.13 does not know."}
"""

SCRIPT = textwrap.dedent(
    """
    import importlib.metadata, json, sys
    from orq_ai_sdk import Orq, models

    base, key, broken = sys.argv[1:4]
    out = {"version": importlib.metadata.version("orq-ai-sdk"), "checked": 0, "errors": {}}
    orq = Orq(api_key=key, server_url=base)
    SKIP = {"flaky", "dropper", "counter"}  # faults on purpose; slow on purpose

    def check(name, call):
        try:
            value = call()
            out["checked"] += 1
            return value
        except Exception as exc:
            out["errors"][name] = f"{type(exc).__name__}: {str(exc)[:300]}"

    page = check("list", lambda: orq.deployments.list(limit=50))
    keys = [d.key for d in page.data]
    out["keys"] = keys
    full = {"name": "Ada", "question": "Why?", "subject": "a cat"}
    options = {"include_usage": True, "include_retrievals": True}
    documents = [{"text": "Items can be returned.", "metadata": {"page_number": 1}}]
    for k in keys:
        if k in SKIP:
            continue
        for label, inputs in (("full", full), ("missing", None)):
            config = lambda: orq.deployments.get_config(key=k, inputs=inputs)
            check(f"get_config {k} {label}", config)
            answer = check(
                f"invoke {k} {label}",
                lambda: orq.deployments.invoke(
                    key=k, inputs=inputs, invoke_options=options, documents=documents
                ),
            )
            if answer is not None:
                out[f"invoke {k} {label}"] = answer.model_dump(mode="json")
            if k == "draw":
                continue
            def stream():
                with orq.deployments.stream(key=k, inputs=inputs) as events:
                    return [e.data.model_dump(mode="json") for e in events if e.data]
            chunks = check(f"stream {k} {label}", stream)
            if chunks is not None:
                out[f"stream {k} {label}"] = chunks
        check(f"list_versions {k}", lambda: orq.deployments.list_versions(key_or_id=k))

    def refused(name, call, error):
        try:
            call()
            out["errors"][name] = "no error"
        except error as exc:
            out[name] = {"status": exc.status_code, "body": json.loads(exc.body)}
            out["checked"] += 1
        except Exception as exc:
            out["errors"][name] = f"{type(exc).__name__}: {str(exc)[:300]}"

    def stream_all(**kw):
        with orq.deployments.stream(**kw) as events:
            list(events)

    refused("stream image", lambda: stream_all(key="draw"), models.APIDefaultError)
    refused("unknown key", lambda: orq.deployments.invoke(key="nope"), models.APIDefaultError)
    refused(
        "bad body",
        lambda: orq.deployments.invoke(key="fixed", extra_params={"temperature": "hot"}),
        models.APIDefaultError,
    )
    wrong = Orq(api_key="wrong", server_url=base)
    refused("401 list", lambda: wrong.deployments.list(), models.ErrorResponse)
    refused("401 invoke", lambda: wrong.deployments.invoke(key="fixed"), models.ErrorResponse)
    refused(
        "401 stream",
        lambda: list(wrong.deployments.stream(key="fixed")),
        models.ErrorResponse,
    )
    refused(
        "500 list",
        lambda: Orq(api_key=key, server_url=broken).deployments.list(),
        models.HonoAPIError,
    )
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    check = (
        "import orq_ai_sdk, importlib.metadata as m; assert m.version('orq-ai-sdk') == '4.18.0rc4'"
    )
    return venv_with(SDK, check=check)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    where = tmp_path_factory.mktemp("prerelease")
    good = where / "deployments.yaml"
    good.write_text(
        (FIXTURES / "deployments.yaml").read_text(encoding="utf-8") + EXTRA, encoding="utf-8"
    )
    broken = where / "broken.yaml"
    broken.write_text("deployments: [{key: a, prompt_config: {model: m}}]\n", encoding="utf-8")
    with LocalServer(good, api_key=KEY) as main, LocalServer(broken, api_key=KEY) as other:
        broken.write_text("deployments: [", encoding="utf-8")  # now every request is a 500
        yield main.base_url, other.base_url


@pytest.mark.timeout(900)  # the first run installs the SDK
def test_sdk_4_18_reads_every_answer_of_the_local_server(
    sdk_python: Path, servers: tuple[str, str]
) -> None:
    base, broken = servers
    run = subprocess.run(
        [sdk_python, "-c", SCRIPT, base, KEY, broken],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert out["version"] == "4.18.0rc4"
    assert out["errors"] == {}
    # Nothing skipped silently: list; get_config, invoke (with inputs and without) and
    # list_versions for the 5 deployments without faults, and streams for the 4 chat ones;
    # then the 7 refusals.
    assert out["checked"] == 1 + 5 * 5 + 4 * 2 + 7
    assert {"support-answer", "ask", "fixed", "draw", "newest-provider"} <= set(out["keys"])

    # Variables missing: orq.ai answers 200 with the text left out; the SDK reads it.
    missing = out["invoke ask missing"]["choices"][0]["message"]["content"]
    assert missing == "user: Question from : "
    assert "".join(c["choices"][0]["message"]["content"] for c in out["stream ask missing"]) == (
        missing
    )
    # The image deployment and the provider 4.18 added.
    image = out["invoke draw full"]
    assert image["object"] == "image" and image["choices"][0]["message"]["type"] == "image"
    assert image["choices"][0]["message"]["url"].startswith("data:image/svg+xml;base64,")
    assert out["invoke newest-provider full"]["provider"] == "munito"
    # Errors: orq's envelope, mapped to the SDK's classes.
    assert out["stream image"]["status"] == 400
    assert out["unknown key"]["body"]["error"]["code"] == "deployment_not_found"
    assert out["bad body"]["status"] == 400
    assert out["bad body"]["body"]["error"]["code"] == "invalid_request_body"
    for name in ("401 list", "401 invoke", "401 stream"):
        assert out[name]["status"] == 401
        assert out[name]["body"]["error"]["code"] == "invalid_api_key"
    assert out["500 list"]["status"] == 500
    assert "YAML syntax error" in out["500 list"]["body"]["message"]
