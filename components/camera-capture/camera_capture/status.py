"""Per-camera counters and the `ggvision.camera-status/1` message built from them."""

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Dict, Optional

CONNECTING = "CONNECTING"
STREAMING = "STREAMING"
RECONNECTING = "RECONNECTING"
ENDED = "ENDED"
STOPPED = "STOPPED"

STATUS_SCHEMA = "ggvision.camera-status/1"


@dataclass(frozen=True)
class CameraCounts:
    state: str = CONNECTING
    frames_in: int = 0  # decoded from the source
    frames_out: int = 0  # announced
    dropped: int = 0  # decoded but replaced by a newer frame (or refused by a busy publisher)
    reconnects: int = 0  # times the source was opened again after a failure
    last_error: Optional[str] = None
    width: Optional[int] = None  # of the frames announced (after any downscale)
    height: Optional[int] = None


class CameraStats:
    """Counters one camera's threads update and the reporter reads, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = CameraCounts()

    def snapshot(self) -> CameraCounts:
        with self._lock:
            return self._counts

    def update(self, **changes: Any) -> None:
        with self._lock:
            self._counts = replace(self._counts, **changes)

    def add(self, frames_in: int = 0, frames_out: int = 0, reconnects: int = 0) -> None:
        with self._lock:
            counts = self._counts
            self._counts = replace(counts, frames_in=counts.frames_in + frames_in,
                                   frames_out=counts.frames_out + frames_out,
                                   reconnects=counts.reconnects + reconnects)


class StatusWindow:
    """Turns cumulative counts into rates over the time since the previous status."""

    def __init__(self) -> None:
        self._previous: Optional[CameraCounts] = None
        self._since = time.monotonic()

    def message(self, camera_id: str, source: str, transport: str, counts: CameraCounts) -> Dict[str, Any]:
        now = time.monotonic()
        elapsed = max(1e-6, now - self._since)
        previous = self._previous or CameraCounts()
        self._previous, self._since = counts, now
        message: Dict[str, Any] = {
            "schema": STATUS_SCHEMA, "ts": time.time(), "camera_id": camera_id, "state": counts.state,
            "source": source,
            "fps_in": round(max(0, counts.frames_in - previous.frames_in) / elapsed, 3),
            "fps_out": round(max(0, counts.frames_out - previous.frames_out) / elapsed, 3),
            "frames_out": counts.frames_out, "dropped": counts.dropped, "reconnects": counts.reconnects,
            "last_error": counts.last_error, "transport": transport,
        }
        if counts.width and counts.height:
            message["width"], message["height"] = counts.width, counts.height
        return message
