"""When each frame of a file or folder played at its own time (`PlaybackSpeed: native`) is due.

A video's frames are due at their own presentation timestamps, measured from the first frame, so a
variable-frame-rate file (a phone's video: 68 frames over 29.5 s whose header says 15 fps) plays in
real time instead of at the header's rate. Frames without a timestamp (a folder's images, a container
that has none) are spaced by the nominal interval (the header's rate, or FrameRate).

The schedule restarts instead of rushing to catch up: after a frame that came late by a whole gap (a
slow decode), it is shown at once and the next one its own gap after it. A timestamp that goes back
(a looped file starting again), repeats, or jumps further than MAX_GAP (a recording paused, broken
timestamps) is played a nominal interval (at most MAX_GAP) after the frame before it.
"""

from typing import Optional

#: the longest wait between two frames of a file, whatever their timestamps say
MAX_GAP = 10.0


class PlaybackClock:
    def __init__(self) -> None:
        self._anchor: Optional[float] = None  # time.monotonic() at which the frame at _anchor_time is due
        self._anchor_time = 0.0
        self._last_time: Optional[float] = None
        self._last_due: Optional[float] = None
        #: seconds between the last frame and the one before it, as played
        self.gap: Optional[float] = None

    def due(self, frame_time: Optional[float], nominal: Optional[float], now: float) -> Optional[float]:
        """time.monotonic() at which the frame just read is due; None when it has no time (no
        timestamp and no nominal interval: read as fast as frames are taken).

        `frame_time`: the frame's timestamp in seconds, or None; `nominal`: the interval to assume
        where timestamps are missing or unusable; `now`: time.monotonic() when the frame was read."""
        if frame_time is None:
            if not nominal or nominal <= 0:
                self._reset()
                return None
            frame_time = 0.0 if self._last_time is None else self._last_time + nominal
        if self._anchor is None or self._last_time is None or self._last_due is None:
            return self._restart(now, frame_time, nominal)
        gap = frame_time - self._last_time
        if not 0.0 < gap <= MAX_GAP:
            gap = min(nominal if nominal and nominal > 0 else (self.gap or 0.0), MAX_GAP)
            self._anchor, self._anchor_time = self._last_due + gap, frame_time
        due = self._anchor + (frame_time - self._anchor_time)
        if now - due >= max(gap, 0.001):
            return self._restart(now, frame_time, gap)
        self._last_time, self._last_due, self.gap = frame_time, due, gap
        return due

    def _restart(self, now: float, frame_time: float, gap: Optional[float]) -> float:
        self._anchor, self._anchor_time = now, frame_time
        self._last_time, self._last_due, self.gap = frame_time, now, gap
        return now

    def _reset(self) -> None:
        self._anchor = self._last_time = self._last_due = self.gap = None
