"""A sliding 60 s cap on messages, with a stepped clock (no sleeping)."""

import pytest
from ggvision.features import RateCap


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_table_sliding_window():
    clock = Clock()
    cap = RateCap(3, clock=clock)
    # (time offset, allowed?): sends at 0, 10, 20 fill the minute; the one at 0 frees its place at 60.
    table = [(0, True), (10, True), (20, True), (30, False), (59.9, False), (60, True), (61, False),
             (70, True), (80, True), (140, True), (200, True)]
    for offset, expected in table:
        clock.now = 1000.0 + offset
        assert cap.allow() is expected, offset
    assert (cap.allowed, cap.capped) == (8, 3)


def test_retry_after():
    clock = Clock()
    cap = RateCap(2, clock=clock)
    assert cap.retry_after() == 0.0
    cap.allow()
    clock.now += 15
    cap.allow()
    assert cap.retry_after() == pytest.approx(45.0)
    clock.now += 45
    assert cap.retry_after() == 0.0 and cap.allow()


def test_no_cap():
    cap = RateCap(None, clock=Clock())
    assert all(cap.allow() for _ in range(1000))
    assert (cap.allowed, cap.capped) == (1000, 0)


@pytest.mark.parametrize("per_minute", [0, -1, 1.5, True])
def test_bad_caps_are_refused(per_minute):
    with pytest.raises(ValueError, match="messages per minute"):
        RateCap(per_minute)
