"""The pipeline as Greengrass runs it: the real ggvision.CameraCapture process reading a video file into
its shared-memory ring → the real ggvision.ObjectDetection process → detections over the local
nucleus, each component held to its own recipe's accessControl.
"""

import os

import cv2
import pytest
from detection_helpers import (
    COMPONENT,
    assert_expected,
    build_components,
    example_image,
    launched,
    model_folder,
    next_valid,
    observer,
)
from harness import local_nucleus

CAMERA = "ggvision.CameraCapture"
WAIT = 60


def write_video(path, frames=30, fps=15):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    assert writer.isOpened(), "OpenCV cannot write MJPEG here"
    for _ in range(frames):
        writer.write(example_image())
    writer.release()
    return path


@pytest.mark.skipif(not os.path.isdir(os.path.join(os.path.dirname(__file__), "..", "..", "components",
                                                   "camera-capture")), reason="CameraCapture not present")
def test_camera_process_to_detector_process(tmp_path, device_runtime):
    built = build_components(str(tmp_path / "build"), device_runtime, [CAMERA, COMPONENT])
    video = write_video(str(tmp_path / "clip.avi"))
    rings = str(tmp_path / "rings")
    configuration = {
        CAMERA: {"Cameras": [{"CameraId": "door", "Source": video, "Loop": True}], "FrameRate": 15,
                 "RingFolder": rings},
        COMPONENT: {"ModelPath": model_folder(str(tmp_path), "tensorflow"), "RingFolder": rings,
                    "CountsIntervalSeconds": 0},
    }
    with local_nucleus() as nucleus:
        watcher, (detections, frames) = observer(nucleus, ["ggvision/detections/door",
                                                           "ggvision/cameras/door/frames"])
        try:
            run = str(tmp_path / "run")
            with launched(nucleus, built, run, configuration, [CAMERA, COMPONENT]) as launcher:
                for name in (CAMERA, COMPONENT):
                    assert nucleus.wait_for_state(name, "RUNNING", WAIT), launcher.log_lines(name)
                frame = next_valid(frames, "ggvision.frame/1", WAIT)
                assert frame["transport"] == "shm" and frame["shm"]["path"].startswith(rings)
                for _ in range(3):
                    message = next_valid(detections, "ggvision.detections/1", WAIT)
                    assert message["camera_id"] == "door"
                    assert (message["width"], message["height"]) == (640, 480)
                    assert_expected(message["prediction"])  # MJPEG keeps pure colours nearly pure
                    assert message["ts"] >= message["captured_at"]
                for name in (CAMERA, COMPONENT):
                    assert "ERRORED" not in launcher.state_history(name), launcher.log_lines(name)
        finally:
            watcher.close()
