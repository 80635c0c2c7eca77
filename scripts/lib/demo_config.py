"""Print the demo's configuration update (local-nucleus --config): the sample video as the camera,
the motion gate on, counts every 10 s. Paths are absolute, so they are made here."""

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO = os.path.join(ROOT, "scripts", "demo-assets", "sample-video.avi")

print(json.dumps({
    "ggvision.CameraCapture": {"MERGE": {
        "Cameras": [{"CameraId": "demo", "Source": VIDEO, "Loop": True, "FrameRate": 10,
                     "Transport": "shm"}],
    }},
    "ggvision.ObjectDetection": {"MERGE": {
        "MotionGate": True, "CountsIntervalSeconds": 10, "StatusIntervalSeconds": 5,
    }},
}, indent=2))
