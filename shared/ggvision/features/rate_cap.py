"""A cap on messages per minute (sliding 60 s window): bounds the IoT Core bill whatever the scene does.

Sliding rather than fixed: a fixed window lets twice the cap through around a window boundary.
The clock is injectable so tests step time instead of sleeping.
"""

import time
from collections import deque
from typing import Callable, Deque, Optional

WINDOW_SECONDS = 60.0


class RateCap:
    """At most `per_minute` messages in any 60 s; None: no cap. `allow()` says whether one may go now."""

    def __init__(self, per_minute: Optional[int], clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute is not None and (isinstance(per_minute, bool) or not isinstance(per_minute, int)
                                       or per_minute < 1):
            raise ValueError(f"messages per minute {per_minute!r} is not allowed "
                             f"(allowed: a whole number of at least 1, or none for no cap)")
        self.per_minute = per_minute
        self._clock = clock
        self._sent: Deque[float] = deque()
        self.allowed = 0
        self.capped = 0

    def allow(self) -> bool:
        """True, and counted as sent, when a message may go now; False, and counted in `capped`, if not."""
        if self.per_minute is None:
            self.allowed += 1
            return True
        now = self._clock()
        # Times at least a window old no longer count: a message sent at t frees its place at t + 60.
        while self._sent and now - self._sent[0] >= WINDOW_SECONDS:
            self._sent.popleft()
        if len(self._sent) >= self.per_minute:
            self.capped += 1
            return False
        self._sent.append(now)
        self.allowed += 1
        return True

    def retry_after(self) -> float:
        """Seconds until `allow` would say yes (0 when it would now)."""
        if self.per_minute is None or len(self._sent) < self.per_minute:
            return 0.0
        # The oldest of the last `per_minute` sends frees the next place.
        return max(0.0, self._sent[-self.per_minute] + WINDOW_SECONDS - self._clock())
