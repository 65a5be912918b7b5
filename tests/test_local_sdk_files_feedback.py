"""The official `orq-ai-sdk` against the local server's files and feedback endpoints.

Its strict models must accept every answer (`bytes` as a string, a 200 body on delete, the
feedback echo), and its typed errors must come out where the SDK types them
(orq-api-additions §1.3): files 401 and get-404 as `ErrorResponse`, feedback 400/404 as the
operations' own `{message}` bodies (shape E).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from orq_ai_sdk import Orq, models

from orq_notebook.local import LocalServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def orq(local_server: LocalServer) -> Iterator[Orq]:
    with Orq(api_key="any-key", server_url=local_server.base_url) as client:
        yield client


def test_files_round_trip(orq: Orq) -> None:
    content = base64.b64encode(b"# Support FAQ").decode()
    created = orq.files.create(
        filename="support-faq.md",
        content=content,
        purpose="FILE_PURPOSE_RETRIEVAL",
        content_type="text/markdown",
    )
    file = created.file
    assert (file.file_name, file.bytes_, file.purpose) == (
        "support-faq.md",
        "13",
        "FILE_PURPOSE_RETRIEVAL",
    )
    listed = orq.files.list(limit=200)
    assert listed.object == "list" and file.file_id in [f.file_id for f in listed.data]
    assert orq.files.get(file_id=file.file_id).file.file_id == file.file_id
    orq.files.delete(file_id=file.file_id)  # a 204 would raise APIDefaultError here
    with pytest.raises(models.ErrorResponse, match="was not found"):
        orq.files.get(file_id=file.file_id)
    with pytest.raises(models.APIDefaultError) as gone:
        orq.files.delete(file_id=file.file_id)
    assert gone.value.status_code == 404


def test_files_async(local_server: LocalServer) -> None:
    async def run() -> str:
        async with Orq(api_key="k", server_url=local_server.base_url) as client:
            created = await client.files.create_async(filename="a.txt", content="aGk=")
            listed = await client.files.list_async()
            assert created.file.file_id in [f.file_id for f in listed.data]
            return created.file.bytes_

    assert asyncio.run(run()) == "2"


def test_files_wrong_key_is_an_error_response(
    serve_deployments: Callable[..., LocalServer],
) -> None:
    server = serve_deployments(
        "deployments: [{key: a, prompt_config: {model: m}}]", api_key="right"
    )
    with Orq(api_key="wrong", server_url=server.base_url) as client:
        with pytest.raises(models.ErrorResponse, match="Invalid API key"):
            client.files.list()
        with pytest.raises(models.ErrorResponse, match="Invalid API key"):
            client.files.create(filename="a.txt", content="aGk=")
        with pytest.raises(models.APIDefaultError) as refused:
            client.feedback.create(
                request={"property": "rating", "value": ["good"], "trace_id": "t"}
            )
        assert refused.value.status_code == 401


def test_feedback_create_and_remove(orq: Orq) -> None:
    trace_id = orq.deployments.invoke(key="fixed").telemetry.trace_id  # type: ignore[union-attr]
    request: Any = {
        "property": "rating",
        "value": ["good"],
        "trace_id": trace_id,
        "id": "01JXQ9B0N3Y5Z7A9C1E3G5J7K9",
    }
    sent = orq.feedback.create(request=request)
    assert (sent.property, sent.value, sent.trace_id, sent.product) == (
        "rating",
        ["good"],
        trace_id,
        "deployments",
    )
    # The SDK sends numbers as floats and the field as `property`, whichever name it is given.
    scored = orq.feedback.create(request={"field": "score", "value": 5, "trace_id": trace_id})
    assert (scored.property, scored.value) == ("score", 5.0)
    removed = orq.feedback.remove(
        request={"id": "01JXQ9B0N3Y5Z7A9C1E3G5J7K9", "trace_id": trace_id, "product": "deployments"}
    )
    assert removed.id == "01JXQ9B0N3Y5Z7A9C1E3G5J7K9"


def test_feedback_errors_are_the_sdk_typed_errors(orq: Orq) -> None:
    with pytest.raises(models.PostV2FeedbackFeedbackResponseBody) as bad:
        orq.feedback.create(request={"property": "rating", "value": ["meh"], "trace_id": "t"})
    assert "rating takes one of: good, bad" in str(bad.value)
    with pytest.raises(models.PostV2FeedbackRemoveFeedbackResponseBody) as missing:
        orq.feedback.remove(request={"id": "NOPE", "trace_id": "t", "product": "deployments"})
    assert "No feedback with id 'NOPE'" in str(missing.value)
