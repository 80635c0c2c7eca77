"""Frame transport: the camera's shared-memory ring (`FrameRing`), `FrameReader`, the JPEG fallback and
`ggvision.frame/1` events. See docs/frames.md."""

from .events import frame_event
from .jpeg import decode_jpeg, encode_jpeg
from .reader import FrameReader, FrameUnavailable
from .ring import FrameRing, WrittenFrame

__all__ = ["FrameRing", "FrameReader", "FrameUnavailable", "WrittenFrame", "decode_jpeg", "encode_jpeg",
           "frame_event"]
