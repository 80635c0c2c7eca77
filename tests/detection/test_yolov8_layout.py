"""A YOLOv8 export ([1, 4 + C, N], no objectness) as users bring it: a real ONNX model with that
output, loaded with model.yaml's objectness left at its default, with and without labels; and the
shapes that fit no reading, refused at load with one clear line (issue 9, point 10)."""

import numpy as np
import onnx_models
import pytest
from ggvision.decoders.yolo import yolo_layout
from ggvision.detector import Detector

SIZE = 320
LABELS = ["cat", "dog", "bird"]
ROWS = 200  # N: far more rows than 4 + C attributes, as real heads (8400 at 640)


def yolov8_rows(classes: int = 3) -> np.ndarray:
    """(N, 4 + C) rows: two confident boxes, the rest weak noise."""
    rng = np.random.default_rng(3)
    rows = np.zeros((ROWS, 4 + classes), np.float32)
    rows[:, 0:2] = rng.uniform(0, SIZE, (ROWS, 2))
    rows[:, 2:4] = rng.uniform(4, 40, (ROWS, 2))
    rows[:, 4:] = rng.uniform(0, 0.05, (ROWS, classes))
    rows[17, :4] = [80, 80, 160, 160]     # the top-left quarter
    rows[17, 4:] = 0.0
    rows[17, 4 + 1] = 0.91                # dog
    rows[120, :4] = [240, 240, 160, 160]  # the bottom-right quarter
    rows[120, 4:] = 0.0
    rows[120, 4 + classes - 1] = 0.77     # the last class
    return rows


def yolov8_model(rows: np.ndarray):
    """`images` [1, 3, SIZE, SIZE] → `output0` [1, 4 + C, N], rows transposed as Ultralytics exports."""
    from onnx import TensorProto, helper, numpy_helper

    head = np.ascontiguousarray(rows.T[None])
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
             helper.make_node("Add", ["head", "nothing"], ["output0"])]
    return onnx_models._model(
        nodes, [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(head.shape))],
        [numpy_helper.from_array(np.array(0.0, np.float32), "zero"), numpy_helper.from_array(head, "head")],
        name="yolov8-like")


def model_folder(tmp_path, model_yaml: str, labels=None, classes: int = 3) -> str:
    folder = tmp_path / "yolov8"
    onnx_models.save(yolov8_model(yolov8_rows(classes)), str(folder), "model.onnx")
    (folder / "model.yaml").write_text(model_yaml)
    if labels is not None:
        (folder / "labels.txt").write_text("".join(name + "\n" for name in labels))
    return str(folder)


# As the docs tell a YOLOv8 user to write it, before this fix: nothing about objectness.
YAML = ("name: v8\ninput: {width: 320, height: 320, resize: stretch, scale: 0.00392156862745098,\n"
        "        mean: [0, 0, 0], std: [1, 1, 1]}\noutput: {layout: yolo}\n")


def image() -> np.ndarray:
    return np.full((SIZE, SIZE, 3), 128, np.uint8)


def test_a_yolov8_export_with_labels_is_read_without_objectness(tmp_path):
    with Detector.load(model_folder(tmp_path, YAML, LABELS)) as detector:
        assert detector.spec.objectness is False
        detections = detector.detect(image(), 0.25, 10, None)
    assert detections.class_ids.tolist() == [1, 2]
    assert detections.scores.tolist() == pytest.approx([0.91, 0.77])
    assert np.allclose(detections.boxes, [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], atol=1e-6)
    assert detections.labels_present(detector.labels) == {"1": "dog", "2": "bird"}


def test_a_yolov8_export_without_labels_still_finds_its_boxes(tmp_path):
    with Detector.load(model_folder(tmp_path, YAML)) as detector:
        assert detector.spec.objectness is False
        detections = detector.detect(image(), 0.25, 10, None)
    assert detections.class_ids.tolist() == [1, 2]
    assert detections.scores.tolist() == pytest.approx([0.91, 0.77])


def test_80_classes_like_coco(tmp_path):
    labels = [f"class{i}" for i in range(80)]
    with Detector.load(model_folder(tmp_path, YAML, labels, classes=80)) as detector:
        detections = detector.detect(image(), 0.25, 10, None)
    assert detections.class_ids.tolist() == [1, 79]
    assert max(detections.class_ids.tolist()) < 80


def one_line_error(folder: str) -> str:
    with pytest.raises(ValueError) as raised:
        Detector.load(folder)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("model v8: ")
    return message


def test_objectness_stated_true_for_a_yolov8_head_stops_the_load(tmp_path):
    stated = YAML.replace("{layout: yolo}", "{layout: yolo, objectness: true}")
    message = one_line_error(model_folder(tmp_path, stated, LABELS))
    assert "'output0' has shape [1, 7, 200]" in message
    assert "output.objectness: true" in message and "3 classes" in message
    assert "[1, N, 8] or [1, 8, N]" in message and "output.objectness: false" in message


def test_labels_that_do_not_match_the_head_stop_the_load(tmp_path):
    message = one_line_error(model_folder(tmp_path, YAML, LABELS + ["fish", "cow"]))
    assert "'output0' has shape [1, 7, 200]" in message and "5 classes (from the labels)" in message
    assert "[1, N, 10] (with objectness), [1, N, 9] or [1, 9, N] (without" in message


def test_objectness_stated_false_is_read_as_before(tmp_path):
    stated = YAML.replace("{layout: yolo}", "{layout: yolo, objectness: false}")
    folder = model_folder(tmp_path, stated, LABELS)
    with Detector.load(folder) as detector:
        assert detector.detect(image(), 0.25, 10, None).class_ids.tolist() == [1, 2]


@pytest.mark.parametrize("shapes, labels, objectness, expected", [
    ([(1, 84, 8400)], 80, None, (False, [True])),     # YOLOv8/11
    ([(1, 84, 8400)], 0, None, (False, [True])),
    ([(1, 25200, 85)], 80, None, (True, [False])),    # YOLOv5/YOLOX/YOLOv7
    ([(1, 25200, 85)], 0, None, (True, [False])),
    ([(1, 8400, 84)], 80, None, (False, [False])),    # YOLOv8 un-transposed: the labels decide
    ([(1, 85, 8400)], 80, None, (True, [True])),
    ([(1, 84, 8400)], 80, False, (False, [True])),
    ([(1, 6400, 85), (1, 1600, 85)], 80, None, (True, [False, False])),
    ([(1, 0, 85)], 80, None, (True, [False])),        # no rows at all
])
def test_the_shape_and_the_labels_decide_the_reading(shapes, labels, objectness, expected):
    names = {i: f"c{i}" for i in range(labels)}
    assert yolo_layout(shapes, objectness, names) == expected


@pytest.mark.parametrize("shapes, labels, objectness, needle", [
    ([(1, 84, 8400)], 80, True, "[1, N, 85] or [1, 85, N]"),
    ([(1, 84, 8400)], 3, None, "3 classes (from the labels)"),
    ([(1, 25200, 85)], 20, None, "20 classes (from the labels)"),
    ([(1, 3, 20, 20, 85)], 80, None, "must be [1, N, 5 + classes] or [1, 4 + classes, N]"),
    ([(1, 4, 4)], 0, None, "[1, N, 5 + classes] or [1, 4 + classes, N]"),
    ([(1, 85, 85)], 0, None, "fits more than one layout"),
])
def test_shapes_that_fit_no_reading_are_one_clear_error(shapes, labels, objectness, needle):
    with pytest.raises(ValueError) as raised:
        yolo_layout(shapes, objectness, {i: f"c{i}" for i in range(labels)})
    assert needle in str(raised.value) and "\n" not in str(raised.value)
