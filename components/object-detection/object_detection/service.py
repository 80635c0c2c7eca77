"""The ObjectDetection service: one model, one inference worker, two ways in.

Requests (service mode) go before frames (continuous mode) so that an interactive caller is not
stuck behind a camera; frames are taken newest-first, one camera at a time. The model runs on this
one worker thread only (runtimes are not thread-safe), and the IPC threads only enqueue.
"""

import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
from ggvision.component import ServiceError
from ggvision.detector import Detector
from ggvision.frames import FrameReader
from ggvision.inference.protocol import topics
from ggvision.ipc import IpcClient, PayloadTooLarge, Subscription, describe_error
from ggvision.log import get_logger
from ggvision.runtimes import RuntimeLoadError

from .continuous import ContinuousMode, LatestFrames
from .counts import CountsWindow
from .model_choice import choose_model
from .requests import RequestQueue, answer
from .settings import DetectionSettings

_log = get_logger("ggvision.ObjectDetection")


class DetectionService:
    def __init__(self, settings: DetectionSettings, ipc: IpcClient) -> None:
        self.settings = settings
        self._ipc = ipc
        self._topics = topics(settings.service_name)
        self._request_topic = settings.request_topic.replace("{ServiceName}", settings.service_name)
        self._status_topic = settings.status_topic.replace("{ServiceName}", settings.service_name)
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._subscriptions: List[Subscription] = []
        self._worker: Optional[threading.Thread] = None
        self._detector: Optional[Detector] = None
        self._reader = FrameReader(settings.ring_folder, max_jpeg_pixels=settings.max_image_pixels)
        self._frames = LatestFrames()
        self._requests = RequestQueue(ipc, self._topics["reply_prefix"], self._topics["errors"])
        self._counts = CountsWindow(settings.counts_interval_s) if settings.counts_interval_s > 0 else None
        self._continuous: Optional[ContinuousMode] = None
        self._class_filter: Optional[List[int]] = None
        self._inference_ms: List[float] = []
        self._stats_since = time.monotonic()
        self._next_status = self._stats_since + settings.status_interval_s

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        choice = choose_model(self.settings.model_path, self.settings.runtime)
        model_dir = choice.folder
        try:
            runtime = None if self.settings.runtime == "auto" else self.settings.runtime
            self._detector = Detector.load(model_dir, runtime=runtime, device=self.settings.device,
                                           threads=self.settings.inference_threads or None)
        except Exception as error:  # any load failure is the same fault: ERRORED, with one line
            raise ServiceError(model_load_failure(model_dir, error)) from None
        _log.info("model %s %s loaded from %s (%s): %s", self._detector.name, self._detector.version,
                  model_dir, self._detector.runtime_name, choice.reason)
        self._class_filter = self._resolve_class_filter(self.settings.class_filter)
        self._reader.jpeg_at_least = self._input_size()  # a huge jpeg frame costs what the model needs
        self._continuous = ContinuousMode(self._ipc, self.settings, self._reader, self._infer, self._counts)
        self._subscriptions.append(self._subscribe(self._request_topic, 1024))
        for frame_topic in self.settings.frame_topics:
            self._subscriptions.append(self._subscribe(frame_topic, 64))
        self._worker = threading.Thread(target=self._run, name="inference", daemon=True)
        self._worker.start()

    def _subscribe(self, topic: str, max_pending: int) -> Subscription:
        try:
            return self._ipc.subscribe(topic, max_pending, wakeup=self._wakeup)
        except Exception as error:  # typically UnauthorizedError: a topic changed without the policy
            raise ServiceError(f"cannot subscribe to {topic}: {describe_error(error)} (the component's "
                               "accessControl must allow aws.greengrass#SubscribeToTopic on it)") from None

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._worker is not None:
            self._worker.join(10)
            if self._counts is not None and not self._worker.is_alive():
                self._publish_counts()  # the window so far: a restart or SIGTERM must not lose it
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions = []
        if self._detector is not None:
            self._detector.close()
            self._detector = None
        self._reader.close()

    def apply(self, settings: DetectionSettings) -> None:
        self._class_filter = self._resolve_class_filter(settings.class_filter)
        self.settings = settings
        self._reader.max_jpeg_pixels = settings.max_image_pixels
        if self._continuous is not None:
            self._continuous.apply(settings)

    # -- the worker -----------------------------------------------------------------------------

    def _run(self) -> None:
        self._next_status = time.monotonic() + self.settings.status_interval_s
        while not self._stopping.is_set():
            self._wakeup.wait(0.25)
            self._wakeup.clear()
            # Work until nothing is waiting. With a camera faster than the model that is never, so
            # the periodic duties are checked between items too, not only when the work runs out.
            while not self._stopping.is_set():
                self._periodic()
                self._drain()
                request = self._requests.take()
                if request is not None:
                    answer(request, self.settings, self._requests, self._reader, self._infer,
                           self._topics["reply_prefix"], self._input_size())
                    continue
                frame = self._frames.take()
                if frame is None:
                    break
                try:
                    self._continuous.handle(*frame)
                except Exception:
                    _log.exception("continuous-mode failure on camera %s", frame[0].get("camera_id"))
            self._periodic()

    def _periodic(self) -> None:
        """Status every StatusIntervalSeconds, counts at the end of each window."""
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + self.settings.status_interval_s
            self._report()
        if self._counts is not None and self._counts.due():
            self._publish_counts()

    def _drain(self) -> None:
        request_subscription, frame_subscriptions = self._subscriptions[0], self._subscriptions[1:]
        while True:
            message = request_subscription.get_nowait()
            if message is None:
                break
            self._requests.offer(message, self.settings.request_queue_size)
        for subscription in frame_subscriptions:
            while True:
                message = subscription.get_nowait()
                if message is None:
                    break
                # The camera id must be the one of the topic the event came on (its + level).
                self._frames.offer(message.payload, message.topic, subscription.topic)

    def _input_size(self) -> Optional[Tuple[int, int]]:
        """The model's input (width, height): what a request's image must at least be decoded to."""
        spec = self._detector.spec if self._detector else None
        return (spec.width, spec.height) if spec else None

    def _infer(self, image: np.ndarray, score_threshold: Optional[float],
               max_detections: Optional[int],
               input_released: Optional[Callable[[], None]] = None) -> Dict[str, Any]:
        detector = self._detector
        started = time.perf_counter()
        detections = detector.detect(
            image,
            score_threshold=self.settings.score_threshold if score_threshold is None else score_threshold,
            max_detections=self.settings.max_detections if max_detections is None else max_detections,
            class_filter=self._class_filter,
            input_released=input_released,
        )
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self._inference_ms.append(elapsed_ms)
        height, width = image.shape[:2]
        return {
            "prediction": detections.to_prediction(),
            "labels": detections.labels_present(detector.labels),
            "width": int(width), "height": int(height),
            "model": self._model_info(),
            "inference_ms": round(elapsed_ms, 3),
        }

    def _model_info(self) -> Dict[str, str]:
        return {"name": self._detector.name, "version": self._detector.version,
                "runtime": self._detector.runtime_name}

    def _resolve_class_filter(self, selectors: List[Union[int, str]]) -> Optional[List[int]]:
        if not selectors:
            return None
        labels = self._detector.labels if self._detector else {}
        by_name = {name: class_id for class_id, name in labels.items()}
        ids = []
        for selector in selectors:
            if isinstance(selector, int):
                ids.append(selector)
            elif selector in by_name:
                ids.append(by_name[selector])
            else:
                _log.warning("ClassFilter: no class named %r in the model's labels; ignored", selector)
        return ids

    # -- reporting ------------------------------------------------------------------------------

    def _report(self) -> None:
        now = time.monotonic()
        samples, self._inference_ms = self._inference_ms, []
        elapsed = max(1e-6, now - self._stats_since)
        self._stats_since = now
        continuous = self._continuous
        status = {
            "schema": "ggvision.detector-status/1", "ts": time.time(), "service": self.settings.service_name,
            "model": self._model_info(),
            "fps": round(len(samples) / elapsed, 3),
            "inference_ms_mean": round(sum(samples) / len(samples), 3) if samples else 0.0,
            "inference_ms_max": round(max(samples), 3) if samples else 0.0,
            "frames_inferred": continuous.inferred,
            "frames_skipped": continuous.skipped + continuous.unavailable,
            "frames_gated": continuous.gated,
            "frames_refused": continuous.refused + self._frames.invalid,
            "requests": self._requests.answered + self._requests.errors, "errors": self._requests.errors,
        }
        try:
            self._ipc.publish_json(self._status_topic, status)
            self._ipc.put_metrics({"InferenceMsMean": status["inference_ms_mean"],
                                   "InferenceMsMax": status["inference_ms_max"], "Fps": status["fps"],
                                   "FramesSkipped": status["frames_skipped"],
                                   "FramesGated": status["frames_gated"]})
        except Exception as error:
            _log.warning("cannot publish status: %s", error)

    def _publish_counts(self) -> None:
        thing = self._ipc.thing_name
        topic = self.settings.counts_topic.replace("{iot:thingName}", thing)
        labels = self._detector.labels if self._detector else {}
        for message in self._counts.flush(thing, labels, self._model_info()):
            try:
                self._ipc.publish_iot_core(topic, message)
            except PayloadTooLarge as error:
                _log.warning("counts for %s not sent: %s", message["camera_id"], error)
            except Exception as error:  # UnauthorizedError: a CountsTopic outside the mqttproxy policy
                _log.warning("cannot publish counts to IoT Core on %s: %s", topic, describe_error(error))


def model_load_failure(model_dir: str, error: BaseException) -> str:
    """One log line: which model folder, which kind of failure, and the reason (newlines folded)."""
    reason = " ".join(str(error).split()) or type(error).__name__
    if not isinstance(error, (RuntimeLoadError, ValueError, OSError)):
        reason = f"{type(error).__name__}: {reason}"
    return f"cannot load the model from {model_dir}: {reason}"
