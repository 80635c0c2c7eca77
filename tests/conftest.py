"""Shared test set-up: make each component's own package importable, as its artifact does."""

import glob
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for component_dir in sorted(glob.glob(os.path.join(ROOT, "components", "*"))):
    if os.path.isdir(component_dir) and component_dir not in sys.path:
        sys.path.append(component_dir)


@pytest.fixture(scope="session")
def device_runtime():
    """ggvision.DLRRuntime built for this machine and installed by its own Install step (see
    tests/device_runtime.py): what every component launched as a process runs in."""
    import device_runtime as runtime

    return runtime.prepare()
