"""Detector end to end on real models: the bundled demo model (ONNX), small onnx.helper models, and the
Neo-format colour detector fixture with both DLR and ONNX Runtime."""

import importlib.util
import os
import shutil

import numpy as np
import pytest
from ggvision.detector import Detector
from ggvision.runtimes import RuntimeLoadError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "demo-model")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "dlr")
HAVE_FIXTURES = os.path.isdir(os.path.join(ROOT, "..", "shared", "fixtures"))

# The fixture README: RGB, pixel / 255, stretched, no mean/std.
FIXTURE_YAML = """\
name: colour-detector
version: "1"
input: {name: data, width: 512, height: 512, layout: NCHW, channel_order: RGB, resize: stretch,
        scale: 0.00392156862745098, mean: [0, 0, 0], std: [1, 1, 1]}
output: {layout: gluoncv}
labels: [red, green, blue]
"""


@pytest.fixture(scope="module")
def demo():
    detector = Detector.load(DEMO_MODEL)
    yield detector
    detector.close()


def grey(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), 128, np.uint8)


def copy_model(source: str, folder, model_yaml: str) -> str:
    """A model folder in tmp: the model file(s) of `source` (a folder or one file) plus a model.yaml."""
    target = str(folder)
    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        os.makedirs(target, exist_ok=True)
        shutil.copy(source, target)
    with open(os.path.join(target, "model.yaml"), "w") as f:
        f.write(model_yaml)
    return target


def demo_with_yaml(tmp_path, model_yaml: str) -> str:
    return copy_model(os.path.join(DEMO_MODEL, "model.onnx"), tmp_path / "model", model_yaml)


# -- the bundled demo model -----------------------------------------------------------------------

def test_demo_model_is_described_by_its_folder(demo):
    assert demo.name == "demo-colour-detector" and demo.version == "1"
    assert demo.labels == {0: "red", 1: "green", 2: "blue"}
    assert demo.runtime_name == "onnx"
    assert demo.spec.output_layout == "gluoncv"


def test_a_red_block_is_found_where_it_is(demo):
    # 640×360 stretched to 512: the 8×8 grid's cells are 80×45 source pixels; cell (row 2, col 2).
    image = grey(360, 640)
    image[90:135, 160:240] = (0, 0, 255)
    detections = demo.detect(image, score_threshold=0.5, max_detections=10, class_filter=None)
    assert detections.class_ids.tolist() == [0]
    assert detections.scores[0] > 0.99
    assert np.allclose(detections.boxes[0], [0.25, 0.25, 0.375, 0.375], atol=1e-6)
    assert detections.labels_present(demo.labels) == {"0": "red"}


def test_results_are_sorted_limited_and_filtered(demo):
    image = grey(512, 512)
    image[0:64, 0:128] = (0, 0, 255)      # two red cells
    image[448:512, 448:512] = (200, 0, 0)  # one weaker blue cell
    detections = demo.detect(image, score_threshold=0.5, max_detections=10, class_filter=None)
    assert detections.class_ids.tolist() == [0, 0, 2]
    assert list(detections.scores) == sorted(detections.scores, reverse=True)
    assert len(demo.detect(image, 0.5, 2, None)) == 2
    only_blue = demo.detect(image, 0.5, 10, class_filter=[2])
    assert only_blue.class_ids.tolist() == [2]
    assert np.allclose(only_blue.boxes[0], [0.875, 0.875, 1, 1])
    assert len(demo.detect(image, 0.9999, 10, None)) == 0


def test_a_grey_image_and_a_grey_frame_give_nothing(demo):
    assert len(demo.detect(grey(100, 100), 0.5, 10, None)) == 0
    assert len(demo.detect(np.full((100, 100), 128, np.uint8), 0.5, 10, None)) == 0


def test_a_bad_image_is_a_value_error(demo):
    with pytest.raises(ValueError):
        demo.detect(np.zeros((10, 10, 3), np.float64), 0.5, 10, None)


def test_close_twice_and_detect_after_close(tmp_path):
    detector = Detector.load(DEMO_MODEL)
    detector.close()
    detector.close()
    with pytest.raises(RuntimeError, match="closed"):
        detector.detect(grey(10, 10), 0.5, 10, None)


# -- what the load checks ------------------------------------------------------------------------

def test_input_size_mismatch_names_both(tmp_path):
    folder = demo_with_yaml(tmp_path, "input: {width: 300, height: 300, scale: 0.00392156862745098}\n")
    with pytest.raises(ValueError, match=r"\[1, 3, 512, 512\].*\[1, 3, 300, 300\]"):
        Detector.load(folder)


def test_layout_mismatch_is_a_value_error(tmp_path):
    folder = demo_with_yaml(tmp_path, "input: {layout: NHWC}\n")
    with pytest.raises(ValueError, match="layout NHWC"):
        Detector.load(folder)


def test_input_name_mismatch_is_a_value_error(tmp_path):
    folder = demo_with_yaml(tmp_path, "input: {name: images}\n")
    with pytest.raises(ValueError, match="'images'.*'data'"):
        Detector.load(folder)


def test_input_dtype_mismatch_is_a_value_error(tmp_path):
    folder = demo_with_yaml(tmp_path, "input: {dtype: uint8}\n")
    with pytest.raises(ValueError, match="float32.*uint8"):
        Detector.load(folder)


def test_unknown_output_names_are_a_value_error(tmp_path):
    folder = demo_with_yaml(tmp_path, "output: {layout: gluoncv, names: [ids, scores, boxes]}\n")
    with pytest.raises(ValueError, match="'boxes'.*ids, scores, bboxes"):
        Detector.load(folder)


def test_output_names_set_the_order(tmp_path):
    folder = demo_with_yaml(tmp_path, "input: {scale: 0.00392156862745098, mean: [0, 0, 0], std: [1, 1, 1]}\n"
                                      "output: {layout: gluoncv, names: [ids, scores, bboxes]}\n")
    with Detector.load(folder) as detector:
        image = grey(512, 512)
        image[0:64, 0:64] = (0, 255, 0)
        assert detector.detect(image, 0.5, 10, None).class_ids.tolist() == [1]
    wrong = demo_with_yaml(tmp_path / "wrong", "output: {layout: gluoncv, names: [bboxes, scores, ids]}\n")
    with pytest.raises(ValueError, match="trial inference failed"):
        Detector.load(wrong)


def test_a_layout_the_outputs_do_not_fit_fails_at_load(tmp_path):
    folder = demo_with_yaml(tmp_path, "output: {layout: yolo}\n")
    with pytest.raises(ValueError, match=r"the yolo output 'ids' has shape \[1, 192, 1\]"):
        Detector.load(folder)


def test_a_folder_without_a_model_is_a_runtime_load_error(tmp_path):
    with pytest.raises(RuntimeLoadError):
        Detector.load(str(tmp_path))
    with pytest.raises(OSError):
        Detector.load(str(tmp_path / "missing"))


# -- a YOLO model, letterboxed, NHWC --------------------------------------------------------------

def constant_yolo_model(rows: np.ndarray, size: int):
    """An NHWC float32 model `images` [1,size,size,3] that always answers `rows` [1,N,5+C]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
             helper.make_node("Add", ["rows", "nothing"], ["output0"])]
    graph = helper.make_graph(
        nodes, "constant-yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, size, size, 3])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(rows.shape))],
        [numpy_helper.from_array(np.array(0.0, np.float32), "zero"), numpy_helper.from_array(rows, "rows")])
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_yolo_model_letterboxed_maps_boxes_back_to_the_source(tmp_path):
    # 320×320 input; a 640×360 image is letterboxed to 320×180 at y 70. Rows: cx, cy, w, h, obj, 2 classes.
    rows = np.array([[[80, 115, 160, 90, 0.9, 0.9, 0.1],    # the source's top-left quarter
                      [84, 115, 160, 90, 0.9, 0.8, 0.1],    # a duplicate: suppressed by NMS
                      [240, 205, 160, 90, 0.9, 0.1, 0.7],   # bottom-right quarter, class 1
                      [160, 20, 40, 30, 0.9, 0.9, 0.0]]],   # in the padding: dropped
                    np.float32)
    folder = tmp_path / "yolo"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(constant_yolo_model(rows, 320))
    (folder / "model.yaml").write_text(
        "name: tiny-yolo\ninput: {name: images, width: 320, height: 320, layout: NHWC, resize: letterbox,\n"
        "        scale: 0.00392156862745098, mean: [0, 0, 0], std: [1, 1, 1]}\n"
        "output: {layout: yolo, nms_iou: 0.5}\nlabels: [cat, dog]\n")
    with Detector.load(str(folder)) as detector:
        detections = detector.detect(grey(360, 640), 0.25, 10, None)
    assert detections.class_ids.tolist() == [0, 1]
    assert detections.scores.tolist() == pytest.approx([0.81, 0.63])
    assert np.allclose(detections.boxes, [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], atol=1e-6)
    assert detections.labels_present(detector.labels) == {"0": "cat", "1": "dog"}


# -- the Neo fixture: DLR and its ONNX twin give the README's detections -------------------------

def readme_image() -> np.ndarray:
    """A grey 640×480 image with a pure red top-left and a pure blue bottom-right 160×120 block."""
    image = grey(480, 640)
    image[:120, :160] = (0, 0, 255)
    image[360:, 480:] = (255, 0, 0)
    return image


def check_readme_detections(detector: Detector) -> None:
    detections = detector.detect(readme_image(), score_threshold=0.5, max_detections=100, class_filter=None)
    assert sorted(detections.class_ids.tolist()) == [0, 2]
    by_class = {int(c): (float(s), box) for c, s, box in zip(detections.class_ids, detections.scores,
                                                             detections.boxes)}
    assert by_class[0][0] == pytest.approx(0.998, abs=1e-3)
    assert by_class[2][0] == pytest.approx(0.998, abs=1e-3)
    assert np.allclose(by_class[0][1], [0, 0, 0.25, 0.25], atol=1e-6)
    assert np.allclose(by_class[2][1], [0.75, 0.75, 1, 1], atol=1e-6)
    assert detections.labels_present(detector.labels) == {"0": "red", "2": "blue"}


@pytest.mark.skipif(not HAVE_FIXTURES, reason="no ../shared/fixtures")
def test_fixture_with_onnx_runtime_gives_the_readme_detections(tmp_path):
    folder = copy_model(os.path.join(FIXTURES, "colour_detector_512.onnx"), tmp_path / "onnx", FIXTURE_YAML)
    with Detector.load(folder) as detector:
        assert detector.runtime_name == "onnx"
        check_readme_detections(detector)


@pytest.mark.dlr
@pytest.mark.skipif(not HAVE_FIXTURES, reason="no ../shared/fixtures")
@pytest.mark.skipif(importlib.util.find_spec("dlr") is None, reason="DLR is not installed")
def test_fixture_with_dlr_gives_the_readme_detections(tmp_path):
    folder = copy_model(os.path.join(FIXTURES, "colour_detector_512_dlr"), tmp_path / "dlr", FIXTURE_YAML)
    with Detector.load(folder, runtime="dlr") as detector:
        assert detector.runtime_name == "dlr"
        check_readme_detections(detector)
