"""A frame event's camera id is matched whole and must be the camera of the topic it arrived on
(issue 9, point 6): a component allowed to publish one camera's frames cannot speak for another."""

import pytest
from ggvision.frames import frame_event
from object_detection.continuous import LatestFrames

FILTER = "ggvision/cameras/+/frames"


def event(camera_id, seq=0):
    good = frame_event("a", seq, 1.0, 64, 48, "bgr24", shm={"path": f"/dev/shm/x/{camera_id}.ring",
                                                              "slot": seq % 4})
    return dict(good, camera_id=camera_id)  # any id, even one frame_event would refuse


@pytest.mark.parametrize("camera_id", ["rel\n", "front\n", "front\r\n", "a" * 64 + "\n"])
def test_a_camera_id_with_a_trailing_newline_is_refused(camera_id):
    frames = LatestFrames()
    frames.offer(event(camera_id))
    assert frames.take() is None and frames.invalid == 1


def test_a_camera_id_that_is_not_the_topics_camera_is_refused():
    frames = LatestFrames()
    frames.offer(event("front"), "ggvision/cameras/back/frames", FILTER)
    frames.offer(event("cameras"), "ggvision/cameras/back/frames", FILTER)  # a level, but not the '+' one
    frames.offer(event("frames"), "ggvision/cameras/back/frames", FILTER)
    assert frames.take() is None and frames.invalid == 3
    frames.offer(event("back", 5), "ggvision/cameras/back/frames", FILTER)
    taken, replaced = frames.take()
    assert (taken["camera_id"], taken["seq"], replaced) == ("back", 5, 0) and frames.invalid == 3


@pytest.mark.parametrize("topic, topic_filter, camera_id, accepted", [
    ("ggvision/cameras/front/frames", "ggvision/cameras/front/frames", "front", True),  # an exact topic
    ("ggvision/cameras/front/frames", "ggvision/cameras/front/frames", "back", False),
    ("site/a/front/frames", "site/#", "front", True),
    ("site/a/front/frames", "site/#", "site", False),
    ("ggvision/cameras/front/frames", None, "front", True),  # no filter known: a whole level
    ("ggvision/cameras/front-2/frames", None, "front", False),
])
def test_the_camera_is_a_level_the_subscription_left_open(topic, topic_filter, camera_id, accepted):
    frames = LatestFrames()
    frames.offer(event(camera_id), topic, topic_filter)
    assert (frames.take() is not None) is accepted
    assert frames.invalid == (0 if accepted else 1)
