"""CameraCapture and its frame ring under faults (issue 9, points 2 and 3): a squatted RingFolder
stops the service at start with one clear line, and the real component process rides out its ring
file being deleted and truncated (same pid, frames readable again, status says what happened)."""

import os
import signal
import time

import camera_helpers as helpers
import pytest
from camera_capture.service import CaptureService
from camera_capture.settings import CaptureSettings
from ggvision.component import ServiceError
from ggvision.config import parse_config
from ggvision.frames import FrameReader, FrameUnavailable
from harness import connect, pubsub_policy

pytestmark = pytest.mark.timeout(120)

NAME = helpers.NAME


def settings_for(rings):
    config = dict(helpers.recipe_configuration())
    config.update(Cameras=[{"CameraId": "a", "Source": "0"}], RingFolder=rings)
    return parse_config(CaptureSettings, config)


def test_a_ring_folder_writable_by_others_stops_the_service_at_start(tmp_path):
    rings = tmp_path / "rings"
    rings.mkdir()
    os.chmod(rings, 0o777)
    with pytest.raises(ServiceError, match=r"^RingFolder .*/rings: frame ring folder .*/rings is writable "
                                           r"by its group or others \(mode 0777\)"):
        CaptureService(settings_for(str(rings)), ipc=None).start()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_ring_folder_of_another_user_stops_the_service_at_start(tmp_path):
    rings = tmp_path / "rings"
    rings.mkdir(mode=0o750)
    os.chown(rings, 65534, -1)  # nobody
    with pytest.raises(ServiceError, match=r"^RingFolder .*/rings: frame ring folder .*/rings belongs to "
                                           r"\S+ \(uid 65534\), not to this component's user"):
        CaptureService(settings_for(str(rings)), ipc=None).start()


# ---------------------------------------------------------------- the real component process

def fresh_frame(frames, reader, launcher, after):
    """A frame read from the ring whose event came after `after` (time.time())."""
    deadline = time.monotonic() + helpers.WAIT
    while time.monotonic() < deadline:
        message = frames.get(1.0)
        if message is None or message.received_at < after:
            continue
        try:
            return reader.read(message.payload)
        except FrameUnavailable:
            continue
    raise AssertionError(f"no readable frame: {launcher.log_lines(NAME)}")


def test_the_camera_process_makes_a_deleted_or_truncated_ring_again(nucleus, built, tmp_path):
    video = helpers.make_video(str(tmp_path / "clip.avi"), frames=25, fps=25)
    rings = str(tmp_path / "rings")
    merge = {"Cameras": [{"CameraId": "demo", "Source": video, "Loop": True, "FrameRate": 20,
                          "Transport": "shm"}],
             "RingFolder": rings, "StatusIntervalSeconds": 0.5}
    observer = connect(nucleus, "test.Observer", pubsub_policy(
        subscribe=["ggvision/cameras/demo/frames", "ggvision/cameras/demo/status"]))
    frames = observer.subscribe("ggvision/cameras/demo/frames", 100)
    statuses = observer.subscribe("ggvision/cameras/demo/status", 100)
    launcher = helpers.launch(nucleus, built, tmp_path, merge)
    path = os.path.join(rings, "demo.ring")
    try:
        assert launcher.wait_for_state(NAME, "RUNNING", helpers.WAIT), launcher.log_lines(NAME)
        with FrameReader(rings) as reader:
            fresh_frame(frames, reader, launcher, 0.0)
            inode = os.stat(path).st_ino
            os.unlink(path)
            fresh_frame(frames, reader, launcher, time.time())
            assert os.stat(path).st_ino != inode
            size = os.path.getsize(path)
            os.truncate(path, 64)
            fresh_frame(frames, reader, launcher, time.time())
            assert os.path.getsize(path) == size
        deadline = time.monotonic() + helpers.WAIT
        last_error = None
        while time.monotonic() < deadline and not (last_error and "truncated" in last_error):
            message = statuses.get(1.0)
            if message is not None:
                last_error = message.payload.get("last_error")
        assert last_error and "made it again" in last_error, last_error
        assert launcher.state(NAME) == "RUNNING"
        assert launcher.state_history(NAME).count("RUNNING") == 1  # never died and restarted
    finally:
        launcher.stop()
        observer.close()
    lines = launcher.log_lines(NAME)
    assert any("demo.ring was deleted; made it again" in line for line in lines), lines
    assert not any("Traceback" in line for line in lines), lines
    assert not any(f"exit code {128 + signal.SIGBUS}" in line or "SIGBUS" in line for line in lines), lines
