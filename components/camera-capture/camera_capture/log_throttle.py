"""A logger that says a repeated warning at most once per interval (a dead camera must not flood logs)."""

import time
from typing import Any

from ggvision.log import get_logger


class LogThrottle:
    def __init__(self, name: str, interval_s: float) -> None:
        self._log = get_logger(name)
        self.interval_s = interval_s
        self._last = float("-inf")
        self.suppressed = 0

    def warning(self, message: str, *args: Any) -> bool:
        """Log unless the last warning was less than `interval_s` ago; True when it was logged."""
        now = time.monotonic()
        if now - self._last < self.interval_s:
            self.suppressed += 1
            return False
        self._last = now
        self._log.warning(message, *args)
        self.suppressed = 0
        return True
