"""Per-source cosine-similarity skip against the last vector *published* for that source."""

import numpy as np
import pytest
from ggvision.features import Deduplicator, cosine_similarity


def at_angle(degrees):
    radians = np.radians(degrees)
    return np.array([np.cos(radians), np.sin(radians)], np.float32)


def test_table_against_last_published():
    # threshold 0.99 ≈ 8.1°. Each row: (key, angle, published?). The drift 0 → 5 → 10 is published at
    # 10: it is compared with 0 (the last published), not with 5 (the last seen).
    dedup = Deduplicator(0.99)
    table = [
        ("a", 0, True),
        ("a", 5, False),
        ("a", 10, True),
        ("a", 10, False),
        ("b", 10, True),   # another source has its own reference
        ("a", 17, False),  # 7° from 10
        ("a", 90, True),
        ("b", 12, False),
    ]
    for key, angle, expected in table:
        assert dedup.accept(key, at_angle(angle)) is expected, (key, angle)
    assert dedup.skipped == 4


def test_is_duplicate_does_not_record_until_published():
    dedup = Deduplicator(0.9)
    assert not dedup.is_duplicate("a", at_angle(0))  # nothing published yet, e.g. then rate-capped
    assert not dedup.is_duplicate("a", at_angle(0))
    dedup.published("a", at_angle(0))
    assert dedup.is_duplicate("a", at_angle(1))
    assert dedup.skipped == 1
    dedup.forget("a")
    assert not dedup.is_duplicate("a", at_angle(1))


def test_no_threshold_and_threshold_one_never_skip():
    for threshold in (None, 1.0):
        dedup = Deduplicator(threshold)
        assert all(dedup.accept("a", at_angle(0)) for _ in range(3))
        assert dedup.skipped == 0


def test_zero_vectors_and_dimension_changes():
    zero = np.zeros(2, np.float32)
    assert cosine_similarity(zero, zero) == 1.0  # a black scene repeated is a duplicate
    assert cosine_similarity(zero, at_angle(0)) == 0.0
    assert cosine_similarity(np.ones(2), np.ones(3)) == 0.0  # another model
    dedup = Deduplicator(0.5)
    assert dedup.accept("a", zero) and not dedup.accept("a", zero)


def test_memory_is_bounded_least_recently_published_first():
    dedup = Deduplicator(0.5, max_keys=2)
    for key in ("a", "b", "c"):
        dedup.published(key, at_angle(0))
    assert dedup.accept("a", at_angle(0))      # "a" was forgotten
    assert not dedup.accept("c", at_angle(0))  # "c" is remembered


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "0.9", True])
def test_bad_thresholds_are_refused(threshold):
    with pytest.raises(ValueError, match="dedup threshold"):
        Deduplicator(threshold)
