"""TensorFlow Object Detection API outputs: boxes, classes, scores, count.

boxes [1, N, 4] as ymin, xmin, ymax, xmax normalised to the model input (0–1), classes [1, N] (float;
the TF OD API numbers classes from 1: set `class_id_offset: 1` in model.yaml to make them 0-based),
scores [1, N], count [1] (only the first `count` rows are detections; without a count output, all N).
Boxes relative to the model input are mapped back through the letterbox like any other.

Which output is which: in `spec.output_names` order (boxes, classes, scores[, count]) when the model
folder names them; otherwise by shape — the 3-dimensional output ending in 4 holds the boxes, a
1-dimensional single value is the count, and of the remaining two the one holding a fractional value
is the scores; when that cannot tell, the runtime's order (classes before scores) decides.
"""

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ..detections import Detections
from ..imaging.preprocess import BoxTransform
from .candidates import holds_class_ids, to_detections


def decode_tensorflow(outputs: Sequence[np.ndarray], spec: Any, transform: BoxTransform,
                      score_threshold: float = 0.0) -> Detections:
    boxes, classes, scores, count = _arrange(outputs, bool(getattr(spec, "output_names", None)))
    classes = classes.reshape(-1)
    scores = scores.reshape(-1)
    if boxes.size % 4 or boxes.size // 4 != classes.size:
        raise ValueError(f"tensorflow outputs do not fit: boxes {boxes.shape}, classes {classes.shape}, "
                         f"scores {scores.shape}")
    rows = classes.size
    if count is not None and count.size:
        counted = float(count.reshape(-1)[0])
        rows = int(min(rows, max(0.0, counted))) if np.isfinite(counted) else 0
    yxyx = boxes.reshape(-1, 4)[:rows].astype(np.float32)
    xyxy = yxyx[:, [1, 0, 3, 2]]
    relative = transform.normalized_to_source(xyxy)
    return to_detections(classes[:rows], scores[:rows], relative, spec, score_threshold)


def _arrange(outputs: Sequence[np.ndarray],
             named: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray]]:
    arrays = [np.asarray(output) for output in outputs]
    if len(arrays) < 3:
        raise ValueError("the tensorflow layout needs 3 or 4 outputs (boxes, classes, scores[, count]); "
                         f"the model gave {len(arrays)}")
    arrays = arrays[:4]
    positional = (arrays[0], arrays[1], arrays[2], arrays[3] if len(arrays) > 3 else None)
    if named:
        return positional
    box_indices = [i for i, array in enumerate(arrays) if array.ndim == 3 and array.shape[-1] == 4]
    count_indices = [i for i, array in enumerate(arrays) if array.ndim <= 1 and array.size == 1]
    if len(box_indices) != 1 or len(count_indices) > 1:
        return positional
    rest: List[int] = [i for i in range(len(arrays)) if i not in box_indices + count_indices]
    if len(rest) != 2:
        return positional
    classes, scores = arrays[rest[0]], arrays[rest[1]]
    if holds_class_ids(scores) and not holds_class_ids(classes):
        classes, scores = scores, classes
    count = arrays[count_indices[0]] if count_indices else None
    return arrays[box_indices[0]], classes, scores, count
