"""Logging to stdout, which Greengrass writes to /greengrass/v2/logs/<Component>.log."""

import logging
import os
import sys
import time
from typing import Any

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "") -> None:
    """Set up the root logger once per process; `GGVISION_LOG_LEVEL` or `level` picks the level."""
    chosen = (level or os.environ.get("GGVISION_LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    if not any(getattr(h, "_ggvision", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._ggvision = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(getattr(logging, chosen, logging.INFO))
    # The CRT's own loggers are chatty at INFO and say nothing a user can act on.
    logging.getLogger("awsiot").setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


class LogThrottle:
    """Says a repeated warning at most once per `interval_s` (a dead camera, a refused topic or a slow
    consumer must not flood the component log); the ones it held back are counted in `suppressed`."""

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
