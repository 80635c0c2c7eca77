"""An RTSP (or RTMP) stream, decoded by OpenCV's FFmpeg backend, with open/read timeouts."""

import os
import threading
from typing import Optional

import cv2
import numpy as np

from ..redaction import redact
from .base import Source, SourceError
from .opencv import open_capture, reported_fps, timeout_params, to_bgr24

# FFmpeg takes its RTSP options from this process-wide variable when a capture is opened, so opening
# is serialised and the variable set for each open. Options the user set themselves come after ours.
_OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_USER_OPTIONS = os.environ.get(_OPTIONS_VARIABLE, "")
_open_lock = threading.Lock()


class RtspSource(Source):
    can_skip = True

    def __init__(self, url: str, transport: str = "tcp", timeout_s: float = 10.0) -> None:
        self._url = url
        self.describe = redact(url)
        self.transport = transport
        self.timeout_s = timeout_s
        self._capture: Optional[cv2.VideoCapture] = None
        self._fps: Optional[float] = None

    @property
    def native_fps(self) -> Optional[float]:
        return self._fps

    def open(self) -> None:
        # TCP by default: UDP loses packets (grey smears) on Wi-Fi and through NAT.
        options = f"rtsp_transport;{self.transport}"
        if _USER_OPTIONS:
            options += "|" + _USER_OPTIONS
        with _open_lock:
            os.environ[_OPTIONS_VARIABLE] = options
            try:
                self._capture = open_capture(self._url, cv2.CAP_FFMPEG,
                                             timeout_params(self.timeout_s, self.timeout_s), self.describe)
            finally:
                if _USER_OPTIONS:
                    os.environ[_OPTIONS_VARIABLE] = _USER_OPTIONS
                else:
                    os.environ.pop(_OPTIONS_VARIABLE, None)
        self._fps = reported_fps(self._capture)

    def read(self) -> Optional[np.ndarray]:
        if self._capture is None:
            raise SourceError("stream not open")
        ok, image = self._capture.read()
        if not ok or image is None:
            raise SourceError(f"{self.describe}: no frame within {self.timeout_s:g} s or the stream ended")
        return to_bgr24(image)

    def skip(self) -> None:
        # grab() demuxes the packet (and keeps the decoder's reference frames right); no conversion.
        if self._capture is None or not self._capture.grab():
            raise SourceError(f"{self.describe}: no frame within {self.timeout_s:g} s or the stream ended")

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()
