"""Non-maximum suppression in numpy (for raw YOLO heads; GluonCV/TF models do their own).

Greedy: take the best-scoring box, drop the others that overlap it by more than the IoU threshold,
repeat. Per-class NMS runs it on each class's boxes separately (small groups: fast).
"""

import numpy as np

# Rows of the overlap matrix computed at once: bounds the float temporaries (rows × N × 4 bytes each).
_BLOCK = 256


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with each of boxes (N, 4), xmin, ymin, xmax, ymax."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    intersection = width * height
    area = max(0.0, float(box[2] - box[0])) * max(0.0, float(box[3] - box[1]))
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - intersection
    return np.where(union > 0, intersection / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept, best score first. boxes (N, 4) xmin, ymin, xmax, ymax.

    Which box suppresses which is computed up front as a boolean matrix (a block of rows at a time, and
    only against lower-ranked boxes), so the greedy pass is one boolean OR per kept box.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float32).reshape(-1), kind="stable")
    ranked = boxes[order]
    count = len(ranked)
    suppresses = np.zeros((count, count), dtype=bool)
    for first in range(0, count, _BLOCK):
        block = ranked[first:first + _BLOCK]
        suppresses[first:first + _BLOCK, first:] = _overlap_above(block, ranked[first:], iou_threshold)
    suppressed = np.zeros(count, dtype=bool)
    kept = []
    for index in range(count):
        if not suppressed[index]:
            kept.append(index)
            suppressed |= suppresses[index]
    return order[np.asarray(kept, dtype=np.int64)]


def _overlap_above(rows: np.ndarray, boxes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """(M, N) booleans: IoU of rows[i] and boxes[j] above the threshold.

    IoU > t  ⇔  intersection > t · (area_a + area_b − intersection)
             ⇔  intersection · (1 + t) > t · (area_a + area_b): no division (an empty union is never above).
    """
    width = np.minimum(rows[:, None, 2], boxes[None, :, 2]) - np.maximum(rows[:, None, 0], boxes[None, :, 0])
    height = np.minimum(rows[:, None, 3], boxes[None, :, 3]) - np.maximum(rows[:, None, 1], boxes[None, :, 1])
    np.clip(width, 0, None, out=width)
    np.clip(height, 0, None, out=height)
    intersection = np.multiply(width, height, out=width)
    row_areas = _areas(rows)
    areas = _areas(boxes)
    total = row_areas[:, None] + areas[None, :]
    return (intersection * np.float32(1.0 + iou_threshold) > total * np.float32(iou_threshold)) & (total > 0)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """Per-class NMS: a box only suppresses boxes of its own class. Indices kept, best score first."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    class_ids = np.asarray(class_ids).reshape(-1)
    if boxes.shape[0] == 0:
        return np.zeros((0,), np.int64)
    kept = []
    for class_id in np.unique(class_ids):
        members = np.flatnonzero(class_ids == class_id)
        kept.append(members[nms(boxes[members], scores[members], iou_threshold)])
    merged = np.concatenate(kept)
    return merged[np.argsort(-scores[merged], kind="stable")]
