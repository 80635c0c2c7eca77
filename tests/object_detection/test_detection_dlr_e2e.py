"""A real SageMaker Neo (DLR) artifact through the real component process: the GluonCV-layout fixture
`colour_detector_512_dlr` with Runtime=dlr, and its ONNX twin with Runtime=onnx, each give the
detections documented in fixtures/dlr/README.md for its example image — frames in through a shared
memory ring, detections out over the local nucleus — and a service-mode request agrees.

The fixture folder has no model.yaml: the test copies it and adds one with the preprocessing the
README documents (RGB, pixel / 255, no mean/std, stretched, GluonCV outputs, labels red/green/blue).
"""

import os
import shutil

import cv2
import numpy as np
import pytest
from detection_helpers import (
    COMPONENT,
    FIXTURES,
    RingCamera,
    app_client,
    assert_expected,
    build_components,
    example_image,
    launched,
    next_valid,
    observer,
)
from harness import local_nucleus

pytestmark = [
    pytest.mark.dlr,
    pytest.mark.skipif(not os.path.isdir(FIXTURES), reason="needs ../shared/fixtures (the DLR test models)"),
]

WAIT = 60
README_SCORE = 0.998
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_YAML = os.path.join(TESTS, "fixtures", "colour_detector_512.model.yaml")


def fixture_model(destination, runtime):
    """The DLR folder (dlr, auto) or the ONNX twin (onnx), copied, with a model.yaml added."""
    if runtime in ("dlr", "auto"):
        shutil.copytree(os.path.join(FIXTURES, "colour_detector_512_dlr"), destination)
        os.chmod(destination, 0o755)
        for name in os.listdir(destination):  # the fixture files are read-only
            os.chmod(os.path.join(destination, name), 0o644)
    else:
        os.makedirs(destination)
        shutil.copy(os.path.join(FIXTURES, "colour_detector_512.onnx"),
                    os.path.join(destination, "model.onnx"))
    shutil.copyfile(MODEL_YAML, os.path.join(destination, "model.yaml"))
    return destination


@pytest.fixture(scope="module")
def built(tmp_path_factory, device_runtime):
    return build_components(str(tmp_path_factory.mktemp("dlr-build")), device_runtime)


@pytest.fixture(scope="module")
def predictions():
    return {}


@pytest.mark.parametrize("runtime", ["dlr", "onnx", "auto"])
def test_fixture_through_the_component_gives_the_readme_detections(built, tmp_path, runtime, predictions):
    """Runtime dlr and onnx as configured; auto picks DLR from the Neo files in the folder."""
    loaded_with = "dlr" if runtime == "auto" else runtime
    model = fixture_model(str(tmp_path / "model"), runtime)
    rings = str(tmp_path / "rings")
    with local_nucleus() as nucleus:
        watcher, (detections,) = observer(nucleus, ["ggvision/detections/+"])
        camera = RingCamera(nucleus, rings, "bench")
        configuration = {COMPONENT: {"ModelPath": model, "Runtime": runtime, "RingFolder": rings,
                                     "CountsIntervalSeconds": 0}}
        try:
            with launched(nucleus, built, str(tmp_path / "run"), configuration) as launcher:
                assert nucleus.wait_for_state(COMPONENT, "RUNNING", WAIT), launcher.log_lines(COMPONENT)
                sent = camera.send(example_image())
                message = next_valid(detections, "ggvision.detections/1", WAIT)
                assert message["seq"] == sent["seq"]
                assert message["model"] == {"name": "colour-detector-512", "version": "1",
                                            "runtime": loaded_with}
                assert_expected(message["prediction"], score=README_SCORE)
                assert message["labels"] == {"0": "red", "2": "blue"}
                predictions[runtime] = message["prediction"]

                ok, png = cv2.imencode(".png", example_image())
                ipc, client = app_client(nucleus)
                with client:
                    result = client.invoke(content_type="image/png", body=png.tobytes(), timeout=WAIT)
                ipc.close()
                assert result["prediction"] == message["prediction"]  # same pixels, same answer
                lines = launcher.log_lines(COMPONENT)
                assert any(f"({loaded_with})" in line and "loaded from" in line for line in lines), lines
        finally:
            camera.close()
            watcher.close()
    if "dlr" in predictions and "onnx" in predictions:  # they agree (README: to 1e-6 on the same input)
        assert np.allclose(predictions["dlr"], predictions["onnx"], atol=1e-5)
