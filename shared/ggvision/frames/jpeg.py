"""The `jpeg` frame transport: a base64 JPEG inside the event, for consumers that cannot share memory.

Decoding reads the frame size from the JPEG's SOF header first (`ggvision.imaging.decode.jpeg_size`),
so a message cannot make us allocate a huge image by lying about its size.
"""

import base64
import binascii
from typing import Optional, Tuple

import cv2
import numpy as np

from ..imaging.decode import jpeg_reduction, jpeg_size  # the one JPEG header reader

DEFAULT_QUALITY = 90
DEFAULT_MAX_PIXELS = 40_000_000
# (grey?, reduction factor) -> imdecode flags
_REDUCED = {
    (False, 1): cv2.IMREAD_COLOR, (False, 2): cv2.IMREAD_REDUCED_COLOR_2,
    (False, 4): cv2.IMREAD_REDUCED_COLOR_4, (False, 8): cv2.IMREAD_REDUCED_COLOR_8,
    (True, 1): cv2.IMREAD_GRAYSCALE, (True, 2): cv2.IMREAD_REDUCED_GRAYSCALE_2,
    (True, 4): cv2.IMREAD_REDUCED_GRAYSCALE_4, (True, 8): cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def encode_jpeg(image: np.ndarray, quality: int = DEFAULT_QUALITY, pixel_format: str = "bgr24") -> str:
    """A frame (H×W×3 BGR, H×W×3 RGB with pixel_format="rgb24", or H×W gray) as base64 JPEG text."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality {quality!r} must be an integer from 1 to 100")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError("a frame to encode must be a uint8 NumPy array (H×W or H×W×3)")
    if pixel_format == "rgb24":
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"the frame could not be encoded as JPEG (shape {image.shape})")
    return base64.b64encode(encoded.tobytes()).decode("ascii")


def decode_jpeg(b64: str, pixel_format: str = "bgr24", max_pixels: int = DEFAULT_MAX_PIXELS,
                expected_size: Optional[Tuple[int, int]] = None,
                at_least: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Base64 JPEG text → H×W×3 uint8 (BGR, or RGB for "rgb24") or H×W for "gray8".

    With `at_least` (a consumer's input width and height), a large frame is decoded at the reduced
    scale that still covers it (`jpeg_reduction`), so one message costs memory in proportion to the
    consumer. Raises `ValueError` for text that is not base64 of a JPEG, an image over `max_pixels`,
    or one whose (width, height) is not `expected_size` when that is given.
    """
    if pixel_format not in ("bgr24", "rgb24", "gray8"):
        raise ValueError(f"pixel format {pixel_format!r} is not bgr24, rgb24 or gray8")
    if not isinstance(b64, str):
        raise ValueError("JPEG data must be base64 text")
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("JPEG data is not valid base64") from None
    width, height = jpeg_size(data)
    if expected_size is not None and (width, height) != tuple(expected_size):
        raise ValueError("JPEG is {}x{}, the event says {}x{}".format(width, height, *expected_size))
    if width * height > max_pixels:
        raise ValueError(f"JPEG is {width}x{height} pixels; the limit is {max_pixels} pixels")
    factor = jpeg_reduction(width, height, at_least)
    flags = cv2.IMREAD_IGNORE_ORIENTATION  # the event's width/height are the stored ones
    flags |= _REDUCED[(pixel_format == "gray8", factor)]
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if image is None or image.shape[:2] != (-(-height // factor), -(-width // factor)):
        raise ValueError("JPEG data could not be decoded")
    if pixel_format == "rgb24":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image
