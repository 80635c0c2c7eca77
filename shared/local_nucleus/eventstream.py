"""AWS event-stream message framing: prelude, headers, payload and CRC32s.

Wire format (the one ``aws-c-event-stream`` speaks under Greengrass IPC)::

    total length (u32) | headers length (u32) | prelude CRC (u32) | headers | payload | message CRC (u32)

All integers are big-endian; both CRCs are the standard CRC32 (``zlib.crc32``); the message CRC
covers everything before it. Limits are those of the C library, so a frame it would refuse is
refused here too.
"""

import struct
import uuid
import zlib
from enum import IntEnum
from typing import List, Optional, Sequence, Tuple

PRELUDE_LENGTH = 12
TRAILER_LENGTH = 4
# aws-c-event-stream: AWS_EVENT_STREAM_MAX_MESSAGE_SIZE and AWS_EVENT_STREAM_MAX_HEADERS_SIZE.
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
MAX_HEADERS_SIZE = 128 * 1024

_U32 = struct.Struct(">I")
_PRELUDE = struct.Struct(">III")
_INT_HEADER = struct.Struct(">Bi")  # value type, int32 value


class HeaderType(IntEnum):
    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTE_BUF = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


class MessageType(IntEnum):
    APPLICATION_MESSAGE = 0
    APPLICATION_ERROR = 1
    PING = 2
    PING_RESPONSE = 3
    CONNECT = 4
    CONNECT_ACK = 5
    PROTOCOL_ERROR = 6
    INTERNAL_ERROR = 7


FLAG_CONNECTION_ACCEPTED = 0x1
FLAG_TERMINATE_STREAM = 0x2

# (name, type, value): kept as decoded so a PING's headers can be echoed back unchanged.
Header = Tuple[str, int, object]


class FrameError(ValueError):
    """The bytes on the wire are not a valid event-stream message."""


_FIXED_SIZES = {
    HeaderType.BYTE: (1, ">b"),
    HeaderType.INT16: (2, ">h"),
    HeaderType.INT32: (4, ">i"),
    HeaderType.INT64: (8, ">q"),
    HeaderType.TIMESTAMP: (8, ">q"),
}


def encode_header(name: str, header_type: int, value: object = None) -> bytes:
    """One header in wire form."""
    raw_name = name.encode("utf-8")
    if not 0 < len(raw_name) < 256:
        raise ValueError(f"header name must be 1..255 bytes: {name!r}")
    head = bytes((len(raw_name),)) + raw_name + bytes((header_type,))
    if header_type in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        return head
    if header_type in _FIXED_SIZES:
        return head + struct.pack(_FIXED_SIZES[HeaderType(header_type)][1], value)
    if header_type == HeaderType.UUID:
        raw = value.bytes if isinstance(value, uuid.UUID) else bytes(value)  # type: ignore[arg-type]
        if len(raw) != 16:
            raise ValueError("UUID header needs 16 bytes")
        return head + raw
    if header_type == HeaderType.STRING:
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]
    elif header_type == HeaderType.BYTE_BUF:
        raw = bytes(value)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unknown header type {header_type!r}")
    if len(raw) > 0xFFFF:
        raise ValueError("header value too long")
    return head + struct.pack(">H", len(raw)) + raw


def int32_header(name: str, value: int) -> bytes:
    return bytes((len(name),)) + name.encode("ascii") + _INT_HEADER.pack(HeaderType.INT32, value)


def string_header(name: str, value: str) -> bytes:
    return encode_header(name, HeaderType.STRING, value)


def encode_headers(headers: Sequence[Header]) -> bytes:
    return b"".join(encode_header(name, htype, value) for name, htype, value in headers)


def frame(headers_block: bytes, payload: bytes = b"") -> List[bytes]:
    """A complete message as [prelude+headers, payload, CRC] so a large payload is never copied here."""
    total = PRELUDE_LENGTH + len(headers_block) + len(payload) + TRAILER_LENGTH
    if total > MAX_MESSAGE_SIZE:
        raise ValueError(f"event-stream message of {total} bytes exceeds {MAX_MESSAGE_SIZE}")
    lengths = struct.pack(">II", total, len(headers_block))
    head = lengths + _U32.pack(zlib.crc32(lengths)) + headers_block
    crc = zlib.crc32(payload, zlib.crc32(head))
    if len(payload) < 65536:
        return [head + payload + _U32.pack(crc)]
    return [head, payload, _U32.pack(crc)]


def decode_headers(block: memoryview) -> List[Header]:
    """Parse a headers block; any out-of-bounds length or unknown type is a FrameError."""
    headers: List[Header] = []
    pos = 0
    end = len(block)
    while pos < end:
        name_len = block[pos]
        pos += 1
        if name_len == 0 or pos + name_len + 1 > end:
            raise FrameError("truncated or empty header name")
        name = str(block[pos:pos + name_len], "utf-8", "replace")
        pos += name_len
        htype = block[pos]
        pos += 1
        value: object = None
        if htype == HeaderType.BOOL_TRUE:
            value = True
        elif htype == HeaderType.BOOL_FALSE:
            value = False
        elif htype in _FIXED_SIZES:
            size, fmt = _FIXED_SIZES[HeaderType(htype)]
            if pos + size > end:
                raise FrameError(f"truncated {HeaderType(htype).name} header {name!r}")
            value = struct.unpack_from(fmt, block, pos)[0]
            pos += size
        elif htype == HeaderType.UUID:
            if pos + 16 > end:
                raise FrameError(f"truncated UUID header {name!r}")
            value = uuid.UUID(bytes=bytes(block[pos:pos + 16]))
            pos += 16
        elif htype in (HeaderType.BYTE_BUF, HeaderType.STRING):
            if pos + 2 > end:
                raise FrameError(f"truncated header length for {name!r}")
            value_len = (block[pos] << 8) | block[pos + 1]
            pos += 2
            if pos + value_len > end:
                raise FrameError(f"header {name!r} overruns the headers block")
            raw = block[pos:pos + value_len]
            value = str(raw, "utf-8", "surrogateescape") if htype == HeaderType.STRING else bytes(raw)
            pos += value_len
        else:
            raise FrameError(f"unknown header value type {htype} for {name!r}")
        headers.append((name, htype, value))
    return headers


def header_value(headers: Sequence[Header], name: str, header_type: int) -> Optional[object]:
    """First value of a header with this name and type (as the C RPC layer reads its metadata)."""
    for hname, htype, value in headers:
        if hname == name and htype == header_type:
            return value
    return None


class FrameReader:
    """Incremental decoder fed by an ``asyncio.BufferedProtocol``: the socket reads straight into
    this buffer, and a message up to 16 MiB lands in one contiguous region without re-copying."""

    _CHUNK = 256 * 1024

    def __init__(self) -> None:
        self._buf = bytearray(self._CHUNK)
        self._start = 0
        self._end = 0
        self._want = PRELUDE_LENGTH  # bytes needed from _start before the next step can run

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        pending = self._end - self._start
        # Room for the whole message being received, and never less than a useful read.
        need = max(self._want, pending + 4096)
        if self._start + need > len(self._buf):
            # Never resize in place: the transport may still hold a view of the old buffer.
            size = max(need, self._CHUNK)
            fresh = bytearray(size)
            fresh[:pending] = self._buf[self._start:self._end]
            self._buf = fresh
            self._start, self._end = 0, pending
        return memoryview(self._buf)[self._end:]

    def buffer_updated(self, nbytes: int) -> List[Tuple[List[Header], memoryview]]:
        """Account for nbytes just read; return the complete messages as (headers, payload view).

        The payload views stay valid until the next get_buffer() call.
        """
        self._end += nbytes
        messages = []
        view = memoryview(self._buf)
        while True:
            available = self._end - self._start
            if available < PRELUDE_LENGTH:
                self._want = PRELUDE_LENGTH
                break
            total, headers_len, prelude_crc = _PRELUDE.unpack_from(self._buf, self._start)
            if zlib.crc32(view[self._start:self._start + 8]) != prelude_crc:
                raise FrameError("prelude CRC mismatch")
            if total > MAX_MESSAGE_SIZE:
                raise FrameError(f"message length {total} exceeds {MAX_MESSAGE_SIZE}")
            if total < PRELUDE_LENGTH + TRAILER_LENGTH:
                raise FrameError(f"message length {total} is too small")
            if headers_len > MAX_HEADERS_SIZE or headers_len > total - PRELUDE_LENGTH - TRAILER_LENGTH:
                raise FrameError(f"headers length {headers_len} does not fit the message")
            if available < total:
                self._want = total
                break
            body_end = self._start + total - TRAILER_LENGTH
            (message_crc,) = _U32.unpack_from(self._buf, body_end)
            if zlib.crc32(view[self._start:body_end]) != message_crc:
                raise FrameError("message CRC mismatch")
            headers_start = self._start + PRELUDE_LENGTH
            headers = decode_headers(view[headers_start:headers_start + headers_len])
            messages.append((headers, view[headers_start + headers_len:body_end]))
            self._start += total
        if self._start == self._end:
            self._start = self._end = 0
            if len(self._buf) > 4 * self._CHUNK:
                self._buf = bytearray(self._CHUNK)  # give back the memory of a huge message
        return messages
