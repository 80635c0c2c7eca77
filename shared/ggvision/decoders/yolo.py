"""Raw YOLO heads: rows of cx, cy, w, h (model-input pixels), objectness, one score per class.

Shape [1, N, 5 + C], or [1, N, 4 + C] without objectness; YOLOv8 and later export them transposed
and without objectness, [1, 4 + C, N] (e.g. [1, 84, 8400]). A row's score is objectness × its best
class score (the best class score alone without objectness). Rows under the score threshold go first,
then at most MAX_CANDIDATES of the best, then per-class NMS at `spec.nms_iou`. Several outputs (one
per stride) are concatenated.

`yolo_layout` reads the head's shape once (at load, and cheaply on every call): which axis holds the
attributes and whether there is an objectness value (`spec.objectness`; None = from the shape):

- with labels (class ids 0…C-1 all named), the attribute axis must hold exactly 4 + C or 5 + C values;
  that alone usually decides both the axis and the objectness;
- without labels, the attributes are on the shorter of the two axes (heads have thousands of rows
  and tens of attributes), and an unset objectness follows the axis: rows first ([1, N, 5 + C], YOLOv5,
  YOLOX, YOLOv7) have it, attributes first ([1, 4 + C, N], YOLOv8 and later) do not.

A shape that fits no reading, or more than one, is a ValueError naming the shape, what was expected
and the model.yaml key that decides.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

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
    arrays = [np.asarray(output) for output in outputs]
    objectness, transposed = yolo_layout([array.shape for array in arrays], getattr(spec, "objectness", None),
                                         getattr(spec, "labels", None) or {},
                                         int(getattr(spec, "class_id_offset", 0) or 0))
    heads = [_rows(array, flip) for array, flip in zip(arrays, transposed)]
    rows = heads[0] if len(heads) == 1 else np.concatenate(heads, axis=0)
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


def _rows(output: np.ndarray, transposed: bool) -> np.ndarray:
    """One head as (N, attributes) float32 rows."""
    output = output.reshape(output.shape[-2:])
    return np.asarray(output.T if transposed else output, dtype=np.float32)


def _classes(labels: Dict[int, str], class_id_offset: int) -> Tuple[int, bool]:
    """(class columns the labels need, whether that is exact): exact when ids 0…n-1 are all named."""
    if not labels:
        return 0, False
    ids = sorted(labels)
    needed = ids[-1] + 1 + class_id_offset
    return needed, ids == list(range(len(ids)))


def _show(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def yolo_layout(shapes: Sequence[Sequence[int]], objectness: Optional[bool] = None,
                labels: Optional[Dict[int, str]] = None, class_id_offset: int = 0,
                names: Optional[Sequence[str]] = None) -> Tuple[bool, List[bool]]:
    """(objectness, transposed per head) for heads of these shapes; ValueError when the shapes fit
    no reading or more than one. `objectness` None: decided by the shape (see the module)."""
    if not shapes:
        raise ValueError("the yolo layout needs at least one output")
    classes, exact = _classes(labels or {}, class_id_offset)
    chosen: Optional[bool] = None
    flips: List[bool] = []
    for index, shape in enumerate(shapes):
        name = f"{names[index]!r} " if names and index < len(names) else ""
        shape = tuple(int(d) for d in shape)
        if not (len(shape) == 2 or (len(shape) == 3 and shape[0] == 1)):
            raise ValueError(f"a yolo output must be [1, N, 5 + classes] or [1, 4 + classes, N]; "
                             f"the output {name}has shape {_show(shape)}")
        rows_first, attrs_first = shape[-2], shape[-1]
        options = []
        for has_objectness in ((objectness,) if objectness is not None else (True, False)):
            if chosen is not None and has_objectness != chosen:
                continue
            fixed = 5 if has_objectness else 4
            for flip, attributes, rows in ((False, attrs_first, rows_first), (True, rows_first, attrs_first)):
                if attributes <= fixed:
                    continue
                if classes and (attributes - fixed != classes if exact else attributes - fixed < classes):
                    continue
                if not (classes and exact) and attributes > rows and rows > 0:
                    continue  # unless the labels tell the count: the attributes are on the shorter axis
                options.append((has_objectness, flip))
        if len(options) > 1 and objectness is None and chosen is None:
            # Both readings fit: rows first have objectness (YOLOv5/YOLOX/YOLOv7), attributes first
            # do not (YOLOv8 and later).
            options = [(has, flip) for has, flip in options if has != flip] or options
        if len(set(options)) != 1:
            raise ValueError(_layout_error(name, shape, objectness, chosen, classes, exact, bool(options)))
        chosen, flip = options[0]
        flips.append(flip)
    return bool(chosen), flips


def _layout_error(name: str, shape: Tuple[int, ...], objectness: Optional[bool], chosen: Optional[bool],
                  classes: int, exact: bool, ambiguous: bool) -> str:
    if objectness is not None:
        given = f"output.objectness: {str(objectness).lower()}"
    elif chosen is not None:
        given = f"{'with' if chosen else 'without'} objectness (from the first output)"
    else:
        given = ""
    if ambiguous:
        return (f"the yolo output {name}has shape {_show(shape)}, which fits more than one layout: set "
                f"output.objectness in model.yaml (true: [1, N, 5 + classes]; false: [1, 4 + classes, N] "
                f"as YOLOv8 exports) and give the labels")
    count = f"{classes} classes (from the labels)" if classes and exact else \
        f"at least {classes} classes (the labels' highest id)" if classes else "any number of classes"
    if objectness is not None:
        fixed = 5 if objectness else 4
        expected = (f"[1, N, {fixed + classes}] or [1, {fixed + classes}, N]" if classes and exact
                    else f"[1, N, {fixed} + classes] or [1, {fixed} + classes, N]")
        hint = (" (a YOLOv8 export, [1, 4 + classes, N], has no objectness: output.objectness: false)"
                if objectness else " (YOLOv5/YOLOX/YOLOv7 exports, [1, N, 5 + classes], have objectness: "
                "output.objectness: true)")
        return (f"the yolo output {name}has shape {_show(shape)}, but with {given} and {count} it must be "
                f"{expected}{hint}; fix model.yaml's output.objectness or the labels")
    if classes and exact:
        expected = (f"[1, N, {classes + 5}] (with objectness), [1, N, {classes + 4}] or "
                    f"[1, {classes + 4}, N] (without, as YOLOv8 exports)")
    else:
        expected = "[1, N, 5 + classes] or [1, 4 + classes, N]"
    hint = ("the labels (labels.txt or model.yaml labels) must name every class the model has" if classes
            else "check model.yaml's output.layout and output.names")
    return (f"the yolo output {name}has shape {_show(shape)}, but with {count} it must be {expected}; "
            f"{hint}" + (f" ({given})" if given else ""))
