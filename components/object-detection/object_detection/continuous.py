"""Continuous mode: detections for the newest frame of every camera.

Frame events queue up per camera while the model is busy; only the newest is inferred and the ones
it replaced are counted as skipped, so latency never grows. With the motion gate on, an unchanged
scene republishes the last result (marked `reused`) instead of running the model.
"""

import collections
import concurrent.futures
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ggvision.contracts import ContractError, validate
from ggvision.frames import FrameReader, FrameUnavailable
from ggvision.frames.layout import is_camera_id
from ggvision.ipc import IpcClient, describe_error
from ggvision.log import LogThrottle, get_logger

from .counts import CountsWindow
from .frame_pixels import view_bgr
from .motion import MotionGate
from .settings import DetectionSettings

_log = get_logger("ggvision.ObjectDetection.continuous")

FRAME_SCHEMA = "ggvision.frame/1"


def topic_cameras(topic: str, topic_filter: Optional[str] = None) -> List[str]:
    """The levels of `topic` that may name the camera of a frame event received on it.

    Through a filter with wildcards (`ggvision/cameras/+/frames`) only the levels the wildcards
    matched (`+`: that level; `#`: every level from there on); through an exact topic (or with no
    filter known) every level of the topic.
    """
    levels = topic.split("/")
    if not topic_filter:
        return levels
    wanted: List[str] = []
    for index, level in enumerate(topic_filter.split("/")):
        if level == "#":
            return wanted + levels[index:]
        if level == "+" and index < len(levels):
            wanted.append(levels[index])
    return wanted if wanted or "+" in topic_filter.split("/") else levels


def camera_fits_topic(camera_id: str, topic: str, topic_filter: Optional[str] = None) -> bool:
    """Whether a frame event of camera `camera_id` may come on `topic`: the camera id must be a whole
    level of the topic (one a wildcard of the subscription matched, when it has wildcards), so a
    component allowed to publish on one camera's frames topic cannot speak for another camera."""
    return camera_id in topic_cameras(topic, topic_filter)


class LatestFrames:
    """The newest frame event per camera, taken round-robin across cameras.

    Events are checked against their schema when taken, not when they arrive: a camera may announce
    hundreds of frames a second that the model never sees, and each full check costs a fraction of a
    millisecond. On arrival only the camera id is checked (matched whole, and against the topic the
    event came on when `offer` is told it), to know which slot the event replaces.
    """

    def __init__(self) -> None:
        self._latest: Dict[str, Dict[str, Any]] = {}
        self._skipped: Dict[str, int] = {}
        self._turns: Deque[str] = collections.deque()
        self.invalid = 0
        self._invalid_warning = LogThrottle(_log.name, 10.0)

    def offer(self, event: Any, topic: Optional[str] = None, topic_filter: Optional[str] = None) -> None:
        """Keep `event` as its camera's newest frame. `topic` is the topic it arrived on and
        `topic_filter` the subscription's filter: an event whose camera id is not that topic's camera
        (see `camera_fits_topic`) is refused and counted in `invalid`."""
        camera_id = event.get("camera_id") if isinstance(event, dict) else None
        if not is_camera_id(camera_id):  # re.fullmatch: "front\n" is not a camera id
            self._reject(ContractError(FRAME_SCHEMA, "/camera_id", "missing or not a camera id"))
            return
        if topic is not None and not camera_fits_topic(camera_id, topic, topic_filter):
            self._reject(ContractError(FRAME_SCHEMA, "/camera_id", f"camera {camera_id} is not the camera "
                                       f"of topic {topic} (it arrived through {topic_filter or topic})"))
            return
        if camera_id in self._latest:
            self._skipped[camera_id] = self._skipped.get(camera_id, 0) + 1
        else:
            self._turns.append(camera_id)
        self._latest[camera_id] = event

    def take(self) -> Optional[Tuple[Dict[str, Any], int]]:
        """(event, frames it replaced) for the next camera with a valid pending frame."""
        while self._turns:
            camera_id = self._turns.popleft()
            event, replaced = self._latest.pop(camera_id), self._skipped.pop(camera_id, 0)
            try:
                validate(event, FRAME_SCHEMA)
            except ContractError as error:
                self._reject(error)
                continue
            return event, replaced
        return None

    def _reject(self, error: ContractError) -> None:
        self.invalid += 1
        self._invalid_warning.warning("ignoring invalid frame event (%d so far): %s", self.invalid, error)

    def __len__(self) -> int:
        return len(self._turns)


# (image, score threshold, max detections[, input_released]) -> the detections message's fields
Infer = Callable[..., Dict[str, Any]]


class ContinuousMode:
    def __init__(self, ipc: IpcClient, settings: DetectionSettings, reader: FrameReader, infer: Infer,
                 counts: Optional[CountsWindow]) -> None:
        self._ipc = ipc
        self.settings = settings
        self._reader = reader
        self._infer = infer
        self._counts = counts
        self._gate = MotionGate(settings.motion_threshold, settings.motion_max_skip_s)
        self._last: Dict[str, Dict[str, Any]] = {}
        self.inferred = 0
        self.skipped = 0
        self.gated = 0
        self.unavailable = 0
        self.publish_failures = 0
        # Frames of a camera not inferred since its last detections message whose count no message
        # carried yet (the frame was unavailable): added to the next message's skipped_frames.
        self._not_reported: Dict[str, int] = {}
        self._failure_warning = LogThrottle(_log.name, 10.0)
        self.refused = 0
        self._refusal_warning = LogThrottle(_log.name, 10.0)

    def apply(self, settings: DetectionSettings) -> None:
        self.settings = settings
        self._gate.threshold = settings.motion_threshold
        self._gate.max_skip_s = settings.motion_max_skip_s
        if not settings.motion_gate:
            self._last.clear()

    def _unavailable(self, camera_id: str, event: Dict[str, Any], replaced: int, error: Exception) -> None:
        """Overwritten before or while we read it (normal when the camera outpaces the model): counted,
        carried in the next message's skipped_frames; the next frame is taken."""
        self.unavailable += 1
        self._not_reported[camera_id] = self._not_reported.get(camera_id, 0) + replaced + 1
        _log.debug("frame %s/%s unavailable: %s", camera_id, event.get("seq"), error)

    def _published(self, future: "concurrent.futures.Future") -> None:
        """Runs on the IPC thread: a refused publish (e.g. a DetectionsTopic the policy does not
        cover) is logged every 10 s with a count, not once per frame."""
        if future.cancelled():  # the connection is closing: nothing to report
            return
        error = future.exception()
        if error is None:
            return
        self.publish_failures += 1
        self._failure_warning.warning("cannot publish detections (%d failures so far): %s",
                                      self.publish_failures, describe_error(error))

    def handle(self, event: Dict[str, Any], replaced: int) -> None:
        camera_id = event["camera_id"]
        self.skipped += replaced
        try:
            frame = view_bgr(self._reader, event)
        except FrameUnavailable as error:
            self._unavailable(camera_id, event, replaced, error)
            return
        except ValueError as error:
            # A ring path outside the ring folder, a bad geometry: refused, counted, warned about.
            self.refused += 1
            self._not_reported[camera_id] = self._not_reported.get(camera_id, 0) + replaced + 1
            self._refusal_warning.warning("refused frame event of camera %s (%d so far): %s", camera_id,
                                          self.refused, short(str(error)))
            return
        last = self._last.get(camera_id)
        try:
            # Read in place (a view into the ring): the gate and the detector's preprocessing read the
            # pixels, then `released` checks the camera did not overwrite them meanwhile.
            changed = self._gate.should_infer(camera_id, frame.image) if self.settings.motion_gate else True
            reused = not changed and last is not None
            if reused:
                frame.released()
                result = last
            else:
                result = self._infer(frame.image, None, None, frame.released)
        except FrameUnavailable as error:
            self._unavailable(camera_id, event, replaced, error)
            return
        if reused:
            self.gated += 1
        else:
            self.inferred += 1
            if self.settings.motion_gate:
                self._last[camera_id] = result
        message = {
            "schema": "ggvision.detections/1", "ts": time.time(), "camera_id": camera_id,
            "seq": event["seq"], "captured_at": event["captured_at"],
            "prediction": result["prediction"], "labels": result["labels"],
            "width": event["width"], "height": event["height"], "model": result["model"],
            "inference_ms": 0.0 if reused else result["inference_ms"],
            "reused": reused, "skipped_frames": replaced + self._not_reported.pop(camera_id, 0),
        }
        topic = self.settings.detections_topic.replace("{CameraId}", camera_id)
        # Not waiting for the nucleus's acknowledgement lets the next frame start a round trip sooner.
        self._ipc.publish_json_async(topic, message).add_done_callback(self._published)
        if self._counts is not None:
            self._counts.add(camera_id, [row[0] for row in result["prediction"]])


def short(text: str, limit: int = 200) -> str:
    """A message that may quote an untrusted value, cut to one log line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"
