"""ggvision.ObjectDetection: object detection on camera frames and on requests, over Greengrass IPC."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ggvision.component import run_component  # noqa: E402
from object_detection.service import DetectionService  # noqa: E402
from object_detection.settings import DetectionSettings  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_component("ggvision.ObjectDetection", DetectionSettings, DetectionService))
