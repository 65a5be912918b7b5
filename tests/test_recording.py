"""Record and replay, end to end: the real client records exchanges with the real local
server over loopback; the server is stopped; the recording then answers — through the local
server (`LocalServer(replay=...)`, which the official SDK can use too) and in-process
(`Client(record=Recording(..., mode="none"))`) — with the same JSON and the same chunks."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from orq_ai_sdk import Orq

from orq_notebook import AsyncClient, Client, NotFoundError, StreamError, run_batch
from orq_notebook.client._cassette import Recording, RecordingFileError
from orq_notebook.humanloop._client import HumanloopClient
from orq_notebook.local import LocalServer

CANARY = "sk-canary-7f3a9c1e5b2d4086"  # the key: it must never reach a recording
DEPLOYMENTS = """\
deployments:
  - key: support-answer
    variables: {company: Acme}
    prompt_config:
      model: gpt-4o-mini
      messages: [{role: system, content: "You answer for {{company}}."}]
    responder: echo
  - key: counter
    prompt_config: {model: gpt-4o-mini}
    responder: {mock: "one two three four five six seven eight"}
    stream_delay_ms: 5
  - key: flaky
    prompt_config: {model: gpt-4o-mini}
    responder: {mock: "Finally."}
    faults: {status: 429, retry_after: 0.01, times: 1}
  - key: dropper
    prompt_config: {model: gpt-4o-mini}
    responder: {mock: "This answer never arrives in full."}
    faults: {drop_after_chunks: 3}
"""
QUESTION = [{"role": "user", "content": "Can I return a jacket?"}]


def write_deployments(folder: Path, text: str = DEPLOYMENTS) -> Path:
    path = folder / "deployments.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def dumps(models: list[Any]) -> list[dict[str, Any]]:
    return [m.model_dump() for m in models]


class Recorded:
    """What the live (local) service answered while it was recorded."""

    path: Path
    listed: dict[str, Any]
    config: dict[str, Any]
    invoked: dict[str, Any]
    chunks: list[dict[str, Any]]


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    out = Recorded()
    out.path = tmp_path / "answers.jsonl"
    with (
        LocalServer(write_deployments(tmp_path), api_key=CANARY) as server,
        Client(api_key=CANARY, base_url=server.base_url, record=out.path) as client,
    ):
        out.listed = client.deployments.list().model_dump()
        out.config = client.deployments.get_config("support-answer", inputs={"company": "X"})
        out.config = out.config.model_dump()
        out.invoked = client.deployments.invoke(
            "support-answer", messages=QUESTION, metadata={"run": 1}
        ).model_dump()
        with client.deployments.stream("counter") as stream:
            out.chunks = dumps(list(stream))
    yield out  # the server is stopped from here on


def replay_the_same(client: Client, recorded: Recorded) -> None:
    assert client.deployments.list().model_dump() == recorded.listed
    config = client.deployments.get_config("support-answer", inputs={"company": "X"})
    assert config.model_dump() == recorded.config
    # metadata is volatile: a different run label gets the same answer.
    answer = client.deployments.invoke("support-answer", messages=QUESTION, metadata={"run": 2})
    assert answer.model_dump() == recorded.invoked
    with client.deployments.stream("counter") as stream:
        assert dumps(list(stream)) == recorded.chunks


def test_the_local_server_replays_the_same_json_and_chunks(recorded: Recorded) -> None:
    assert len(recorded.chunks) == 9  # eight words and the final chunk
    with LocalServer(replay=recorded.path) as server, Client(base_url=server.base_url) as client:
        replay_the_same(client, recorded)
        replay_the_same(client, recorded)  # and again: a recording does not wear out


def test_a_client_replays_in_process_with_no_key_and_no_network(recorded: Recorded) -> None:
    recording = Recording(recorded.path, mode="none")
    with Client(base_url="https://my.orq.ai", record=recording) as client:
        assert client.settings.api_key is None
        replay_the_same(client, recorded)

    async def replay_async() -> None:
        async with AsyncClient(base_url="https://my.orq.ai", record=recording) as client:
            answer = await client.deployments.invoke("support-answer", messages=QUESTION)
            assert answer.model_dump() == recorded.invoked
            async with client.deployments.stream("counter") as stream:
                assert dumps([chunk async for chunk in stream]) == recorded.chunks

    asyncio.run(replay_async())


def test_each_exchange_is_one_line_of_json(recorded: Recorded) -> None:
    lines = recorded.path.read_text(encoding="utf-8").splitlines()
    header, *exchanges = [json.loads(line) for line in lines]
    assert header["orq_notebook_recording"] == 1
    assert [(e["operation"], e["deployment"]) for e in exchanges] == [
        ("list", None),
        ("get_config", "support-answer"),
        ("invoke", "support-answer"),
        ("stream", "counter"),
    ]
    events = exchanges[-1]["response"]["events"]
    assert events[-1]["text"] == "[DONE]" and "complete" not in exchanges[-1]["response"]
    assert [e["data"]["choices"][0]["message"]["content"] for e in events[:3]] == [
        "one",
        " two",
        " three",
    ]
    offsets = [e["t"] for e in events]
    assert offsets == sorted(offsets) and offsets[-1] > offsets[0]


def test_the_key_and_auth_headers_never_reach_a_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.jsonl"
    monkeypatch.setenv("MY_SERVICE_PASSPHRASE", "hunter2-but-longer")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-canary-1234567890")
    recording = Recording(path, redact_env=["MY_SERVICE_PASSPHRASE"])
    with (
        LocalServer(write_deployments(tmp_path), api_key=CANARY) as server,
        Client(api_key=CANARY, base_url=server.base_url, record=recording) as client,
    ):
        # The echo responder repeats the messages, so every secret comes back in the answer.
        told = f"My key is {CANARY}, my passphrase hunter2-but-longer, sk-openai-canary-1234567890"
        messages = [{"role": "user", "content": told}]
        client.deployments.invoke("support-answer", messages=messages)
        with client.deployments.stream("support-answer", messages=messages) as stream:
            assert CANARY in "".join(chunk.text for chunk in stream)
    text = path.read_text(encoding="utf-8")
    for secret in (CANARY, "hunter2-but-longer", "sk-openai-canary-1234567890"):
        assert secret not in text
    assert "authorization" not in text.lower() and "bearer" not in text.lower()
    assert text.count("<redacted>") >= 6


def test_a_changed_input_fails_with_one_line_naming_the_deployment_and_field(
    recorded: Recorded,
) -> None:
    changed = [{"role": "user", "content": "Can I return a coat?"}]
    with LocalServer(replay=recorded.path) as server:
        with (
            Client(base_url=server.base_url, max_retries=0) as client,
            pytest.raises(NotFoundError) as caught,
        ):
            client.deployments.invoke("support-answer", messages=changed)
        message = caught.value.message
        assert "\n" not in message
        assert "'support-answer'" in message and "messages[0].content" in message, message
        assert message.startswith("No recorded answer in answers.jsonl for invoke of")
        body = httpx.post(
            f"{server.base_url}/v2/deployments/stream", json={"key": "counter", "inputs": {"a": 1}}
        ).json()
        assert body["error"]["code"] == "not_recorded" and "code" not in body  # orq's envelope
        assert "stream of 'counter': inputs differs from the recorded request" in body["message"]
        typo = httpx.post(f"{server.base_url}/v2/deployments/invoke", json={"key": "countr"})
        assert "Did you mean 'counter'?" in typo.json()["message"]

    # In-process replay says the same.
    with (
        Client(record=Recording(recorded.path, mode="none")) as client,
        pytest.raises(NotFoundError, match=r"messages\[0\]\.content differs"),
    ):
        client.deployments.invoke("support-answer", messages=changed)


def test_matching_ignores_volatile_fields_unless_asked(recorded: Recorded) -> None:
    volatile = {"metadata": {"run": 9}, "identity": {"id": "u1"}, "thread": {"id": "t"}}
    with Client(record=Recording(recorded.path, mode="none")) as client:
        answer = client.deployments.invoke("support-answer", messages=QUESTION, **volatile)
        assert answer.model_dump() == recorded.invoked
    strict = Recording(recorded.path, mode="none", match=["metadata"])
    with Client(record=strict) as client, pytest.raises(NotFoundError, match="metadata.run"):
        client.deployments.invoke("support-answer", messages=QUESTION, metadata={"run": 9})
    loose = Recording(recorded.path, mode="none", ignore=["messages"])
    with Client(record=loose) as client:
        answer = client.deployments.invoke("support-answer", messages=[])
        assert answer.model_dump() == recorded.invoked


def test_new_episodes_appends_only_the_missing_exchange(recorded: Recorded, tmp_path: Path) -> None:
    before = recorded.path.read_text(encoding="utf-8")
    # This service no longer has 'support-answer': what the recording holds must not be sent.
    folder = tmp_path / "later"
    folder.mkdir()
    source = write_deployments(
        folder,
        """\
        deployments:
          - key: counter
            prompt_config: {model: gpt-4o-mini}
            responder: {mock: "one two three four five six seven eight"}
        """,
    )
    recording = Recording(recorded.path, mode="new_episodes")
    with LocalServer(source) as server, Client(base_url=server.base_url, record=recording) as c:
        answer = c.deployments.invoke("support-answer", messages=QUESTION)
        assert answer.model_dump() == recorded.invoked  # from the file
        fresh = c.deployments.invoke("counter", inputs={"new": True})  # from the service
        again = c.deployments.invoke("counter", inputs={"new": True})  # now from the file
    assert fresh.model_dump() == again.model_dump()
    after = recorded.path.read_text(encoding="utf-8")
    assert after.startswith(before)
    added = after[len(before) :].splitlines()
    assert len(added) == 1
    assert json.loads(added[0])["request"]["json"]["inputs"] == {"new": True}


def test_the_official_sdk_replays_the_same_recording(recorded: Recorded) -> None:
    with (
        LocalServer(replay=recorded.path) as server,
        Orq(api_key="anything", server_url=server.base_url) as sdk,
    ):
        page = sdk.deployments.list()
        assert [d.key for d in page.data] == [d["key"] for d in recorded.listed["data"]]
        config = sdk.deployments.get_config(key="support-answer", inputs={"company": "X"})
        assert config is not None and config.id == recorded.config["id"]
        messages: Any = QUESTION
        answer = sdk.deployments.invoke(key="support-answer", messages=messages)
        assert answer is not None and answer.id == recorded.invoked["id"]
        text = answer.choices[0].message.content  # type: ignore[union-attr]
        assert text == recorded.invoked["choices"][0]["message"]["content"]
        with sdk.deployments.stream(key="counter") as events:
            ids = [event.data.id for event in events]
        assert ids == [chunk["id"] for chunk in recorded.chunks]


def test_transient_failures_are_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "flaky.jsonl"
    with (
        LocalServer(write_deployments(tmp_path)) as server,
        Client(base_url=server.base_url, record=path) as client,
    ):
        assert client.deployments.invoke("flaky").text == "Finally."  # after one 429
    statuses = [
        json.loads(line)["response"]["status"] for line in path.read_text().splitlines()[1:]
    ]
    assert statuses == [200]


def test_a_broken_stream_replays_broken_at_the_same_place(tmp_path: Path) -> None:
    path = tmp_path / "drop.jsonl"
    with (
        LocalServer(write_deployments(tmp_path)) as server,
        Client(base_url=server.base_url, record=path, max_retries=0) as client,
        pytest.raises(StreamError) as live,
        client.deployments.stream("dropper") as stream,
    ):
        list(stream)
    assert '"complete":false' in path.read_text()
    with (
        LocalServer(replay=path) as server,
        Client(base_url=server.base_url, max_retries=0) as client,
        pytest.raises(StreamError) as replayed,
        client.deployments.stream("dropper") as stream,
    ):
        list(stream)
    assert replayed.value.partial_text == live.value.partial_text != ""
    with (
        Client(record=Recording(path, mode="none"), max_retries=0) as client,
        pytest.raises(StreamError) as in_process,
        client.deployments.stream("dropper") as stream,
    ):
        list(stream)
    assert in_process.value.partial_text == live.value.partial_text


def test_batches_replay_row_for_row(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    rows = [{"company": name} for name in ("Acme", "Initech", "Globex")]
    with (
        LocalServer(write_deployments(tmp_path)) as server,
        Client(base_url=server.base_url, record=path) as client,
    ):
        live = run_batch("support-answer", rows, client=client, progress=False)
        live_streamed = run_batch("counter", rows[:2], client=client, stream=True, progress=False)
    with LocalServer(replay=path) as server, Client(base_url=server.base_url) as client:
        again = run_batch("support-answer", rows, client=client, progress=False)
        streamed = run_batch("counter", rows[:2], client=client, stream=True, progress=False)
    assert [r.status for r in again.rows] == ["ok"] * 3
    assert [r.text for r in again.rows] == [r.text for r in live.rows]
    assert [r.text for r in streamed.rows] == [r.text for r in live_streamed.rows]
    assert "Initech" in again.rows[1].text


def test_humanloop_paths_record_and_replay(tmp_path: Path) -> None:
    path = tmp_path / "humanloop.jsonl"
    with (
        LocalServer(write_deployments(tmp_path), api_key=CANARY) as server,
        HumanloopClient(api_key=CANARY, base_url=f"{server.base_url}/v4", record=path) as hl,
    ):
        live = hl.chat_deployed(project="support-answer", messages=QUESTION, session_id="s1")
        with hl.chat_deployed(project="counter", messages=QUESTION, stream=True) as stream:
            live_pieces = [d.output for d in stream]
    text = path.read_text(encoding="utf-8")
    assert CANARY not in text and "x-api-key" not in text.lower()
    with (
        LocalServer(replay=path) as server,
        HumanloopClient(api_key="other", base_url=f"{server.base_url}/v4") as hl,
    ):
        answer = hl.chat_deployed(project="support-answer", messages=QUESTION, session_id="s2")
        assert answer.model_dump() == live.model_dump()
        with hl.chat_deployed(project="counter", messages=QUESTION, stream=True) as stream:
            assert [d.output for d in stream] == live_pieces
        with pytest.raises(NotFoundError, match="complete_deployed of 'support-answer'"):
            hl.complete_deployed(project="support-answer")


def test_the_environment_chooses_record_or_replay(tmp_path: Path) -> None:
    path = tmp_path / "env.jsonl"
    with LocalServer(write_deployments(tmp_path)) as server:
        env = {"ORQ_RECORD": str(path), "ORQ_BASE_URL": server.base_url}
        with Client(env=env) as client:
            live = client.deployments.invoke("counter")
    with Client(env={"ORQ_REPLAY": str(path)}) as client:  # my.orq.ai, no key: nothing is sent
        assert client.deployments.invoke("counter").model_dump() == live.model_dump()
    with pytest.raises(RecordingFileError, match="Both ORQ_RECORD and ORQ_REPLAY"):
        Client(env={"ORQ_RECORD": str(path), "ORQ_REPLAY": str(path)})
    with Client(env={"ORQ_REPLAY": str(path)}, record=False) as client:
        assert client.settings.recording is None


def test_a_broken_recording_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"orq_notebook_recording": 1}\n{"request": {}}\n', encoding="utf-8")
    with pytest.raises(
        RecordingFileError, match=r"broken.jsonl, line 2: .*'response' is missing or not an object"
    ):
        LocalServer(replay=path).start()
    with pytest.raises(RecordingFileError, match="There is no recording at"):
        Recording(tmp_path / "missing.jsonl", mode="none")
    with pytest.raises(ValueError, match="the modes are rewrite, new_episodes, none"):
        Recording(path, mode="sometimes")  # type: ignore[arg-type]


def test_a_recording_cannot_send_a_client_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "hostile.jsonl"
    exchange = {
        "request": {"method": "GET", "url": "https://my.orq.ai/v2/deployments"},
        "response": {
            "status": 302,
            "headers": {
                "location": "https://attacker.example/steal",
                "set-cookie": "session=1",
                "content-type": "application/json",
            },
            "json": {"object": "list", "data": [], "has_more": False},
        },
    }
    path.write_text(json.dumps(exchange) + "\n", encoding="utf-8")
    with LocalServer(replay=path) as server:
        response = httpx.get(f"{server.base_url}/v2/deployments")
    assert response.status_code == 302
    assert "location" not in response.headers and "set-cookie" not in response.headers


def test_pace_replays_at_the_recorded_times(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orq_notebook.local import _replay

    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float) -> None:
        asked.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(_replay, "_sleep", sleep)
    line = recorded.path.read_text(encoding="utf-8").splitlines()[-1]
    response = json.loads(line)["response"]
    offsets = [event["t"] for event in response["events"]]
    with (
        LocalServer(replay=recorded.path, pace=True) as server,
        Client(base_url=server.base_url) as client,
        client.deployments.stream("counter") as stream,
    ):
        list(stream)
    # The wait for the answer, then one wait per event up to its recorded offset.
    assert asked[0] == pytest.approx(response["elapsed"])
    assert asked[1:] == pytest.approx(offsets, abs=0.05)


def test_a_session_records_its_widgets_and_replays_them(tmp_path: Path) -> None:
    from orq_notebook.notebook._backends import ClientBackend
    from orq_notebook.notebook._session import Session

    async def drive(backend: ClientBackend, pieces: list[str]) -> tuple[list[str], Any]:
        keys = [d.key for d in await backend.list_deployments()]
        answer = await backend.run(
            "support-answer", inputs={}, message="Hi", context=None, on_text=pieces.append
        )
        return keys, answer

    path = tmp_path / "session.jsonl"
    session, pieces, replayed = Session(), list[str](), list[str]()
    with LocalServer(write_deployments(tmp_path)) as server:
        session.connect(url=server.base_url, record=Recording(path))
        # What the Playground and Compare widgets drive, over the session's AsyncClient.
        keys, live = asyncio.run(drive(session.backend(), pieces))
        session.close()
    conn = session.connect(replay=Recording(path, mode="none"))
    assert conn.describe().endswith(f"replaying {path}; no API key is needed.")
    again_keys, again = asyncio.run(drive(session.backend(), replayed))
    session.close()
    assert again_keys == keys and "counter" in keys
    assert (again.text, again.id, replayed) == (live.text, live.id, pieces)


def test_a_humanloop_session_records_and_replays(tmp_path: Path) -> None:
    from orq_notebook.notebook._session import Session

    path = tmp_path / "hl-session.jsonl"
    sent = [{"role": "user", "content": "Hi"}]
    session = Session()
    with LocalServer(write_deployments(tmp_path)) as server:
        session.connect(url=f"{server.base_url}/v4", humanloop=True, record=Recording(path))
        live = session.invoke("support-answer", {"messages": sent}, sent=sent)
        session.close()
    session.connect(humanloop=True, replay=Recording(path, mode="none"))
    again = session.invoke("support-answer", {"messages": sent}, sent=sent)
    session.close()
    assert (again.text, again.id) == (live.text, live.id)
    assert "chat_deployed" in path.read_text()


def test_orq_replay_makes_a_plain_connect_replay_with_no_key(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orq_notebook.notebook._session import Session

    monkeypatch.setenv("ORQ_REPLAY", str(recorded.path))
    session = Session()
    conn = session.connect()
    assert conn.offline and conn.api_key is None
    assert "no API key is needed" in conn.describe() and "nothing is sent" in conn.describe()
    sent = QUESTION
    result = session.invoke("support-answer", {"messages": sent, "metadata": {"run": 3}}, sent=sent)
    assert result.id == recorded.invoked["id"]
    # A local server is never replaced by the environment's recording.
    local = session.connect(local=recorded.path.parent / "deployments.yaml")
    assert local.recording is None and not local.offline
    session.close()


def test_orq_notebook_serve_replays_a_recording(recorded: Recorded) -> None:
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "orq_notebook", "serve", "--replay", str(recorded.path)]
    process = subprocess.Popen(
        [*command, "--port", "0"],
        cwd=root,
        env={k: v for k, v in os.environ.items() if not k.startswith("ORQ_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline(), process.stdout.readline()]
        assert "replaying 4 recorded exchange(s) from" in banner[0], banner
        base_url = banner[1].removeprefix("Base URL: ").strip()
        with Client(base_url=base_url, max_retries=0) as client:
            answer = client.deployments.invoke("support-answer", messages=QUESTION)
            assert answer.model_dump() == recorded.invoked
            with pytest.raises(NotFoundError, match="invoke of 'counter'"):
                client.deployments.invoke("counter")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0, stderr
        assert "No recorded answer in answers.jsonl for invoke of 'counter'" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
