"""The frame ring file format, shared by the writer (`ring.py`) and `FrameReader` (`reader.py`).

    offset 0            file header (64 bytes, little-endian):
                          magic b"GGVRING\\0", version u32, width u32, height u32, channels u32,
                          pixel_format code u32, slot count u32, slot stride u64, first slot offset u64
    64 + n * stride     slot n: slot header (64 bytes) then height*width*channels pixel bytes
                          +0  counter u64     odd while the writer copies, even when the slot is done
                          +8  frame seq u64   the frame the slot holds (EMPTY_SEQ: none yet)
                          +16 captured_at f64 Unix seconds

Offsets are multiples of 64 (a cache line) so the 8-byte words are aligned and each store of one is
a single machine store, which a reader in another process never sees half-done.
"""

import re
import struct
from dataclasses import dataclass
from typing import Any, Tuple

MAGIC = b"GGVRING\x00"
VERSION = 1
HEADER = struct.Struct("<8sIIIIIIQQ")
HEADER_SIZE = 64
SLOT_HEADER_SIZE = 64
ALIGNMENT = 64
EMPTY_SEQ = 2 ** 64 - 1

# Same limits as the ggvision.frame/1 schema.
MAX_SIDE = 16384
MAX_SLOTS = 1024

# A camera id, also the ring file's name (`<camera id>.ring`); matched whole (re.fullmatch: a `$`
# would let "front\n" through).
CAMERA_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RING_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.ring")


def is_camera_id(value: Any) -> bool:
    """Whether `value` is a camera id: 1-64 letters, digits, '_' or '-', nothing else."""
    return isinstance(value, str) and CAMERA_ID.fullmatch(value) is not None


# name → (code stored in the header, channels)
PIXEL_FORMATS = {"bgr24": (1, 3), "rgb24": (2, 3), "gray8": (3, 1)}
_FORMAT_BY_CODE = {code: name for name, (code, _) in PIXEL_FORMATS.items()}


def _aligned(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


@dataclass(frozen=True)
class RingGeometry:
    """What a ring holds: frame size, pixel format and number of slots."""

    width: int
    height: int
    pixel_format: str
    slots: int

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
                raise ValueError(f"frame {name} {value!r} must be an integer from 1 to {MAX_SIDE}")
        if self.pixel_format not in PIXEL_FORMATS:
            raise ValueError("pixel format {!r} is not one of {}".format(
                self.pixel_format, ", ".join(sorted(PIXEL_FORMATS))))
        slots = self.slots
        if isinstance(slots, bool) or not isinstance(slots, int) or not 1 <= slots <= MAX_SLOTS:
            raise ValueError(f"slot count {self.slots!r} must be an integer from 1 to {MAX_SLOTS}")

    @property
    def channels(self) -> int:
        return PIXEL_FORMATS[self.pixel_format][1]

    @property
    def shape(self) -> Tuple[int, ...]:
        """The NumPy shape of one frame: (H, W, 3) or (H, W) for gray8."""
        if self.channels == 1:
            return (self.height, self.width)
        return (self.height, self.width, self.channels)

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * self.channels

    @property
    def slot_stride(self) -> int:
        return SLOT_HEADER_SIZE + _aligned(self.frame_bytes)

    @property
    def file_size(self) -> int:
        return HEADER_SIZE + self.slots * self.slot_stride

    def slot_offset(self, slot: int) -> int:
        return HEADER_SIZE + slot * self.slot_stride

    def pixels_offset(self, slot: int) -> int:
        return self.slot_offset(slot) + SLOT_HEADER_SIZE

    def describe(self) -> str:
        return f"{self.width}x{self.height} {self.pixel_format}"

    def pack(self) -> bytes:
        code, channels = PIXEL_FORMATS[self.pixel_format]
        header = HEADER.pack(MAGIC, VERSION, self.width, self.height, channels, code, self.slots,
                             self.slot_stride, HEADER_SIZE)
        return header.ljust(HEADER_SIZE, b"\x00")

    @classmethod
    def unpack(cls, header: bytes, file_size: int, where: str) -> "RingGeometry":
        """The geometry in a ring file's header; `ValueError` (naming `where`) for anything but a ring."""
        if len(header) < HEADER.size or file_size < HEADER_SIZE:
            raise ValueError(f"{where} is not a frame ring (only {file_size} bytes)")
        magic, version, width, height, channels, code, slots, stride, first = HEADER.unpack_from(header)
        if magic != MAGIC:
            raise ValueError(f"{where} is not a frame ring (wrong magic {magic!r})")
        if version != VERSION:
            raise ValueError(f"{where} is frame ring version {version}; this reader knows version {VERSION}")
        if code not in _FORMAT_BY_CODE:
            raise ValueError(f"{where} has an unknown pixel format code {code}")
        geometry = cls(width, height, _FORMAT_BY_CODE[code], slots)
        if channels != geometry.channels or stride != geometry.slot_stride or first != HEADER_SIZE:
            raise ValueError(f"{where} has an inconsistent header (channels {channels}, stride {stride}, "
                             f"first slot at {first})")
        if file_size < geometry.file_size:
            raise ValueError(f"{where} is truncated: {file_size} bytes, its header needs "
                             f"{geometry.file_size}")
        return geometry
