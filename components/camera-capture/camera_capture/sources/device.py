"""A V4L2/USB camera: `0` or a path under /dev (`/dev/video0`, `/dev/v4l/by-id/…-video-index0`)."""

import os
from typing import Union

import cv2

from .base import SourceError
from .opencv import CaptureSource, open_capture, reported_fps


def device_path(source: str) -> str:
    """`0` → `/dev/video0`; a path stays as it is."""
    return f"/dev/video{int(source)}" if source.isdigit() else source


class DeviceSource(CaptureSource):
    can_skip = True

    def __init__(self, source: str, width: int = 0, height: int = 0, pixel_format: str = "") -> None:
        super().__init__()
        self.path = device_path(source)
        self.width, self.height, self.pixel_format = width, height, pixel_format

    def open(self) -> None:
        if not os.path.exists(self.path):
            raise SourceError(f"no camera at {self.path} (is it connected?)")
        if not os.access(self.path, os.R_OK | os.W_OK):
            raise SourceError(f"permission denied on {self.path}: the component user needs the video group "
                              "(sudo usermod -aG video ggc_user, then restart Greengrass)")
        target: Union[int, str] = self.path
        # Follow by-id/by-path links to /dev/videoN: OpenCV's V4L2 backend opens by index most reliably.
        real = os.path.realpath(self.path)
        if real.startswith("/dev/video") and real[len("/dev/video"):].isdigit():
            target = int(real[len("/dev/video"):])
        self._capture = open_capture(target, cv2.CAP_V4L2, [], f"camera {self.path}")
        # Keep the driver's queue short: we read continuously, and a deep queue only adds latency.
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        # The format before the size: V4L2 offers sizes per format (many webcams reach 720p/1080p at
        # 30 fps in MJPG only). A mode the camera lacks is adjusted by the driver, not an error.
        if self.pixel_format:
            self._capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.pixel_format))
        if self.width:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._fps = reported_fps(self._capture)

    def lost(self) -> str:
        return f"camera {self.path} stopped delivering frames"
