"""The annotated MP4: H.264 through PyAV (libx264), or OpenCV's mp4v when PyAV cannot."""

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import cv2
import numpy as np

from demo.frame_index import DrawnFrame


@dataclass(frozen=True)
class VideoWritten:
    path: str
    frames: int
    width: int
    height: int
    fps: float
    codec: str


def playback_fps(frames: Sequence[DrawnFrame], fallback: float = 10.0) -> float:
    """The rate the frames were captured at, so the video plays in real time even when the detector
    kept up with only part of the camera's frames."""
    if len(frames) < 2:
        return fallback
    span = frames[-1].captured_at - frames[0].captured_at
    if span <= 0:
        return fallback
    return min(60.0, max(1.0, (len(frames) - 1) / span))


def write_mp4(frames: Sequence[DrawnFrame], path: str, fps: float) -> VideoWritten:
    """Every drawn frame, in seq order, one video frame each, at the first frame's size."""
    if not frames:
        raise ValueError("no annotated frames to encode")
    width, height = frames[0].width, frames[0].height
    try:
        return _write_h264(frames, path, fps, width, height)
    except ImportError:
        return _write_mp4v(frames, path, fps, width, height)


def _images(frames: Sequence[DrawnFrame], width: int, height: int):
    for frame in frames:
        image = cv2.imread(frame.path, cv2.IMREAD_COLOR)
        if image is None:
            raise RuntimeError(f"cannot read {frame.path}")
        if image.shape[1] != width or image.shape[0] != height:  # the source changed size mid-run
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        yield image


def _write_h264(frames: Sequence[DrawnFrame], path: str, fps: float, width: int, height: int) -> VideoWritten:
    import av

    # yuv420p needs even dimensions; pad by one pixel rather than scale.
    even_w, even_h = width + width % 2, height + height % 2
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = even_w, even_h, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for image in _images(frames, width, height):
            if (even_w, even_h) != (width, height):
                image = np.pad(image, ((0, even_h - height), (0, even_w - width), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return VideoWritten(path, len(frames), even_w, even_h, fps, "H.264 (PyAV libx264)")


def _write_mp4v(frames: Sequence[DrawnFrame], path: str, fps: float, width: int, height: int) -> VideoWritten:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for image in _images(frames, width, height):
            writer.write(image)
    finally:
        writer.release()
    return VideoWritten(path, len(frames), width, height, fps, "MPEG-4 part 2 (OpenCV mp4v)")
