"""The newest decoded frame of one camera: a single slot the reader overwrites and the announcer takes.

There is never a queue between the source and the publisher: a frame that was not taken before the
next one arrived is replaced and counted as dropped, so a slow announcer (or a slow nucleus) can
never make latency grow.
"""

import threading
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class Frame:
    image: np.ndarray  # HxWx3 uint8 BGR
    captured_at: float  # Unix seconds when it was read from the source
    keep: bool = False  # read in lockstep (a file at PlaybackSpeed max): must be announced, never dropped


class LatestFrame:
    def __init__(self) -> None:
        self._frame: Optional[Frame] = None
        self._changed = threading.Condition()
        self.dropped = 0
        #: time.monotonic() when a frame was last taken: the announcer's turn (lockstep readers pace on it)
        self.taken_at: Optional[float] = None

    def put(self, frame: Frame) -> None:
        with self._changed:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._changed.notify_all()

    def skipped(self) -> None:
        """A frame the reader consumed without decoding it, because no turn was near: dropped too."""
        with self._changed:
            self.dropped += 1

    def take(self, timeout: float) -> Optional[Frame]:
        """The newest frame not taken yet, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._frame is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)
            frame, self._frame = self._frame, None
            self.taken_at = time.monotonic()
            self._changed.notify_all()
            return frame

    def wait_taken(self, timeout: float) -> bool:
        """Wait until the frame put last was taken (lockstep reading); False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._frame is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True
