"""One camera: a reader thread filling the LatestFrame slot, and an announcer thread that takes the
newest frame at each paced turn and publishes it."""

import threading
from dataclasses import replace
from typing import Any, Dict

from ggvision.ipc import IpcClient
from ggvision.log import LogThrottle, get_logger

from .latest import LatestFrame
from .pacing import Pacer
from .publisher import FramePublisher, FrameTooLarge, PublishFailed
from .reader import CameraReader, SourceFactory
from .redaction import redact
from .settings import CameraConfig
from .sources import Source, make_source
from .status import CameraStats, StatusWindow

_TAKE_WAIT = 0.25  # how often a waiting announcer looks at the stop flag
STOP_TIMEOUT = 3.0


def default_source_factory(config: CameraConfig) -> Source:
    return make_source(config.source, config.loop, config.read_timeout_s, config.rtsp_transport,
                       (config.device_width, config.device_height, config.device_format))


class Camera:
    def __init__(self, config: CameraConfig, ipc: IpcClient,
                 make_source: SourceFactory = default_source_factory, first_seq: int = 0) -> None:
        self.config = config
        self.stats = CameraStats()
        self._latest = LatestFrame()
        self._stop = threading.Event()
        self._pacer = Pacer(config.frame_rate)
        self._publisher = FramePublisher(ipc, config,
                                         on_error=lambda text: self.stats.update(last_error=text),
                                         first_seq=first_seq)
        # frames the publisher refused while earlier events were unacknowledged, or too large to send
        self._refused = 0
        self._reader = CameraReader(config, self._latest, self.stats, make_source, self._stop,
                                    next_turn=self._pacer.next_turn)
        self._status = StatusWindow()
        self._log = get_logger(f"ggvision.CameraCapture.{config.camera_id}")
        self._warn = LogThrottle(f"ggvision.CameraCapture.{config.camera_id}.announce", 30.0)
        self._announcer = threading.Thread(target=self._announce, name=f"announce-{config.camera_id}",
                                           daemon=True)
        self.source_text = redact(config.source)

    def start(self) -> None:
        self._log.info("camera %s: %s, up to %g fps, transport %s", self.config.camera_id, self.source_text,
                       self.config.frame_rate, self.config.transport)
        self._reader.start()
        self._announcer.start()

    def stop(self) -> None:
        self._stop.set()
        self._reader.stop(STOP_TIMEOUT)
        self._announcer.join(STOP_TIMEOUT)
        self._publisher.close()

    @property
    def next_seq(self) -> int:
        """The seq the next frame would get: a restarted camera continues from here."""
        return self._publisher.next_seq

    def set_frame_rate(self, frame_rate: float) -> None:
        """FrameRate is live: the next turn follows the new rate, nothing restarts."""
        self._pacer.set_frame_rate(frame_rate)
        self._reader.frame_rate = frame_rate
        self.config = replace(self.config, frame_rate=frame_rate)
        self._log.info("camera %s: frame rate now %g", self.config.camera_id, frame_rate)

    def status(self) -> Dict[str, Any]:
        """The camera's `ggvision.camera-status/1` message for the time since the previous one."""
        counts = replace(self.stats.snapshot(), dropped=self._latest.dropped + self._refused)
        return self._status.message(self.config.camera_id, self.source_text, self.config.transport, counts)

    # -- the announcer thread ------------------------------------------------------------------

    def _announce(self) -> None:
        while self._pacer.wait_turn(self._stop):
            frame = self._latest.take(_TAKE_WAIT)
            if frame is None:
                continue
            try:
                # A lockstep frame waits for the publish window; a live one is refused when it is full.
                published = self._publisher.publish(frame, wait=self._stop if frame.keep else None)
                self._latest.recycle(frame.image)  # copied to the ring or encoded: its buffer is free
            except FrameTooLarge as error:
                # Counted (status dropped, last_error) and warned about, never lost silently.
                self._refused += 1
                self.stats.update(last_error=str(error))
                self._warn.warning("camera %s: %s (%d frames not sent so far)", self.config.camera_id, error,
                                   self._refused)
                continue
            except PublishFailed as error:
                self.stats.update(last_error=str(error))
                self._warn.warning("camera %s: %s", self.config.camera_id, error)
                self._stop.wait(1.0)  # e.g. /dev/shm full: do not spin
                continue
            except Exception as error:  # e.g. the IPC connection is gone: report it, keep the camera
                text = f"publishing failed: {type(error).__name__}: {error}"
                self.stats.update(last_error=text)
                self._warn.warning("camera %s: %s", self.config.camera_id, text)
                continue
            if published:
                self.stats.add(frames_out=1)
                self.stats.update(width=self._publisher.width, height=self._publisher.height)
                self._pacer.sent()
            else:
                self._refused += 1
