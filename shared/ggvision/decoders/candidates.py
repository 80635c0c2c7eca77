"""Candidate rows → Detections: the checks every output layout ends with.

A model's raw rows may hold padding, NaN, negative classes, scores outside 0–1 or boxes that end up
empty once clipped to the image (a box in the letterbox padding): none of those leave the decoder.
"""

from typing import Any

import numpy as np

from ..detections import Detections


def class_id_offset(spec: Any) -> int:
    """What to subtract from the model's class ids (1 for TF Object Detection API label maps)."""
    return int(spec.class_id_offset)


def to_detections(class_ids: np.ndarray, scores: np.ndarray, boxes: np.ndarray, spec: Any,
                  score_threshold: float) -> Detections:
    """Rows (class id as the model gives it, score, box relative to the source, clipped) → Detections."""
    raw_ids = np.asarray(class_ids, dtype=np.float64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if not (raw_ids.shape[0] == scores.shape[0] == boxes.shape[0]):
        raise ValueError(f"model outputs disagree: {raw_ids.shape[0]} class ids, {scores.shape[0]} scores, "
                         f"{boxes.shape[0]} boxes")
    ids = np.rint(np.where(np.isfinite(raw_ids), raw_ids, -1.0)) - class_id_offset(spec)
    # Comparisons with NaN are False, so NaN scores and boxes fail these tests too.
    keep = ((ids >= 0) & (scores >= score_threshold) & (scores > 0)
            & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
    return Detections(ids[keep].astype(np.int64), np.clip(scores[keep], 0.0, 1.0), boxes[keep])


def holds_class_ids(array: np.ndarray) -> bool:
    """True when every finite value is a whole number: class ids (and padding -1), not scores.

    Used to tell a model's class-id output from its score output when both have the same shape.
    """
    values = np.asarray(array, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    return bool(np.all(values == np.rint(values)))
