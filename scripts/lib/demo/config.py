"""The demo's configuration update, as a deployment would send it (local-nucleus --config shape)."""

from typing import Any, Dict, Optional

# 16 slots (1.6 s at 10 fps, 21 MB for 768x576): the viewer reads a frame only after its detections
# arrive, so on a loaded machine it needs more slack than a camera's default 4 slots give.
RING_SLOTS = 16


def demo_configuration(source: str, loop: bool, camera_id: str, frames_folder: str,
                       ring_folder: str, model: Optional[str] = None) -> Dict[str, Any]:
    """Camera on `source`, the detector with counts every 10 s and status every 5 s, the viewer writing
    into `frames_folder`; all three on the ring folder of this run."""
    detector: Dict[str, Any] = {"MotionGate": True, "CountsIntervalSeconds": 10, "StatusIntervalSeconds": 5,
                                "RingFolder": ring_folder}
    if model:
        detector["ModelPath"] = model
    return {
        "ggvision.CameraCapture": {"MERGE": {
            "Cameras": [{"CameraId": camera_id, "Source": source, "Loop": loop, "FrameRate": 10,
                         "Transport": "shm"}],
            "RingFolder": ring_folder, "RingSlots": RING_SLOTS, "StatusIntervalSeconds": 5,
        }},
        "ggvision.ObjectDetection": {"MERGE": detector},
        "ggvision.demo.Viewer": {"MERGE": {"OutputFolder": frames_folder, "RingFolder": ring_folder}},
    }
