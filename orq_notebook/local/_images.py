"""Answers of image deployments (`model_type: image`).

orq.ai answers an image model with `object: "image"` and a message `{type: "image", role:
"assistant", url}`. Here the `url` comes from the responder: `mock` text (and
`invoke_options.mock_response`) is used as the url as given; `echo` draws the final message
list into an SVG and answers with it as a `data:image/svg+xml;base64,...` URI, the same
picture for the same request, so a notebook shows what would have been sent.
"""

from __future__ import annotations

import base64
import re
from xml.sax.saxutils import escape

__all__ = ["echo_image"]

_SIZE = re.compile(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # XML 1.0 forbids them
_MAX_LINES, _MAX_CHARS, _LINE = 24, 72, 20


def echo_image(text: str, dimensions: object = None) -> str:
    """A deterministic SVG picture of `text` (one line per line, cut to fit) as a data URI.

    `dimensions` is the model parameter (`"1024x1024"`); it sets the picture's size, which
    defaults to 512x512.
    """
    width, height = 512, 512
    found = _SIZE.fullmatch(dimensions) if isinstance(dimensions, str) else None
    if found and 0 < int(found[1]) <= 8192 and 0 < int(found[2]) <= 8192:
        width, height = int(found[1]), int(found[2])
    lines = _NOT_XML.sub("?", text).splitlines() or [""]
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], f"... ({len(lines) - _MAX_LINES + 1} more lines)"]
    shown = [line if len(line) <= _MAX_CHARS else line[: _MAX_CHARS - 1] + "…" for line in lines]
    rows = "".join(
        f'<text x="16" y="{32 + i * _LINE}">{escape(line)}</text>' for i, line in enumerate(shown)
    )
    box_height = max(512, 32 + len(shown) * _LINE)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 640 {box_height}" preserveAspectRatio="xMinYMin meet">'
        f'<rect width="640" height="{box_height}" fill="#f4f1ea"/>'
        '<g font-family="monospace" font-size="13" fill="#2b2b2b" xml:space="preserve">'
        f"{rows}</g></svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
