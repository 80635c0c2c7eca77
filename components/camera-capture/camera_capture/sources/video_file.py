"""A video file, decoded by OpenCV (FFmpeg), played once or looped."""

import os
from typing import Optional

import cv2
import numpy as np

from .base import Source, SourceError
from .opencv import open_capture, reported_fps, to_bgr24


class VideoFileSource(Source):
    finite = True

    def __init__(self, path: str, loop: bool = False) -> None:
        self.path = path
        self.loop = loop
        self._capture: Optional[cv2.VideoCapture] = None
        self._fps: Optional[float] = None
        self._frames_this_pass = 0

    @property
    def native_fps(self) -> Optional[float]:
        return self._fps

    def open(self) -> None:
        if not os.path.isfile(self.path):
            raise SourceError(f"no video file at {self.path}")
        if not os.access(self.path, os.R_OK):
            raise SourceError(f"permission denied on {self.path}")
        self._capture = open_capture(self.path, cv2.CAP_FFMPEG, [], f"video file {self.path}")
        self._fps = reported_fps(self._capture)
        self._frames_this_pass = 0

    def read(self) -> Optional[np.ndarray]:
        if self._capture is None:
            raise SourceError("video file not open")
        ok, image = self._capture.read()
        if ok and image is not None:
            self._frames_this_pass += 1
            return to_bgr24(image)
        if self._frames_this_pass == 0:
            raise SourceError(f"no frame could be decoded from {self.path}")
        if not self.loop:
            return None
        # Reopen rather than seek: seeking to frame 0 is unreliable for some containers/codecs.
        self.close()
        self.open()
        ok, image = self._capture.read()
        if not ok or image is None:
            raise SourceError(f"no frame could be decoded from {self.path} after rewinding")
        self._frames_this_pass = 1
        return to_bgr24(image)

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()
