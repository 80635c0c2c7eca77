"""A video file, decoded by OpenCV (FFmpeg), played once or looped."""

import os
from typing import Optional

import cv2
import numpy as np

from .base import SourceError
from .opencv import CaptureSource, decode_next, open_capture, reported_fps, to_bgr24


class VideoFileSource(CaptureSource):
    finite = True
    own_time = True
    can_skip = True

    def __init__(self, path: str, loop: bool = False) -> None:
        super().__init__()
        self.path = path
        self.loop = loop
        self._frames_this_pass = 0

    def open(self) -> None:
        if not os.path.isfile(self.path):
            raise SourceError(f"no video file at {self.path}")
        if not os.access(self.path, os.R_OK):
            raise SourceError(f"permission denied on {self.path}")
        self._capture = open_capture(self.path, cv2.CAP_FFMPEG, [], f"video file {self.path}")
        self._fps = reported_fps(self._capture)
        self._frames_this_pass = 0

    @property
    def frame_time(self) -> Optional[float]:
        # FFmpeg's presentation timestamp of the frame last decoded, from the stream's start
        # (0 when the container has none: the playback clock then spaces frames nominally).
        if self._capture is None:
            return None
        milliseconds = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
        return milliseconds / 1000.0 if milliseconds == milliseconds and milliseconds >= 0 else None

    def lost(self) -> str:
        return f"video file {self.path} could not be read"

    def read(self, into: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        if self._capture is None:
            raise SourceError(self.lost())
        ok, image = decode_next(self._capture, into)
        if not ok or image is None:
            if not self._next_pass():
                return None
            ok, image = decode_next(self._capture, into)
            if not ok or image is None:
                raise SourceError(f"no frame could be decoded from {self.path} after rewinding")
        self._frames_this_pass += 1
        return to_bgr24(image)

    def skip(self) -> bool:
        """The next frame taken off the file but not converted to BGR (nor allocated): a file played
        at a FrameRate below its own costs little more than its decoding."""
        if self._capture is None:
            raise SourceError(self.lost())
        if not self._capture.grab():
            if not self._next_pass():
                return False
            if not self._capture.grab():
                raise SourceError(f"no frame could be decoded from {self.path} after rewinding")
        self._frames_this_pass += 1
        return True

    def _next_pass(self) -> bool:
        """At the end of the file: start it again when looping (True), else False (it ended)."""
        if self._frames_this_pass == 0:
            raise SourceError(f"no frame could be decoded from {self.path}")
        if not self.loop:
            return False
        # Reopen rather than seek: seeking to frame 0 is unreliable for some containers/codecs.
        self.close()
        self.open()
        return True
