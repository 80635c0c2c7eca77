"""What the demo itself sees on local pub/sub: it joins the nucleus as a component of its own
(subscribe-only) and counts frames and detections, keeps the latest status of each stage, and logs
every detections message it receives to detections.jsonl, so that what the viewer drew can be
checked against what the detector sent."""

import json
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Dict, Optional

from ggvision.ipc import IpcClient, Subscription

NAME = "ggvision.demo.Monitor"
TOPICS = {
    "frames": "ggvision/cameras/+/frames",
    "detections": "ggvision/detections/+",
    "camera_status": "ggvision/cameras/+/status",
    "detector_status": "ggvision/inference/+/status",
}


def monitor_configuration() -> Dict[str, Any]:
    """Its accessControl: subscribe to the four topics, nothing else."""
    return {"accessControl": {"aws.greengrass.ipc.pubsub": {f"{NAME}:pubsub:1": {
        "policyDescription": "Watch the pipeline for the demo's progress line and summary.",
        "operations": ["aws.greengrass#SubscribeToTopic"],
        "resources": list(TOPICS.values())}}}}


@dataclass
class ClassTally:
    """Detections of one class over the run."""

    boxes: int = 0
    frames_with: int = 0
    max_per_frame: int = 0


@dataclass
class PipelineCounts:
    """Counts since the monitor started (a snapshot is a copy, safe to read while it runs)."""

    frames: int = 0
    detections_messages: int = 0
    inferred: int = 0        # detections messages that are not motion-gate repeats
    boxes: int = 0
    classes: Dict[str, ClassTally] = field(default_factory=dict)
    camera_status: Optional[Dict[str, Any]] = None
    detector_status: Optional[Dict[str, Any]] = None


class PipelineMonitor:
    """Subscriptions on its own IPC connection, drained by one thread."""

    def __init__(self, nucleus: Any, detections_log: str) -> None:
        token = nucleus.add_component(NAME, monitor_configuration())
        self._ipc = IpcClient.connect(nucleus.socket_path, token)
        self._wakeup = threading.Event()
        # Deep queues: the log must hold every detections message of the run.
        self._subscriptions: Dict[str, Subscription] = {
            kind: self._ipc.subscribe(topic, max_pending=4096, wakeup=self._wakeup)
            for kind, topic in TOPICS.items()}
        self._log: IO[str] = open(detections_log, "w")  # noqa: SIM115 - open for the run; close() ends it
        self._counts = PipelineCounts()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-monitor", daemon=True)
        self._thread.start()

    def snapshot(self) -> PipelineCounts:
        with self._lock:
            counts = self._counts
            return PipelineCounts(counts.frames, counts.detections_messages, counts.inferred, counts.boxes,
                                  {name: ClassTally(**vars(tally)) for name, tally in counts.classes.items()},
                                  counts.camera_status, counts.detector_status)

    def close(self) -> None:
        """Take what is still queued, then disconnect."""
        self._stop.set()
        self._wakeup.set()
        self._thread.join(10)
        self._drain()
        for subscription in self._subscriptions.values():
            subscription.close()
        self._ipc.close()
        self._log.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wakeup.wait(0.5)
            self._wakeup.clear()
            self._drain()

    def _drain(self) -> None:
        for kind, subscription in self._subscriptions.items():
            message = subscription.get_nowait()
            while message is not None:
                if message.payload:
                    self._take(kind, message.payload)
                message = subscription.get_nowait()

    def _take(self, kind: str, payload: Dict[str, Any]) -> None:
        with self._lock:
            counts = self._counts
            if kind == "frames":
                counts.frames += 1
            elif kind == "camera_status":
                counts.camera_status = payload
            elif kind == "detector_status":
                counts.detector_status = payload
            elif kind == "detections" and "prediction" in payload:
                counts.detections_messages += 1
                counts.inferred += 0 if payload.get("reused") else 1
                counts.boxes += len(payload["prediction"])
                self._tally_classes(payload)
                self._log.write(json.dumps(payload, separators=(",", ":")) + "\n")

    def _tally_classes(self, payload: Dict[str, Any]) -> None:
        labels = payload.get("labels") or {}
        per_frame: Dict[str, int] = {}
        for row in payload["prediction"]:
            name = str(labels.get(str(int(row[0])), int(row[0])))
            per_frame[name] = per_frame.get(name, 0) + 1
        for name, count in per_frame.items():
            tally = self._counts.classes.setdefault(name, ClassTally())
            tally.boxes += count
            tally.frames_with += 1
            tally.max_per_frame = max(tally.max_per_frame, count)
