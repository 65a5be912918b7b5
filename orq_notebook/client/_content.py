"""Content parts: images and files sent next to the text of a message.

```python
from orq_notebook import image, file_part, user_message

client.deployments.invoke(
    "describe-chart",
    messages=[user_message("What does this chart show?", image("chart.png"))],
)
```

A local image is sent inline as a `data:` URI; its type (PNG, JPEG, GIF or WEBP, read from
its first bytes, not its name) and size are checked here, before anything is sent, so a wrong
file fails at once with one clear sentence. A URL is sent as it is (the provider fetches it).

`file_part` sends a document inline (`file_data`), which orq supports for OpenAI and Google
Gemini models only; for the others, upload the file (`client.files.create`) and pass its id in
`file_ids`. An orq file id never goes into a `file` part: there, `file_id` means a provider's
own reference (orq-api-additions §4.4).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ._exceptions import OrqError

__all__ = [
    "IMAGE_TYPES",
    "MAX_FILE_BYTES",
    "MAX_IMAGE_BYTES",
    "AttachmentError",
    "file_part",
    "image",
    "read_attachment",
    "sniff_image",
    "user_message",
]

# Anthropic's per-image limit, the smallest among the providers orq routes to; a larger image
# would be refused by the provider after the whole request was sent.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# "Supported filetypes are pdf, txt, docx, csv, xls - 10MB max" (docs: attaching files).
MAX_FILE_BYTES = 10 * 1024 * 1024

IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_FILE_URL = re.compile(r"(https?|gs)://\S+", re.IGNORECASE)
_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.DOTALL)

Source = str | os.PathLike[str] | bytes


class AttachmentError(OrqError, ValueError):
    """An image or file that cannot be sent: missing, unreadable, of a wrong type or too large."""


def sniff_image(data: bytes) -> str | None:
    """The MIME type of an image from its first bytes (PNG, JPEG, GIF, WEBP), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def read_attachment(source: str | os.PathLike[str], *, what: str, max_bytes: int) -> bytes:
    """The bytes of a local file, refused (AttachmentError) when missing or over `max_bytes`."""
    path = Path(os.fspath(source)).expanduser()
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise AttachmentError(f"Cannot send the {what} {str(source)!r}: no such file.") from None
    except OSError as exc:
        raise AttachmentError(f"Cannot read the {what} {str(source)!r}: {exc.strerror}.") from None
    if path.is_dir():
        raise AttachmentError(f"Cannot send the {what} {str(source)!r}: it is a folder.")
    if size > max_bytes:
        raise AttachmentError(
            f"Cannot send the {what} {str(source)!r}: it is {_size(size)}, and at most "
            f"{_size(max_bytes)} can be sent."
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AttachmentError(f"Cannot read the {what} {str(source)!r}: {exc.strerror}.") from None


def _image_data(data: bytes, name: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise AttachmentError(
            f"Cannot send the image {name}: it is {_size(len(data))}; images sent inline may "
            f"be at most {_size(max_bytes)}. Shrink it, or pass a URL."
        )
    mime = sniff_image(data)
    if mime is None:
        raise AttachmentError(
            f"Cannot send the image {name}: {_describe(data)}; orq takes PNG, JPEG, GIF or WEBP."
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _describe(data: bytes) -> str:
    if not data:
        return "it is empty"
    if data.startswith(b"BM"):
        return "it is a BMP image"
    if data.startswith(b"%PDF"):
        return "it is a PDF document"
    if data.lstrip()[:5].lower() in (b"<svg ", b"<?xml"):
        return "it is an SVG or XML file"
    return "it is not an image of a kind models take"


def image(
    source: Source,
    *,
    detail: Literal["low", "high", "auto"] | None = None,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> dict[str, Any]:
    """An image content part: `image("chart.png")`, `image("https://…/a.jpg")`, `image(png_bytes)`.

    A local file (or bytes) is checked and sent inline as a `data:` URI; an `http(s)://` URL
    or a `data:image/…;base64,` URI is sent as given.

    Args:
        source: a path, a URL, a data URI, or the image's bytes.
        detail: how closely the model looks (`low`, `high`, `auto`), for providers that ask.
        max_bytes: the largest image sent inline (default 5 MB).

    Raises:
        AttachmentError: the file is missing, too large, or not a PNG, JPEG, GIF or WEBP.
    """
    if isinstance(source, bytes):
        url = _image_data(source, "given as bytes", max_bytes)
    elif isinstance(source, str) and _URL.fullmatch(source.strip()):
        url = source.strip()
    elif isinstance(source, str) and source.startswith("data:"):
        url = _checked_data_uri(source, max_bytes)
    else:
        data = read_attachment(source, what="image", max_bytes=max_bytes)
        url = _image_data(data, repr(os.fspath(source)), max_bytes)
    part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    if detail is not None:
        if detail not in ("low", "high", "auto"):
            raise AttachmentError(f"detail must be 'low', 'high' or 'auto', not {detail!r}.")
        part["image_url"]["detail"] = detail
    return part


def _checked_data_uri(uri: str, max_bytes: int) -> str:
    match = _DATA_URI.fullmatch(uri.strip())
    if match is None:
        raise AttachmentError("Cannot send the image: a data URI must look like data:MIME;base64,…")
    if match["mime"].lower() not in IMAGE_TYPES:
        raise AttachmentError(
            f"Cannot send the image: {match['mime']} is not a PNG, JPEG, GIF or WEBP image."
        )
    try:
        data = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentError("Cannot send the image: its data URI is not valid base64.") from None
    _image_data(data, "given as a data URI", max_bytes)
    return uri.strip()


def file_part(
    source: Source,
    *,
    filename: str | None = None,
    mime_type: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> dict[str, Any]:
    """A file content part: `file_part("report.pdf")`, `file_part("https://…/a.pdf")`.

    A local file (or bytes, with `filename=`) is sent inline as `file_data` (a `data:` URI),
    which orq supports for OpenAI and Google Gemini models; an `https://` or `gs://` URL is
    sent as `uri` (PDFs on Anthropic, `https`/`gs` on Gemini). For any model, upload the file
    with `client.files.create(path)` and pass its id in `file_ids=` instead.

    Args:
        source: a path, a URL, or the file's bytes.
        filename: the name the model sees (default: the file's own name).
        mime_type: the MIME type (default: guessed from the name).
        max_bytes: the largest file sent inline (default 10 MB).
    """
    if isinstance(source, str) and _FILE_URL.fullmatch(source.strip()):
        file: dict[str, Any] = {"uri": source.strip()}
        if filename:
            file["filename"] = filename
        if mime_type:
            file["mimeType"] = mime_type
        return {"type": "file", "file": file}
    if isinstance(source, bytes):
        if not filename:
            raise AttachmentError("file_part(bytes) needs filename= (the name the model sees).")
        data = source
        if len(data) > max_bytes:
            raise AttachmentError(
                f"Cannot send the file {filename!r}: it is {_size(len(data))}, and at most "
                f"{_size(max_bytes)} can be sent."
            )
    else:
        data = read_attachment(source, what="file", max_bytes=max_bytes)
        filename = filename or Path(os.fspath(source)).name
    mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "type": "file",
        "file": {"file_data": f"data:{mime};base64,{encoded}", "filename": filename},
    }


def user_message(*content: str | Mapping[str, Any]) -> dict[str, Any]:
    """A user message from text and content parts, in order.

    `user_message("Describe it", image("a.png"))` gives `{"role": "user", "content": [{"type":
    "text", "text": "Describe it"}, {"type": "image_url", ...}]}`; text alone stays a string.
    """
    if len(content) == 1 and isinstance(content[0], str):
        return {"role": "user", "content": content[0]}
    parts: list[dict[str, Any]] = []
    for item in content:
        item_: object = item  # checked at run time: callers are not always type-checked
        if isinstance(item_, str):
            parts.append({"type": "text", "text": item_})
        elif isinstance(item_, Mapping) and "type" in item_:
            parts.append(dict(item_))
        else:
            raise TypeError(
                "user_message takes text and content parts (image(...), file_part(...)), "
                f"not {type(item).__name__}."
            )
    return {"role": "user", "content": parts}
