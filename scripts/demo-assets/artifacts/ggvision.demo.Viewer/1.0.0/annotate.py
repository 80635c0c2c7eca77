"""Drawing one detections message on the frame it was computed from (demo viewer)."""

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np

# BGR; picked by class id so a class keeps its colour through the whole video.
COLOURS = [(0, 0, 255), (0, 200, 0), (255, 64, 0), (0, 200, 255), (255, 0, 255), (255, 255, 0),
           (128, 0, 255), (0, 128, 255)]
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Box:
    """One prediction row: `[class_id, score, xmin, ymin, xmax, ymax]`, coordinates relative (0-1)."""

    class_id: int
    label: str
    score: float
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class FrameDetections:
    """The part of a `ggvision.detections/1` message the viewer draws."""

    camera_id: str
    seq: int
    captured_at: float
    boxes: List[Box]
    prediction: List[List[float]]
    labels: Dict[str, str]
    inference_ms: float
    reused: bool

    @classmethod
    def from_message(cls, payload: Dict[str, Any]) -> "FrameDetections":
        labels = {str(key): str(value) for key, value in (payload.get("labels") or {}).items()}
        prediction = [list(row) for row in payload["prediction"]]
        boxes = [Box(int(row[0]), labels.get(str(int(row[0])), str(int(row[0]))), float(row[1]),
                     float(row[2]), float(row[3]), float(row[4]), float(row[5])) for row in prediction]
        return cls(str(payload["camera_id"]), int(payload["seq"]), float(payload.get("captured_at", 0.0)),
                   boxes, prediction, labels, float(payload.get("inference_ms", 0.0)),
                   bool(payload.get("reused", False)))


def box_pixels(box: Box, width: int, height: int) -> Tuple[int, int, int, int]:
    """The box in pixel coordinates, clipped to the image."""
    def clip(value: float, limit: int) -> int:
        return int(round(min(max(value, 0.0), 1.0) * (limit - 1)))
    return clip(box.xmin, width), clip(box.ymin, height), clip(box.xmax, width), clip(box.ymax, height)


def draw(image: np.ndarray, detections: FrameDetections, frame_number: int) -> np.ndarray:
    """Boxes, labels and scores of `detections`, and a header with the frame counters, drawn on
    `image` in place (BGR). `frame_number` counts the frames this viewer has drawn."""
    height, width = image.shape[:2]
    scale = max(0.4, width / 1600.0)
    thickness = max(1, int(round(width / 400.0)))
    for box in detections.boxes:
        colour = COLOURS[box.class_id % len(COLOURS)]
        x0, y0, x1, y1 = box_pixels(box, width, height)
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, thickness)
        _label(image, f"{box.label} {box.score:.2f}", (x0, y0), colour, scale)
    header = "seq {} | frame {} | {} | {} objects | {:.1f} ms{}".format(
        detections.seq, frame_number, detections.camera_id, len(detections.boxes), detections.inference_ms,
        " | reused" if detections.reused else "")
    _label(image, header, (0, 0), (32, 32, 32), scale * 1.2, below=True)
    return image


def _label(image: np.ndarray, text: str, corner: Tuple[int, int], colour: Tuple[int, int, int],
           scale: float, below: bool = False) -> None:
    # Filled background so the text stays readable on any footage; above the box unless at the top.
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    x, y = corner
    top = y if below or y - text_h - baseline - 4 < 0 else y - text_h - baseline - 4
    cv2.rectangle(image, (x, top), (x + text_w + 4, top + text_h + baseline + 4), colour, cv2.FILLED)
    cv2.putText(image, text, (x + 2, top + text_h + 2), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
