"""Model outputs → Detections, one module per output layout (see each module for its shapes).

`decode` is the one entry point: the detector passes the runtime's outputs (in `spec.output_names`
order when the model folder names them) and the BoxTransform of the input it prepared.
"""

from typing import Any, Callable, Dict, List

import numpy as np

from ..detections import Detections
from ..imaging.preprocess import BoxTransform
from .gluoncv import decode_gluoncv
from .tensorflow import decode_tensorflow
from .yolo import decode_yolo

LAYOUTS: Dict[str, Callable[..., Detections]] = {
    "gluoncv": decode_gluoncv,
    "tensorflow": decode_tensorflow,
    "yolo": decode_yolo,
}


def decode(layout: str, outputs: List[np.ndarray], spec: Any, transform: BoxTransform,
           score_threshold: float = 0.0) -> Detections:
    """Detections (boxes relative to the source image, clipped, unsorted) from a model's outputs.

    `score_threshold` lets a decoder drop weak rows early (YOLO needs it before NMS); the result may
    still hold rows under any higher threshold the caller applies afterwards.
    """
    decoder = LAYOUTS.get(layout)
    if decoder is None:
        raise ValueError("output layout {!r} is not supported; use one of {}".format(
            layout, ", ".join(sorted(LAYOUTS))))
    return decoder(outputs, spec, transform, score_threshold)


__all__ = ["LAYOUTS", "decode", "decode_gluoncv", "decode_tensorflow", "decode_yolo"]
