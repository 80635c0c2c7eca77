"""decode_image: untrusted JPEG/PNG bodies are refused before any decoding when they must be."""

import struct
import zlib

import cv2
import numpy as np
import pytest
from ggvision.imaging import decode as decode_module
from ggvision.imaging.decode import DecodeFailed, ImageTooLarge, UnsupportedContentType, decode_image

MAX_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 40_000_000


def picture(height: int = 48, width: int = 64) -> np.ndarray:
    image = np.full((height, width, 3), 100, np.uint8)
    image[: height // 2, : width // 2] = (0, 0, 255)  # red top-left (BGR)
    return image


def encode(extension: str, image: np.ndarray, params=()) -> bytes:
    ok, data = cv2.imencode(extension, image, list(params))
    assert ok
    return data.tobytes()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR (with a valid CRC) declares width×height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real JPEG whose SOF header is patched to declare width×height."""
    body = bytearray(encode(".jpg", picture()))
    position = 2
    while True:
        assert body[position] == 0xFF
        marker = body[position + 1]
        length = struct.unpack(">H", body[position + 2:position + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", body, position + 5, height, width)
            return bytes(body)
        position += 2 + length


@pytest.fixture
def no_decoding(monkeypatch):
    """Proves a refusal happened before the decoder: calling it fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("cv2.imdecode must not be called")

    monkeypatch.setattr(decode_module.cv2, "imdecode", refuse)


def test_valid_jpeg_is_decoded_to_bgr():
    image = decode_image(encode(".jpg", picture(), [cv2.IMWRITE_JPEG_QUALITY, 95]), "image/jpeg",
                         MAX_BYTES, MAX_PIXELS)
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    blue, green, red = image[5, 5].tolist()
    assert red > 200 and blue < 50 and green < 50


def test_progressive_jpeg_and_content_type_parameters():
    body = encode(".jpg", picture(), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    image = decode_image(body, "IMAGE/JPEG; charset=binary", MAX_BYTES, MAX_PIXELS)
    assert image.shape == (48, 64, 3)


def test_valid_png_is_decoded_exactly():
    original = picture()
    image = decode_image(encode(".png", original), "image/png", MAX_BYTES, MAX_PIXELS)
    assert np.array_equal(image, original)


def test_grey_png_becomes_bgr():
    grey = np.full((20, 30), 77, np.uint8)
    image = decode_image(encode(".png", grey), "image/png", MAX_BYTES, MAX_PIXELS)
    assert image.shape == (20, 30, 3)
    assert np.all(image == 77)


def test_rgba_png_becomes_bgr():
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 2] = 255  # red in BGRA
    rgba[..., 3] = 128
    image = decode_image(encode(".png", rgba), "image/png", MAX_BYTES, MAX_PIXELS)
    assert image.shape == (20, 30, 3)
    assert image[0, 0].tolist() == [0, 0, 255]


def test_16_bit_png_becomes_8_bit_bgr():
    deep = np.full((10, 12, 3), 65535, np.uint16)
    image = decode_image(encode(".png", deep), "image/png", MAX_BYTES, MAX_PIXELS)
    assert image.dtype == np.uint8 and image.shape == (10, 12, 3)


def test_non_image_bytes_fail_to_decode():
    with pytest.raises(DecodeFailed, match="not an image"):
        decode_image(b"hello, this is not an image at all", "image/jpeg", MAX_BYTES, MAX_PIXELS)
    with pytest.raises(DecodeFailed):
        decode_image(b"\x00" * 100, "image/png", MAX_BYTES, MAX_PIXELS)


def test_empty_body_fails_to_decode():
    with pytest.raises(DecodeFailed, match="empty"):
        decode_image(b"", "image/png", MAX_BYTES, MAX_PIXELS)


@pytest.mark.parametrize("progressive", [0, 1])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_jpeg_fails(progressive, keep):
    body = encode(".jpg", np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8),
                  [cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
    assert decode_image(body, "image/jpeg", MAX_BYTES, MAX_PIXELS).shape == (64, 64, 3)
    with pytest.raises(DecodeFailed, match="truncated"):
        decode_image(body[: int(len(body) * keep)], "image/jpeg", MAX_BYTES, MAX_PIXELS)


def test_jpeg_cut_just_before_its_end_marker_fails():
    body = encode(".jpg", picture())
    assert body.endswith(b"\xff\xd9")
    with pytest.raises(DecodeFailed):
        decode_image(body[:-2], "image/jpeg", MAX_BYTES, MAX_PIXELS)


def test_jpeg_with_trailing_bytes_after_its_end_is_accepted():
    body = encode(".jpg", picture()) + b"\x00\x00trailer"
    assert decode_image(body, "image/jpeg", MAX_BYTES, MAX_PIXELS).shape == (48, 64, 3)


@pytest.mark.parametrize("keep", [20, 40, 0.5, 0.9])
def test_truncated_png_fails(keep):
    body = encode(".png", np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    cut = keep if isinstance(keep, int) else int(len(body) * keep)
    with pytest.raises(DecodeFailed, match="truncated|IHDR"):
        decode_image(body[:cut], "image/png", MAX_BYTES, MAX_PIXELS)


def test_png_with_a_corrupt_header_checksum_fails():
    body = bytearray(encode(".png", picture()))
    body[30] ^= 0xFF  # inside IHDR's CRC
    with pytest.raises(DecodeFailed, match="checksum"):
        decode_image(bytes(body), "image/png", MAX_BYTES, MAX_PIXELS)


def test_png_header_declaring_20000x20000_is_refused_before_decoding(no_decoding):
    body = png_declaring(20000, 20000)
    assert len(body) < 100
    with pytest.raises(ImageTooLarge, match="20000x20000"):
        decode_image(body, "image/png", MAX_BYTES, MAX_PIXELS)


def test_jpeg_header_declaring_huge_dimensions_is_refused_before_decoding(no_decoding):
    body = jpeg_declaring(60000, 50000)
    with pytest.raises(ImageTooLarge, match="60000x50000"):
        decode_image(body, "image/jpeg", MAX_BYTES, MAX_PIXELS)


def test_pixel_limit_is_inclusive():
    body = encode(".png", picture(10, 10))
    assert decode_image(body, "image/png", MAX_BYTES, 100).shape == (10, 10, 3)
    with pytest.raises(ImageTooLarge, match="10x10"):
        decode_image(body, "image/png", MAX_BYTES, 99)


def test_png_declaring_zero_pixels_fails(no_decoding):
    with pytest.raises(DecodeFailed, match="0x5"):
        decode_image(png_declaring(0, 5), "image/png", MAX_BYTES, MAX_PIXELS)


@pytest.mark.parametrize("content_type, body_kind", [("image/jpeg", ".png"), ("image/png", ".jpg")])
def test_content_type_must_match_the_magic_bytes(content_type, body_kind, no_decoding):
    body = encode(body_kind, picture())
    found = "PNG" if body_kind == ".png" else "JPEG"
    with pytest.raises(DecodeFailed, match=f"content type is {content_type} but the body is a {found}"):
        decode_image(body, content_type, MAX_BYTES, MAX_PIXELS)


@pytest.mark.parametrize("content_type", ["image/gif", "text/plain", "", "application/octet-stream"])
def test_unknown_content_type_is_unsupported(content_type, no_decoding):
    with pytest.raises(UnsupportedContentType, match="image/jpeg or image/png"):
        decode_image(encode(".png", picture()), content_type, MAX_BYTES, MAX_PIXELS)


def test_body_over_max_bytes_is_too_large(no_decoding):
    body = encode(".png", picture())
    with pytest.raises(ImageTooLarge, match=f"{len(body)} bytes; the limit is {len(body) - 1}"):
        decode_image(body, "image/png", len(body) - 1, MAX_PIXELS)


def test_errors_are_value_errors():
    for error in (DecodeFailed, ImageTooLarge, UnsupportedContentType):
        assert issubclass(error, ValueError)


def test_truncated_jpeg_carrying_a_complete_thumbnail_still_fails():
    # An APP1 segment holding a whole JPEG (its own end marker included), as EXIF thumbnails do.
    thumbnail = encode(".jpg", picture(8, 8))
    app1 = b"\xff\xe1" + struct.pack(">H", len(thumbnail) + 8) + b"Exif\x00\x00" + thumbnail
    main = encode(".jpg", np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    body = main[:2] + app1 + main[2:]
    assert decode_image(body, "image/jpeg", MAX_BYTES, MAX_PIXELS).shape == (64, 64, 3)
    with pytest.raises(DecodeFailed, match="truncated"):
        decode_image(body[: len(app1) + len(main) // 2], "image/jpeg", MAX_BYTES, MAX_PIXELS)


def test_a_memoryview_body_is_accepted():
    body = encode(".png", picture())
    assert decode_image(memoryview(body), "image/png", MAX_BYTES, MAX_PIXELS).shape == (48, 64, 3)
