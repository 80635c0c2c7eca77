"""Raw YOLO heads: rows of cx, cy, w, h (model-input pixels), objectness, one score per class.

Shape [1, N, 5 + C] (or [1, N, 4 + C] with `objectness: false`, as YOLOv8 exports). A row's score is
objectness × its best class score (the best class score alone without objectness). Rows under the
score threshold go first, then at most MAX_CANDIDATES of the best, then per-class NMS at
`spec.nms_iou`.

Which axis holds the attributes: the one of length 5 + len(labels) (4 + len(labels) without
objectness) when the model folder has labels; otherwise the shorter of the last two axes (heads have
thousands of rows and tens of attributes; YOLOv8 exports them transposed, [1, 84, 8400]). Several
outputs (one per stride) are concatenated.
"""

from typing import Any, Sequence

import numpy as np

from ..detections import Detections
from ..imaging.preprocess import BoxTransform
from .candidates import to_detections
from .nms import batched_nms

# Enough for any real scene, and bounds NMS time when a low threshold lets noise through.
MAX_CANDIDATES = 3000
# Even with a threshold of 0, rows scoring below this are noise and would swamp NMS.
MIN_SCORE = 0.001


def decode_yolo(outputs: Sequence[np.ndarray], spec: Any, transform: BoxTransform,
                score_threshold: float = 0.0) -> Detections:
    objectness = bool(getattr(spec, "objectness", True))
    fixed = 5 if objectness else 4
    labels = getattr(spec, "labels", None) or {}
    heads = [_rows(np.asarray(output), fixed, len(labels)) for output in outputs]
    if not heads:
        raise ValueError("the yolo layout needs at least one output")
    rows = heads[0] if len(heads) == 1 else np.concatenate(heads, axis=0)
    if rows.shape[1] <= fixed:
        raise ValueError(f"yolo rows have {rows.shape[1]} values; expected {fixed} + one per class")
    threshold = max(float(score_threshold), MIN_SCORE)
    if objectness:
        # A row's score cannot exceed its objectness: cheap first cut before the per-class work.
        rows = rows[rows[:, 4] >= threshold]
        class_scores = rows[:, 5:] * rows[:, 4:5]
    else:
        class_scores = rows[:, 4:]
    class_ids = np.argmax(class_scores, axis=1) if len(rows) else np.zeros((0,), np.int64)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores >= threshold
    rows, class_ids, scores = rows[keep], class_ids[keep], scores[keep]
    if len(scores) > MAX_CANDIDATES:
        best = np.argsort(-scores, kind="stable")[:MAX_CANDIDATES]
        rows, class_ids, scores = rows[best], class_ids[best], scores[best]
    centre, size = rows[:, 0:2], rows[:, 2:4]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    kept = batched_nms(boxes, scores, class_ids, float(getattr(spec, "nms_iou", 0.45)))
    return to_detections(class_ids[kept], scores[kept], transform.to_source(boxes[kept]), spec,
                         score_threshold)


def _rows(output: np.ndarray, fixed: int, classes: int) -> np.ndarray:
    """One head as (N, fixed + C) float32 rows."""
    if output.ndim == 3 and output.shape[0] == 1:
        output = output[0]
    if output.ndim != 2:
        raise ValueError(f"a yolo output must be [1, N, {fixed} + classes]; got shape {output.shape}")
    if classes:
        expected = fixed + classes
        transposed = output.shape[1] != expected and output.shape[0] == expected
    else:
        transposed = output.shape[0] < output.shape[1]
    if transposed:
        output = output.T
    return np.asarray(output, dtype=np.float32)
