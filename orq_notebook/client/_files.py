"""`client.files`: upload, list, get and delete files, for both client twins.

```python
uploaded = client.files.create("faq.pdf")          # POST /v2/files, the bytes as base64
client.deployments.invoke("support-answer", file_ids=[uploaded.file_id])
client.files.delete(uploaded.file_id)
```

The wire is that of orq-ai-sdk 4.17.13 (orq-api-additions §4.1): a JSON body with the content
base64-encoded (not multipart), answers `{"file": {...}}`, and `bytes` as a string.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from pathlib import Path
from typing import Any

from ._content import MAX_FILE_BYTES, AttachmentError, read_attachment
from ._deployments import _page, _segment
from ._io import _AsyncClient, _SyncClient
from ._models import _Response

__all__ = ["PURPOSES", "AsyncFiles", "File", "FileList", "Files"]

_FILES = "/v2/files"
PURPOSES = ("retrieval", "knowledge_datasource", "batch", "code_interpreter")


class File(_Response):
    """An uploaded file. `bytes` is its size as the API sends it, a string; `size` is an int."""

    file_id: str
    purpose: str
    file_name: str
    bytes: str
    created_at: str
    project_id: str

    @property
    def size(self) -> int:
        return int(self.bytes)


class FileList(_Response):
    """One page of `GET /v2/files`."""

    object: str = "list"
    data: list[File]
    has_more: bool


class _FileAnswer(_Response):
    file: File


def _purpose(value: str | None) -> str | None:
    """`retrieval` or `FILE_PURPOSE_RETRIEVAL` (any case) as the wire's `FILE_PURPOSE_*`."""
    if value is None:
        return None
    name = value.strip().lower().removeprefix("file_purpose_")
    if name not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}; got {value!r}.")
    return f"FILE_PURPOSE_{name.upper()}"


def _create_body(
    path: str | os.PathLike[str] | None,
    filename: str | None,
    content: bytes | None,
    purpose: str | None,
    content_type: str | None,
    project_id: str | None,
) -> dict[str, Any]:
    if (path is None) == (content is None):
        raise TypeError("files.create takes a path, or filename= and content= (bytes); not both.")
    if content is not None:
        if not isinstance(content, (bytes, bytearray)):
            raise TypeError(
                "content= takes the file's bytes (they are base64-encoded for you), "
                f"not {type(content).__name__}."
            )
        if not filename:
            raise TypeError("files.create(content=...) needs filename=.")
        data = bytes(content)
        if len(data) > MAX_FILE_BYTES:
            raise AttachmentError(f"Cannot upload {filename!r}: it is larger than 10 MB.")
    else:
        assert path is not None
        data = read_attachment(path, what="file", max_bytes=MAX_FILE_BYTES)
        filename = filename or Path(os.fspath(path)).name
    body: dict[str, Any] = {
        "filename": filename,
        "content": base64.b64encode(data).decode("ascii"),
        "purpose": _purpose(purpose),
        "content_type": content_type or mimetypes.guess_type(filename)[0],
        "project_id": project_id,
    }
    return {k: v for k, v in body.items() if v is not None}


def _list_params(
    limit: int | None, starting_after: str | None, ending_before: str | None, purpose: str | None
) -> dict[str, str | int]:
    params = _page(limit, starting_after, ending_before)
    if purpose is not None:
        params["purpose"] = _purpose(purpose) or ""
    return params


def _path(file_id: str) -> str:
    return f"{_FILES}/{_segment(file_id, 'file_id')}"


class Files:
    """`client.files`: files to attach to deployment calls (`file_ids=[...]`)."""

    def __init__(self, client: _SyncClient) -> None:
        self._client = client

    def create(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        filename: str | None = None,
        content: bytes | None = None,
        purpose: str | None = None,
        content_type: str | None = None,
        project_id: str | None = None,
    ) -> File:
        """Upload a file: `client.files.create("faq.pdf")` or `create(filename=, content=bytes)`.

        Args:
            path: a local file (at most 10 MB); or give `filename` and `content` instead.
            purpose: `retrieval` (the server's default), `knowledge_datasource`, `batch` or
                `code_interpreter`.
            content_type: the MIME type (default: guessed from the file name).
            project_id: the project to store it in (default: the key's project).
        """
        c = self._client
        body = _create_body(path, filename, content, purpose, content_type, project_id)
        return c._parse(c._send(c._request("POST", _FILES, body=body)), _FileAnswer).file

    def list(
        self,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        purpose: str | None = None,
    ) -> FileList:
        """One page of files: `client.files.list(limit=20).data`."""
        c = self._client
        params = _list_params(limit, starting_after, ending_before, purpose)
        return c._parse(c._send(c._request("GET", _FILES, params=params)), FileList)

    def get(self, file_id: str) -> File:
        """One file's details."""
        c = self._client
        return c._parse(c._send(c._request("GET", _path(file_id))), _FileAnswer).file

    def delete(self, file_id: str) -> None:
        """Delete a file."""
        c = self._client
        c._check_empty(c._send(c._request("DELETE", _path(file_id))))


class AsyncFiles:
    """`async_client.files`: the async twin of `Files`."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        filename: str | None = None,
        content: bytes | None = None,
        purpose: str | None = None,
        content_type: str | None = None,
        project_id: str | None = None,
    ) -> File:
        """Upload a file (see `Files.create`)."""
        c = self._client
        body = _create_body(path, filename, content, purpose, content_type, project_id)
        return c._parse(await c._send(c._request("POST", _FILES, body=body)), _FileAnswer).file

    async def list(
        self,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        purpose: str | None = None,
    ) -> FileList:
        """One page of files."""
        c = self._client
        params = _list_params(limit, starting_after, ending_before, purpose)
        return c._parse(await c._send(c._request("GET", _FILES, params=params)), FileList)

    async def get(self, file_id: str) -> File:
        """One file's details."""
        c = self._client
        return c._parse(await c._send(c._request("GET", _path(file_id))), _FileAnswer).file

    async def delete(self, file_id: str) -> None:
        """Delete a file."""
        c = self._client
        c._check_empty(await c._send(c._request("DELETE", _path(file_id))))
