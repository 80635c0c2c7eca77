"""What kind of source a `Source` setting names, from its text alone (no I/O, so settings can check it)."""

import re

DEVICE = "device"  # V4L2/USB camera: an index (0) or a path under /dev (/dev/video0, /dev/v4l/by-id/…)
RTSP = "rtsp"  # rtsp:// or rtsps:// (also rtmp://): decoded by OpenCV's FFmpeg
MJPEG = "mjpeg"  # http:// or https://: a multipart MJPEG stream, or a JPEG snapshot URL polled
PATH = "path"  # an absolute path: a video file, or a folder of images (decided when opened)

ALLOWED = ("a camera number (0), a device path (/dev/video0), an rtsp:// or http(s):// URL, "
           "or an absolute path to a video file or a folder of images")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_STREAM_SCHEMES = {"rtsp", "rtsps", "rtmp", "rtmps"}
_HTTP_SCHEMES = {"http", "https"}


class UnknownSourceKind(ValueError):
    """The text names no source ggvision can open."""


def source_kind(source: str) -> str:
    """DEVICE, RTSP, MJPEG or PATH; UnknownSourceKind for anything else."""
    text = source.strip()
    if not text or any(ord(char) < 32 for char in text):
        raise UnknownSourceKind(ALLOWED)
    if text.isdigit() and len(text) <= 3:
        return DEVICE
    scheme = _SCHEME.match(text)
    if scheme:
        name = scheme.group(1).lower()
        if name in _STREAM_SCHEMES and len(text) > len(scheme.group(0)):
            return RTSP
        if name in _HTTP_SCHEMES and len(text) > len(scheme.group(0)):
            return MJPEG
        raise UnknownSourceKind(ALLOWED)
    if text.startswith("/dev/"):
        return DEVICE
    if text.startswith("/"):
        return PATH
    raise UnknownSourceKind(ALLOWED)
