"""The reader thread of one camera: open the source, decode continuously into the LatestFrame slot,
and ride out failures by reopening with exponential backoff.

Live sources are read as fast as they deliver (draining the camera keeps latency at one frame), but
a frame is only decoded when the announcer's next turn is near: the others are taken off the source
undecoded (`skip()`), which saves most of the decoding work when FrameRate is below the camera's.
Files and folders are decoded ahead and shown at their own time (`PlaybackSpeed: native`, like a live
camera): a video's frames at their timestamps, so variable-frame-rate files play in real time, a
folder's images at FrameRate (PlaybackClock); a frame waits for the announcer to take the one before
it — a video's until the next frame is due, a folder's until it is taken, so a slow image does not
drop the ones after it. Or in lockstep with the announcer (`max`: each frame waits until the previous
one was taken and the publisher waits for its window, so every frame is announced, in order, as fast
as FrameRate allows). A snapshot URL is polled at the frame rate.
"""

import threading
import time
from typing import Callable, Optional

from ggvision.log import get_logger

from .backoff import Backoff
from .latest import Frame, LatestFrame
from .playback_clock import PlaybackClock
from .redaction import redact
from .settings import MAX, CameraConfig
from .sources import Source, SourceError
from .status import CONNECTING, ENDED, RECONNECTING, STREAMING, CameraStats

SourceFactory = Callable[[CameraConfig], Source]
NextTurn = Callable[[], Optional[float]]

_IDLE_WAIT = 0.25  # how often a waiting reader looks at the stop flag
_TURN_MARGIN = 0.002  # a frame due as the announcer's turn comes is put this long before it


class CameraReader:
    def __init__(self, config: CameraConfig, latest: LatestFrame, stats: CameraStats,
                 make_source: SourceFactory, stop: threading.Event,
                 next_turn: Optional[NextTurn] = None) -> None:
        self.config = config
        self.frame_rate = config.frame_rate  # may change while running (live FrameRate)
        self._latest = latest
        self._stats = stats
        self._make_source = make_source
        self._stop = stop
        self._log = get_logger(f"ggvision.CameraCapture.{config.camera_id}")
        self._source: Optional[Source] = None
        self._thread = threading.Thread(target=self._run, name=f"read-{config.camera_id}", daemon=True)
        self.describe = redact(config.source)
        self._fault_logged = False
        self._next_turn = next_turn or (lambda: None)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Ask the thread to end (the stop event is already set) and wait up to `timeout` seconds.

        Aborting the source from here unblocks a network read at once; an OpenCV read cannot be
        interrupted and ends at its own timeout (the thread is a daemon, so it never holds the exit).
        """
        source = self._source
        if source is not None:
            try:
                source.abort()
            except Exception:
                pass
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        config = self.config
        backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s, jitter=0.2)
        failed_before = False
        error = ""
        while not self._stop.is_set():
            source = self._make_source(config)
            self._source = source
            try:
                self._stats.update(state=RECONNECTING if failed_before else CONNECTING)
                source.open()
                if self._stream(source, backoff):
                    self._stats.update(state=ENDED)
                    self._log.info("camera %s: %s ended", config.camera_id, self.describe)
                    return
            except SourceError as failure:
                error = redact(str(failure))
                failed_before = True
            except Exception as failure:  # an unexpected decoder/OpenCV fault: the same recovery
                if not self._fault_logged:  # the details once; then the one-line retries below
                    self._fault_logged = True
                    self._log.error("camera %s: unexpected fault", config.camera_id, exc_info=True)
                error = redact(f"{type(failure).__name__}: {failure}")
                failed_before = True
            finally:
                self._source = None
                try:
                    source.close()
                except Exception:
                    pass
            if self._stop.is_set():
                return
            self._stats.update(state=RECONNECTING, last_error=error)
            delay = backoff.next_delay()
            self._log.warning("camera %s: %s; retrying in %.1f s", config.camera_id, error, delay)
            if self._stop.wait(delay):
                return
            self._stats.add(reconnects=1)

    def _stream(self, source: Source, backoff: Backoff) -> bool:
        """Read until the source fails (SourceError) or the stop flag; True when a finite source ended."""
        first = True
        clock = PlaybackClock()
        poll_due: Optional[float] = None
        last_frame_at: Optional[float] = None
        period: Optional[float] = None  # the source's frame period, smoothed
        read_cost = 0.0  # seconds a read takes, smoothed
        while not self._stop.is_set():
            lockstep = source.finite and self.config.playback_speed == MAX
            if lockstep:
                if not self._wait_lockstep_turn(read_cost):
                    return False
            elif source.polled:
                poll_due = self._wait_poll_turn(poll_due)
                if poll_due is None and self._stop.is_set():
                    return False
            # Never in lockstep: there every frame is announced, however far the next turn.
            skip = not first and not lockstep and source.can_skip and self._turn_is_far(period)
            if skip:
                if not source.skip():
                    return True
                image = None
            else:
                started = time.monotonic()
                image = source.read(into=self._latest.spare())
                if image is None:
                    return True
                read_cost = 0.8 * read_cost + 0.2 * (time.monotonic() - started)
            now = time.monotonic()
            if last_frame_at is not None:
                gap = now - last_frame_at
                period = gap if period is None else 0.8 * period + 0.2 * gap
            last_frame_at = now
            if source.finite and not lockstep:
                # Decoded first, shown at its own time: a video's frame at its timestamp, a folder's
                # image at FrameRate (PlaybackClock).
                due = clock.due(source.frame_time, self._nominal_interval(source), now)
                if due is not None and not self._sleep_until(self._put_time(due)):
                    return False
                if image is not None and (not source.own_time or self._announcer_takes_each(clock.gap)):
                    # While the announcer takes every frame, the slot's frame is given until this
                    # one's successor is due (a video) or as long as it takes (a folder's image);
                    # below the video's rate the newest frame replaces it at once.
                    until = (due or time.monotonic()) + (clock.gap or 0.0) if source.own_time else None
                    if not self._let_it_be_taken(until):
                        return False
            if image is None:
                self._latest.skipped()
                self._stats.add(frames_in=1)
                continue
            self._latest.put(Frame(image, time.time(), keep=lockstep))
            self._stats.add(frames_in=1)
            if first:
                first = False
                backoff.reset()
                height, width = image.shape[:2]
                self._stats.update(state=STREAMING)
                self._log.info("camera %s: streaming %s (%dx%d)", self.config.camera_id, self.describe,
                               width, height)
        return False

    def _wait_lockstep_turn(self, read_cost: float) -> bool:
        """`PlaybackSpeed: max`: wait until the frame before was taken, then until just before the
        announcer's next turn (a period after it took the last frame), so that a frame does not wait a
        whole period in the slot and go out with a stale capture time. False on stop."""
        while not self._latest.wait_taken(_IDLE_WAIT):
            if self._stop.is_set():
                return False
        taken_at, rate = self._latest.taken_at, self.frame_rate
        if taken_at is not None and rate > 0:
            remaining = taken_at + 1.0 / rate - time.monotonic() - read_cost
            if remaining > 0 and self._stop.wait(remaining):
                return False
        return True

    def _wait_poll_turn(self, due: Optional[float]) -> Optional[float]:
        """A polled source (a snapshot URL) is asked at the frame rate: wait for `due`, return the next
        due time (None: poll at once, or stopped). After a stall the schedule restarts from now
        instead of polling in a burst to catch up."""
        if self.frame_rate <= 0:
            return None
        interval = 1.0 / self.frame_rate
        if due is None:
            return time.monotonic() + interval
        remaining = due - time.monotonic()
        if remaining > 0 and self._stop.wait(remaining):
            return None
        if time.monotonic() - due >= interval:
            return time.monotonic() + interval
        return due + interval

    def _announcer_takes_each(self, gap: Optional[float]) -> bool:
        """Whether a video's frame in the slot should be taken before the next one replaces it: only
        while the announcer takes every frame (FrameRate 0, or not below the video's rate). With a
        lower FrameRate the newest frame wins at once: waiting would hand the announcer, at each
        turn, the frame put just after its previous turn — a whole FrameRate period old."""
        rate = self.frame_rate
        return rate <= 0 or gap is None or gap <= 0 or 1.0 / rate <= gap * 1.01

    def _put_time(self, due: float) -> float:
        """When to put a frame due at `due`: then, or just before the announcer's turn when the turn
        falls a moment before it (a file whose rate is a multiple of FrameRate lines the two up) —
        such a frame must be in the slot for that turn, not lose the race to it by a millisecond and
        wait a whole turn while an older one is announced."""
        turn = self._next_turn()
        if turn is not None and 0.0 <= due - turn <= 2 * _TURN_MARGIN:
            return turn - _TURN_MARGIN
        return due

    def _sleep_until(self, due: float) -> bool:
        """Sleep until time.monotonic() reaches `due`; False on stop."""
        remaining = due - time.monotonic()
        return not (remaining > 0 and self._stop.wait(remaining))

    def _let_it_be_taken(self, until: Optional[float]) -> bool:
        """Before a file's or folder's frame replaces the one in the slot, give the announcer until
        `until` (None: as long as it takes) to take that one. Without this, a frame that came late
        (a slow decode) and the next one on schedule land together while the announcer is still busy
        with the late one, dropping frame after frame. False on stop."""
        while True:
            remaining = _IDLE_WAIT if until is None else until - time.monotonic()
            if remaining <= 0 or self._latest.wait_taken(min(_IDLE_WAIT, remaining)):
                return True
            if self._stop.is_set():
                return False

    def _turn_is_far(self, period: Optional[float]) -> bool:
        """True when the announcer's next turn is more than ~2 source frames away: a frame decoded
        now would be replaced before it is announced (a video's frames are read a frame ahead of
        their time, so this keeps the one due last before the turn, and at most one more)."""
        turn = self._next_turn()
        if turn is None or period is None:
            return False
        return turn - time.monotonic() > 2.0 * period

    def _nominal_interval(self, source: Source) -> Optional[float]:
        """Seconds between a file's frames where it has no usable timestamps (its header's rate) and
        between a folder's images (FrameRate); None to play as fast as frames are taken."""
        fps = source.native_fps or self.frame_rate
        return 1.0 / fps if fps and fps > 0 else None
