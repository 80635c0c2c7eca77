"""ggvision.CameraCapture settings. Defaults live in the recipe's DefaultConfiguration only.

The top-level per-camera keys (`FrameRate`, `Transport`, …) are the defaults for every camera; an
entry of `Cameras` may override any of them for itself. `Cameras` and those keys are `live` for the
run loop: the service compares camera by camera and restarts only the cameras whose settings changed
(a new `FrameRate` is applied without any restart).
"""

from dataclasses import dataclass, fields
from typing import Any, List, Optional

from ggvision.config import setting
from ggvision.config import validators as v

from .redaction import redact_source, redact_value
from .sources.kinds import ALLOWED, UnknownSourceKind, source_kind

CAMERA_ID = r"^[A-Za-z0-9_-]{1,64}$"  # as the frame and camera-status schemas require

NATIVE = "native"  # files play at their own frame rate, like a live camera
MAX = "max"  # files are read as fast as they are announced: every frame, in order, none dropped
PLAYBACK_SPEEDS = [NATIVE, MAX]
TRANSPORTS = ["shm", "jpeg"]
RTSP_TRANSPORTS = ["tcp", "udp"]


def _source_text(value: Any) -> str:
    # The kind is checked in _cameras, where the value shown in the error can be redacted. A list
    # or an object given instead is shown with every URL and secret-named key in it redacted.
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise v.Invalid(ALLOWED, "", redact_value(value), nested=True)
    return str(value).strip()


# Validators of the keys that are per camera, shared by the defaults and the overrides.
_FRAME_RATE = v.number(minimum=0, maximum=1000)
_LOOP = v.boolean()
_PLAYBACK = v.one_of(PLAYBACK_SPEEDS)
_TRANSPORT = v.one_of(TRANSPORTS)
_JPEG_QUALITY = v.integer(minimum=1, maximum=100)
_MAX_SIDE = v.integer(minimum=0, maximum=16384)
_RECONNECT_INITIAL = v.number(minimum=0.05, maximum=3600)
_RECONNECT_MAX = v.number(minimum=0.05, maximum=86400)
_READ_TIMEOUT = v.number(minimum=0.5, maximum=600)
_RTSP_TRANSPORT = v.one_of(RTSP_TRANSPORTS)
_DEVICE_SIDE = v.integer(minimum=0, maximum=16384)
# A V4L2 pixel format as a FOURCC (MJPG, YUYV, H264, …); "" leaves the device's choice.
_DEVICE_FORMAT = v.string(pattern=r"^([A-Za-z0-9 ]{4})?$", non_empty=False, max_length=4)


@dataclass(frozen=True)
class CameraEntry:
    """One element of `Cameras`: an id, a source, and any per-camera key to override for it."""

    camera_id: str = setting("CameraId", v.string(pattern=CAMERA_ID))
    source: str = setting("Source", _source_text)
    frame_rate: Optional[float] = setting("FrameRate", v.optional(_FRAME_RATE))
    loop: Optional[bool] = setting("Loop", v.optional(_LOOP))
    playback_speed: Optional[str] = setting("PlaybackSpeed", v.optional(_PLAYBACK))
    transport: Optional[str] = setting("Transport", v.optional(_TRANSPORT))
    jpeg_quality: Optional[int] = setting("JpegQuality", v.optional(_JPEG_QUALITY))
    max_width: Optional[int] = setting("MaxWidth", v.optional(_MAX_SIDE))
    max_height: Optional[int] = setting("MaxHeight", v.optional(_MAX_SIDE))
    reconnect_initial_s: Optional[float] = setting("ReconnectInitialSeconds", v.optional(_RECONNECT_INITIAL))
    reconnect_max_s: Optional[float] = setting("ReconnectMaxSeconds", v.optional(_RECONNECT_MAX))
    read_timeout_s: Optional[float] = setting("ReadTimeoutSeconds", v.optional(_READ_TIMEOUT))
    rtsp_transport: Optional[str] = setting("RtspTransport", v.optional(_RTSP_TRANSPORT))
    device_width: Optional[int] = setting("DeviceWidth", v.optional(_DEVICE_SIDE))
    device_height: Optional[int] = setting("DeviceHeight", v.optional(_DEVICE_SIDE))
    device_format: Optional[str] = setting("DeviceFormat", v.optional(_DEVICE_FORMAT))


_CAMERAS_ALLOWED = "a list of 1 to 32 objects, each with CameraId and Source"


def _cameras(value: Any) -> List[CameraEntry]:
    # Error lines show the offending value; a source URL given where an object was expected must
    # not print its credentials, so those values are redacted here.
    if not isinstance(value, list):
        raise v.Invalid(_CAMERAS_ALLOWED, "", redact_value(value), nested=True)
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            shown = redact_value(element)
            raise v.Invalid("an object with CameraId and Source", f"[{index}]", shown, nested=True)
    try:
        entries = v.list_of(v.nested(CameraEntry), min_items=1, max_items=32)(value)
    except v.Invalid as error:
        # Whatever value the error shows (any key of any camera) is shown redacted.
        shown = redact_value(error.value if error.nested else value)
        raise v.Invalid(error.allowed, error.key, shown, nested=True) from None
    seen = set()
    for index, entry in enumerate(entries):
        try:
            source_kind(entry.source)
        except UnknownSourceKind as error:
            # The error line shows the value: never with the credentials a URL may carry.
            shown = redact_source(entry.source)
            raise v.Invalid(str(error), f"[{index}].Source", shown, nested=True) from None
        if entry.camera_id in seen:
            raise v.Invalid("a CameraId used by one camera only", f"[{index}].CameraId", entry.camera_id,
                            nested=True)
        seen.add(entry.camera_id)
    return entries


@dataclass(frozen=True)
class CaptureSettings:
    cameras: List[CameraEntry] = setting("Cameras", _cameras, live=True)

    # Defaults for every camera (each may be overridden inside a Cameras entry).
    frame_rate: float = setting("FrameRate", _FRAME_RATE, live=True)
    loop: bool = setting("Loop", _LOOP, live=True)
    playback_speed: str = setting("PlaybackSpeed", _PLAYBACK, live=True)
    transport: str = setting("Transport", _TRANSPORT, live=True)
    jpeg_quality: int = setting("JpegQuality", _JPEG_QUALITY, live=True)
    max_width: int = setting("MaxWidth", _MAX_SIDE, live=True)
    max_height: int = setting("MaxHeight", _MAX_SIDE, live=True)
    reconnect_initial_s: float = setting("ReconnectInitialSeconds", _RECONNECT_INITIAL, live=True)
    reconnect_max_s: float = setting("ReconnectMaxSeconds", _RECONNECT_MAX, live=True)
    read_timeout_s: float = setting("ReadTimeoutSeconds", _READ_TIMEOUT, live=True)
    rtsp_transport: str = setting("RtspTransport", _RTSP_TRANSPORT, live=True)
    device_width: int = setting("DeviceWidth", _DEVICE_SIDE, live=True)
    device_height: int = setting("DeviceHeight", _DEVICE_SIDE, live=True)
    device_format: str = setting("DeviceFormat", _DEVICE_FORMAT, live=True)

    # Component-wide: a change rebuilds the service.
    ring_folder: str = setting("RingFolder", v.string(pattern=r"^/"))
    ring_slots: int = setting("RingSlots", v.integer(minimum=2, maximum=64))
    frames_topic: str = setting("FramesTopic", v.topic(["CameraId"]))
    status_topic: str = setting("StatusTopic", v.topic(["CameraId"]))
    status_interval_s: float = setting("StatusIntervalSeconds", v.number(minimum=0.5, maximum=3600))


@dataclass(frozen=True)
class CameraConfig:
    """Everything one camera runs with: its entry with the component-wide defaults filled in."""

    camera_id: str
    source: str
    frame_rate: float
    loop: bool
    playback_speed: str
    transport: str
    jpeg_quality: int
    max_width: int
    max_height: int
    reconnect_initial_s: float
    reconnect_max_s: float
    read_timeout_s: float
    rtsp_transport: str
    device_width: int
    device_height: int
    device_format: str
    ring_folder: str
    ring_slots: int
    frames_topic: str
    status_topic: str

    def same_except_frame_rate(self, other: "CameraConfig") -> bool:
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in fields(self) if f.name != "frame_rate")


def camera_configs(settings: CaptureSettings) -> List[CameraConfig]:
    """One CameraConfig per camera, in the order of `Cameras`."""
    configs = []
    for entry in settings.cameras:
        values = {}
        for f in fields(CameraEntry):
            own = getattr(entry, f.name)
            values[f.name] = own if own is not None else getattr(settings, f.name)
        configs.append(CameraConfig(
            ring_folder=settings.ring_folder, ring_slots=settings.ring_slots,
            frames_topic=settings.frames_topic.replace("{CameraId}", entry.camera_id),
            status_topic=settings.status_topic.replace("{CameraId}", entry.camera_id),
            **values))
    return configs
