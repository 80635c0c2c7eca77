"""The gluoncv layout (SageMaker Neo SSD/YOLOv3): ids, scores, boxes in input pixels, -1 padding."""

import numpy as np
import pytest
from ggvision.decoders import decode
from ggvision.imaging.preprocess import BoxTransform, prepare
from ggvision.models import ModelSpec

STRETCH = BoxTransform.identity(512, 512)


def outputs(rows):
    """rows of (class id, score, xmin, ymin, xmax, ymax) → [ids [1,N,1], scores [1,N,1], boxes [1,N,4]]."""
    array = np.asarray(rows, np.float32).reshape(-1, 6)
    return [array[None, :, 0:1].copy(), array[None, :, 1:2].copy(), array[None, :, 2:6].copy()]


def letterbox_640x360() -> BoxTransform:
    _, transform = prepare(np.zeros((360, 640, 3), np.uint8), ModelSpec(resize="letterbox"))
    return transform


def test_known_boxes_become_relative_boxes():
    detections = decode("gluoncv", outputs([[0, 0.9, 0, 0, 128, 128], [2, 0.8, 384, 384, 512, 512]]),
                        ModelSpec(), STRETCH)
    assert detections.class_ids.tolist() == [0, 2]
    assert detections.scores.tolist() == pytest.approx([0.9, 0.8])
    assert np.allclose(detections.boxes, [[0, 0, 0.25, 0.25], [0.75, 0.75, 1, 1]])


def test_padding_rows_are_dropped():
    rows = [[1, 0.7, 10, 10, 100, 100]] + [[-1, -1, -1, -1, -1, -1]] * 5
    detections = decode("gluoncv", outputs(rows), ModelSpec(), STRETCH)
    assert len(detections) == 1 and detections.class_ids.tolist() == [1]


def test_letterboxed_boxes_map_back_to_the_source_image():
    # 640×360 letterboxed into 512×512: content 512×288 at y 112.
    rows = [[0, 0.9, 0, 112, 256, 256], [1, 0.8, 128, 184, 384, 328]]
    detections = decode("gluoncv", outputs(rows), ModelSpec(resize="letterbox"), letterbox_640x360())
    assert np.allclose(detections.boxes, [[0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]], atol=1e-6)


def test_boxes_are_clipped_and_degenerate_ones_dropped():
    rows = [[0, 0.9, -20, -20, 600, 256],   # beyond the input: clipped
            [1, 0.9, 100, 100, 100, 200],   # zero width
            [2, 0.9, 0, 0, 512, 100]]       # entirely in the letterbox padding (y < 112)
    detections = decode("gluoncv", outputs(rows), ModelSpec(resize="letterbox"), letterbox_640x360())
    assert detections.class_ids.tolist() == [0]
    assert np.allclose(detections.boxes, [[0, 0, 1, 0.5]], atol=1e-6)


def test_score_threshold_and_bad_rows():
    rows = [[0, 0.9, 0, 0, 10, 10], [0, 0.2, 0, 0, 10, 10], [np.nan, 0.9, 0, 0, 10, 10],
            [1, np.nan, 0, 0, 10, 10], [1, 0.9, np.nan, 0, 10, 10]]
    detections = decode("gluoncv", outputs(rows), ModelSpec(), STRETCH, score_threshold=0.5)
    assert detections.scores.tolist() == pytest.approx([0.9])


def test_outputs_in_another_order_are_identified_by_shape():
    ids, scores, boxes = outputs([[0, 0.9, 0, 0, 128, 128], [2, 0.75, 384, 384, 512, 512]])
    for shuffled in ([scores, boxes, ids], [boxes, ids, scores], [ids, scores, boxes]):
        detections = decode("gluoncv", shuffled, ModelSpec(), STRETCH)
        assert detections.class_ids.tolist() == [0, 2]
        assert detections.scores.tolist() == pytest.approx([0.9, 0.75])


def test_output_names_mean_the_order_is_already_right():
    ids, scores, boxes = outputs([[0, 1.0, 0, 0, 128, 128]])  # score 1.0: not distinguishable by values
    detections = decode("gluoncv", [ids, scores, boxes], ModelSpec(output_names=["i", "s", "b"]), STRETCH)
    assert detections.class_ids.tolist() == [0] and detections.scores.tolist() == [1.0]


def test_too_few_or_mismatched_outputs_are_value_errors():
    ids, scores, boxes = outputs([[0, 0.9, 0, 0, 10, 10]])
    with pytest.raises(ValueError, match="3 outputs"):
        decode("gluoncv", [ids, boxes], ModelSpec(), STRETCH)
    with pytest.raises(ValueError):
        decode("gluoncv", [ids, scores, np.zeros((1, 2, 4), np.float32)], ModelSpec(), STRETCH)


def test_unknown_layout_is_a_value_error():
    with pytest.raises(ValueError, match="gluoncv, tensorflow, yolo"):
        decode("detectron", [], ModelSpec(), STRETCH)
