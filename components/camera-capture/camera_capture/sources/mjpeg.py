"""HTTP(S) MJPEG: a `multipart/x-mixed-replace` stream of JPEGs, or a JPEG snapshot URL polled.

Why our own reader rather than OpenCV's FFmpeg (which can open MJPEG URLs too): FFmpeg's HTTP client
blocks without a usable read timeout when a camera stalls, cannot do Digest authentication reliably
through OpenCV, and its errors quote the URL with the password. Here each read has a socket timeout,
Basic and Digest auth come from urllib (credentials taken out of the URL, never logged), a stop
shuts the socket down at once, and sloppy servers (boundaries with or without `--`, parts without
Content-Length) are accepted. Frames are decoded with OpenCV's JPEG decoder.
"""

import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from ..redaction import redact
from .base import Source, SourceError
from .opencv import to_bgr24

MAX_LINE = 8192  # a boundary or header line longer than this is not MJPEG
MAX_FRAME_BYTES = 32 * 1024 * 1024  # one JPEG part; a 12 Mpx JPEG is a few MB
MAX_HEADER_LINES = 64
USER_AGENT = "ggvision-camera-capture/0.1"


def split_credentials(url: str) -> Tuple[str, Optional[str], Optional[str]]:
    """(url without user-info, user, password): credentials go to the auth handler, not the wire URL."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, urllib.parse.unquote(user), urllib.parse.unquote(password)


def boundary_of(content_type: str) -> Optional[bytes]:
    """The multipart boundary from a Content-Type header, without quotes."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"').encode("latin-1")
    return None


def decode_jpeg_bytes(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise SourceError(f"a part of {len(data)} bytes is not a decodable JPEG")
    return to_bgr24(image)


class MjpegSource(Source):
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._url, user, password = split_credentials(url)
        self.describe = redact(url)
        self.timeout_s = timeout_s
        # Cameras live on the local network: environment proxies (meant for the cloud) are ignored.
        handlers: list = [urllib.request.ProxyHandler({})]
        if user is not None:
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, self._url, user, password or "")
            handlers += [urllib.request.HTTPBasicAuthHandler(passwords),
                         urllib.request.HTTPDigestAuthHandler(passwords)]
        self._opener = urllib.request.build_opener(*handlers)
        self._response: Any = None
        self._boundary: Optional[bytes] = None
        self._at_part_headers = False  # the boundary line was already consumed
        self._snapshot: Optional[bytes] = None

    @property
    def polled(self) -> bool:  # type: ignore[override]
        return self._boundary is None

    @property
    def can_skip(self) -> bool:  # type: ignore[override]
        return self._boundary is not None

    def open(self) -> None:
        response = self._request()
        content_type = response.headers.get("Content-Type", "")
        kind = content_type.split(";")[0].strip().lower()
        if kind.startswith("multipart/"):
            boundary = boundary_of(content_type)
            if boundary is None:
                response.close()
                raise SourceError(f"{self.describe}: multipart response without a boundary")
            self._response, self._boundary, self._at_part_headers = response, boundary, False
        elif kind in ("image/jpeg", "image/jpg", "image/pjpeg"):
            # A snapshot URL: one JPEG per request, polled at the camera's frame rate.
            try:
                self._snapshot = self._read_body(response)
            finally:
                response.close()
            decode_jpeg_bytes(self._snapshot)  # not a JPEG: an error now, while opening
            self._boundary = None
        else:
            response.close()
            raise SourceError(f"{self.describe}: Content-Type {kind or 'missing'} is neither "
                              "multipart MJPEG nor image/jpeg")

    def read(self, into: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        return decode_jpeg_bytes(self._next_jpeg())

    def skip(self) -> bool:
        self._next_jpeg()  # a part read off the stream but not decoded
        return True

    def _next_jpeg(self) -> bytes:
        if self._boundary is None:
            if self._snapshot is not None:  # the one fetched by open()
                data, self._snapshot = self._snapshot, None
                return data
            response = self._request()
            try:
                return self._read_body(response)
            finally:
                response.close()
        if self._response is None:
            raise SourceError("stream not open")
        try:
            return self._next_part()
        except (socket.timeout, TimeoutError):
            raise SourceError(f"{self.describe}: no data for {self.timeout_s:g} s") from None
        except OSError as error:
            raise SourceError(f"{self.describe}: connection lost ({error.strerror or error})") from None
        except ValueError as error:  # http.client's chunked-transfer errors and the like
            raise SourceError(f"{self.describe}: broken stream ({error})") from None

    def abort(self) -> None:
        # shutdown() wakes a reader blocked in recv() (it sees the end of the stream); the reading
        # thread then closes the response itself (http.client's close is not thread-safe).
        response = self._response
        sock = _socket_of(response) if response is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            try:
                response.close()
            except Exception:  # a socket already shut down may complain: it is closed either way
                pass

    # -- HTTP ----------------------------------------------------------------------------------

    def _request(self) -> Any:
        request = urllib.request.Request(self._url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
        try:
            response = self._opener.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as error:
            error.close()
            hint = ": check the user name and password in the Source URL" if error.code in (401, 403) else ""
            raise SourceError(f"{self.describe}: HTTP {error.code} {error.reason}{hint}") from None
        except urllib.error.URLError as error:
            raise SourceError(f"{self.describe}: {_reason(error.reason)}") from None
        except (socket.timeout, TimeoutError):
            raise SourceError(f"{self.describe}: no answer within {self.timeout_s:g} s") from None
        except (OSError, ValueError) as error:
            raise SourceError(f"{self.describe}: {error}") from None
        return response

    def _read_body(self, response: Any) -> bytes:
        try:
            data = response.read(MAX_FRAME_BYTES + 1)
        except (socket.timeout, TimeoutError):
            raise SourceError(f"{self.describe}: no data for {self.timeout_s:g} s") from None
        except OSError as error:
            raise SourceError(f"{self.describe}: connection lost ({error.strerror or error})") from None
        if len(data) > MAX_FRAME_BYTES:
            raise SourceError(f"{self.describe}: image larger than {MAX_FRAME_BYTES} bytes")
        return data

    # -- multipart -----------------------------------------------------------------------------

    def _line(self) -> bytes:
        line = self._response.readline(MAX_LINE)
        if not line:
            raise SourceError(f"{self.describe}: the server closed the stream")
        return line

    def _boundary_kind(self, line: bytes) -> Optional[str]:
        """"part" for a boundary line, "end" for the closing one, else None."""
        stripped = line.strip()
        # Servers disagree on whether the header's boundary includes the leading "--": accept both.
        if stripped in (b"--" + self._boundary, self._boundary):
            return "part"
        if stripped in (b"--" + self._boundary + b"--", self._boundary + b"--"):
            return "end"
        return None

    def _next_part(self) -> bytes:
        if not self._at_part_headers:
            skipped = 0
            while True:
                line = self._line()
                kind = self._boundary_kind(line)
                if kind == "end":
                    raise SourceError(f"{self.describe}: the server ended the stream")
                if kind == "part":
                    break
                skipped += len(line)
                if skipped > MAX_FRAME_BYTES:
                    raise SourceError(f"{self.describe}: no multipart boundary in {skipped} bytes")
        self._at_part_headers = False
        length = None
        for _ in range(MAX_HEADER_LINES):
            line = self._line()
            if not line.strip():
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise SourceError(f"{self.describe}: bad Content-Length {value.strip()!r}") from None
        else:
            raise SourceError(f"{self.describe}: part headers never end")
        if length is not None:
            if not 0 < length <= MAX_FRAME_BYTES:
                raise SourceError(f"{self.describe}: part of {length} bytes (allowed 1 to {MAX_FRAME_BYTES})")
            data = self._read_exactly(length)
            return data
        return self._read_until_boundary()

    def _read_exactly(self, length: int) -> bytes:
        chunks = []
        remaining = length
        while remaining:
            chunk = self._response.read(remaining)
            if not chunk:
                raise SourceError(f"{self.describe}: the server closed the stream mid-frame")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _read_until_boundary(self) -> bytes:
        # No Content-Length: the part runs to the next boundary line (its CRLF belongs to the boundary).
        chunks = []
        size = 0
        while True:
            line = self._response.readline(MAX_LINE)
            if not line:
                raise SourceError(f"{self.describe}: the server closed the stream mid-frame")
            kind = self._boundary_kind(line) if len(line) <= len(self._boundary) + 8 else None
            if kind is not None:
                # After the closing boundary the next read finds EOF and reports the end.
                self._at_part_headers = kind == "part"
                break
            chunks.append(line)
            size += len(line)
            if size > MAX_FRAME_BYTES:
                raise SourceError(f"{self.describe}: part larger than {MAX_FRAME_BYTES} bytes")
        data = b"".join(chunks)
        return data[:-2] if data.endswith(b"\r\n") else data.rstrip(b"\n")


def _socket_of(response: Any) -> Optional[socket.socket]:
    # http.client keeps the socket in response.fp (a SocketIO in a BufferedReader).
    raw = getattr(getattr(response, "fp", None), "raw", None)
    return getattr(raw, "_sock", None)


def _reason(reason: Any) -> str:
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "no answer (timed out)"
    if isinstance(reason, OSError):
        return reason.strerror or str(reason)
    return str(reason)
