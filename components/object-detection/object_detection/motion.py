"""The motion gate: skip inference while a camera's scene is unchanged.

A cheap test on a small grey thumbnail: the fraction of pixels that changed by more than a noise
margin since the last frame that was inferred. Below the threshold the last result is republished
(marked `reused`); a scene is re-inferred at least every `max_skip_s` so slow changes are not missed.
"""

import time
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

THUMBNAIL_WIDTH = 64
PIXEL_NOISE = 12  # grey levels: sensor noise and JPEG artefacts stay below this


class MotionGate:
    def __init__(self, threshold: float, max_skip_s: float) -> None:
        self.threshold = threshold
        self.max_skip_s = max_skip_s
        self._reference: Dict[str, Tuple[np.ndarray, float]] = {}

    def should_infer(self, camera_id: str, image: np.ndarray, now: Optional[float] = None) -> bool:
        """True when the frame differs enough from the last inferred one (which it then becomes)."""
        now = time.monotonic() if now is None else now
        thumbnail = _thumbnail(image)
        reference = self._reference.get(camera_id)
        fresh = reference is not None and now - reference[1] < self.max_skip_s
        if fresh and reference[0].shape == thumbnail.shape:
            changed = np.count_nonzero(cv2.absdiff(thumbnail, reference[0]) > PIXEL_NOISE)
            if changed < self.threshold * thumbnail.size:
                return False
        self._reference[camera_id] = (thumbnail, now)
        return True

    def forget(self, camera_id: str) -> None:
        self._reference.pop(camera_id, None)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    # Sample every n-th pixel first: resizing a 1080p frame directly costs more than the test saves.
    step = max(1, width // (THUMBNAIL_WIDTH * 4))
    sampled = image[::step, ::step]
    small_height = max(1, int(round(THUMBNAIL_WIDTH * height / float(width))))
    small = cv2.resize(sampled, (THUMBNAIL_WIDTH, small_height), interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return cv2.GaussianBlur(small, (3, 3), 0)
