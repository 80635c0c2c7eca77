"""The yolo layout: raw [1, N, 5+C] rows → score filter → per-class NMS → relative boxes."""

import numpy as np
import pytest
from ggvision.decoders import decode
from ggvision.imaging.preprocess import BoxTransform, prepare
from ggvision.models import ModelSpec

STRETCH = BoxTransform.identity(640, 640)
LABELS = {0: "person", 1: "car", 2: "dog"}


def yolo_spec(**fields) -> ModelSpec:
    return ModelSpec(output_layout="yolo", width=640, height=640, labels=dict(LABELS), **fields)


def row(cx, cy, w, h, objectness, class_scores):
    return [cx, cy, w, h, objectness] + list(class_scores)


def head(rows) -> np.ndarray:
    return np.asarray(rows, np.float32)[None]


def test_centre_size_boxes_become_relative_corners():
    detections = decode("yolo", [head([row(160, 160, 320, 320, 0.9, [0.1, 0.9, 0.0])])], yolo_spec(), STRETCH,
                        score_threshold=0.25)
    assert detections.class_ids.tolist() == [1]
    assert detections.scores.tolist() == pytest.approx([0.81])
    assert np.allclose(detections.boxes, [[0, 0, 0.5, 0.5]])


def test_score_is_objectness_times_class_score_and_is_filtered_first():
    rows = [row(100, 100, 50, 50, 0.9, [0.9, 0, 0]),    # 0.81
            row(300, 300, 50, 50, 0.5, [0.9, 0, 0]),    # 0.45
            row(500, 500, 50, 50, 0.2, [1.0, 0, 0])]    # 0.2
    detections = decode("yolo", [head(rows)], yolo_spec(), STRETCH, score_threshold=0.4)
    assert sorted(detections.scores.tolist()) == pytest.approx([0.45, 0.81])


def test_overlapping_boxes_of_one_class_are_suppressed_other_classes_kept():
    rows = [row(200, 200, 100, 100, 1.0, [0.9, 0, 0]),
            row(205, 205, 100, 100, 1.0, [0.8, 0, 0]),    # same class, IoU ≈ 0.82: suppressed
            row(205, 205, 100, 100, 1.0, [0, 0.7, 0]),    # another class at the same place: kept
            row(500, 500, 100, 100, 1.0, [0.6, 0, 0])]    # same class, far away: kept
    detections = decode("yolo", [head(rows)], yolo_spec(), STRETCH, score_threshold=0.25).top(None)
    assert detections.class_ids.tolist() == [0, 1, 0]
    assert detections.scores.tolist() == pytest.approx([0.9, 0.7, 0.6])


def test_nms_iou_comes_from_the_spec():
    # IoU ≈ 0.54
    rows = [row(200, 200, 100, 100, 1.0, [0.9, 0, 0]), row(230, 200, 100, 100, 1.0, [0.8, 0, 0])]
    assert len(decode("yolo", [head(rows)], yolo_spec(nms_iou=0.45), STRETCH, 0.25)) == 1
    assert len(decode("yolo", [head(rows)], yolo_spec(nms_iou=0.6), STRETCH, 0.25)) == 2


def test_without_objectness_the_class_score_is_the_score():
    rows = [[320, 320, 640, 640, 0.2, 0.7, 0.1]]
    detections = decode("yolo", [head(rows)], yolo_spec(objectness=False), STRETCH, 0.25)
    assert detections.class_ids.tolist() == [1]
    assert detections.scores.tolist() == pytest.approx([0.7])


def test_transposed_heads_are_recognised():
    # YOLOv8 exports [1, 4 + C, N]: here 3 rows of 7 values transposed to [1, 7, 3].
    rows = np.array([[320, 320, 64, 64, 0.9, 0.0, 0.0],
                     [100, 100, 20, 20, 0.0, 0.8, 0.0],
                     [600, 600, 20, 20, 0.0, 0.0, 0.1]], np.float32)
    detections = decode("yolo", [rows.T[None]], yolo_spec(objectness=False), STRETCH, 0.25)
    assert sorted(detections.class_ids.tolist()) == [0, 1]


def test_several_heads_are_concatenated():
    first = head([row(100, 100, 50, 50, 1.0, [0.9, 0, 0])])
    second = head([row(500, 500, 50, 50, 1.0, [0, 0, 0.8]), row(10, 10, 5, 5, 0.01, [1, 0, 0])])
    detections = decode("yolo", [first, second], yolo_spec(), STRETCH, 0.25)
    assert sorted(detections.class_ids.tolist()) == [0, 2]


def test_letterboxed_boxes_map_back_and_are_clipped():
    _, transform = prepare(np.zeros((360, 640, 3), np.uint8), ModelSpec(resize="letterbox", width=640,
                                                                          height=640))
    # 640×360 in 640×640: content at y 140–500. The source's left half is x 0–320, y 140–500.
    rows = [row(160, 320, 320, 360, 1.0, [0.9, 0, 0]),
            row(600, 320, 100, 800, 1.0, [0, 0.9, 0]),   # taller than the image: clipped
            row(320, 50, 100, 60, 1.0, [0, 0, 0.9])]     # entirely in the padding: dropped
    detections = decode("yolo", [head(rows)], yolo_spec(resize="letterbox"), transform, 0.25).top(None)
    assert detections.class_ids.tolist() == [0, 1]
    assert np.allclose(detections.boxes, [[0, 0, 0.5, 1], [550 / 640, 0, 1, 1]], atol=1e-6)


def test_nothing_above_the_threshold_gives_no_detections():
    rows = [row(100, 100, 50, 50, 0.1, [0.9, 0, 0])]
    assert len(decode("yolo", [head(rows)], yolo_spec(), STRETCH, 0.5)) == 0
    assert len(decode("yolo", [np.zeros((1, 0, 8), np.float32)], yolo_spec(), STRETCH, 0.5)) == 0


def test_a_head_of_the_wrong_rank_is_a_value_error():
    with pytest.raises(ValueError, match="yolo output"):
        decode("yolo", [np.zeros((1, 3, 20, 20, 8), np.float32)], yolo_spec(), STRETCH, 0.5)
