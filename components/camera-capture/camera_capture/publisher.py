"""Announce one frame: downscale, put the pixels in the ring (or a JPEG in the event), publish the event.

Publishing does not wait for the nucleus's acknowledgement (publish_json_async), so a slow nucleus
never holds the pacing loop; at most MAX_IN_FLIGHT events may be unacknowledged, beyond that a frame
of a live source is refused (counted as dropped) rather than queued: the newest frame wins. A file
played in lockstep (`PlaybackSpeed: max`) promises every frame, so its frames wait for the window
instead (`publish(frame, wait=stop)`).
"""

import collections
import threading
from concurrent.futures import Future
from typing import Callable, Deque, Optional

from ggvision.frames import FrameRing, encode_jpeg, frame_event
from ggvision.ipc import IpcClient
from ggvision.log import LogThrottle

from .downscale import fit_within
from .latest import Frame
from .settings import CameraConfig

PIXEL_FORMAT = "bgr24"
MAX_IN_FLIGHT = 8
# An IPC message is one eventstream frame, at most 16 MiB (the nucleus closes the connection of a
# component that sends a larger one); the rest of the event and the frame's headers fit in the margin.
MAX_JPEG_EVENT_DATA = 16 * 1024 * 1024 - 64 * 1024
_WINDOW_WAIT = 0.25  # how often a publisher waiting for the window looks at the stop flag


class PublishFailed(Exception):
    """The frame could not be put in shared memory or encoded (the message says why)."""


class FrameTooLarge(Exception):
    """The frame's JPEG does not fit in one IPC message (`Transport: jpeg`): it is not sent."""


class FramePublisher:
    def __init__(self, ipc: IpcClient, config: CameraConfig,
                 on_error: Optional[Callable[[str], None]] = None, first_seq: int = 0) -> None:
        self._ipc = ipc
        self.config = config
        self._ring: Optional[FrameRing] = None
        self._next_seq = first_seq
        self._in_flight: Deque[Future] = collections.deque()
        self._lock = threading.Lock()
        self._acknowledged = threading.Condition(self._lock)
        self._warn = LogThrottle(f"ggvision.CameraCapture.{config.camera_id}.publish", 30.0)
        self._on_error = on_error
        self.width: Optional[int] = None
        self.height: Optional[int] = None

    def publish(self, frame: Frame, wait: Optional[threading.Event] = None) -> bool:
        """Announce `frame`; False when too many earlier events are still unacknowledged.

        With `wait` (the camera's stop event) a full window is waited out instead: False then
        only when `wait` was set meanwhile."""
        with self._lock:
            while True:
                while self._in_flight and self._in_flight[0].done():
                    self._in_flight.popleft()
                if len(self._in_flight) < MAX_IN_FLIGHT:
                    break
                if wait is None or wait.is_set():
                    return False
                self._acknowledged.wait(_WINDOW_WAIT)
        config = self.config
        image = fit_within(frame.image, config.max_width, config.max_height)
        height, width = image.shape[:2]
        if config.transport == "shm":
            ring = self._ring_for(width, height)
            remade = ring.remade
            try:
                # A ring file deleted or truncated under the camera is made again by write() itself.
                written = ring.write(image, frame.captured_at)
            except OSError as error:
                raise PublishFailed(f"cannot make the frame ring {ring.path} again: {error}") from None
            if ring.remade != remade and self._on_error is not None:
                self._on_error(ring.remade_because or "frame ring made again")  # shown as last_error
            self._next_seq = written.seq + 1
            event = frame_event(config.camera_id, written.seq, frame.captured_at, width, height, PIXEL_FORMAT,
                                shm=written)
        else:
            jpeg_data = encode_jpeg(image, config.jpeg_quality)
            if len(jpeg_data) > MAX_JPEG_EVENT_DATA:
                raise FrameTooLarge(
                    f"a {width}x{height} frame is {len(jpeg_data)} bytes of base64 JPEG, over the "
                    f"{MAX_JPEG_EVENT_DATA} an IPC message can carry: not sent (set MaxWidth/MaxHeight "
                    f"or a lower JpegQuality, or use Transport shm)")
            event = frame_event(config.camera_id, self._next_seq, frame.captured_at, width, height,
                                PIXEL_FORMAT, jpeg_data=jpeg_data)
            self._next_seq += 1
        self.width, self.height = width, height
        future = self._ipc.publish_json_async(config.frames_topic, event)
        future.add_done_callback(self._on_acknowledged)
        with self._lock:
            self._in_flight.append(future)
        return True

    def _ring_for(self, width: int, height: int) -> FrameRing:
        ring = self._ring
        if ring is not None and (ring.width, ring.height) == (width, height):
            return ring
        # First frame, or the source changed size (a reconnect at another resolution): a new ring,
        # which replaces the file; seq keeps counting so consumers never see it go back.
        try:
            new_ring = FrameRing.create(self.config.ring_folder, self.config.camera_id, width, height,
                                        PIXEL_FORMAT, self.config.ring_slots, first_seq=self._next_seq)
        except (OSError, ValueError) as error:
            folder = self.config.ring_folder
            raise PublishFailed(f"cannot create the frame ring in {folder}: {error}") from None
        if ring is not None:
            ring.close()
        self._ring = new_ring
        return new_ring

    def _on_acknowledged(self, future: Future) -> None:
        with self._acknowledged:
            self._acknowledged.notify_all()
        error = None if future.cancelled() else future.exception()
        if error is None:
            return
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        text = f"publishing to {self.config.frames_topic} failed: {detail}"
        if type(error).__name__ == "UnauthorizedError":
            text += " (add the topic to this component's accessControl)"
        if self._on_error is not None:
            self._on_error(text)
        self._warn.warning("camera %s: %s", self.config.camera_id, text)

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def close(self) -> None:
        ring, self._ring = self._ring, None
        if ring is not None:
            ring.close()
