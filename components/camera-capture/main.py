"""ggvision.CameraCapture: cameras, video files and image folders as paced frame events over IPC."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from camera_capture.service import CaptureService  # noqa: E402
from camera_capture.settings import CaptureSettings  # noqa: E402
from ggvision.component import run_component  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_component("ggvision.CameraCapture", CaptureSettings, CaptureService))
