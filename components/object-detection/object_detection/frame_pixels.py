"""A frame event's pixels in the order the detector takes (BGR, or grey).

Cameras may announce `rgb24` frames (and the reader hands them over as they are stored); feeding
those to a detector that expects BGR would swap red and blue, so they are reordered here, once.
"""

from typing import Any, Dict

import cv2
import numpy as np
from ggvision.frames import FrameReader


def read_bgr(reader: FrameReader, event: Dict[str, Any]) -> np.ndarray:
    """BGR (H×W×3) or grey (H×W) pixels of a `ggvision.frame/1` event; raises what `reader.read` raises.

    Always a private copy: a camera lapping a slow model must not change the pixels under it.
    """
    image = reader.read(event, copy=True)
    if event.get("pixel_format") == "rgb24" and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return image
