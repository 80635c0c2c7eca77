"""`FrameReader`: the pixels of a `ggvision.frame/1` event, from a camera's ring or from the event's JPEG.

A ring is mapped once (read-only) and kept; when the camera replaces the file (a new inode, after a
geometry change) it is mapped again. A frame is good when its slot's counter is even and unchanged
across the copy and the slot still holds the event's `seq`; otherwise the reader raises
`FrameUnavailable` and the caller takes the next frame.

The path in an event comes from a message: it is only followed when it resolves (symlinks and `..`
included) to a `<camera id>.ring` file directly inside `ring_folder`.

Before each read the path is checked to still be the mapped file at its full size: a ring file that
was deleted, replaced or truncated is never read through the old mapping (touching the pages of a
truncated file is a SIGBUS that kills the process); a truncated one is `FrameUnavailable` until the
camera makes it again. A `copy=False` view handed out earlier is not protected: do not keep it.

Memory ordering: the writer stores counter → seq → pixels → counter, and this reader loads them in the
reverse order. x86 keeps stores in order; on ARM the check relies on the copy taking far longer than
the writer's store buffer takes to drain, which holds for frame-sized copies.
"""

import collections
import mmap
import os
import stat
import threading
from typing import Any, Dict, List, Optional, OrderedDict, Tuple

import numpy as np

from .jpeg import DEFAULT_MAX_PIXELS, decode_jpeg
from .layout import EMPTY_SEQ, HEADER_SIZE, RING_FILE_NAME, RingGeometry

DEFAULT_MAX_RINGS = 64


class FrameUnavailable(Exception):
    """The frame is gone: its slot was overwritten, the copy was torn, or the ring file no longer exists
    (or was truncated) — the camera makes it again, take the next frame."""


class _MappedRing:
    """One ring file mapped read-only, with a view per slot made once."""

    def __init__(self, path: str, descriptor: int) -> None:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise ValueError(f"frame ring {path} is not a regular file")
        self.identity = (status.st_dev, status.st_ino)
        if status.st_size < HEADER_SIZE:
            raise ValueError(f"{path} is not a frame ring (only {status.st_size} bytes)")
        self.buffer: Optional[mmap.mmap] = mmap.mmap(descriptor, status.st_size, access=mmap.ACCESS_READ)
        try:
            self.geometry = RingGeometry.unpack(self.buffer[:HEADER_SIZE], status.st_size, path)
        except ValueError:
            self.buffer.close()
            raise
        self.words: List[np.ndarray] = []
        self.pixels: List[np.ndarray] = []
        for slot in range(self.geometry.slots):
            self.words.append(np.frombuffer(self.buffer, dtype=np.uint64, count=2,
                                            offset=self.geometry.slot_offset(slot)))
            pixels = np.frombuffer(self.buffer, dtype=np.uint8, count=self.geometry.frame_bytes,
                                   offset=self.geometry.pixels_offset(slot))
            self.pixels.append(pixels.reshape(self.geometry.shape))

    def close(self) -> None:
        self.words, self.pixels = [], []
        buffer, self.buffer = self.buffer, None
        if buffer is not None:
            try:
                buffer.close()
            except BufferError:
                pass  # a caller still holds a zero-copy view: the mapping lives until it is dropped


class _Reference:
    """The fields of a shm frame event this reader uses, checked."""

    def __init__(self, event: Dict[str, Any]) -> None:
        shm = event.get("shm")
        if not isinstance(shm, dict):
            raise ValueError("a shm frame event needs an shm object with path and slot")
        self.path = shm.get("path")
        self.slot = shm.get("slot")
        self.seq = event.get("seq")
        self.width = event.get("width")
        self.height = event.get("height")
        self.pixel_format = event.get("pixel_format")
        if not isinstance(self.path, str) or not self.path or "\x00" in self.path:
            raise ValueError("frame event shm.path must be a non-empty string")
        for name in ("slot", "seq", "width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"frame event {name} must be a non-negative integer, not {value!r}")

    def describe(self) -> str:
        return f"{self.width}x{self.height} {self.pixel_format}"


class FrameReader:
    """Reads frames for `ggvision.frame/1` events; rings are only opened inside `ring_folder`."""

    def __init__(self, ring_folder: str, max_rings: int = DEFAULT_MAX_RINGS,
                 max_jpeg_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.ring_folder = ring_folder
        self.max_jpeg_pixels = max_jpeg_pixels
        # A consumer's input (width, height): jpeg frames decode at the reduced scale that covers it.
        self.jpeg_at_least: Optional[Tuple[int, int]] = None
        self._max_rings = max(1, max_rings)
        self._rings: OrderedDict[str, _MappedRing] = collections.OrderedDict()
        # Event paths already resolved to a mapped ring: the next frame of the same ring skips the two
        # realpath() walks (an lstat per path component, about a millisecond per frame in all). Safe:
        # the fast path only takes a file whose identity is the ring mapped after a full check; any
        # other answer goes the full way again.
        self._resolved: Dict[str, str] = {}
        # Rings seen truncated under their mapping, by path: (st_dev, st_ino, st_size) then. Still the
        # same file at that size: FrameUnavailable again (not a "not a ring" ValueError) until replaced.
        self._truncated: Dict[str, Tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    def read(self, event: Dict[str, Any], copy: bool = True) -> np.ndarray:
        """The frame's pixels: H×W×3 uint8 (bgr24/rgb24 order as the event says) or H×W for gray8.

        `copy=False` returns a read-only view into the ring, valid only until the camera overwrites
        that slot (`slots` frames later): check `still_valid(event)` after using it, and copy what you
        keep. Raises `FrameUnavailable` (overwritten, torn, ring gone) or `ValueError` (a path outside
        the ring folder, a geometry that does not match the ring, a malformed event or JPEG).
        """
        if not isinstance(event, dict):
            raise ValueError("a frame event must be a JSON object")
        transport = event.get("transport")
        if transport == "jpeg":
            return self._read_jpeg(event)
        if transport != "shm":
            raise ValueError(f"frame event transport {transport!r} is not shm or jpeg")
        reference = _Reference(event)
        with self._lock:
            ring = self._checked_ring(reference)
            words = ring.words[reference.slot]
            counter = int(words[0])
            held = int(words[1])
            self._check_holds(reference, counter, held)
            if not copy:
                return ring.pixels[reference.slot]
            pixels = ring.pixels[reference.slot].copy()
            if int(words[1]) != reference.seq or int(words[0]) != counter:
                raise FrameUnavailable(f"frame {reference.seq} in slot {reference.slot} of {reference.path} "
                                       "was torn: the camera overwrote the slot during the copy")
            return pixels

    def still_valid(self, event: Dict[str, Any]) -> bool:
        """Whether the slot still holds the event's frame (for a `copy=False` view); True for jpeg."""
        if not isinstance(event, dict) or event.get("transport") not in ("shm", "jpeg"):
            return False
        if event["transport"] == "jpeg":
            return True
        try:
            reference = _Reference(event)
            with self._lock:
                ring = self._checked_ring(reference)
                words = ring.words[reference.slot]
                held = int(words[1])
                counter = int(words[0])
                self._check_holds(reference, counter, held)
                return int(words[1]) == reference.seq
        except (FrameUnavailable, ValueError):
            return False

    def close(self) -> None:
        """Unmap every ring (zero-copy views still held keep their mapping until dropped)."""
        with self._lock:
            while self._rings:
                self._rings.popitem()[1].close()

    def __enter__(self) -> "FrameReader":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _read_jpeg(self, event: Dict[str, Any]) -> np.ndarray:
        jpeg = event.get("jpeg")
        if not isinstance(jpeg, dict) or not isinstance(jpeg.get("data"), str):
            raise ValueError("a jpeg frame event needs jpeg.data (base64 text)")
        width, height = event.get("width"), event.get("height")
        pixel_format = event.get("pixel_format", "bgr24")
        expected: Optional[Tuple[int, int]] = None
        if isinstance(width, int) and isinstance(height, int):
            expected = (width, height)
        return decode_jpeg(jpeg["data"], pixel_format, self.max_jpeg_pixels, expected, self.jpeg_at_least)

    @staticmethod
    def _check_holds(reference: _Reference, counter: int, held: int) -> None:
        if counter & 1 or held != reference.seq:
            now = "is being rewritten" if counter & 1 else (
                "holds no frame yet" if held == EMPTY_SEQ else f"now holds frame {held}")
            raise FrameUnavailable(f"frame {reference.seq} is no longer in slot {reference.slot} of "
                                   f"{reference.path}: overwritten (the slot {now})")

    def _checked_ring(self, reference: _Reference) -> _MappedRing:
        ring = self._still_mapped(self._resolved.get(reference.path))
        if ring is None:
            real = self._resolve(reference.path)
            ring = self._ring(real)
            if len(self._resolved) >= 4 * self._max_rings:
                self._resolved.clear()
            self._resolved[reference.path] = real
        geometry = ring.geometry
        if (reference.width, reference.height, reference.pixel_format) != (
                geometry.width, geometry.height, geometry.pixel_format):
            raise ValueError(f"frame event says {reference.describe()} but ring {reference.path} holds "
                             f"{geometry.describe()}")
        if reference.slot >= geometry.slots:
            raise ValueError(f"frame event slot {reference.slot} is not in ring {reference.path} "
                             f"({geometry.slots} slots)")
        return ring

    def _resolve(self, path: str) -> str:
        """The real path of a ring file inside the ring folder, or ValueError."""
        if ".." in path.replace("\\", "/").split("/"):
            raise ValueError(f"frame ring path {path!r} must not contain '..'")
        folder = os.path.realpath(self.ring_folder)
        real = os.path.realpath(path)
        if os.path.dirname(real) != folder or RING_FILE_NAME.fullmatch(os.path.basename(real)) is None:
            raise ValueError(f"frame ring path {path!r} is not a .ring file in the ring folder "
                             f"{self.ring_folder}")
        return real

    def _still_mapped(self, real: Optional[str]) -> Optional[_MappedRing]:
        """The ring mapped for `real` while `real` is still that whole file; else None (full check)."""
        ring = self._rings.get(real) if real is not None else None
        if ring is None:
            return None
        try:
            status = os.stat(real, follow_symlinks=False)
        except OSError:
            return None
        if ring.identity != (status.st_dev, status.st_ino) or status.st_size < ring.geometry.file_size:
            return None
        self._rings.move_to_end(real)
        return ring

    def _ring(self, real: str) -> _MappedRing:
        """The mapped ring at `real`, mapped again when the file was replaced; LRU-bounded."""
        try:
            status = os.stat(real, follow_symlinks=False)
        except FileNotFoundError:
            self._forget(real)
            raise FrameUnavailable(f"frame ring {real} is gone (the camera stopped or restarted)") from None
        except PermissionError:
            raise FrameUnavailable(f"frame ring {real} cannot be read: permission denied") from None
        ring = self._rings.get(real)
        if ring is not None and ring.identity == (status.st_dev, status.st_ino):
            if status.st_size < ring.geometry.file_size:
                # Same file, cut short: its pages past the end are gone and touching them is SIGBUS.
                self._forget(real)
                if len(self._truncated) >= self._max_rings:
                    self._truncated.clear()
                self._truncated[real] = (status.st_dev, status.st_ino, status.st_size)
                raise FrameUnavailable(self._truncated_text(real, status.st_size, ring.geometry.file_size))
            self._rings.move_to_end(real)
            return ring
        seen = self._truncated.pop(real, None)
        if seen is not None and seen == (status.st_dev, status.st_ino, status.st_size):
            self._truncated[real] = seen
            raise FrameUnavailable(self._truncated_text(real, status.st_size, None))
        self._forget(real)
        ring = self._map(real)
        self._rings[real] = ring
        while len(self._rings) > self._max_rings:
            self._rings.popitem(last=False)[1].close()
        return ring

    @staticmethod
    def _truncated_text(real: str, size: int, needed: Optional[int]) -> str:
        needs = f", the ring needs {needed}" if needed is not None else ""
        return (f"frame ring {real} was truncated ({size} bytes{needs}): not read through its old "
                "mapping; the camera makes it again")

    def _forget(self, real: str) -> None:
        ring = self._rings.pop(real, None)
        if ring is not None:
            ring.close()

    @staticmethod
    def _map(real: str) -> _MappedRing:
        try:
            # O_NOFOLLOW: the file must not have turned into a symlink since it was resolved;
            # O_NONBLOCK: a FIFO planted under a ring's name must not hang the reader.
            descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise FrameUnavailable(f"frame ring {real} is gone (the camera stopped or restarted)") from None
        except PermissionError:
            raise FrameUnavailable(f"frame ring {real} cannot be read: permission denied (the reader's "
                                   "user must be in the camera's group)") from None
        except OSError as error:
            raise ValueError(f"frame ring {real} cannot be opened: {error.strerror}") from None
        try:
            return _MappedRing(real, descriptor)
        finally:
            os.close(descriptor)
