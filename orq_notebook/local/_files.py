"""orq's files API on the local server, kept in memory (orq-api-additions §4.1).

    POST   /v2/files              upload: JSON {filename, content (base64), purpose?,
                                  content_type?, project_id?} -> {"file": File}
    GET    /v2/files              list, newest first: limit 1-200 (default 10), cursors
                                  starting_after / ending_before (file ids), purpose
    GET    /v2/files/{file_id}    -> {"file": File}
    DELETE /v2/files/{file_id}    -> 200 {} (the SDK refuses a 204)

A File is `{file_id, purpose, file_name, bytes (a string), created_at, project_id}`. The
files live as long as the server; a file may hold as many bytes as the server accepts in a
request body (`max_body_bytes`), however large its base64 form is.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._inbound import page_of
from ._json_body import read_json_object
from ._spec import utc_iso
from ._wire import RequestError, new_ulid

__all__ = ["FileStore", "StoredFile", "file_routes"]

_PURPOSES = ("retrieval", "knowledge_datasource", "batch", "code_interpreter")
_PROJECT_ID = "proj_01LOCALSERVER0000000000000"


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_name: str
    purpose: str
    content_type: str | None
    project_id: str
    created_at: str
    data: bytes

    def body(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "purpose": self.purpose,
            "file_name": self.file_name,
            "bytes": str(len(self.data)),
            "created_at": self.created_at,
            "project_id": self.project_id,
        }


class FileStore:
    """The uploaded files, newest first; safe to use from the server's threads."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def add(self, file: StoredFile) -> None:
        with self._lock:
            self._files[file.file_id] = file

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def remove(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._files.pop(file_id, None)

    def newest_first(self) -> list[StoredFile]:
        with self._lock:
            return list(reversed(self._files.values()))


def _purpose(value: Any) -> str:
    if value is None:
        return "FILE_PURPOSE_RETRIEVAL"  # "Defaults to retrieval when omitted"
    name = str(value).strip().lower().removeprefix("file_purpose_")
    if not isinstance(value, str) or name not in _PURPOSES:
        allowed = ", ".join(_PURPOSES)
        message = f"Invalid purpose {value!r}: use one of {allowed} (or FILE_PURPOSE_...)."
        raise RequestError(400, message, "invalid_request_body", field="purpose")
    return f"FILE_PURPOSE_{name.upper()}"


def _text_field(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        message = f"{name} is required and must be a non-empty string."
        if not required:
            message = f"{name} must be a string."
        raise RequestError(400, message, "invalid_request_body", field=name)
    return value


def _files(request: Request) -> FileStore:
    store: FileStore = request.app.state.files
    return store


def _found(request: Request) -> StoredFile:
    file_id = request.path_params["file_id"]
    found = _files(request).get(file_id)
    if found is None:
        raise RequestError(404, f"File with id '{file_id}' was not found.", "file_not_found")
    return found


async def create_file(request: Request) -> Response:
    allowed: int = request.app.state.max_body_bytes
    body = await read_json_object(request, limit=allowed * 4 // 3 + 64 * 1024)
    filename = _text_field(body, "filename", required=True)
    content = _text_field(body, "content", required=True)
    assert filename is not None and content is not None
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        message = "content must be the file's bytes, base64-encoded."
        raise RequestError(400, message, "invalid_request_body", field="content") from None
    if len(data) > allowed:
        message = f"The file is {len(data)} bytes; this server accepts at most {allowed}."
        raise RequestError(413, message, "request_too_large")
    file = StoredFile(
        file_id=f"file_{new_ulid()}",
        file_name=filename,
        purpose=_purpose(body.get("purpose")),
        content_type=_text_field(body, "content_type", required=False),
        project_id=_text_field(body, "project_id", required=False) or _PROJECT_ID,
        created_at=utc_iso(time.time()),
        data=data,
    )
    _files(request).add(file)
    return JSONResponse({"file": file.body()})


async def list_files(request: Request) -> Response:
    files = _files(request).newest_first()
    wanted = request.query_params.get("purpose")
    if wanted:
        purpose = _purpose(wanted)
        files = [f for f in files if f.purpose == purpose]
    page, more = page_of(request, files, lambda f: (f.file_id,), max_limit=200)  # SDK: 1-200
    return JSONResponse({"object": "list", "data": [f.body() for f in page], "has_more": more})


async def get_file(request: Request) -> Response:
    return JSONResponse({"file": _found(request).body()})


async def delete_file(request: Request) -> Response:
    file = _found(request)
    _files(request).remove(file.file_id)
    return JSONResponse({})


def file_routes() -> list[Route]:
    """The files endpoints; the app keeps a `FileStore` in `app.state.files`."""
    return [
        Route("/v2/files", create_file, methods=["POST"]),
        Route("/v2/files", list_files, methods=["GET"]),
        Route("/v2/files/{file_id}", get_file, methods=["GET"]),
        Route("/v2/files/{file_id}", delete_file, methods=["DELETE"]),
    ]
