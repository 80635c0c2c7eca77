"""Non-maximum suppression in numpy (for raw YOLO heads; GluonCV/TF models do their own).

Greedy: take the best-scoring box, drop the others that overlap it by more than the IoU threshold,
repeat. Per-class NMS runs as one pass by shifting each class's boxes into its own region of the plane
(boxes of different classes can then never overlap), which is what torchvision's batched_nms does.
"""

import numpy as np


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
    """Indices of the boxes kept, best score first. boxes (N, 4) xmin, ymin, xmax, ymax."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float32).reshape(-1), kind="stable")
    kept = []
    while order.size:
        best = order[0]
        kept.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(kept, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """Per-class NMS: a box only suppresses boxes of its own class. Indices kept, best score first."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return np.zeros((0,), np.int64)
    # Shift each class by more than the whole extent of all boxes so classes never overlap.
    span = float(boxes.max() - min(0.0, float(boxes.min()))) + 1.0
    shifted = boxes.astype(np.float64) + (np.asarray(class_ids, np.float64).reshape(-1, 1) * span)
    return nms(shifted, scores, iou_threshold)
