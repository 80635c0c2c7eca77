"""ggvision.CameraCapture as Greengrass runs it: scripts/build → recipe → launcher → main.py as a real
process on the local nucleus; frames and status over IPC, and an invalid configuration → ERRORED."""

import os

import camera_helpers as helpers
import pytest
from ggvision.contracts import validate
from ggvision.frames import FrameReader, FrameUnavailable
from harness import connect, pubsub_policy

pytestmark = pytest.mark.timeout(60)

BUILD = os.path.join(helpers.ROOT, "scripts", "build")
NAME = helpers.NAME


def test_component_process_publishes_frames_and_status_then_stops_cleanly(nucleus, built, tmp_path):
    video = helpers.make_video(str(tmp_path / "clip.avi"), frames=25, fps=25)
    rings = str(tmp_path / "rings")
    merge = {"Cameras": [{"CameraId": "demo", "Source": video, "Loop": True, "FrameRate": 10,
                          "Transport": "shm"}],  # the shape scripts/lib/demo/config.py deploys
             "RingFolder": rings, "StatusIntervalSeconds": 0.5}
    observer = connect(nucleus, "test.Observer", pubsub_policy(
        subscribe=["ggvision/cameras/demo/frames", "ggvision/cameras/demo/status"]))
    frames = observer.subscribe("ggvision/cameras/demo/frames", 100)
    statuses = observer.subscribe("ggvision/cameras/demo/status", 100)
    launcher = helpers.launch(nucleus, built, tmp_path, merge)
    try:
        assert launcher.wait_for_state(NAME, "RUNNING", helpers.WAIT), launcher.log_lines(NAME)
        reader = FrameReader(rings)
        read = []
        while len(read) < 3:
            message = frames.get(helpers.WAIT)
            assert message is not None, launcher.log_lines(NAME)
            validate(message.payload, "ggvision.frame/1")
            try:
                read.append(helpers.index_of(reader.read(message.payload)))
            except FrameUnavailable:
                continue
        reader.close()
        status = statuses.get(helpers.WAIT)
        assert status is not None
        validate(status.payload, "ggvision.camera-status/1")
        assert status.payload["camera_id"] == "demo"
    finally:
        launcher.stop()
        observer.close()
    assert launcher.state(NAME) == "FINISHED"  # exited on SIGTERM by itself
    lines = launcher.log_lines(NAME)
    assert any("ggvision.CameraCapture stopped" in line for line in lines), lines
    assert not any("Traceback" in line for line in lines), lines
    assert not os.path.exists(os.path.join(rings, "demo.ring"))  # the ring is removed on stop


def test_invalid_configuration_is_one_clear_line_and_errored(nucleus, built, tmp_path):
    merge = {"Cameras": [{"CameraId": "a", "Source": "0"}, {"CameraId": "a", "Source": "1"}]}
    launcher = helpers.launch(nucleus, built, tmp_path, merge)
    try:
        assert launcher.wait_for_state(NAME, "BROKEN", helpers.WAIT), launcher.state_history(NAME)
    finally:
        launcher.stop()
    assert "ERRORED" in launcher.state_history(NAME)
    lines = launcher.log_lines(NAME)
    errors = [line for line in lines if " ERROR " in line]
    expected = ("Invalid configuration: Cameras[1].CameraId = 'a' "
                "(allowed: a CameraId used by one camera only)")
    assert errors and all(line.endswith(expected) for line in errors), lines
    assert len(errors) == sum("ggvision.CameraCapture stopped" in line for line in lines)  # one per run
    assert not any("Traceback" in line for line in lines), lines
