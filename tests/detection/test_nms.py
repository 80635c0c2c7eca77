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
