"""ggvision.ObjectDetection settings. Defaults live in the recipe's DefaultConfiguration only."""

from dataclasses import dataclass
from typing import List, Optional, Union

from ggvision.config import setting
from ggvision.config import validators as v

_NAME = r"^[A-Za-z0-9_-]{1,64}$"


def _class_selector(value: object) -> Union[int, str]:
    """A class id (whole number) or a class name from labels.txt."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip():
        return int(value) if value.strip().isdigit() else value.strip()
    raise v.Invalid("class ids (whole numbers) or class names")


@dataclass(frozen=True)
class DetectionSettings:
    service_name: str = setting("ServiceName", v.string(pattern=_NAME))
    # Empty: the model the recipe ships for this platform (model_choice.py): its SageMaker Neo model, else
    # the bundled ONNX model.
    model_path: Optional[str] = setting("ModelPath", v.optional(v.string()))
    runtime: str = setting("Runtime", v.one_of(["auto", "dlr", "onnx"]))
    device: str = setting("Device", v.one_of(["cpu", "gpu"]))
    inference_threads: int = setting("InferenceThreads", v.integer(minimum=0, maximum=64))

    score_threshold: float = setting("ScoreThreshold", v.number(minimum=0, maximum=1), live=True)
    max_detections: int = setting("MaxDetections", v.integer(minimum=1, maximum=1000), live=True)
    class_filter: List[Union[int, str]] = setting("ClassFilter", v.list_of(_class_selector), live=True)

    frame_topics: List[str] = setting("FrameTopics", v.list_of(v.topic_filter(), max_items=32))
    detections_topic: str = setting("DetectionsTopic", v.topic(["CameraId"]))
    ring_folder: str = setting("RingFolder", v.string(pattern=r"^/"))

    motion_gate: bool = setting("MotionGate", v.boolean(), live=True)
    motion_threshold: float = setting("MotionThreshold", v.number(minimum=0, maximum=1), live=True)
    motion_max_skip_s: float = setting("MotionMaxSkipSeconds", v.number(minimum=0, maximum=86400),
                                       live=True)

    request_topic: str = setting("RequestTopic", v.topic(["ServiceName"]))
    max_request_bytes: int = setting("MaxRequestBytes", v.integer(minimum=1024, maximum=12 * 1024 * 1024),
                                     live=True)
    max_image_pixels: int = setting("MaxImagePixels", v.integer(minimum=1, maximum=400_000_000), live=True)
    request_queue_size: int = setting("RequestQueueSize", v.integer(minimum=1, maximum=1024))
    request_timeout_s: float = setting("RequestTimeoutSeconds", v.number(minimum=0.1, maximum=600), live=True)

    counts_topic: str = setting("CountsTopic", v.mqtt_topic())
    counts_interval_s: float = setting("CountsIntervalSeconds", v.number(minimum=0, maximum=86400))
    status_topic: str = setting("StatusTopic", v.topic(["ServiceName"]))
    status_interval_s: float = setting("StatusIntervalSeconds", v.number(minimum=0.5, maximum=3600))
