"""Small images made in code, for tests of image content parts (no binary files needed)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

__all__ = ["GIF", "JPEG", "PNG", "WEBP", "bar_chart", "png"]

Pixel = tuple[int, int, int]


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """A valid RGB PNG of `width` x `height`, coloured by `pixel(x, y)`."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def bar_chart(width: int = 96, height: int = 64) -> bytes:
    """Four bars on white: a picture that reads as a chart in a thumbnail."""
    colours = [(66, 133, 244), (52, 168, 83), (251, 188, 5), (234, 67, 53)]
    shares = [0.45, 0.8, 0.6, 0.3]
    step, bar = (width - 8) // 4, max(2, (width - 8) * 3 // 20)

    def pixel(x: int, y: int) -> Pixel:
        if y == height - 6 and 4 <= x < width - 4:
            return (90, 90, 90)
        for i, (share, colour) in enumerate(zip(shares, colours, strict=True)):
            left = 4 + i * step + (step - bar) // 2
            top = height - 6 - int((height - 14) * share)
            if left <= x < left + bar and top <= y < height - 6:
                return colour
        return (255, 255, 255)

    return png(width, height, pixel)


PNG = png(2, 2, lambda x, y: (255, 0, 0) if (x + y) % 2 else (0, 0, 255))
# The smallest valid GIF: one transparent pixel.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
# Only the first bytes matter to the type check (a JFIF header).
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(32)
# Only the RIFF container and its WEBP form type matter to the type check.
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/" + bytes(13)
