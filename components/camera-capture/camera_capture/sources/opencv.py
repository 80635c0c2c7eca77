"""OpenCV's VideoCapture, opened quietly and with timeouts: the common ground of devices, RTSP and files.

OpenCV and FFmpeg print their own warnings to stderr, and some of them quote the URL being opened,
credentials included. We report failures ourselves (redacted), so their logging is turned down to
errors (OpenCV) and off (FFmpeg, unless OPENCV_FFMPEG_LOGLEVEL is set by the user for debugging).
"""

import os
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .base import Source, SourceError

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read by OpenCV when FFmpeg is first used
try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # builds without the logging utils: nothing to turn down
    pass


def timeout_params(open_timeout_s: float, read_timeout_s: float) -> List[int]:
    """VideoCapture parameters for open/read timeouts, where this OpenCV has them (4.5.2+)."""
    params: List[int] = []
    for name, seconds in (("CAP_PROP_OPEN_TIMEOUT_MSEC", open_timeout_s),
                          ("CAP_PROP_READ_TIMEOUT_MSEC", read_timeout_s)):
        prop = getattr(cv2, name, None)
        if prop is not None:
            params += [int(prop), int(seconds * 1000)]
    return params


def open_capture(target: Union[int, str], api: int, params: Sequence[int],
                 describe: str) -> "cv2.VideoCapture":
    """An opened VideoCapture, or SourceError naming `describe` (never the raw target: it may hold
    credentials)."""
    try:
        capture = cv2.VideoCapture(target, api, list(params)) if params else cv2.VideoCapture(target, api)
    except cv2.error as error:
        raise SourceError(f"cannot open {describe}: {error}") from None
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open {describe}")
    return capture


def to_bgr24(image: np.ndarray) -> np.ndarray:
    """Whatever a backend handed over (gray, BGRA, 16-bit) as contiguous HxWx3 uint8 BGR."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1.0, float(image.max())))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image)


def decode_next(capture: "cv2.VideoCapture", into: Optional[np.ndarray]) -> Tuple[bool, Optional[np.ndarray]]:
    """capture.read(), into `into` when it is the frame's size (OpenCV allocates a new array when not)."""
    return capture.read(into) if into is not None else capture.read()


def reported_fps(capture: "cv2.VideoCapture") -> Optional[float]:
    """The stream's declared frame rate when it is plausible, else None."""
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if 0.1 <= fps <= 1000 else None


class CaptureSource(Source):
    """A source read through one cv2.VideoCapture (devices, RTSP, files); `open()` sets `_capture`."""

    def __init__(self) -> None:
        self._capture: Optional[cv2.VideoCapture] = None
        self._fps: Optional[float] = None

    @property
    def native_fps(self) -> Optional[float]:
        return self._fps

    def lost(self) -> str:
        """What went wrong when the capture stops delivering (shown in logs and status: no credentials)."""
        raise NotImplementedError

    def read(self, into: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        ok, image = decode_next(self._capture, into) if self._capture is not None else (False, None)
        if not ok or image is None:
            raise SourceError(self.lost())
        return to_bgr24(image)

    def skip(self) -> bool:
        # grab() takes the frame off the driver or demuxer; retrieve() (the conversion to BGR, and
        # for a camera the decode) is what we save.
        if self._capture is None or not self._capture.grab():
            raise SourceError(self.lost())
        return True

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()
