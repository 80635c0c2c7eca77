"""The demo's viewer: a user-style component that subscribes to ggvision's messages.

It shows what your own component would do: subscribe to detections over IPC, read the frame each
detections message belongs to (same camera, same `seq`) from the camera's shared-memory ring, and draw
that message's boxes on it. Every drawn frame goes to `<OutputFolder>/<camera>-<seq>.jpg` with a line
in `<OutputFolder>/index.jsonl`; `scripts/demo` turns them into an MP4 and a contact sheet.
"""

import collections
import os
import sys
import time
from typing import Any, Deque, Dict, Optional, Tuple

from annotate import FrameDetections, draw
from frame_log import AnnotatedFrameLog
from ggvision.frames import FrameReader, FrameUnavailable
from ggvision.ipc import IpcClient, Subscription
from ggvision.lifecycle import StopSignal

RECENT_FRAME_EVENTS = 256  # frame events kept to find a detection's frame: far more than a ring's slots
FRAME_EVENT_WAIT = 1.0     # how long a detection may wait for its frame event (separate subscription)

FrameKey = Tuple[str, int]


class FrameEvents:
    """The latest frame events by (camera, seq), fed from the frames subscription."""

    def __init__(self, subscription: Subscription) -> None:
        self._subscription = subscription
        self._events: Dict[FrameKey, Dict[str, Any]] = {}
        self._order: Deque[FrameKey] = collections.deque()

    def find(self, camera_id: str, seq: int) -> Optional[Dict[str, Any]]:
        """The frame event of `seq`, waiting a little for it: frames and detections are two queues."""
        deadline = time.monotonic() + FRAME_EVENT_WAIT
        self._drain(0.0)
        while (camera_id, seq) not in self._events and time.monotonic() < deadline:
            self._drain(0.05)
        return self._events.get((camera_id, seq))

    def _drain(self, timeout: float) -> None:
        message = self._subscription.get(timeout) if timeout else self._subscription.get_nowait()
        while message is not None:
            event = message.payload or {}
            if "camera_id" in event and "seq" in event:
                key = (str(event["camera_id"]), int(event["seq"]))
                self._events[key] = event
                self._order.append(key)
                while len(self._order) > RECENT_FRAME_EVENTS:
                    self._events.pop(self._order.popleft(), None)
            message = self._subscription.get_nowait()


def main() -> int:
    stop = StopSignal()
    ipc = IpcClient.connect()
    configuration = ipc.get_configuration() or {}
    output = configuration.get("OutputFolder") or os.environ.get("GGVISION_DEMO_OUTPUT", os.getcwd())
    log = AnnotatedFrameLog(output, int(configuration.get("JpegQuality", 90)))
    reader = FrameReader(configuration.get("RingFolder") or "/dev/shm/ggvision")
    # Deep queues: the viewer must see every detections message, and frames arrive at the camera's rate.
    frames = FrameEvents(ipc.subscribe("ggvision/cameras/+/frames", max_pending=512))
    detections = ipc.subscribe("ggvision/detections/+", max_pending=512)
    ipc.update_state("RUNNING")
    drawn = missed = 0
    next_print = time.monotonic() + 5.0
    while not stop.is_set():
        message = detections.get(timeout=0.2)
        if message is not None and message.payload:
            result = FrameDetections.from_message(message.payload)
            event = frames.find(result.camera_id, result.seq)
            reason = "no frame event" if event is None else None
            if event is not None:
                started = time.perf_counter()
                try:
                    image = reader.read(event, copy=True)
                except (FrameUnavailable, ValueError) as error:
                    reason = str(error) or type(error).__name__
                else:
                    drawn += 1
                    draw(image, result, drawn)
                    log.drawn(result, image, drawn, (time.perf_counter() - started) * 1000.0)
            if reason is not None:
                missed += 1
                log.missed(result, reason)
        if time.monotonic() >= next_print:
            next_print += 5.0
            print(f"[viewer] {drawn} frames drawn, {missed} missed (frame overwritten before it was read)",
                  flush=True)
    detections.close()
    log.close()
    reader.close()
    ipc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
