"""The real ggvision.ObjectDetection component: scripts/build → the local nucleus launcher → a Python
process started from the recipe's Lifecycle, talking through the real awsiotsdk client and held to the
recipe's accessControl. Frames in through a real shared-memory ring, detections and service-mode
answers out, counts to IoT Core; a model that does not load is one log line and ERRORED.
"""

import json
import os
import time

import cv2
import numpy as np
import pytest
from detection_helpers import (
    COMPONENT,
    DEMO_MODEL,
    RingCamera,
    app_client,
    assert_expected,
    build_components,
    example_image,
    launched,
    model_folder,
    next_valid,
    observer,
    wait_for_history,
)
from ggvision.contracts import validate
from harness import local_nucleus

WAIT = 60
# The colour demo model (a test fixture, components/object-detection/models/demo-model: an 8×8 grid
# of 64-pixel cells) on the README example image: the red and the
# blue block each cover 2×2 cells.
DEMO_RED = [[0, 0, 0.125, 0.125], [0.125, 0, 0.25, 0.125],
            [0, 0.125, 0.125, 0.25], [0.125, 0.125, 0.25, 0.25]]
DEMO_BLUE = [[x0 + 0.75, y0 + 0.75, x1 + 0.75, y1 + 0.75] for x0, y0, x1, y1 in DEMO_RED]


@pytest.fixture(scope="module")
def built(tmp_path_factory, device_runtime):
    return build_components(str(tmp_path_factory.mktemp("od-build")), device_runtime)


def send_until(camera, detections, done):
    """Frames until a detections message satisfies `done` (a frame sent while the service restarts
    is missed, so keep sending)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        camera.send(example_image())
        message = detections.get(0.5)
        if message is not None:
            validate(message.payload, "ggvision.detections/1")
            if done(message.payload):
                return message.payload
    raise AssertionError("the configuration change never showed in the detections")


def boxes_of(prediction, class_id):
    return sorted([row[2:] for row in prediction if row[0] == class_id])


def test_component_process_with_the_colour_model(built, tmp_path):
    """The colour demo model through ModelPath, for its exact outputs (the recipe's bundled model, the
    pedestrian detector, is loaded by default in tests/packaging/test_fresh_device.py)."""
    rings = str(tmp_path / "rings")
    with local_nucleus() as nucleus:
        watcher, (detections, status) = observer(nucleus, ["ggvision/detections/+",
                                                           "ggvision/inference/detector/status"])
        camera = RingCamera(nucleus, rings, "porch")
        configuration = {COMPONENT: {"ModelPath": DEMO_MODEL, "RingFolder": rings, "CountsIntervalSeconds": 1,
                                     "StatusIntervalSeconds": 1}}
        try:
            with launched(nucleus, built, str(tmp_path / "run"), configuration) as launcher:
                assert nucleus.wait_for_state(COMPONENT, "RUNNING", WAIT), launcher.log_lines(COMPONENT)
                sent = camera.send(example_image())
                message = next_valid(detections, "ggvision.detections/1", WAIT)
                assert message["camera_id"] == "porch" and message["seq"] == sent["seq"]
                assert message["model"] == {"name": "demo-colour-detector", "version": "1", "runtime": "onnx"}
                prediction = message["prediction"]
                assert len(prediction) == 8 and all(row[1] > 0.99 for row in prediction)
                assert np.allclose(boxes_of(prediction, 0), sorted(DEMO_RED), atol=1e-4)
                assert np.allclose(boxes_of(prediction, 2), sorted(DEMO_BLUE), atol=1e-4)

                # Service mode on the same process, through the SDK client.
                ok, jpeg = cv2.imencode(".jpg", example_image())
                ipc, client = app_client(nucleus)
                with client:
                    result = client.invoke(content_type="image/jpeg", body=jpeg.tobytes(), timeout=WAIT)
                assert np.allclose(boxes_of(result["prediction"], 0), sorted(DEMO_RED), atol=1e-4)
                ipc.close()

                # Per-class counts reach IoT Core (the nucleus's log), and the status is published.
                counts = nucleus.wait_for_iot_core("ggvision/test-thing/counts", WAIT)
                assert counts, "no counts published to IoT Core"
                payload = json.loads(counts[0].payload)
                validate(payload, "ggvision.counts/1")
                assert counts[0].component == COMPONENT
                assert payload["camera_id"] == "porch" and payload["thing_name"] == "test-thing"
                assert payload["classes"]["red"] == {"class_id": 0, "max": 4, "mean": 4.0}
                assert payload["classes"]["blue"] == {"class_id": 2, "max": 4, "mean": 4.0}
                state = next_valid(status, "ggvision.detector-status/1", WAIT)
                assert state["service"] == "detector"

                # Deployments change the configuration while it runs: a live key (ScoreThreshold) ...
                nucleus.update_configuration(COMPONENT, [], {"ScoreThreshold": 0.999})
                message = send_until(camera, detections, lambda m: m["prediction"] == [])
                # ... and one that rebuilds the service in the same process (another model).
                yolo = model_folder(str(tmp_path), "yolo")
                nucleus.update_configuration(COMPONENT, [], {"ModelPath": yolo, "ScoreThreshold": 0.5})
                message = send_until(camera, detections, lambda m: m["model"]["name"] == "colour-grid-yolo")
                assert_expected(message["prediction"])
                lines = launcher.log_lines(COMPONENT)
                assert any("restarting the service in-process to apply ModelPath" in line for line in lines)
            assert launcher.state(COMPONENT) == "FINISHED"
            assert "ERRORED" not in launcher.state_history(COMPONENT)
            # It stopped on SIGTERM through its own shutdown (not a SIGKILL).
            lines = launcher.log_lines(COMPONENT)
            assert any(line.endswith("ggvision.ObjectDetection stopped") for line in lines), lines[-10:]
        finally:
            camera.close()
            watcher.close()


def corrupt_onnx(folder):
    os.makedirs(folder)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(b"\x08\x07 this is not a protobuf model" * 10)
    return os.path.join(folder, "model.onnx")


def bad_model_yaml(folder):
    model = model_folder(os.path.dirname(folder), "yolo")
    os.rename(model, folder)
    with open(os.path.join(folder, "model.yaml"), "a") as f:
        f.write("extra_key: 1\n")
    return os.path.join(folder, "model.yaml")


@pytest.mark.parametrize("make, reason", [
    (lambda folder: os.makedirs(folder) or folder, "holds no model"),
    (corrupt_onnx, "ONNX Runtime cannot load"),
    (bad_model_yaml, "unknown key 'extra_key'"),
], ids=["empty folder", "corrupt onnx", "unknown model.yaml key"])
def test_model_that_does_not_load_is_one_log_line_and_errored(built, tmp_path, make, reason):
    folder = str(tmp_path / "model")
    culprit = make(folder)
    configuration = {COMPONENT: {"ModelPath": folder}}
    run = str(tmp_path / "run")
    with local_nucleus() as nucleus, launched(nucleus, built, run, configuration) as launcher:
        wait_for_history(launcher, COMPONENT, "ERRORED")
        lines = launcher.log_lines(COMPONENT)
    failures = [line for line in lines if "cannot load the model" in line]
    assert failures, lines
    line = failures[0]
    assert culprit in line and reason in line, line
    assert " ERROR " in line
    assert not any(line.startswith("Traceback") for line in lines), lines
