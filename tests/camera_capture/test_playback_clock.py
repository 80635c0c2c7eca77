"""Issue 9, point 13: `PlaybackSpeed: native` shows a file's frames at their own timestamps
(PlaybackClock), not at the header's frame rate, so variable-frame-rate files play in real time."""

import pytest
from camera_capture.playback_clock import MAX_GAP, PlaybackClock


def play(clock, frames, nominal=None, read_cost=0.0, start=100.0):
    """Due times of `frames` (timestamps or None) when each is read `read_cost` s after the one
    before was shown (the reader shows a frame at its due time or, if late, at once)."""
    now, dues = start, []
    for stamp in frames:
        due = clock.due(stamp, nominal, now)
        dues.append(None if due is None else round(due - start, 6))
        now = max(now, due if due is not None else now) + read_cost
    return dues


def test_frames_are_due_at_their_timestamps_distance_from_the_first():
    # 10 fps, then 2 fps: the variable frame rate of a phone's video
    stamps = [0.0, 0.1, 0.2, 0.3, 0.8, 1.3, 1.8]
    assert play(PlaybackClock(), stamps, nominal=1 / 15) == stamps


def test_a_stream_that_does_not_start_at_zero_starts_at_once():
    assert play(PlaybackClock(), [5.0, 5.5, 7.0], nominal=0.1) == [0.0, 0.5, 2.0]


def test_frames_without_timestamps_are_spaced_by_the_nominal_interval():
    assert play(PlaybackClock(), [None] * 4, nominal=0.25) == [0.0, 0.25, 0.5, 0.75]


def test_no_timestamp_and_no_nominal_rate_means_as_fast_as_taken():
    assert play(PlaybackClock(), [None, None], nominal=None) == [None, None]


def test_a_looped_file_starts_again_one_nominal_interval_after_its_last_frame():
    assert play(PlaybackClock(), [0.0, 0.5, 1.0, 0.0, 0.5], nominal=0.2) == [0.0, 0.5, 1.0, 1.2, 1.7]


def test_repeated_timestamps_are_spaced_nominally_not_shown_together():
    assert play(PlaybackClock(), [0.0, 0.0, 0.0], nominal=0.1) == [0.0, 0.1, 0.2]


def test_a_jump_longer_than_the_maximum_gap_waits_only_the_maximum():
    due = play(PlaybackClock(), [0.0, 3600.0, 3600.5], nominal=0.1)
    assert due == [0.0, 0.1, 0.6]  # broken timestamps: the nominal interval
    due = play(PlaybackClock(), [0.0, MAX_GAP, MAX_GAP + 0.5], nominal=0.1)
    assert due == [0.0, MAX_GAP, MAX_GAP + 0.5]  # a gap at the limit is kept


def test_after_a_stall_the_schedule_restarts_from_the_late_frame_instead_of_rushing():
    clock = PlaybackClock()
    assert clock.due(0.0, 0.1, now=0.0) == 0.0
    assert clock.due(0.1, 0.1, now=0.05) == pytest.approx(0.1)
    # frame 2 (due at 0.2) decoded only at 0.9: shown at once; frame 3 its own gap after it
    assert clock.due(0.2, 0.1, now=0.9) == pytest.approx(0.9)
    assert clock.due(0.3, 0.1, now=0.91) == pytest.approx(1.0)


def test_a_frame_a_little_late_keeps_the_schedule():
    clock = PlaybackClock()
    clock.due(0.0, 0.1, now=0.0)
    assert clock.due(0.1, 0.1, now=0.15) == pytest.approx(0.1)  # late by less than a gap
    assert clock.due(0.2, 0.1, now=0.16) == pytest.approx(0.2)
