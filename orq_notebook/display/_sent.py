"""What was sent with an answer, images shown as thumbnails: `result.sent`.

Only images the *user* sent are shown as images (content parts of non-assistant messages), and
only from a `data:` URI of a PNG, JPEG, GIF or WEBP image or an `http(s)` URL; everything else
is escaped text, as model output always is. A large inline image shows as a line naming its
type and size instead, so a saved notebook does not carry megabytes of base64 twice.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._format import format_count
from ._render import MUTED_STYLE, escape_html, escape_markdown, mimebundle

__all__ = ["SentImage", "SentView", "sent_images", "thumbnails_html"]

# Inline images up to this many bytes become thumbnails; larger ones a line of text.
MAX_THUMBNAIL_BYTES = 400 * 1024
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}")
_URL = re.compile(r"https?://[^\s\"'<>`]+")
_THUMB_STYLE = (
    "max-height:72px;max-width:160px;margin:2px 6px 2px 0;vertical-align:middle;"
    "border:1px solid rgba(127,127,127,.35);border-radius:3px"
)


@dataclass(frozen=True)
class SentImage:
    """An image content part that was sent: its URL, and for an inline one its type and size."""

    url: str

    @property
    def inline(self) -> bool:
        return self.url.startswith("data:")

    @property
    def mime(self) -> str:
        return self.url[5:].split(";")[0] if self.inline else ""

    @property
    def size(self) -> int:
        data = self.url.partition(",")[2]
        return len(data) * 3 // 4 - data.count("=") if self.inline else 0

    @property
    def showable(self) -> bool:
        if self.inline:
            return self.size <= MAX_THUMBNAIL_BYTES and bool(_DATA_IMAGE.fullmatch(self.url))
        return bool(_URL.fullmatch(self.url))

    def label(self) -> str:
        if not self.inline:
            return self.url
        size = self.size
        shown = f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.1f} KB"
        return f"{self.mime}, {shown}"


def sent_images(messages: Sequence[Mapping[str, Any]]) -> list[SentImage]:
    """The image parts of the messages that were sent (the answer's own parts never count)."""
    found = []
    for message in messages:
        content = message.get("content")
        if message.get("role") == "assistant" or not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url")
                if isinstance(url, str):
                    found.append(SentImage(url))
    return found


def thumbnails_html(images: Sequence[SentImage]) -> str:
    """The images as small `<img>` thumbnails (or a line each, when not showable)."""
    shown = []
    for n, item in enumerate(images, start=1):
        if item.showable:
            shown.append(
                f'<img src="{escape_html(item.url)}" alt="sent image {n}" '
                f'title="sent image {n}: {escape_html(item.label())}" style="{_THUMB_STYLE}"/>'
            )
        else:
            shown.append(f'<span style="{MUTED_STYLE}">[image: {escape_html(item.label())}]</span>')
    return " ".join(shown)


def _part_text(part: Any) -> str:
    if not isinstance(part, Mapping):
        return ""
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text", ""))
    if kind == "image_url":
        return f"[image: {SentImage(str((part.get('image_url') or {}).get('url', ''))).label()}]"
    if kind == "file":
        file = part.get("file") or {}
        return f"[file: {file.get('filename') or file.get('uri') or 'inline data'}]"
    return f"[{kind}]"


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(t for t in map(_part_text, content) if t)
    return "" if content is None else str(content)


class SentView:
    """The messages sent for an answer, with the images shown: `result.sent`.

    Usage: `res.sent` as the last line of a cell; `res.sent.images` lists the images.
    """

    def __init__(self, messages: Sequence[Mapping[str, Any]]) -> None:
        last = len(messages) - 1
        # The answer is appended last to a Result's messages; it was not sent.
        self.messages = [
            dict(m) for i, m in enumerate(messages) if i != last or m.get("role") != "assistant"
        ]
        self.images = sent_images(self.messages)

    def to_text(self) -> str:
        return "\n".join(f"{m.get('role', '?')}: {_text_of(m)}" for m in self.messages)

    def to_html(self) -> str:
        rows = []
        for message in self.messages:
            role = escape_html(str(message.get("role", "?")))
            text = escape_html(_text_of_words(message))
            thumbs = thumbnails_html(sent_images([message]))
            rows.append(
                f'<div style="margin:.2em 0"><b>{role}</b>: '
                f'<span style="white-space:pre-wrap">{text}</span>'
                + (f"<div>{thumbs}</div>" if thumbs else "")
                + "</div>"
            )
        return '<div class="orq-sent">' + "".join(rows) + "</div>"

    def to_markdown(self) -> str:
        blocks = []
        for message in self.messages:
            role = escape_markdown(str(message.get("role", "?")), newline=" ", block=False)
            text = escape_markdown(_text_of_words(message), newline=" ", block=False)
            thumbs = thumbnails_html(sent_images([message]))
            blocks.append(f"**{role}**: {text}" + (f"\n\n{thumbs}" if thumbs else ""))
        return "\n\n".join(blocks) or "*(nothing was sent)*"

    def _repr_mimebundle_(
        self,
        include: Collection[str] | None = None,
        exclude: Collection[str] | None = None,
    ) -> dict[str, str]:
        renderers = {
            "text/plain": self.to_text,
            "text/markdown": self.to_markdown,
            "text/html": self.to_html,
        }
        return mimebundle(
            renderers, default=("text/plain", "text/markdown"), include=include, exclude=exclude
        )

    def __repr__(self) -> str:
        count = len(self.images)
        images = f", {format_count(count, 'image')}" if count else ""
        return f"<SentView {format_count(len(self.messages), 'message')}{images}>"


def _text_of_words(message: Mapping[str, Any]) -> str:
    """The message's text without image placeholders (the thumbnails stand for them)."""
    content = message.get("content")
    if isinstance(content, list):
        parts = [
            p for p in content if not (isinstance(p, Mapping) and p.get("type") == "image_url")
        ]
        return " ".join(t for t in map(_part_text, parts) if t)
    return _text_of(message)
