"""At most `frame_rate` announcements per second, on a fixed schedule that never bursts to catch up."""

import threading
import time
from typing import Optional


class Pacer:
    """`wait_turn()` before each announcement, `sent()` after it. A frame rate of 0 means no limit.

    Turns fall on a fixed grid (period 1/frame_rate) so that a source running at exactly the frame
    rate keeps it despite jitter; after a stall longer than a period the grid restarts from now
    instead of sending a burst of late turns.
    """

    def __init__(self, frame_rate: float) -> None:
        self.frame_rate = frame_rate
        self._due: Optional[float] = None

    def set_frame_rate(self, frame_rate: float) -> None:
        self.frame_rate = frame_rate
        self._due = None

    def next_turn(self) -> Optional[float]:
        """time.monotonic() of the next turn; None when a frame may go out at once."""
        return self._due

    def wait_turn(self, stop: threading.Event) -> bool:
        """Sleep until the next turn; False when `stop` was set meanwhile."""
        due = self._due
        if due is not None:
            remaining = due - time.monotonic()
            if remaining > 0 and stop.wait(remaining):
                return False
        return not stop.is_set()

    def sent(self) -> None:
        if self.frame_rate <= 0:
            self._due = None
            return
        period = 1.0 / self.frame_rate
        now = time.monotonic()
        due = self._due
        self._due = due + period if due is not None and now - due < period else now + period
