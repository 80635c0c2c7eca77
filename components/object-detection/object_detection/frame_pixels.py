"""A frame event's pixels in the order the detector takes (BGR, or grey).

Cameras may announce `rgb24` frames (and the reader hands them over as they are stored); feeding
those to a detector that expects BGR would swap red and blue, so they are reordered here, once.

Continuous detection reads a shared-memory frame in place (`view_bgr`): the detector's
preprocessing is the only pass over the camera's pixels, instead of a copy of the whole frame first
(6.2 MB at 1080p) and then the pass. The price is a check, once preprocessing is done, that the camera
did not overwrite the slot meanwhile (`FrameView.released`).
"""

from dataclasses import dataclass
from typing import Any, Dict

import cv2
import numpy as np
from ggvision.frames import FrameReader, FrameUnavailable


def read_bgr(reader: FrameReader, event: Dict[str, Any]) -> np.ndarray:
    """BGR (H×W×3) or grey (H×W) pixels of a `ggvision.frame/1` event; raises what `reader.read` raises.

    Always a private copy: a camera lapping a slow model must not change the pixels under it.
    """
    image = reader.read(event, copy=True)
    return _as_bgr(image, event)


@dataclass
class FrameView:
    """A frame's pixels, possibly a read-only view into the camera's ring."""

    image: np.ndarray
    reader: FrameReader
    event: Dict[str, Any]
    in_ring: bool

    def released(self) -> None:
        """Call when done reading `image`: raises FrameUnavailable if the camera overwrote the slot
        while it was read (what was computed from it must then be dropped)."""
        if self.in_ring and not self.reader.still_valid(self.event):
            raise FrameUnavailable(f"frame {self.event.get('seq')} of camera {self.event.get('camera_id')} "
                                   "was overwritten while it was read")


def view_bgr(reader: FrameReader, event: Dict[str, Any]) -> FrameView:
    """The event's pixels as `read_bgr`, but read in place where they are in shared memory already in
    BGR or grey; raises what `reader.read` raises."""
    if event.get("transport") != "shm" or event.get("pixel_format") == "rgb24":
        return FrameView(read_bgr(reader, event), reader, event, in_ring=False)
    return FrameView(reader.read(event, copy=False), reader, event, in_ring=True)


def _as_bgr(image: np.ndarray, event: Dict[str, Any]) -> np.ndarray:
    if event.get("pixel_format") == "rgb24" and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    return image
