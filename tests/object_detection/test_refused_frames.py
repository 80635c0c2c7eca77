"""Malformed and refused frame events cost one throttled warning, never a traceback, and show in the
detector's status as frames_refused (#9 point 5): an over-long or outside ring path, a geometry the ring
cannot hold, a malformed event — and the service keeps inferring the good frames between them."""

import logging

import pytest
from detection_helpers import (
    RingCamera,
    example_image,
    model_folder,
    next_valid,
    observer,
    running_service,
    settings,
)
from harness import connect, local_nucleus, pubsub_policy

pytestmark = pytest.mark.timeout(120)

STATUS = "ggvision/inference/detector/status"


def test_refused_frame_events_are_counted_and_warned_about_once(tmp_path, caplog):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0, StatusIntervalSeconds=0.5)
    caplog.set_level(logging.DEBUG, logger="ggvision")
    with local_nucleus() as nucleus, running_service(nucleus, configuration):
        watcher, (detections, status) = observer(nucleus, ["ggvision/detections/+", STATUS])
        camera = RingCamera(nucleus, rings, "cam1")
        hostile = connect(nucleus, "test.Hostile", pubsub_policy(publish=[camera.topic]))
        try:
            good = camera.write(example_image())
            bad = []
            for path in ("/" + "a" * 5000 + ".ring", "/etc/passwd", rings + "/../outside/cam1.ring"):
                bad.append(dict(good, shm={"path": path, "slot": 0}))
            bad.append(dict(good, width=100000, height=100000))  # more than the ring's slot holds
            bad.append({"schema": "ggvision.frame/1", "camera_id": "cam1"})  # malformed
            for round_ in range(3):
                for event in bad:
                    hostile.publish_json(camera.topic, dict(event, seq=good["seq"] + round_))
            sent = camera.send(example_image())  # and a good frame after them
            next_valid(detections, "ggvision.detections/1", 60, where=lambda m: m["seq"] == sent["seq"])
            report = next_valid(status, "ggvision.detector-status/1", 60,
                                where=lambda m: m["frames_refused"] >= 1)
            assert report["frames_refused"] >= 1
        finally:
            hostile.close()
            camera.close()
            watcher.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "frame event" in r.getMessage()]
    assert warnings, "refused events are not DEBUG-only"
    assert len(warnings) <= 2  # one per kind per 10 s (refused ring, invalid event), not one per event
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert all(len(r.getMessage()) < 400 for r in warnings)  # the 5000-character path is cut
