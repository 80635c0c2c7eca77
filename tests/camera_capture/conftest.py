"""The real CameraCapture process over the local nucleus: its build (in the device runtime) and a
nucleus per test, shared by the process-level camera tests."""

import os
import shutil
import tempfile

import camera_helpers as helpers
import pytest
from local_nucleus.device import build_for_this_machine
from local_nucleus.server import LocalNucleus


@pytest.fixture(scope="module")
def built(tmp_path_factory, device_runtime):
    """CameraCapture built for this machine, with the runtime it runs in (tests/device_runtime.py)."""
    output = tmp_path_factory.mktemp("camera-build") / "greengrass-build"
    return device_runtime.with_components(build_for_this_machine(str(output), [helpers.NAME]))


@pytest.fixture
def nucleus():
    folder = tempfile.mkdtemp(prefix="ggn")  # AF_UNIX paths are limited to 107 bytes
    server = LocalNucleus(os.path.join(folder, "ipc.sock"), os.path.join(folder, "iot.jsonl"))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)
