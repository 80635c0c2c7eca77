"""The CameraCapture service: one Camera per `Cameras` entry, and a reporter for status and metrics.

A configuration change reaches `apply()` camera by camera: a camera whose only change is FrameRate
keeps running at the new rate, a changed camera is restarted alone, a removed one stopped, a new one
started. The other cameras never notice. (Component-wide keys — ring folder, topics, status interval —
rebuild the whole service through the run loop.)
"""

import os
import threading
from typing import Dict, List, Optional

from ggvision.component import ServiceError
from ggvision.frames.ring import check_ring_folder
from ggvision.ipc import IpcClient
from ggvision.log import get_logger

from .camera import Camera, default_source_factory
from .reader import SourceFactory
from .settings import CameraConfig, CaptureSettings, camera_configs
from .status import STOPPED

_log = get_logger("ggvision.CameraCapture")


class CaptureService:
    def __init__(self, settings: CaptureSettings, ipc: IpcClient,
                 make_source: SourceFactory = default_source_factory) -> None:
        self.settings = settings
        self._ipc = ipc
        self._make_source = make_source
        self._cameras: Dict[str, Camera] = {}
        self._lock = threading.Lock()  # guards _cameras between apply() and the reporter
        self._stopping = threading.Event()
        self._reporter: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if any(config.transport == "shm" for config in camera_configs(self.settings)):
            _check_ring_folder(self.settings.ring_folder)
        for config in camera_configs(self.settings):
            self._start_camera(config)
        self._reporter = threading.Thread(target=self._report_loop, name="camera-status", daemon=True)
        self._reporter.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._reporter is not None:
            self._reporter.join(5)
        with self._lock:
            cameras, self._cameras = list(self._cameras.values()), {}
        self._stop_cameras(cameras)

    def apply(self, settings: CaptureSettings) -> None:
        wanted = {config.camera_id: config for config in camera_configs(settings)}
        with self._lock:
            current = dict(self._cameras)
        to_stop: List[Camera] = []
        to_start: List[CameraConfig] = []
        first_seqs: Dict[str, int] = {}
        for camera_id, camera in current.items():
            config = wanted.get(camera_id)
            if config is None:
                _log.info("camera %s removed from the configuration", camera_id)
                to_stop.append(camera)
            elif config == camera.config:
                continue
            elif config.same_except_frame_rate(camera.config):
                camera.set_frame_rate(config.frame_rate)
            else:
                _log.info("camera %s: settings changed, restarting it", camera_id)
                to_stop.append(camera)
                to_start.append(config)
        to_start += [config for camera_id, config in wanted.items() if camera_id not in current]
        self._stop_cameras(to_stop)
        for camera in to_stop:  # frame numbers keep counting across a camera's restart
            first_seqs[camera.config.camera_id] = camera.next_seq
        for config in to_start:
            self._start_camera(config, first_seqs.get(config.camera_id, 0))
        self.settings = settings

    # -- cameras ---------------------------------------------------------------------------------

    def _start_camera(self, config: CameraConfig, first_seq: int = 0) -> None:
        camera = Camera(config, self._ipc, self._make_source, first_seq)
        with self._lock:
            self._cameras[config.camera_id] = camera
        camera.start()

    def _stop_cameras(self, cameras: List[Camera]) -> None:
        # Stop all in parallel: each may wait for its source's read timeout.
        threads = [threading.Thread(target=camera.stop, daemon=True) for camera in cameras]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        with self._lock:
            for camera in cameras:
                if self._cameras.get(camera.config.camera_id) is camera:
                    del self._cameras[camera.config.camera_id]
        for camera in cameras:
            self._publish_status(camera, final=True)

    @property
    def cameras(self) -> Dict[str, Camera]:
        with self._lock:
            return dict(self._cameras)

    # -- status and metrics ----------------------------------------------------------------------

    def _report_loop(self) -> None:
        while not self._stopping.wait(self.settings.status_interval_s):
            rates = {"FpsIn": 0.0, "FpsOut": 0.0}
            counts = {"DroppedFrames": 0.0, "Reconnects": 0.0}
            for camera in self.cameras.values():
                status = self._publish_status(camera)
                rates["FpsIn"] += status["fps_in"]
                rates["FpsOut"] += status["fps_out"]
                counts["DroppedFrames"] += status["dropped"]
                counts["Reconnects"] += status["reconnects"]
            try:
                # Component totals (metric names cannot carry a camera id); per camera: the status topic.
                if self._ipc.put_metrics(rates, "COUNT_PER_SECOND"):
                    self._ipc.put_metrics(counts, "COUNT")
            except Exception as error:
                _log.debug("PutComponentMetric failed: %s", error)

    def _publish_status(self, camera: Camera, final: bool = False) -> dict:
        status = camera.status()
        if final:
            status["state"] = STOPPED
        try:
            if final:  # the service is going away: make sure this one is delivered
                self._ipc.publish_json(camera.config.status_topic, status)
            else:
                self._ipc.publish_json_async(camera.config.status_topic, status)
        except Exception as error:
            _log.warning("camera %s: cannot publish status: %s", camera.config.camera_id, error)
        return status


def _check_ring_folder(folder: str) -> None:
    """Fail at start, with one clear line, when frame rings could never be created, or when the
    existing folder is not safe to put frames in (another user's, or writable by group or others)."""
    if os.path.isdir(folder):
        try:
            check_ring_folder(folder)
        except OSError as error:
            raise ServiceError(f"RingFolder {folder}: {error}") from None
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ServiceError(f"RingFolder {folder}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "the frame ring folder" if existing == folder else f"{existing}, where it would be created,"
        raise ServiceError(f"RingFolder {folder}: {what} is not writable by this component's user")
