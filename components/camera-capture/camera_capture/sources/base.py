"""What every source is to the reader thread: open, read one decoded frame, close."""

from typing import Optional

import numpy as np


class SourceError(Exception):
    """The source cannot be opened or stopped delivering; the reader reconnects with backoff.

    The message is shown in logs and in status `last_error`: never put credentials in it (the
    reader redacts it again anyway)."""


class Source:
    """A source of decoded BGR frames, used by one reader thread only.

    `read()` returns the next frame, or None once a finite source (a file or folder that does not
    loop) has ended; it raises SourceError when the source fails.
    """

    #: finite sources (files, folders) may be paced at their own rate or read in lockstep.
    finite = False
    #: sources that hand out a frame per request (an HTTP snapshot URL) are polled at the frame rate.
    polled = False
    #: skip() takes the next frame off the source without decoding it (cheaper than read()).
    can_skip = False
    #: a finite source with its own timeline (a video): played natively, a frame not taken by the time
    #: the next one is due is replaced; without one (a folder) each frame waits for its turn.
    own_time = False

    @property
    def native_fps(self) -> Optional[float]:
        """The source's own frame rate when it has one (a video file's), else None."""
        return None

    @property
    def frame_time(self) -> Optional[float]:
        """The presentation time, in seconds, of the frame just read or skipped, when the source has
        one (a video's timestamp), else None."""
        return None

    def open(self) -> None:
        raise NotImplementedError

    def read(self, into: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        """The next frame; decoded into `into` (a spare frame buffer) where the source can and the
        size matches, else into a new array."""
        raise NotImplementedError

    def skip(self) -> bool:
        """Consume the next frame without decoding it (live sources: keeps the source drained);
        False once a finite source has ended (as `read()` returning None)."""
        return self.read() is not None

    def abort(self) -> None:
        """Called from another thread to end a blocked read/skip soon (it then raises SourceError).

        Only where that is safe: sockets can be shut down under a reader; an OpenCV VideoCapture
        must not be released while another thread is inside read(), so the default does nothing
        and such a read ends at its own timeout."""

    def close(self) -> None:
        """Release the source; safe to call twice. Only from the thread that reads."""
