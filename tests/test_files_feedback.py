"""Files, feedback and content parts: the real client against the real local server.

The local server keeps files and feedback in memory; `GET /v2/feedback` is its local-only
window on what it received, used here to check what went over the wire.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orq_notebook import (
    AsyncClient,
    AttachmentError,
    BadRequestError,
    Client,
    NotFoundError,
    OrqError,
    file_part,
    image,
    user_message,
)
from orq_notebook.client._content import sniff_image
from orq_notebook.local import LocalServer
from tests.images import GIF, JPEG, PNG, WEBP

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client(local_server: LocalServer) -> Iterator[Client]:
    with Client(base_url=local_server.base_url, max_retries=0) as c:
        yield c


def received(server: LocalServer, trace_id: str | None = None) -> list[dict[str, Any]]:
    params = {"trace_id": trace_id} if trace_id else {}
    answer = httpx.get(f"{server.base_url}/v2/feedback", params=params, timeout=10)
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


# -- content parts ------------------------------------------------------------------------------


def test_image_reads_the_type_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    for data, mime in ((PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif")):
        path = tmp_path / "picture.png"  # the name lies for two of them
        path.write_bytes(data)
        part = image(path, detail="low")
        url = part["image_url"]["url"]
        assert url == f"data:{mime};base64,{base64.b64encode(data).decode()}"
        assert part == {"type": "image_url", "image_url": {"url": url, "detail": "low"}}
    assert sniff_image(WEBP) == "image/webp"
    assert image("https://example.com/a.jpg") == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/a.jpg"},
    }


def test_image_refusals_are_one_clear_sentence(tmp_path: Path) -> None:
    bmp = tmp_path / "scan.bmp"
    bmp.write_bytes(b"BM" + bytes(100))
    big = tmp_path / "big.png"
    big.write_bytes(PNG + bytes(2000))
    cases = {
        str(tmp_path / "missing.png"): "no such file",
        str(bmp): "it is a BMP image; orq takes PNG, JPEG, GIF or WEBP",
        str(tmp_path): "it is a folder",
    }
    for source, expected in cases.items():
        with pytest.raises(AttachmentError) as info:
            image(source)
        assert expected in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(AttachmentError, match=r"it is 2 KB, and at most 1 KB can be sent"):
        image(big, max_bytes=1024)
    with pytest.raises(AttachmentError, match="is not a PNG, JPEG, GIF or WEBP image"):
        image("data:image/svg+xml;base64,PHN2Zz4=")
    assert isinstance(AttachmentError("x"), OrqError)


def test_file_part_and_user_message(tmp_path: Path) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes", encoding="utf-8")
    part = file_part(doc)
    assert part == {
        "type": "file",
        "file": {"file_data": "data:text/markdown;base64,IyBOb3Rlcw==", "filename": "notes.md"},
    }
    assert file_part("gs://bucket/a.pdf")["file"] == {"uri": "gs://bucket/a.pdf"}
    with pytest.raises(AttachmentError, match="needs filename="):
        file_part(b"raw")
    message = user_message("Look:", image(PNG), part)
    assert [p["type"] for p in message["content"]] == ["text", "image_url", "file"]
    assert user_message("Just text") == {"role": "user", "content": "Just text"}
    with pytest.raises(TypeError, match="not int"):
        user_message("x", 3)  # type: ignore[arg-type]


def test_content_parts_reach_the_echo_responder(client: Client) -> None:
    answer = client.deployments.invoke(
        "support-answer",
        inputs={"name": "Ada"},
        messages=[user_message("What is this?", image(PNG), image("https://e.com/b.png"))],
    )
    assert (
        f"user: What is this? [image: image/png, {len(PNG)} bytes inline] "
        "[image: https://e.com/b.png]" in answer.text
    )


# -- files --------------------------------------------------------------------------------------


def test_upload_list_get_delete(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "faq.md"
    path.write_text("Returns: 30 days.", encoding="utf-8")
    uploaded = client.files.create(path, purpose="knowledge_datasource")
    assert uploaded.file_id.startswith("file_") and len(uploaded.file_id) == 31
    assert (uploaded.file_name, uploaded.size, uploaded.bytes) == ("faq.md", 17, "17")
    assert uploaded.purpose == "FILE_PURPOSE_KNOWLEDGE_DATASOURCE"
    second = client.files.create(filename="b.txt", content=b"hi")
    assert second.purpose == "FILE_PURPOSE_RETRIEVAL"  # the documented default

    page = client.files.list(limit=1)
    assert [f.file_id for f in page.data] == [second.file_id] and page.has_more
    after = client.files.list(limit=1, starting_after=second.file_id)
    assert [f.file_id for f in after.data] == [uploaded.file_id]
    only = client.files.list(purpose="FILE_PURPOSE_KNOWLEDGE_DATASOURCE", limit=200)
    assert [f.file_id for f in only.data] == [uploaded.file_id]
    assert client.files.get(uploaded.file_id) == uploaded

    answer = client.deployments.invoke(
        "support-answer", inputs={"name": "Ada"}, file_ids=[uploaded.file_id, second.file_id]
    )
    assert answer.text.endswith(f"(file_ids: {uploaded.file_id}, {second.file_id})")

    for file in (uploaded, second):
        client.files.delete(file.file_id)
    with pytest.raises(NotFoundError, match="was not found"):
        client.files.get(uploaded.file_id)
    with pytest.raises(NotFoundError):
        client.files.delete(uploaded.file_id)


def test_upload_refusals(client: Client, local_server: LocalServer, tmp_path: Path) -> None:
    with pytest.raises(AttachmentError, match="no such file"):
        client.files.create(tmp_path / "nope.pdf")
    with pytest.raises(TypeError, match="base64-encoded for you"):
        client.files.create(filename="a.txt", content="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="purpose must be one of"):
        client.files.create(filename="a.txt", content=b"x", purpose="fun")
    bad = {"filename": "a.txt", "content": "not base64!"}
    answer = httpx.post(f"{local_server.base_url}/v2/files", json=bad, timeout=10)
    assert answer.status_code == 400 and "base64" in answer.json()["message"]
    answer = httpx.post(f"{local_server.base_url}/v2/files", json={"content": "eA=="}, timeout=10)
    assert answer.status_code == 400 and "filename is required" in answer.json()["message"]
    answer = httpx.get(f"{local_server.base_url}/v2/files?limit=201", timeout=10)
    assert answer.status_code == 400


def test_async_files_and_feedback(local_server: LocalServer) -> None:
    async def run() -> tuple[str, list[str]]:
        async with AsyncClient(base_url=local_server.base_url) as c:
            file = await c.files.create(filename="n.txt", content=b"abc")
            assert (await c.files.get(file.file_id)).size == 3
            assert file.file_id in [f.file_id for f in (await c.files.list(limit=200)).data]
            await c.files.delete(file.file_id)
            sent = await c.feedback.create("defects", ["spelling"], trace_id="t-async", id="F1")
            await c.feedback.remove("F1", trace_id="t-async")
            return sent.property, list(sent.value)  # type: ignore[arg-type]

    assert asyncio.run(run()) == ("defects", ["spelling"])
    assert received(local_server, "t-async") == []


# -- feedback -----------------------------------------------------------------------------------


def test_feedback_on_an_answer_is_stored_and_removed(
    client: Client, local_server: LocalServer
) -> None:
    answer = client.deployments.invoke("fixed")
    trace = answer.trace_id
    sent = client.feedback.create("rating", "good", trace_id=trace, id="01JXQ9B0N3Y5Z7A9C1E3G5J7K9")
    assert sent.value == ["good"]  # a single choice goes as a one-item list, as orq wants
    client.feedback.create("correction", "Items: 30 days.", trace_id=trace)
    client.feedback.create("score", 4, trace_id=trace)
    stored = received(local_server, trace)
    assert [(f["property"], f["value"]) for f in stored] == [
        ("rating", ["good"]),
        ("correction", "Items: 30 days."),
        ("score", 4),
    ]
    assert all(f["product"] == "deployments" for f in stored)
    # Sent again with the same id, feedback replaces the earlier one.
    client.feedback.create("rating", "bad", trace_id=trace, id="01JXQ9B0N3Y5Z7A9C1E3G5J7K9")
    assert [f["value"] for f in received(local_server, trace)][-1] == ["bad"]
    assert client.feedback.remove("01JXQ9B0N3Y5Z7A9C1E3G5J7K9", trace_id=trace) == {
        "id": "01JXQ9B0N3Y5Z7A9C1E3G5J7K9",
        "trace_id": trace,
        "product": "deployments",
    }
    assert [f["property"] for f in received(local_server, trace)] == ["correction", "score"]


def test_feedback_errors_are_shape_e(client: Client, local_server: LocalServer) -> None:
    with pytest.raises(BadRequestError) as bad:
        client.feedback.create("rating", "meh", trace_id="t")
    assert bad.value.body == '{"message":"rating takes one of: good, bad; got [\'meh\']."}'
    with pytest.raises(BadRequestError, match="correction takes a string"):
        client.feedback.create("correction", 3, trace_id="t")
    with pytest.raises(NotFoundError) as missing:
        client.feedback.remove("NOPE", trace_id="t")
    assert (
        missing.value.body == "{\"message\":\"No feedback with id 'NOPE' on trace 't' was found.\"}"
    )
    answer = httpx.post(f"{local_server.base_url}/v2/feedback", content=b"[", timeout=10)
    assert (answer.status_code, answer.json()) == (
        400,
        {"message": "The request body is not valid JSON."},
    )
    with pytest.raises(TypeError, match="not a bool"):
        client.feedback.create("score", True, trace_id="t")
    with pytest.raises(ValueError, match="trace_id must not be empty"):
        client.feedback.create("rating", "good", trace_id="")
