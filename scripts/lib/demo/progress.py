"""The one progress line while the demo runs: rewritten in place on a terminal, an occasional plain
line otherwise (logs, CI, tests)."""

import sys
import time
from typing import IO, Optional

PLAIN_EVERY = 10.0  # seconds between lines when the output is not a terminal


class ProgressLine:
    def __init__(self, stream: IO[str] = sys.stdout) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last_plain: Optional[float] = None
        self._width = 0

    def update(self, elapsed: float, frames: int, inferred: int, boxes: int, drawn: int) -> None:
        text = (f"  {elapsed:5.1f} s | {frames} frames | {inferred} inferred | {boxes} detections | "
                f"{drawn} annotated")
        if self._tty:
            self._stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            now = time.monotonic()
            if self._last_plain is not None and now - self._last_plain < PLAIN_EVERY:
                return
            self._last_plain = now
            self._stream.write(text + "\n")
        self._stream.flush()

    def done(self) -> None:
        if self._tty and self._width:
            self._stream.write("\n")
            self._stream.flush()
