"""`--image` and `--file` of `%%orq` / `%orq invoke`: what goes with the message.

```
%%orq describe-chart --image chart.png --image https://example.com/b.png --file notes.pdf
What changed between these two charts?
```

Each `--image` becomes an image content part after the cell's text (a local file inline as a
`data:` URI, checked first: PNG, JPEG, GIF or WEBP, at most 5 MB). Each `--file` is uploaded
with orq's files API and its id sent in `file_ids`; every file is checked before the first
upload, and uploads happen only once the rest of the request is known to be good.
"""

from __future__ import annotations

from typing import Any

from ..client._content import MAX_FILE_BYTES, image, read_attachment
from ._magic_args import ArgumentError, MagicParser

__all__ = ["attachment_options", "upload_files", "user_content"]


def attachment_options(p: MagicParser) -> None:
    p.add_argument(
        "--image",
        dest="images",
        action="append",
        default=[],
        metavar="PATH|URL",
        help="an image sent with the message: PNG, JPEG, GIF or WEBP file, or a URL (repeatable)",
    )
    p.add_argument(
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="PATH",
        help="upload PATH with orq's files API and send its id in file_ids (repeatable)",
    )


def user_content(a: Any, text: str | None) -> str | list[dict[str, Any]] | None:
    """The user message's content: the text, or text and image parts when `--image` is given."""
    images = [image(source) for source in getattr(a, "images", None) or ()]
    if not images:
        return text
    return ([{"type": "text", "text": text}] if text else []) + images


def upload_files(m: Any, a: Any) -> list[str]:
    """Upload every `--file` (all checked first) and return their ids."""
    paths: list[str] = getattr(a, "files", None) or []
    if not paths:
        return []
    if m.session.is_humanloop:
        raise ArgumentError(
            "--file uploads through orq's files API, which Humanloop's v4 API does not have."
        )
    for path in paths:
        read_attachment(path, what="file", max_bytes=MAX_FILE_BYTES)
    return [m.session.client.files.create(path).file_id for path in paths]
