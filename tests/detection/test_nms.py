"""Greedy NMS and its per-class form."""

import numpy as np
from ggvision.decoders.nms import batched_nms, iou, nms


def test_iou_of_known_boxes():
    box = np.array([0, 0, 10, 10], np.float32)
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    assert np.allclose(iou(box, others), [1.0, 50 / 150, 0.0, 0.0])


def test_nms_keeps_the_best_of_overlapping_boxes_best_first():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.3], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]


def test_nms_threshold_is_strict():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU 1/3
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 1 / 3 + 1e-6).tolist() == [0, 1]
    assert nms(boxes, scores, 0.3).tolist() == [0]


def test_batched_nms_only_suppresses_within_a_class():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11], [2, 2, 12, 12]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 1, 1])
    assert batched_nms(boxes, scores, classes, 0.5).tolist() == [0, 2]


def test_batched_nms_with_negative_coordinates_and_many_classes():
    boxes = np.array([[-5, -5, 5, 5], [-5, -5, 5, 5], [-4, -4, 6, 6]], np.float32)
    scores = np.array([0.5, 0.9, 0.8], np.float32)
    classes = np.array([79, 0, 79])
    assert batched_nms(boxes, scores, classes, 0.5).tolist() == [1, 2]


def test_empty_input():
    empty = np.zeros((0, 4), np.float32)
    assert nms(empty, np.zeros((0,), np.float32), 0.5).tolist() == []
    assert batched_nms(empty, np.zeros((0,), np.float32), np.zeros((0,), np.int64), 0.5).tolist() == []


def reference_nms(boxes, scores, threshold):
    """The textbook loop: keep the best, drop what overlaps it, repeat."""
    order = np.argsort(-scores, kind="stable")
    kept = []
    while order.size:
        best, order = order[0], order[1:]
        kept.append(int(best))
        order = order[iou(boxes[best], boxes[order]) <= threshold]
    return kept


def test_nms_agrees_with_the_textbook_loop_on_random_boxes():
    rng = np.random.default_rng(11)
    for count in (1, 7, 60, 300, 700):  # 700 spans several overlap blocks
        corners = rng.random((count, 2), dtype=np.float32) * 200
        sizes = rng.random((count, 2), dtype=np.float32) * 60 + 1
        boxes = np.hstack([corners, corners + sizes])
        scores = rng.random(count, dtype=np.float32)
        for threshold in (0.2, 0.5, 0.8):
            assert nms(boxes, scores, threshold).tolist() == reference_nms(boxes, scores, threshold)
