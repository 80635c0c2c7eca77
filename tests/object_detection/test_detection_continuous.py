"""Continuous mode end to end: frames written into a real shared-memory FrameRing and announced by a
test camera component over the local nucleus → the ObjectDetection service (in this process, on its
own IPC connection with the recipe's access policy, the real ONNX Runtime) → schema-valid
`ggvision.detections/1` messages on ggvision/detections/{CameraId} with the expected boxes, for a
model of each output layout.
"""

import threading
import time

import cv2
import numpy as np
import pytest
from detection_helpers import (
    LAYOUTS,
    RingCamera,
    assert_expected,
    example_image,
    model_folder,
    next_valid,
    observer,
    running_service,
    settings,
)
from ggvision.frames import FrameRing, frame_event
from harness import connect, local_nucleus, pubsub_policy

DETECTIONS = "ggvision.detections/1"


@pytest.fixture
def nucleus():
    with local_nucleus() as server:
        yield server


@pytest.mark.parametrize("layout", LAYOUTS)
def test_frames_in_detections_out_for_each_output_layout(nucleus, tmp_path, layout):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), layout), RingFolder=rings,
                             CountsIntervalSeconds=0)
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    camera = RingCamera(nucleus, rings, "cam1")
    try:
        with running_service(nucleus, configuration):
            sent = camera.send(example_image())
            message = next_valid(detections, DETECTIONS)
            assert_expected(message["prediction"])
            assert message["camera_id"] == "cam1" and message["seq"] == sent["seq"]
            assert message["captured_at"] == sent["captured_at"]
            assert (message["width"], message["height"]) == (640, 480)
            assert message["labels"] == {"0": "red", "2": "blue"}
            assert message["model"] == {"name": f"colour-grid-{layout}", "version": "2", "runtime": "onnx"}
            assert message["reused"] is False and message["skipped_frames"] == 0
            assert message["inference_ms"] > 0

            # The same frame over the jpeg transport (for cameras that cannot share memory).
            sent = camera.send_jpeg(example_image())
            message = next_valid(detections, DETECTIONS)
            assert message["seq"] == sent["seq"]
            assert_expected(message["prediction"])

            # An empty scene: a valid message with no detections.
            camera.send(np.full((480, 640, 3), 128, np.uint8))
            message = next_valid(detections, DETECTIONS)
            assert message["prediction"] == [] and message["labels"] == {}
    finally:
        camera.close()
        watcher.close()


def test_detections_topic_per_camera_and_newest_frame_wins(nucleus, tmp_path):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0)
    watcher, (front_topic, back_topic) = observer(nucleus, ["ggvision/detections/front",
                                                            "ggvision/detections/back"])
    front = RingCamera(nucleus, rings, "front")
    back = RingCamera(nucleus, rings, "back", width=320, height=240)
    try:
        with running_service(nucleus, configuration) as service:
            # A burst much faster than the model: stale frames are skipped, the newest is inferred.
            events = [front.send(example_image()) for _ in range(40)]
            back.send(example_image(320, 240))
            seen = []
            while not seen or seen[-1]["seq"] != events[-1]["seq"]:
                seen.append(next_valid(front_topic, DETECTIONS))
            seqs = [m["seq"] for m in seen]
            assert seqs == sorted(set(seqs))  # in order, each at most once
            for message in seen:
                assert_expected(message["prediction"])
            # Every frame is accounted for: inferred, or counted in the next message's skipped_frames
            # (replaced by a newer one, or overwritten in its ring slot before the model got to it).
            assert sum(m["skipped_frames"] for m in seen) + len(seen) == len(events)
            other = next_valid(back_topic, DETECTIONS)
            assert other["camera_id"] == "back" and (other["width"], other["height"]) == (320, 240)
            assert_expected(other["prediction"])
            continuous = service._continuous  # its own counters agree (both cameras' frames)
            assert continuous.inferred + continuous.skipped + continuous.unavailable == len(events) + 1
    finally:
        front.close()
        back.close()
        watcher.close()


def test_rgb24_and_gray8_rings_are_read_in_their_own_pixel_format(nucleus, tmp_path):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0)
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    publisher = connect(nucleus, "test.Cameras", pubsub_policy(publish=["ggvision/cameras/*"]))
    rgb = FrameRing.create(rings, "rgbcam", 640, 480, "rgb24", slots=2)
    gray = FrameRing.create(rings, "graycam", 640, 480, "gray8", slots=2)
    try:
        with running_service(nucleus, configuration):
            written = rgb.write(cv2.cvtColor(example_image(), cv2.COLOR_BGR2RGB), time.time())
            event = frame_event("rgbcam", written.seq, time.time(), 640, 480, "rgb24", shm=written)
            publisher.publish_json("ggvision/cameras/rgbcam/frames", event)
            message = next_valid(detections, DETECTIONS)
            assert message["camera_id"] == "rgbcam"
            assert_expected(message["prediction"])  # red is still red: the channels were not swapped

            written = gray.write(cv2.cvtColor(example_image(), cv2.COLOR_BGR2GRAY), time.time())
            event = frame_event("graycam", written.seq, time.time(), 640, 480, "gray8", shm=written)
            publisher.publish_json("ggvision/cameras/graycam/frames", event)
            message = next_valid(detections, DETECTIONS)
            assert message["camera_id"] == "graycam"
            assert message["prediction"] == []  # no colour in a grey image, but it ran
            assert message["inference_ms"] > 0
    finally:
        rgb.close()
        gray.close()
        publisher.close()
        watcher.close()


def test_invalid_and_unreadable_frame_events_are_skipped_and_the_service_carries_on(nucleus, tmp_path):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0)
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    camera = RingCamera(nucleus, rings, "cam1")
    outside = FrameRing.create(str(tmp_path / "outside"), "cam1", 640, 480)
    try:
        with running_service(nucleus, configuration) as service:
            camera.ipc.publish_json(camera.topic, {"schema": "ggvision.frame/1", "hello": "world"})
            camera.ipc.publish_binary(camera.topic, b"\x00not json")
            written = outside.write(example_image(), time.time())
            camera.ipc.publish_json(camera.topic, frame_event("cam1", 0, time.time(), 640, 480, "bgr24",
                                                              shm=written))
            stale = camera.write(example_image())
            for _ in range(4):
                camera.write(example_image())
            camera.ipc.publish_json(camera.topic, stale)  # its slot was overwritten meanwhile
            sent = camera.send(example_image())
            message = next_valid(detections, DETECTIONS)
            assert message["seq"] == sent["seq"]  # the first and only detections are the good frame's
            assert_expected(message["prediction"])
            assert service._worker.is_alive()
    finally:
        outside.close()
        camera.close()
        watcher.close()


def test_class_filter_by_name_and_score_threshold(nucleus, tmp_path):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "tensorflow"), RingFolder=rings,
                             CountsIntervalSeconds=0, ClassFilter=["blue"], MaxDetections=5)
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    camera = RingCamera(nucleus, rings, "cam1")
    try:
        with running_service(nucleus, configuration) as service:
            camera.send(example_image())
            message = next_valid(detections, DETECTIONS)
            assert [row[0] for row in message["prediction"]] == [2]
            assert message["labels"] == {"2": "blue"}
            # A live change (no rebuild): threshold above every score.
            service.apply(settings(ModelPath=configuration.model_path, RingFolder=rings,
                                   CountsIntervalSeconds=0, ClassFilter=[], ScoreThreshold=0.999))
            camera.send(example_image())
            assert next_valid(detections, DETECTIONS)["prediction"] == []
    finally:
        camera.close()
        watcher.close()


def test_a_detections_topic_the_policy_does_not_cover_is_reported_not_fatal(nucleus, tmp_path):
    """DetectionsTopic changed without changing accessControl: each refused publish is counted and
    logged (throttled); the service keeps serving."""
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0, DetectionsTopic="elsewhere/{CameraId}")
    camera = RingCamera(nucleus, rings, "cam1")
    try:
        with running_service(nucleus, configuration) as service:
            for _ in range(3):
                camera.send(example_image())
            deadline = time.monotonic() + 30
            while service._continuous.publish_failures < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert service._continuous.publish_failures >= 1
            assert service._continuous.inferred >= 1 and service._worker.is_alive()
    finally:
        camera.close()


def test_a_frame_topic_the_policy_does_not_cover_stops_the_service_with_one_clear_error(nucleus, tmp_path):
    from ggvision.component import ServiceError

    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=str(tmp_path),
                             CountsIntervalSeconds=0, FrameTopics=["factory/line1/frames"])
    with pytest.raises(ServiceError) as raised, running_service(nucleus, configuration):
        pass
    message = str(raised.value)
    assert "factory/line1/frames" in message and "accessControl" in message and "\n" not in message


def test_the_recipe_policy_covers_one_camera_frames_topic_too(nucleus, tmp_path):
    """FrameTopics naming a single camera needs no policy change."""
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0, FrameTopics=["ggvision/cameras/cam1/frames"])
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    camera = RingCamera(nucleus, rings, "cam1")
    try:
        with running_service(nucleus, configuration):
            camera.send(example_image())
            assert_expected(next_valid(detections, DETECTIONS)["prediction"])
    finally:
        camera.close()
        watcher.close()


def test_a_frame_overwritten_while_it_is_read_in_place_is_dropped_not_reported(nucleus, tmp_path):
    # The detector reads shm frames in place (no copy of the whole frame): if the camera laps the ring
    # while the detector preprocesses, what it computed is dropped and counted, never published as
    # the detections of that seq. Forcing the interleaving is the only thing done here by hand: the
    # test camera laps the ring from inside the detector's input_released hook.
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=0)
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    camera = RingCamera(nucleus, rings, "cam1")
    try:
        with running_service(nucleus, configuration) as service:
            detector = service._detector
            real_detect = detector.detect
            lap = {"pending": True}
            lap_written = threading.Event()  # set once the lap is written: the test's next frame comes after

            def detect(image, *args, input_released=None, **kwargs):
                def released():
                    if lap["pending"]:
                        lap["pending"] = False
                        for _ in range(camera.ring.slots):  # the camera laps the ring meanwhile
                            camera.write(np.full((480, 640, 3), 128, np.uint8))
                        lap_written.set()
                    if input_released is not None:
                        input_released()
                return real_detect(image, *args, input_released=released, **kwargs)

            detector.detect = detect
            lapped = camera.send(example_image())
            assert lap_written.wait(30), "the detector never read the frame"
            after = camera.send(example_image())
            message = next_valid(detections, DETECTIONS)
            assert message["seq"] == after["seq"] != lapped["seq"]
            assert_expected(message["prediction"])
            assert message["skipped_frames"] >= 1  # the lapped frame, counted
            assert service._continuous.unavailable >= 1
    finally:
        camera.close()
        watcher.close()
