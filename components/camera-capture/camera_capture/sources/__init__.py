"""Frame sources: V4L2/USB devices, RTSP, HTTP(S) MJPEG, video files and image folders.

A source's module is imported by `make_source`, the first time a camera of its kind is opened: a
configuration without an MJPEG camera never loads urllib, http.client and ssl (about 9 MiB).
"""

import os
from typing import Tuple

from .base import Source, SourceError
from .kinds import DEVICE, MJPEG, RTSP, UnknownSourceKind, source_kind

__all__ = ["Source", "SourceError", "UnknownSourceKind", "make_source", "source_kind"]


def make_source(source: str, loop: bool, read_timeout_s: float, rtsp_transport: str,
                device_mode: Tuple[int, int, str] = (0, 0, "")) -> Source:
    """A (not yet opened) Source for the `Source` setting; a path is an image folder or a video file,
    decided now, so a folder that appears later is found on the next reconnect. `device_mode`:
    (width, height, FOURCC) to ask a V4L2 camera for; 0 / "" leave the device's default."""
    kind = source_kind(source)
    if kind == DEVICE:
        from .device import DeviceSource

        return DeviceSource(source, *device_mode)
    if kind == RTSP:
        from .rtsp import RtspSource

        return RtspSource(source, rtsp_transport, read_timeout_s)
    if kind == MJPEG:
        from .mjpeg import MjpegSource

        return MjpegSource(source, read_timeout_s)
    if os.path.isdir(source):
        from .image_folder import ImageFolderSource

        return ImageFolderSource(source, loop)
    from .video_file import VideoFileSource

    return VideoFileSource(source, loop)
