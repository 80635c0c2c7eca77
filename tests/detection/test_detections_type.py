"""Detections: construction, filtering, ranking and the v1 prediction layout."""

import json

import numpy as np
import pytest
from ggvision.contracts import validate
from ggvision.detections import Detections


def sample() -> Detections:
    return Detections(
        class_ids=np.array([2, 0, 1, 0]),
        scores=np.array([0.4, 0.9, 0.7, 0.2], np.float32),
        boxes=np.array([[0.1, 0.1, 0.2, 0.2], [0.0, 0.0, 0.25, 0.25],
                        [0.5, 0.5, 0.6, 0.7], [0.3, 0.3, 0.4, 0.4]], np.float32),
    )


def test_arrays_are_coerced_to_the_documented_dtypes_and_shapes():
    detections = Detections([1.0, 2.0], [0.5, 0.25], [0.0, 0.0, 1.0, 1.0, 0.1, 0.1, 0.2, 0.2])
    assert detections.class_ids.dtype == np.int64
    assert detections.scores.dtype == np.float32
    assert detections.boxes.dtype == np.float32 and detections.boxes.shape == (2, 4)
    assert len(detections) == 2


def test_mismatched_lengths_are_a_value_error():
    with pytest.raises(ValueError, match="as many"):
        Detections([0, 1], [0.5], [[0, 0, 1, 1], [0, 0, 1, 1]])


def test_empty():
    empty = Detections.empty()
    assert len(empty) == 0
    assert empty.to_prediction() == []
    assert empty.labels_present({0: "red"}) == {}
    assert len(empty.filter(0.5).top(3)) == 0


def test_filter_by_score_and_class():
    detections = sample()
    assert sorted(detections.filter(0.5).class_ids.tolist()) == [0, 1]
    assert detections.filter(0.0, class_ids=[0]).class_ids.tolist() == [0, 0]
    assert len(detections.filter(0.0, class_ids=[])) == 0
    assert len(detections.filter(0.95)) == 0


def test_top_sorts_by_score_descending_and_limits():
    top = sample().top(2)
    assert top.scores.tolist() == pytest.approx([0.9, 0.7])
    assert top.class_ids.tolist() == [0, 1]
    assert len(sample().top(None)) == 4
    assert len(sample().top(100)) == 4
    assert len(sample().top(0)) == 0


def test_to_prediction_is_the_v1_layout_sorted_by_score():
    rows = sample().to_prediction()
    assert [row[1] for row in rows] == pytest.approx([0.9, 0.7, 0.4, 0.2])
    assert rows[0] == pytest.approx([0.0, 0.9, 0.0, 0.0, 0.25, 0.25])
    # The v1 connector's documented rows: an int class id (names[row[0]] works), plain floats after it.
    assert all(type(row[0]) is int for row in rows)
    assert all(isinstance(value, float) for row in rows for value in row[1:])
    assert all(len(row) == 6 for row in rows)
    assert json.dumps(rows[0]).startswith("[0, 0.9, ")
    names = ["red", "green", "blue"]
    assert [names[row[0]] for row in rows[:2]] == ["red", "green"]


def test_prediction_and_labels_fit_the_detections_schema():
    detections = sample()
    labels = {0: "red", 1: "green", 2: "blue"}
    message = {"schema": "ggvision.detections/1", "ts": 1.0, "camera_id": "front", "seq": 1,
               "captured_at": 1.0, "width": 640, "height": 480,
               "prediction": detections.to_prediction(), "labels": detections.labels_present(labels),
               "model": {"name": "m", "version": "1"}, "inference_ms": 1.0}
    validate(json.loads(json.dumps(message)))


def test_labels_present_names_only_classes_present():
    detections = sample().filter(0.5)
    assert detections.labels_present({0: "red", 1: "green", 2: "blue"}) == {"0": "red", "1": "green"}
    assert sample().labels_present({0: "red"}) == {"0": "red"}
