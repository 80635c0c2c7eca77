"""An RTSP (or RTMP) stream, decoded by OpenCV's FFmpeg backend, with open/read timeouts."""

import os
import threading

import cv2

from ..redaction import redact
from .opencv import CaptureSource, open_capture, reported_fps, timeout_params

# FFmpeg takes its RTSP options from this process-wide variable when a capture is opened, so opening
# is serialised and the variable set for each open. Options the user set themselves come after ours.
_OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_USER_OPTIONS = os.environ.get(_OPTIONS_VARIABLE, "")
_open_lock = threading.Lock()


class RtspSource(CaptureSource):
    can_skip = True

    def __init__(self, url: str, transport: str = "tcp", timeout_s: float = 10.0) -> None:
        super().__init__()
        self._url = url
        self.describe = redact(url)
        self.transport = transport
        self.timeout_s = timeout_s

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

    def lost(self) -> str:
        return f"{self.describe}: no frame within {self.timeout_s:g} s or the stream ended"
