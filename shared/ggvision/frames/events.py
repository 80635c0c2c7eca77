"""`ggvision.frame/1` events: a frame is ready, in a ring slot (`shm`) or inside the event (`jpeg`)."""

import base64
import time
from typing import Any, Dict, Mapping, Optional, Union

from .layout import is_camera_id

FRAME_SCHEMA = "ggvision.frame/1"


def frame_event(camera_id: str, seq: int, captured_at: float, width: int, height: int, pixel_format: str,
                shm: Optional[Any] = None, jpeg_data: Optional[Union[str, bytes]] = None) -> Dict[str, Any]:
    """The event for one frame; give exactly one of `shm` and `jpeg_data`.

    `shm`: what `FrameRing.write` returned, or any mapping with `path` and `slot` (other keys are
    left out). `jpeg_data`: base64 text from `encode_jpeg`, or the raw JPEG bytes (encoded here).
    The result validates against `ggvision.frame/1` for valid arguments; this function does not run
    the schema check itself (it is on every frame's path); it does refuse a camera id that is not
    one (`ContractError`, a `ValueError`).
    """
    if not is_camera_id(camera_id):  # matched whole: "front\n" is not a camera id
        from ..contracts import ContractError  # only here: it loads jsonschema

        raise ContractError(FRAME_SCHEMA, "/camera_id",
                            f"camera id {camera_id!r} must be 1-64 letters, digits, '_' or '-'")
    if (shm is None) == (jpeg_data is None):
        raise ValueError("a frame event needs exactly one of shm and jpeg_data")
    event: Dict[str, Any] = {
        "schema": FRAME_SCHEMA, "ts": time.time(), "camera_id": camera_id, "seq": int(seq),
        "captured_at": float(captured_at), "width": int(width), "height": int(height),
        "pixel_format": pixel_format,
    }
    if shm is not None:
        event["transport"] = "shm"
        event["shm"] = _shm_reference(shm)
    else:
        if isinstance(jpeg_data, (bytes, bytearray, memoryview)):
            jpeg_data = base64.b64encode(bytes(jpeg_data)).decode("ascii")
        event["transport"] = "jpeg"
        event["jpeg"] = {"data": jpeg_data}
    return event


def _shm_reference(shm: Any) -> Dict[str, Any]:
    if isinstance(shm, Mapping) or hasattr(shm, "keys"):
        path, slot = shm["path"], shm["slot"]
    else:
        path, slot = getattr(shm, "path", None), getattr(shm, "slot", None)
    if not isinstance(path, str) or isinstance(slot, bool) or not isinstance(slot, int):
        raise ValueError(f"shm must give a path (str) and a slot (int), not {shm!r}")
    return {"path": path, "slot": slot}
