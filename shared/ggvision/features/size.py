"""IoT Core's payload limit for a features message: checked before sending, with a way out named.

IoT Core refuses a publish above 128 KB (131072 bytes, the whole payload). A 576-value vector is
about 1.5 KB in base64-float16 and 6–7 KB in json, so only large dimensions or a small limit hit it.
"""

import json
from typing import Any, Mapping, Optional

from .encoding import ENCODINGS, check_encoding

IOT_CORE_MAX_PAYLOAD = 131072
# The longest text `encode` writes for one value in json/csv ("-1.2345678e-05") plus its separator.
_MAX_TEXT_PER_VALUE = 15


class PayloadTooLarge(ValueError):
    """A message is above the payload limit. The message names size, limit, dimension and a way out."""

    def __init__(self, size: int, limit: int, dim: int, encoding: str, fits: Optional[str]) -> None:
        if fits:
            hint = f"use encoding {fits}, which fits"
        else:
            hint = "no encoding fits: use a model with a smaller feature dimension"
        super().__init__(f"a features message of {size} bytes is above the IoT Core payload limit of "
                         f"{limit} bytes (dimension {dim}, encoding {encoding}); {hint}")
        self.size, self.limit, self.dim, self.encoding, self.fits = size, limit, dim, encoding, fits


def payload_bytes(message: Mapping[str, Any]) -> bytes:
    """The message as compact UTF-8 JSON: what is published, so what is measured."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode("utf-8")


def vector_text_size(dim: int, encoding: str) -> int:
    """The bytes the vector takes in a message: exact for base64, an upper bound for json and csv."""
    check_encoding(encoding)
    if encoding.startswith("base64-"):
        width = 2 if encoding == "base64-float16" else 4
        return 4 * ((dim * width + 2) // 3) + 2  # + the quotes
    return dim * _MAX_TEXT_PER_VALUE + 2


def check_payload(payload: bytes, dim: int, encoding: str, overhead: int,
                  limit: int = IOT_CORE_MAX_PAYLOAD) -> bytes:
    """`payload` itself when it fits `limit`; else PayloadTooLarge naming the smallest encoding that
    fits. `overhead`: the payload's bytes besides the vector's text (everything an encoding keeps)."""
    size = len(payload)
    if size <= limit:
        return payload
    # + the field name's length: csv's `features` is one byte longer than `vector`.
    fits = next((other for other in ENCODINGS if other != encoding
                 and overhead + len("features") + vector_text_size(dim, other) <= limit), None)
    raise PayloadTooLarge(size, limit, dim, encoding, fits)


def iot_payload(message: Mapping[str, Any], limit: int = IOT_CORE_MAX_PAYLOAD) -> bytes:
    """A features message as the bytes to publish to IoT Core, refused (PayloadTooLarge) above `limit`."""
    payload = payload_bytes(message)
    bare = {key: value for key, value in message.items() if key not in ("vector", "features")}
    overhead = len(payload_bytes(bare))
    return check_payload(payload, int(message["dim"]), str(message["encoding"]), overhead, limit)
