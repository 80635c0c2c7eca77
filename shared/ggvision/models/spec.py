"""`ModelSpec`: everything about a model that is not in its weights (input geometry and normalisation,
output layout, labels).

The defaults fit a GluonCV SSD/YOLOv3 compiled by SageMaker Neo, so a Neo artifact works with nothing
but its compiled files: 512×512, NCHW, RGB, stretched, ImageNet mean/std on 0–255 pixels, `gluoncv`
outputs.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

LAYOUTS = ("NCHW", "NHWC")
CHANNEL_ORDERS = ("RGB", "BGR")
RESIZES = ("stretch", "letterbox")
DTYPES = ("float32", "uint8")
OUTPUT_LAYOUTS = ("gluoncv", "tensorflow", "yolo")

# GluonCV's ImageNet normalisation, on 0-255 pixels (scale 1.0).
GLUONCV_MEAN = [123.675, 116.28, 103.53]
GLUONCV_STD = [58.395, 57.12, 57.375]


@dataclass
class ModelSpec:
    """How to feed a model and read its outputs. The input tensor is `((pixel * scale) - mean) / std`."""

    name: str = "model"
    version: str = "unknown"
    # None: the runtime's first input.
    input_name: Optional[str] = None
    width: int = 512
    height: int = 512
    layout: str = "NCHW"
    channel_order: str = "RGB"
    resize: str = "stretch"
    scale: float = 1.0
    mean: List[float] = field(default_factory=lambda: list(GLUONCV_MEAN))
    std: List[float] = field(default_factory=lambda: list(GLUONCV_STD))
    dtype: str = "float32"
    output_layout: str = "gluoncv"
    # None: the runtime's output order.
    output_names: Optional[List[str]] = None
    # Subtracted from the model's class ids: 1 for TF OD API models, whose label maps start at 1.
    class_id_offset: int = 0
    # Class id → name; a class without a name keeps its id in `prediction` and has no entry in `labels`.
    labels: Dict[int, str] = field(default_factory=dict)
    # yolo layout only: IoU above which per-class NMS drops the weaker box; whether rows carry objectness
    # (None: from the output's shape and the labels, see ggvision.decoders.yolo; the detector sets it
    # at load).
    nms_iou: float = 0.45
    objectness: Optional[bool] = None
    # The folder the spec was loaded from ("" when built in code).
    model_dir: str = ""
    # The fields the model folder stated (model.yaml, labels.txt, compiled.meta); the others are
    # defaults, which the detector replaces with what the model itself tells (its fixed input width,
    # height and layout). None: every field is meant as given (a spec built in code).
    stated: Optional[Tuple[str, ...]] = field(default=None, compare=False)

    def states(self, field_name: str) -> bool:
        """Whether `field_name` was given (not a default the model may override)."""
        return self.stated is None or field_name in self.stated
