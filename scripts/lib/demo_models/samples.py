"""OpenCV's sample data (Debian's opencv-doc): the pedestrian video the agreement checks run on and the
images the retrieval set is made of."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, List

if TYPE_CHECKING:
    import numpy as np

    Image = np.ndarray  # BGR uint8, as OpenCV reads it

OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"
VIDEO = os.path.join(OPENCV_DATA, "vtest.avi")


def video_frames(count: int, stride: int = 19) -> List[Image]:
    """Up to `count` frames of VIDEO, every `stride`th from frame 0."""
    import cv2
    capture = cv2.VideoCapture(VIDEO)
    frames, index = [], 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % stride == 0:
            frames.append(frame)
        index += 1
    capture.release()
    if not frames:
        sys.exit(f"make-demo-models: cannot read {VIDEO} (apt-get install opencv-doc)")
    return frames


def load_image(name: str) -> Image | None:
    """One of OpenCV's sample images, None when it is absent."""
    import cv2
    return cv2.imread(os.path.join(OPENCV_DATA, name), cv2.IMREAD_COLOR)
