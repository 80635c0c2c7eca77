"""The writer side of a frame ring: one memory-mapped file per camera, `slots` frames deep.

The camera writes frame `seq` into slot `seq % slots`, guarded by the slot's counter: odd before the
copy, even after it, with the frame's seq stored in between. A reader (`FrameReader`) checks the counter
and the seq before and after its own copy, so it can tell a good frame from an overwritten or torn one
without any lock between the processes.

A ring never changes geometry: when the source's size changes the camera creates a new ring, which
replaces the file by rename (a new inode), and readers re-map it.

Before each write the ring checks that its path is still the file it mapped, at full size (one
`stat`, about a microsecond). A ring file that was deleted, replaced or truncated by someone else is
made again in place (same path and geometry, seq keeps counting) and a warning is logged: writing
through the old mapping would either go nowhere (deleted) or kill the process with SIGBUS (truncated).

The folder must belong to the writer's user and must not be writable by its group or others: a
folder made first by another local user (`/dev/shm` is world-writable) would give that user every
frame, so it is refused (`UnsafeRingFolder`), never used.
"""

import errno
import mmap
import os
import stat
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..log import LogThrottle
from .layout import EMPTY_SEQ, RingGeometry, is_camera_id

FOLDER_MODE = 0o750
# Group-readable: consumers run as other users in the camera's group.
FILE_MODE = 0o640
DEFAULT_FOLDER = "/dev/shm/ggvision"


class UnsafeRingFolder(PermissionError):
    """The ring folder exists but belongs to another user or is writable by its group or others."""


def check_ring_folder(folder: str) -> None:
    """Raise `UnsafeRingFolder` (naming the folder, its owner and mode, and the fix) unless the
    existing `folder` is owned by this process's user and not writable by group or others.

    Symlinks are followed: what counts is the folder the rings would land in.
    """
    status = os.stat(folder)
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(f"frame ring folder {folder} is not a folder")
    mode = stat.S_IMODE(status.st_mode)
    me = os.geteuid()
    if status.st_uid != me:
        raise UnsafeRingFolder(
            f"frame ring folder {folder} belongs to {_user(status.st_uid)}, not to this component's user "
            f"{_user(me)}: another user made it first and could read every frame; remove it (it is "
            f"made again, mode 0750) or give it to {_user(me)} with mode 0750")
    if mode & 0o022:
        raise UnsafeRingFolder(
            f"frame ring folder {folder} is writable by its group or others (mode {mode:04o}): they "
            f"could replace the rings; make it 0750 (chmod go-w {folder}) or remove it")


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


@dataclass(frozen=True)
class WrittenFrame:
    """Where `FrameRing.write` put a frame: its `seq`, `slot` and the ring's `path`.

    `shm` is the event's `shm` reference (`{"path", "slot"}`); the object also reads like the dict
    `{"path", "slot", "seq"}` (`written["slot"]`), and `frame_event(shm=written)` takes it as is.
    """

    seq: int
    slot: int
    path: str

    @property
    def shm(self) -> Dict[str, Any]:
        return {"path": self.path, "slot": self.slot}

    def keys(self) -> List[str]:
        return ["path", "slot", "seq"]

    def __getitem__(self, key: str) -> Any:
        if key not in ("path", "slot", "seq"):
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())


class FrameRing:
    """A camera's ring of frame slots in shared memory. Make one with `FrameRing.create`."""

    def __init__(self, path: str, camera_id: str, geometry: RingGeometry, buffer: mmap.mmap,
                 identity: Any, first_seq: int) -> None:
        self.path = path
        self.camera_id = camera_id
        self.geometry = geometry
        self.next_seq = first_seq
        # Times the file was found deleted, replaced or truncated and made again, and why, last time.
        self.remade = 0
        self.remade_because: Optional[str] = None
        self._remade_warning = LogThrottle("ggvision.frames", 30.0)  # a file deleted every second: one line
        self._mmap: Optional[mmap.mmap] = None
        self._identity = identity
        self._words: List[np.ndarray] = []
        self._captured: List[np.ndarray] = []
        self._pixels: List[np.ndarray] = []
        self._map(buffer)

    def _map(self, buffer: mmap.mmap) -> None:
        """Views made once: [counter, frame seq] words, captured_at, pixels — per slot."""
        geometry = self.geometry
        self._mmap = buffer
        self._words, self._captured, self._pixels = [], [], []
        for slot in range(geometry.slots):
            offset = geometry.slot_offset(slot)
            self._words.append(np.frombuffer(buffer, dtype=np.uint64, count=2, offset=offset))
            self._captured.append(np.frombuffer(buffer, dtype=np.float64, count=1, offset=offset + 16))
            pixels = np.frombuffer(buffer, dtype=np.uint8, count=geometry.frame_bytes,
                                   offset=geometry.pixels_offset(slot))
            self._pixels.append(pixels.reshape(geometry.shape))

    @classmethod
    def create(cls, folder: str, camera_id: str, width: int, height: int, pixel_format: str = "bgr24",
               slots: int = 4, first_seq: int = 0) -> "FrameRing":
        """Create (or replace) `<folder>/<camera_id>.ring`; the folder is made 0o750, the file 0o640.

        `first_seq` lets a camera that re-creates its ring (new geometry) keep counting frames.
        Raises `ValueError` for a bad camera id or geometry, `OSError` when the file cannot be made
        (for example /dev/shm is too small: the space is reserved here, not on the first write).
        """
        if not is_camera_id(camera_id):
            raise ValueError(f"camera id {camera_id!r} must be 1-64 letters, digits, '_' or '-'")
        if isinstance(first_seq, bool) or not isinstance(first_seq, int) or not 0 <= first_seq < EMPTY_SEQ:
            raise ValueError(f"first_seq {first_seq!r} must be a non-negative integer")
        geometry = RingGeometry(width, height, pixel_format, slots)
        folder = os.path.abspath(folder)
        path = os.path.join(folder, camera_id + ".ring")
        buffer, identity = _make_file(folder, camera_id, geometry)
        return cls(path, camera_id, geometry, buffer, identity, first_seq)

    @property
    def width(self) -> int:
        return self.geometry.width

    @property
    def height(self) -> int:
        return self.geometry.height

    @property
    def pixel_format(self) -> str:
        return self.geometry.pixel_format

    @property
    def slots(self) -> int:
        return self.geometry.slots

    def write(self, image: np.ndarray, captured_at: float) -> WrittenFrame:
        """Copy one frame into the next slot; returns its seq, slot and the ring path.

        `image` must be uint8 of the ring's shape (H×W×3, or H×W for gray8). Raises `ValueError`
        otherwise and `RuntimeError` after `close()`. A ring file deleted, replaced or truncated since
        the last write is made again first (`remade` counts it); `OSError` when that fails.
        """
        if self._mmap is None:
            raise RuntimeError(f"frame ring {self.path} is closed")
        image = self._checked(image)
        lost = self._lost()
        if lost is not None:
            self._remake(lost)
        seq = self.next_seq
        slot = seq % self.geometry.slots
        words = self._words[slot]
        counter = int(words[0])
        if counter & 1:  # a write that failed half-way: start from an even count again
            counter += 1
        words[0] = counter + 1  # odd: being written
        words[1] = seq
        self._captured[slot][0] = captured_at
        try:
            np.copyto(self._pixels[slot], image)
        except BaseException:
            words[1] = EMPTY_SEQ  # never let a half-copied slot pass as a frame
            words[0] = counter + 2
            raise
        words[0] = counter + 2  # even: done
        self.next_seq = seq + 1
        return WrittenFrame(seq=seq, slot=slot, path=self.path)

    def _lost(self) -> Optional[str]:
        """Why the path no longer holds this ring's whole file (None while it does)."""
        try:
            status = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return "deleted"
        if (status.st_dev, status.st_ino) != self._identity:
            return "replaced by another file"
        if status.st_size < self.geometry.file_size:
            return f"truncated to {status.st_size} bytes (it needs {self.geometry.file_size})"
        return None

    def _remake(self, reason: str) -> None:
        """Make the file again, same path and geometry; the old mapping is dropped untouched.

        Raises `OSError` when it cannot be made (then the next write tries again).
        """
        folder = os.path.dirname(self.path)
        buffer, identity = _make_file(folder, self.camera_id, self.geometry)
        old = self._mmap
        self._identity = identity
        self._map(buffer)
        if old is not None:
            try:
                old.close()
            except BufferError:
                pass
        self.remade += 1
        self.remade_because = f"frame ring {self.path} was {reason}; made it again"
        self._remade_warning.warning("%s (%d time%s so far; readers map the new file by themselves)",
                                     self.remade_because, self.remade, "" if self.remade == 1 else "s")

    def _checked(self, image: np.ndarray) -> np.ndarray:
        if not isinstance(image, np.ndarray):
            raise ValueError(f"a frame must be a NumPy array, not {type(image).__name__}")
        shape = self.geometry.shape
        if image.ndim == 3 and len(shape) == 2 and image.shape[2] == 1:
            image = image[:, :, 0]
        if image.shape != shape or image.dtype != np.uint8:
            raise ValueError("frame is {} {}; ring {} holds {} uint8 ({})".format(
                "x".join(map(str, image.shape)), image.dtype, self.path, "x".join(map(str, shape)),
                self.geometry.describe()))
        return image

    def close(self) -> None:
        """Unmap, and remove the file unless a newer ring already replaced it."""
        if self._mmap is None:
            return
        self._words, self._captured, self._pixels = [], [], []
        buffer, self._mmap = self._mmap, None
        try:
            buffer.close()
        except BufferError:
            pass  # someone still holds a view: the mapping goes when the view does
        try:
            status = os.stat(self.path, follow_symlinks=False)
            if (status.st_dev, status.st_ino) == self._identity:
                os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "FrameRing":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _make_file(folder: str, camera_id: str, geometry: RingGeometry) -> Tuple[mmap.mmap, Tuple[int, int]]:
    """Write a complete, empty ring as `<folder>/<camera_id>.ring`; its mapping and (st_dev, st_ino)."""
    _make_folder(folder)
    path = os.path.join(folder, camera_id + ".ring")
    temporary = os.path.join(folder, f".{camera_id}.ring.{os.getpid()}.tmp")
    try:
        os.unlink(temporary)  # left over by a crashed writer with our pid
    except FileNotFoundError:
        pass
    descriptor = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)  # the umask must not take the group's read bit
        os.ftruncate(descriptor, geometry.file_size)
        _reserve(descriptor, geometry.file_size)
        buffer = mmap.mmap(descriptor, geometry.file_size)
        buffer[:len(geometry.pack())] = geometry.pack()
        for slot in range(geometry.slots):
            np.frombuffer(buffer, dtype=np.uint64, count=2, offset=geometry.slot_offset(slot))[:] = \
                (0, EMPTY_SEQ)
        status = os.fstat(descriptor)
        # Complete before it is visible: readers only ever see a finished header.
        os.rename(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    finally:
        os.close(descriptor)
    return buffer, (status.st_dev, status.st_ino)


def _make_folder(folder: str) -> None:
    try:
        os.makedirs(folder, mode=FOLDER_MODE)
    except FileExistsError:
        check_ring_folder(folder)  # an existing folder must be ours and closed to others
        return
    os.chmod(folder, FOLDER_MODE)  # makedirs' mode is filtered by the umask


def _reserve(descriptor: int, size: int) -> None:
    """Allocate the file's pages now: a full tmpfs is then an OSError here, not a SIGBUS on write."""
    if not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(descriptor, 0, size)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # the file system cannot: go without
            return
        raise
