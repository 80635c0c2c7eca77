"""GluonCV / SageMaker Neo SSD and YOLOv3 outputs: ids, scores, boxes.

ids [1, N, 1] (float class ids, -1 for padding rows), scores [1, N, 1], boxes [1, N, 4] as
xmin, ymin, xmax, ymax in model-input pixels. GluonCV pads all three with -1 after its own NMS.

Which output is which: in `spec.output_names` order when the model folder names them; otherwise by
shape — the output whose last dimension is 4 holds the boxes; of the other two, the one holding a
fractional value is the scores (ids are whole numbers); when that cannot tell (every value whole), the
runtime's order (ids before scores) decides.
"""

from typing import Any, List, Sequence

import numpy as np

from ..detections import Detections
from ..imaging.preprocess import BoxTransform
from .candidates import holds_class_ids, to_detections


def decode_gluoncv(outputs: Sequence[np.ndarray], spec: Any, transform: BoxTransform,
                   score_threshold: float = 0.0) -> Detections:
    ids, scores, boxes = _arrange(outputs, bool(getattr(spec, "output_names", None)))
    ids = ids.reshape(-1)
    scores = scores.reshape(-1)
    if boxes.size % 4 or boxes.size // 4 != ids.size:
        raise ValueError(f"gluoncv outputs do not fit: ids {ids.shape}, scores {scores.shape}, "
                         f"boxes {boxes.shape}")
    return to_detections(ids, scores, transform.to_source(boxes.reshape(-1, 4)), spec, score_threshold)


def _arrange(outputs: Sequence[np.ndarray], named: bool) -> List[np.ndarray]:
    arrays = [np.asarray(output) for output in outputs]
    if len(arrays) < 3:
        raise ValueError("the gluoncv layout needs 3 outputs (ids, scores, boxes); "
                         f"the model gave {len(arrays)}")
    if named:
        return arrays[:3]
    box_outputs = [i for i, array in enumerate(arrays[:3]) if array.ndim >= 2 and array.shape[-1] == 4]
    box_index = box_outputs[0] if len(box_outputs) == 1 else 2
    first, second = [array for i, array in enumerate(arrays[:3]) if i != box_index]
    if holds_class_ids(second) and not holds_class_ids(first):
        first, second = second, first
    return [first, second, arrays[box_index]]
