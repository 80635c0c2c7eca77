"""LatestFrames: the newest frame event per camera, round-robin, checked against its schema when taken."""

from ggvision.frames import frame_event
from object_detection.continuous import LatestFrames


def event(camera_id, seq):
    return frame_event(camera_id, seq, 1.0, 64, 48, "bgr24", shm={"path": f"/dev/shm/x/{camera_id}.ring",
                                                                   "slot": seq % 4})


def test_the_newest_event_of_each_camera_is_taken_round_robin_and_replaced_ones_counted():
    frames = LatestFrames()
    for seq in range(3):
        frames.offer(event("a", seq))
    frames.offer(event("b", 0))
    frames.offer(event("a", 3))
    assert [(e["camera_id"], e["seq"], replaced) for e, replaced in (frames.take(), frames.take())] == \
        [("a", 3, 3), ("b", 0, 0)]
    assert frames.take() is None and frames.invalid == 0


def test_events_without_a_camera_id_are_refused_on_arrival():
    frames = LatestFrames()
    for bad in (None, [], {"camera_id": 5}, {"camera_id": "../etc"}, {"seq": 1}):
        frames.offer(bad)
    assert frames.take() is None and frames.invalid == 5


def test_an_invalid_newest_event_is_refused_when_taken_and_the_next_camera_is_served():
    frames = LatestFrames()
    frames.offer(event("a", 0))
    broken = dict(event("a", 1), width="wide")  # replaces the good one: the newest wins, then fails
    frames.offer(broken)
    frames.offer(event("b", 7))
    taken, replaced = frames.take()
    assert (taken["camera_id"], taken["seq"], replaced) == ("b", 7, 0)
    assert frames.invalid == 1 and frames.take() is None
