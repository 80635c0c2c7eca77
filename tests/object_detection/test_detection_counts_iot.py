"""Per-class counts to AWS IoT Core (recorded by the local nucleus, as IoT Core would receive them) and
the motion gate, with the ObjectDetection service in this process on its own real IPC connection.
"""

import json
import threading

import numpy as np
import pytest
from detection_helpers import (
    RingCamera,
    assert_expected,
    example_image,
    model_folder,
    next_valid,
    observer,
    running_service,
    settings,
)
from ggvision.contracts import validate
from harness import local_nucleus

DETECTIONS = "ggvision.detections/1"
COUNTS_TOPIC = "ggvision/test-thing/counts"


@pytest.fixture
def nucleus():
    with local_nucleus() as server:
        yield server


def two_red_one_blue():
    """Red blocks in the top-left and top-right cells, blue in the bottom-right one."""
    image = example_image()
    image[:120, 480:] = (0, 0, 255)
    return image


def test_counts_reach_iot_core_with_per_class_max_and_mean(nucleus, tmp_path):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "yolo"), RingFolder=rings,
                             CountsIntervalSeconds=0.5)
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    camera = RingCamera(nucleus, rings, "gate")
    # Per frame: red 1, 2, 1, 0 and blue 1, 1, 1, 0 → red max 2 mean 1.0, blue max 1 mean 0.75.
    frames = [example_image(), two_red_one_blue(), example_image(), np.full((480, 640, 3), 128, np.uint8)]
    try:
        with running_service(nucleus, configuration):
            for image in frames:  # one at a time: every frame is inferred (none replaced by a newer one)
                sent = camera.send(image)
                assert next_valid(detections, DETECTIONS)["seq"] == sent["seq"]
            payloads = []
            while sum(p["frames"] for p in payloads) < len(frames):
                recorded = nucleus.wait_for_iot_core(COUNTS_TOPIC, 30, count=len(payloads) + 1)
                assert len(recorded) > len(payloads), "counts for every frame never reached IoT Core"
                payloads = [json.loads(m.payload) for m in recorded]
    finally:
        camera.close()
        watcher.close()
    for payload in payloads:
        validate(payload, "ggvision.counts/1")
        assert payload["camera_id"] == "gate" and payload["thing_name"] == "test-thing"
        assert payload["model"] == {"name": "colour-grid-yolo", "version": "2", "runtime": "onnx"}
        assert payload["window"]["start"] < payload["window"]["end"]
    assert all(m.component == "ggvision.ObjectDetection" for m in nucleus.iot_core_messages())
    # The frames may fall into one window or several: combine them as the cloud would.
    total = sum(p["frames"] for p in payloads)
    assert total == len(frames)

    def combined(name):
        windows = [p for p in payloads if name in p["classes"]]
        return {"max": max(p["classes"][name]["max"] for p in windows),
                "mean": round(sum(p["classes"][name]["mean"] * p["frames"] for p in windows) / total, 4),
                "class_id": windows[0]["classes"][name]["class_id"]}

    assert combined("red") == {"class_id": 0, "max": 2, "mean": 1.0}
    assert combined("blue") == {"class_id": 2, "max": 1, "mean": 0.75}
    assert all("green" not in p["classes"] for p in payloads)


def test_motion_gate_reuses_the_result_of_a_static_scene_and_infers_less(nucleus, tmp_path):
    rings = str(tmp_path / "rings")
    model = model_folder(str(tmp_path), "gluoncv")
    watcher, (detections, status) = observer(nucleus, ["ggvision/detections/+",
                                                       "ggvision/inference/detector/status"])
    camera = RingCamera(nucleus, rings, "still")
    rng = np.random.default_rng(3)

    def noisy(image):  # sensor noise on a static scene
        jitter = rng.integers(-4, 5, image.shape)
        return np.clip(image.astype(np.int16) + jitter, 0, 255).astype(np.uint8)

    def run(gate):
        configuration = settings(ModelPath=model, RingFolder=rings, CountsIntervalSeconds=0, MotionGate=gate,
                                 MotionMaxSkipSeconds=3600, StatusIntervalSeconds=0.5)
        results = []
        with running_service(nucleus, configuration) as service:
            for _ in range(8):
                sent = camera.send(noisy(example_image()))
                results.append(next_valid(detections, DETECTIONS,
                                          where=lambda m, s=sent: m["seq"] == s["seq"]))
            moved = example_image()
            moved[:, :] = 128
            moved[360:, :160] = (0, 255, 0)  # the scene changes: a green block appears bottom-left
            sent = camera.send(moved)
            results.append(next_valid(detections, DETECTIONS, where=lambda m: m["seq"] == sent["seq"]))
            inferred = service._continuous.inferred
            report = next_valid(status, "ggvision.detector-status/1",
                                where=lambda m: m["frames_inferred"] + m["frames_gated"] == 9)
        return results, inferred, report

    try:
        gated, gated_inferred, gated_report = run(True)
        ungated, ungated_inferred, _ = run(False)
    finally:
        camera.close()
        watcher.close()

    assert [m["reused"] for m in gated] == [False] + [True] * 7 + [False]
    for message in gated[:8]:
        assert_expected(message["prediction"])  # the reused result is the scene's result
    assert all(m["inference_ms"] == 0 for m in gated[1:8])
    assert [row[0] for row in gated[8]["prediction"]] == [1]  # the new scene was inferred
    assert gated_inferred == 2 and ungated_inferred == 9
    assert gated_report["frames_gated"] == 7 and gated_report["frames_inferred"] == 2
    assert [m["reused"] for m in ungated] == [False] * 9


def test_status_and_counts_keep_coming_while_the_camera_outpaces_the_model(nucleus, tmp_path):
    """The normal continuous case: frames always waiting for a slow model (about 0.3 s per frame).
    Status and counts must not wait for a pause in the frames that never comes."""
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv", slow_matmuls=40),
                             RingFolder=rings, CountsIntervalSeconds=0.5, StatusIntervalSeconds=0.5,
                             InferenceThreads=1)
    watcher, (detections, status) = observer(nucleus, ["ggvision/detections/+",
                                                       "ggvision/inference/detector/status"])
    camera = RingCamera(nucleus, rings, "busy")
    stop = threading.Event()

    def feed():
        while not stop.is_set():
            camera.send(example_image())
            stop.wait(0.02)

    feeder = threading.Thread(target=feed, daemon=True)
    try:
        with running_service(nucleus, configuration):
            feeder.start()
            # The camera really is ahead of the model: a status report shows frames skipped (waited for,
            # not sampled once: on a loaded machine the first report may come before any was skipped).
            report = next_valid(status, "ggvision.detector-status/1",
                                where=lambda m: m["frames_inferred"] > 0 and m["frames_skipped"] > 0)
            assert report["frames_skipped"] > 0
            recorded = nucleus.wait_for_iot_core(COUNTS_TOPIC, 30)
            assert recorded, "no counts while frames kept arriving"
            counts = json.loads(recorded[0].payload)
            validate(counts, "ggvision.counts/1")
            assert counts["classes"]["red"]["max"] == 1
            assert detections.get(30) is not None
    finally:
        stop.set()
        if feeder.is_alive():
            feeder.join(10)
        camera.close()
        watcher.close()


def test_the_counts_of_an_unfinished_window_are_sent_when_the_service_stops(nucleus, tmp_path):
    rings = str(tmp_path / "rings")
    configuration = settings(ModelPath=model_folder(str(tmp_path), "gluoncv"), RingFolder=rings,
                             CountsIntervalSeconds=3600)
    watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
    camera = RingCamera(nucleus, rings, "night")
    try:
        with running_service(nucleus, configuration):
            for _ in range(2):
                sent = camera.send(example_image())
                assert next_valid(detections, DETECTIONS)["seq"] == sent["seq"]
            assert nucleus.iot_core_messages() == []  # the hour is not over
    finally:
        camera.close()
        watcher.close()
    recorded = nucleus.wait_for_iot_core(COUNTS_TOPIC, 30)
    assert len(recorded) == 1
    payload = json.loads(recorded[0].payload)
    validate(payload, "ggvision.counts/1")
    assert payload["frames"] == 2 and payload["classes"]["red"] == {"class_id": 0, "max": 1, "mean": 1.0}
    assert payload["window"]["end"] - payload["window"]["start"] < 3600
