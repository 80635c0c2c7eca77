"""Logging to stdout, which Greengrass writes to /greengrass/v2/logs/<Component>.log."""

import logging
import os
import sys

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
