"""The tensorflow layout: boxes [ymin, xmin, ymax, xmax] normalised to the input, classes, scores, count."""

import numpy as np
import pytest
from ggvision.decoders import decode
from ggvision.imaging.preprocess import BoxTransform, prepare
from ggvision.models import ModelSpec

STRETCH = BoxTransform.identity(300, 300)


def outputs(rows, count=None):
    """rows of (class, score, ymin, xmin, ymax, xmax) → [boxes [1,N,4], classes, scores [1,N], count [1]]."""
    array = np.asarray(rows, np.float32).reshape(-1, 6)
    return [array[None, :, 2:6].copy(), array[None, :, 0].copy(), array[None, :, 1].copy(),
            np.array([len(array) if count is None else count], np.float32)]


def test_yxyx_normalised_boxes_become_xyxy_relative_boxes():
    detections = decode("tensorflow", outputs([[3, 0.9, 0.1, 0.2, 0.5, 0.6]]),
                        ModelSpec(output_layout="tensorflow"), STRETCH)
    assert detections.class_ids.tolist() == [3]
    assert np.allclose(detections.boxes, [[0.2, 0.1, 0.6, 0.5]], atol=1e-6)


def test_count_is_honoured():
    rows = [[1, 0.9, 0, 0, 0.5, 0.5], [2, 0.8, 0.5, 0.5, 1, 1], [3, 0.7, 0, 0, 1, 1], [4, 0.6, 0, 0, 1, 1]]
    detections = decode("tensorflow", outputs(rows, count=2), ModelSpec(), STRETCH)
    assert detections.class_ids.tolist() == [1, 2]
    assert len(decode("tensorflow", outputs(rows, count=0), ModelSpec(), STRETCH)) == 0
    assert len(decode("tensorflow", outputs(rows, count=99), ModelSpec(), STRETCH)) == 4


def test_without_a_count_output_every_row_is_read():
    rows = [[1, 0.9, 0, 0, 0.5, 0.5], [2, 0.8, 0.5, 0.5, 1, 1]]
    detections = decode("tensorflow", outputs(rows)[:3], ModelSpec(), STRETCH)
    assert len(detections) == 2


def test_letterboxed_normalised_boxes_map_back_to_the_source_image():
    _, transform = prepare(np.zeros((360, 640, 3), np.uint8), ModelSpec(resize="letterbox"))
    # The source's bottom-right quarter is x 256–512, y 256–400 of the 512×512 input.
    rows = [[0, 0.9, 256 / 512, 256 / 512, 400 / 512, 1.0]]
    detections = decode("tensorflow", outputs(rows), ModelSpec(resize="letterbox"), transform)
    assert np.allclose(detections.boxes, [[0.5, 0.5, 1.0, 1.0]], atol=1e-6)


def test_class_id_offset_makes_one_based_classes_zero_based():
    spec = ModelSpec()
    spec.class_id_offset = 1  # TF OD API label maps start at 1
    rows = [[1, 0.9, 0, 0, 0.5, 0.5], [0, 0.8, 0, 0, 0.5, 0.5]]  # 0 = background → dropped
    detections = decode("tensorflow", outputs(rows), spec, STRETCH)
    assert detections.class_ids.tolist() == [0]


def test_outputs_in_another_order_are_identified_by_shape():
    boxes, classes, scores, count = outputs([[1, 0.9, 0, 0, 0.5, 0.5], [2, 0.75, 0.5, 0.5, 1, 1],
                                             [5, 0.5, 0, 0, 1, 1]], count=2)
    for shuffled in ([count, scores, classes, boxes], [scores, boxes, count, classes]):
        detections = decode("tensorflow", shuffled, ModelSpec(), STRETCH)
        assert detections.class_ids.tolist() == [1, 2]
        assert detections.scores.tolist() == pytest.approx([0.9, 0.75])


def test_clipping_and_degenerate_boxes():
    rows = [[1, 0.9, -0.2, -0.1, 1.3, 0.5], [2, 0.9, 0.5, 0.5, 0.5, 0.9]]
    detections = decode("tensorflow", outputs(rows), ModelSpec(), STRETCH)
    assert detections.class_ids.tolist() == [1]
    assert np.allclose(detections.boxes, [[0, 0, 0.5, 1]], atol=1e-6)


def test_nan_count_reads_nothing():
    rows = [[1, 0.9, 0, 0, 0.5, 0.5]]
    assert len(decode("tensorflow", outputs(rows, count=np.nan), ModelSpec(), STRETCH)) == 0


def test_too_few_outputs_is_a_value_error():
    with pytest.raises(ValueError, match="3 or 4 outputs"):
        decode("tensorflow", outputs([[1, 0.9, 0, 0, 1, 1]])[:2], ModelSpec(), STRETCH)
