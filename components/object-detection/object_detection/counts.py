"""Per-class object counts aggregated over a time window, per camera, for IoT Core (ggvision.counts/1).

For each frame seen in the window, the count of each class above the threshold; the message carries,
per class, the maximum and the mean of that per-frame count (frames without the class count as 0).
"""

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence


@dataclass
class _CameraWindow:
    frames: int = 0
    max_count: Dict[int, int] = field(default_factory=dict)
    total_count: Dict[int, int] = field(default_factory=dict)


class CountsWindow:
    def __init__(self, interval_s: float, now: Optional[float] = None) -> None:
        self.interval_s = interval_s
        self.start = time.time() if now is None else now
        self._cameras: Dict[str, _CameraWindow] = {}

    def add(self, camera_id: str, class_ids: Sequence[int]) -> None:
        """One frame's detections (already filtered by threshold and class filter)."""
        window = self._cameras.setdefault(camera_id, _CameraWindow())
        window.frames += 1
        per_class: Dict[int, int] = {}
        for class_id in class_ids:
            per_class[int(class_id)] = per_class.get(int(class_id), 0) + 1
        for class_id, count in per_class.items():
            window.total_count[class_id] = window.total_count.get(class_id, 0) + count
            if count > window.max_count.get(class_id, 0):
                window.max_count[class_id] = count

    def due(self, now: Optional[float] = None) -> bool:
        return (time.time() if now is None else now) - self.start >= self.interval_s

    def flush(self, thing_name: str, labels: Mapping[int, str], model: Dict[str, str],
              now: Optional[float] = None) -> List[Dict[str, Any]]:
        """The messages for the window that ends now (one per camera seen), and start the next window."""
        end = time.time() if now is None else now
        messages = []
        for camera_id, window in sorted(self._cameras.items()):
            classes = {}
            for class_id in sorted(window.total_count):
                name = labels.get(class_id, str(class_id))
                classes[name] = {
                    "class_id": class_id,
                    "max": window.max_count.get(class_id, 0),
                    "mean": round(window.total_count[class_id] / float(window.frames), 4),
                }
            messages.append({
                "schema": "ggvision.counts/1", "ts": end, "thing_name": thing_name, "camera_id": camera_id,
                "window": {"start": self.start, "end": end}, "frames": window.frames,
                "classes": classes, "model": dict(model),
            })
        self.start = end
        self._cameras = {}
        return messages
