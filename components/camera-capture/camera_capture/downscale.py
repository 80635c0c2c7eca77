"""Optional downscale before sharing (MaxWidth/MaxHeight), keeping the aspect ratio."""

from typing import Tuple

import cv2
import numpy as np


def fitted_size(width: int, height: int, max_width: int, max_height: int) -> Tuple[int, int]:
    """The largest (width, height) with the same aspect within the limits (0: no limit); never upscales."""
    scale = 1.0
    if max_width and width > max_width:
        scale = min(scale, max_width / width)
    if max_height and height > max_height:
        scale = min(scale, max_height / height)
    if scale >= 1.0:
        return width, height
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def fit_within(image: np.ndarray, max_width: int, max_height: int) -> np.ndarray:
    height, width = image.shape[:2]
    size = fitted_size(width, height, max_width, max_height)
    if size == (width, height):
        return image
    # INTER_AREA: the right filter for shrinking (no aliasing), and cheap.
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
