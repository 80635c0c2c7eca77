"""The newest decoded frame of one camera: a single slot the reader overwrites and the announcer takes.

There is never a queue between the source and the publisher: a frame that was not taken before the
next one arrived is replaced and counted as dropped, so a slow announcer (or a slow nucleus) can
never make latency grow.

The slot also keeps a couple of spare frame buffers — frames replaced before they were taken, and
frames the announcer has finished with — that the reader decodes the next frames into: a camera's
memory stays a few frames, instead of a frame-sized allocation per frame that the C heap keeps
around once freed (14 MiB of them in an idle 720p camera).
"""

import threading
import time
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

SPARE_BUFFERS = 2


@dataclass
class Frame:
    image: np.ndarray  # HxWx3 uint8 BGR
    captured_at: float  # Unix seconds when it was read from the source
    keep: bool = False  # read in lockstep (a file at PlaybackSpeed max): must be announced, never dropped


class LatestFrame:
    def __init__(self) -> None:
        self._frame: Optional[Frame] = None
        self._spares: List[np.ndarray] = []
        self._changed = threading.Condition()
        self.dropped = 0
        #: time.monotonic() when a frame was last taken: the announcer's turn (lockstep readers pace on it)
        self.taken_at: Optional[float] = None

    def put(self, frame: Frame) -> None:
        with self._changed:
            if self._frame is not None:
                self.dropped += 1
                self._keep_spare(self._frame.image)
            self._frame = frame
            self._changed.notify_all()

    def spare(self) -> Optional[np.ndarray]:
        """A frame buffer nobody uses any more, for the reader to decode into (None: allocate one)."""
        with self._changed:
            return self._spares.pop() if self._spares else None

    def recycle(self, image: np.ndarray) -> None:
        """The announcer is done with a taken frame's pixels (published, copied or encoded)."""
        with self._changed:
            self._keep_spare(image)

    def _keep_spare(self, image: np.ndarray) -> None:
        if len(self._spares) < SPARE_BUFFERS and image.flags.writeable and image.flags.c_contiguous:
            self._spares.append(image)

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
