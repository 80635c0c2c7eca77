"""A component's start-up imports only what every configuration needs (#9 point 18; the memory
figures are `scripts/bench footprint`'s): the MJPEG source's urllib/http/ssl come with the first
MJPEG camera, jsonschema with the first contract check, a model runtime with the first model."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAZY = ["urllib.request", "http.client", "ssl", "jsonschema", "referencing", "onnxruntime", "dlr"]


def _loaded_after(statement: str):
    path = os.pathsep.join(os.path.join(ROOT, *part) for part in (
        ("shared",), ("components", "camera-capture"), ("components", "object-detection")))
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=path),
                            check=True, capture_output=True, text=True).stdout
    return output.split()


def test_camera_capture_starts_without_the_mjpeg_sources_network_modules_or_jsonschema():
    assert _loaded_after("import camera_capture.service") == []


def test_an_mjpeg_camera_brings_its_modules():
    loaded = _loaded_after("from camera_capture.sources import make_source\n"
                           "make_source('http://camera.local/stream', False, 5.0, 'tcp')")
    assert "urllib.request" in loaded and "http.client" in loaded


def test_object_detection_starts_without_jsonschema_or_a_model_runtime():
    assert _loaded_after("import object_detection.service") == []


def test_the_first_contract_check_brings_jsonschema():
    loaded = _loaded_after("from ggvision.contracts import ContractError, validate\n"
                           "try:\n    validate({'schema': 'ggvision.frame/1'})\n"
                           "except ContractError:\n    pass")
    assert "jsonschema" in loaded
