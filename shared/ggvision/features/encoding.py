"""A feature vector as message text, and back: the four encodings of `ggvision.features/1`.

- `base64-float16` (default): base64 of little-endian float16, 2 bytes a value before base64; ample
  precision for cosine search of unit vectors (relative error about 5e-4) at a third of json's size.
- `base64-float32`: base64 of little-endian float32, exact.
- `json`: a list of numbers (each float32's shortest repr), exact; readable in an IoT rule's SQL.
- `csv`: one string "f1,f2,…", the DeepLens visual-search shape (`{"features": "…"}`), exact.
"""

import base64
import binascii
from typing import List, Sequence, Union

import numpy as np

ENCODINGS = ("base64-float16", "base64-float32", "json", "csv")
DEFAULT_ENCODING = "base64-float16"

# Explicit little-endian dtypes: the message must read the same on a big-endian consumer.
_BINARY = {"base64-float16": np.dtype("<f2"), "base64-float32": np.dtype("<f4")}

Encoded = Union[str, List[float]]


def check_encoding(encoding: str) -> str:
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not allowed (allowed: {', '.join(ENCODINGS)})")
    return encoding


def encode(vector: Union[np.ndarray, Sequence[float]], encoding: str = DEFAULT_ENCODING) -> Encoded:
    """A 1-D vector as a base64 string, a list of numbers (json) or a comma-separated string (csv).

    Raises ValueError for an unknown encoding, a vector that is not 1-D and non-empty, or a value that
    is not finite (NaN and infinity have no JSON form, and float16 overflows above 65504)."""
    check_encoding(encoding)
    values = np.asarray(vector, dtype=np.float32)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"a feature vector must be 1-D and non-empty, not of shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("a feature vector must hold finite numbers only (it has NaN or infinity)")
    binary = _BINARY.get(encoding)
    if binary is not None:
        if binary.itemsize == 2 and float(np.abs(values).max()) > float(np.finfo(np.float16).max):
            raise ValueError("the vector has values beyond float16's range (±65504): L2-normalise it, "
                             "or use base64-float32")
        return base64.b64encode(values.astype(binary).tobytes()).decode("ascii")
    # str(np.float32) is the shortest text that reads back as the same float32 (numpy >= 1.14).
    texts = [str(value) for value in values]
    if encoding == "csv":
        return ",".join(texts)
    return [float(text) for text in texts]


def decode(encoded: Encoded, encoding: str = DEFAULT_ENCODING) -> np.ndarray:
    """The float32 vector of `encoded` (see `encode`). Raises ValueError for malformed input."""
    check_encoding(encoding)
    binary = _BINARY.get(encoding)
    if binary is not None:
        if not isinstance(encoded, str):
            raise ValueError(f"a {encoding} vector must be a string, not {type(encoded).__name__}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"the {encoding} vector is not valid base64") from None
        if not raw or len(raw) % binary.itemsize:
            raise ValueError(f"the {encoding} vector holds {len(raw)} bytes, not a whole number of "
                             f"{binary.itemsize}-byte values")
        return np.frombuffer(raw, dtype=binary).astype(np.float32)
    if encoding == "csv":
        if not isinstance(encoded, str) or not encoded.strip():
            raise ValueError("a csv vector must be a non-empty string of comma-separated numbers")
        items: Sequence = encoded.split(",")
    else:
        if not isinstance(encoded, list) or not encoded:
            raise ValueError("a json vector must be a non-empty list of numbers")
        if any(isinstance(item, bool) or not isinstance(item, (int, float)) for item in encoded):
            raise ValueError("a json vector must hold numbers only")
        items = encoded
    try:
        values = np.array([float(item) for item in items], dtype=np.float32)
    except ValueError:
        raise ValueError(f"the {encoding} vector holds something that is not a number") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"the {encoding} vector holds a value that is not a finite number")
    return values
