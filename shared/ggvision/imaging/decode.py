"""Safe decoding of untrusted JPEG/PNG bodies (inference requests from any component).

Everything that can be refused is refused before the decoder allocates anything: the byte size, the
content type, the magic bytes, and the pixel dimensions read from the PNG IHDR / JPEG SOF header (a
tiny file may declare 20000×20000 pixels). Truncated files are refused too: libjpeg silently fills a
truncated JPEG with grey, so the JPEG's marker structure is walked to its end-of-image marker.
"""

import struct
import zlib
from typing import Optional, Tuple

import cv2
import numpy as np

JPEG = "image/jpeg"
PNG = "image/png"
_ALIASES = {"image/jpeg": JPEG, "image/jpg": JPEG, "image/pjpeg": JPEG, "image/png": PNG}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"

# SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0–RST7, SOI, EOI.
_JPEG_STANDALONE = frozenset([0x01] + list(range(0xD0, 0xDA)))
_JPEG_SOS = 0xDA
_JPEG_EOI = 0xD9


class UnsupportedContentType(ValueError):
    """The content type is not one we decode."""


class ImageTooLarge(ValueError):
    """The body is over the byte limit or declares more pixels than allowed."""


class DecodeFailed(ValueError):
    """The body is not a complete, valid image of its content type."""


# libjpeg decodes at 1/2, 1/4 or 1/8 scale for the cost of the smaller image (IMREAD_REDUCED_COLOR_N).
_JPEG_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                 (2, cv2.IMREAD_REDUCED_COLOR_2))


def jpeg_reduction(width: int, height: int, at_least: Optional[Tuple[int, int]]) -> int:
    """The largest JPEG decode reduction (8, 4, 2, or 1) that keeps the image at least `at_least`
    (the model's input width and height) in both directions: what one message costs in memory then
    follows the model's size, not the sender's."""
    if not at_least:
        return 1
    for factor, _ in _JPEG_REDUCED:
        if width // factor >= at_least[0] and height // factor >= at_least[1]:
            return factor
    return 1


def decode_image(body: bytes, content_type: str, max_bytes: int, max_pixels: int,
                 at_least: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Decode an untrusted JPEG/PNG body into a BGR uint8 image (grey and alpha become BGR).

    With `at_least` (width, height), a large JPEG is decoded at a reduced scale that still covers it
    (see jpeg_reduction); `image_size(body)` still tells its full size."""
    kind = _content_kind(content_type)
    if not isinstance(body, (bytes, bytearray)):
        body = bytes(body)  # e.g. a memoryview
    if len(body) > max_bytes:
        raise ImageTooLarge(f"body is {len(body)} bytes; the limit is {max_bytes}")
    if not body:
        raise DecodeFailed("body is empty")
    if kind == PNG:
        width, height = _png_size(body)
    else:
        width, height = jpeg_size(body)
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} pixels; the limit is {max_pixels} pixels")
    if kind == PNG:
        _check_png_complete(body)
    else:
        _check_jpeg_complete(body)
    factor = jpeg_reduction(width, height, at_least) if kind == JPEG else 1
    flags = dict(_JPEG_REDUCED).get(factor, cv2.IMREAD_COLOR)
    try:
        image = cv2.imdecode(np.frombuffer(body, np.uint8), flags)
    except cv2.error as error:
        raise DecodeFailed(f"cannot decode the {_name(kind)}: {str(error).strip()[:200]}") from None
    if image is None or image.size == 0:
        raise DecodeFailed(f"cannot decode the {_name(kind)}: the data is corrupt")
    expected = _ceil_div(width, factor) * _ceil_div(height, factor)
    if image.shape[0] * image.shape[1] != expected:  # EXIF rotation may swap them, nothing more
        raise DecodeFailed(f"the {_name(kind)} decoded to {image.shape[1]}x{image.shape[0]} pixels, "
                           f"not the {width}x{height} its header declares")
    return image


def image_size(body: bytes, content_type: str) -> Tuple[int, int]:
    """(width, height) a JPEG/PNG body's header declares (decode_image has checked it)."""
    return _png_size(body) if _content_kind(content_type) == PNG else jpeg_size(body)


def _ceil_div(value: int, factor: int) -> int:
    return -(-value // factor)


def _content_kind(content_type: str) -> str:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    kind = _ALIASES.get(base)
    if kind is None:
        raise UnsupportedContentType(
            f"content type {content_type!r} is not supported; use {JPEG} or {PNG}")
    return kind


def _name(kind: str) -> str:
    return "JPEG" if kind == JPEG else "PNG"


def _sniff(body: bytes) -> Optional[str]:
    if body.startswith(_PNG_SIGNATURE):
        return "PNG"
    if body.startswith(_JPEG_SOI + b"\xff"):
        return "JPEG"
    if body[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if body.startswith(b"BM"):
        return "BMP"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "WebP"
    return None


def _wrong_magic(body: bytes, kind: str) -> DecodeFailed:
    found = _sniff(body)
    what = f"a {found}" if found else "not an image we recognise"
    return DecodeFailed(f"content type is {kind} but the body is {what}")


# -- PNG ---------------------------------------------------------------------------------------------

def _png_size(body: bytes) -> Tuple[int, int]:
    """Width and height from the IHDR chunk, which the PNG specification requires first."""
    if not body.startswith(_PNG_SIGNATURE):
        raise _wrong_magic(body, PNG)
    if len(body) < 33:  # signature 8 + length 4 + type 4 + IHDR data 13 + CRC 4
        raise DecodeFailed("PNG is truncated: no complete IHDR header")
    length, chunk_type = struct.unpack(">I4s", body[8:16])
    if chunk_type != b"IHDR" or length != 13:
        raise DecodeFailed("PNG is invalid: the first chunk is not a 13-byte IHDR")
    (crc,) = struct.unpack(">I", body[29:33])
    if zlib.crc32(body[12:29]) & 0xFFFFFFFF != crc:
        raise DecodeFailed("PNG is invalid: the IHDR checksum does not match")
    width, height = struct.unpack(">II", body[16:24])
    if width == 0 or height == 0:
        raise DecodeFailed(f"PNG declares {width}x{height} pixels")
    return width, height


def _check_png_complete(body: bytes) -> None:
    # IEND is the last chunk (12 bytes: empty length, type, CRC); a cut file has lost it.
    iend = body.rfind(b"IEND", 33)
    if iend < 0 or len(body) - iend < 8:
        raise DecodeFailed("PNG is truncated: no IEND chunk")


# -- JPEG --------------------------------------------------------------------------------------------

def _next_marker(body: bytes, position: int) -> Tuple[int, int]:
    """(marker, position after it) of the marker at `position`, skipping 0xFF fill bytes."""
    end = len(body)
    if position >= end or body[position] != 0xFF:
        raise DecodeFailed(f"JPEG is invalid: a marker was expected at byte {position}")
    while position < end and body[position] == 0xFF:
        position += 1
    if position >= end:
        raise DecodeFailed("JPEG is truncated")
    return body[position], position + 1


def _segment_end(body: bytes, position: int) -> int:
    """End of the length-prefixed segment whose length field starts at `position`."""
    if position + 2 > len(body):
        raise DecodeFailed("JPEG is truncated")
    (length,) = struct.unpack(">H", body[position:position + 2])
    if length < 2:
        raise DecodeFailed(f"JPEG is invalid: segment length {length} at byte {position}")
    end = position + length
    if end > len(body):
        raise DecodeFailed("JPEG is truncated")
    return end


def jpeg_size(body: bytes) -> Tuple[int, int]:
    """Width and height from the first SOF segment (before any scan data), without decoding; raises
    DecodeFailed for data that is not a JPEG or has no frame header."""
    if not body.startswith(_JPEG_SOI):
        raise _wrong_magic(body, JPEG)
    position = 2
    while True:
        marker, position = _next_marker(body, position)
        if marker in _JPEG_STANDALONE:
            if marker == _JPEG_EOI:
                raise DecodeFailed("JPEG has no frame header (SOF)")
            continue
        if marker == _JPEG_SOS:
            raise DecodeFailed("JPEG has scan data before its frame header (SOF)")
        end = _segment_end(body, position)
        if marker in _JPEG_SOF:
            if end - position < 8:
                raise DecodeFailed("JPEG frame header (SOF) is too short")
            height, width = struct.unpack(">HH", body[position + 3:position + 7])
            if width == 0 or height == 0:
                # height 0 means "given later by a DNL marker": legal but rare, and not bounded here.
                raise DecodeFailed(f"JPEG declares {width}x{height} pixels")
            return width, height
        position = end


def _check_jpeg_complete(body: bytes) -> None:
    """Walk segments and entropy-coded scans to the EOI marker; a cut file never reaches it."""
    position = 2
    length = len(body)
    while True:
        marker, position = _next_marker(body, position)
        if marker == _JPEG_EOI:
            return
        if marker in _JPEG_STANDALONE:
            continue
        position = _segment_end(body, position)
        if marker != _JPEG_SOS:
            continue
        # Scan data: 0xFF is only followed by 0x00 (stuffing), RST0–7 or 0xFF (fill) inside it.
        while True:
            position = body.find(b"\xff", position)
            if position < 0 or position + 1 >= length:
                raise DecodeFailed("JPEG is truncated: no end-of-image marker")
            following = body[position + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                position += 2
            elif following == 0xFF:
                position += 1
            else:
                break
