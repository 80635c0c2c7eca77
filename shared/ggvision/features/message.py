"""The `ggvision.features/1` message: built from a vector, its source and an encoding; read back.

The vector goes in `vector`, except for csv, where it is the top-level `features` string of the
DeepLens shape (see the schema's description for why).
"""

import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from .encoding import DEFAULT_ENCODING, check_encoding, decode, encode

SCHEMA = "ggvision.features/1"


@dataclass(frozen=True)
class BoxSource:
    """The detection a box vector describes: relative [xmin, ymin, xmax, ymax], class, label, score."""

    box: Sequence[float]
    class_id: int
    score: float
    label: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        detection: Dict[str, Any] = {"box": [float(v) for v in self.box], "class_id": int(self.class_id)}
        if self.label:
            detection["label"] = str(self.label)
        detection["score"] = float(self.score)
        return detection


def message(vector: np.ndarray, camera_id: str, seq: int, captured_at: float, model: Mapping[str, str],
            source: Optional[BoxSource] = None, encoding: str = DEFAULT_ENCODING,
            thing_name: Optional[str] = None, ts: Optional[float] = None) -> Dict[str, Any]:
    """A `ggvision.features/1` message for `vector` (1-D; L2-normalised by the caller, as Featurizer
    returns it). `source` None: the whole frame; a BoxSource: that detection's box. `model`: name,
    version and optionally runtime. `ts` defaults to now."""
    check_encoding(encoding)
    values = np.asarray(vector, dtype=np.float32).ravel()
    result: Dict[str, Any] = {"schema": SCHEMA, "ts": time.time() if ts is None else float(ts)}
    if thing_name:
        result["thing_name"] = thing_name
    result.update({"camera_id": camera_id, "seq": int(seq), "captured_at": float(captured_at)})
    if source is None:
        result["source"] = "frame"
    else:
        result["source"] = "box"
        result["detection"] = source.to_json()
    result.update({"model": dict(model), "dim": int(values.size), "encoding": encoding})
    result["features" if encoding == "csv" else "vector"] = encode(values, encoding)
    return result


def message_vector(features_message: Mapping[str, Any]) -> np.ndarray:
    """The float32 vector of a features message, whatever its encoding; ValueError if it does not
    match the message's `dim`."""
    encoding = check_encoding(str(features_message.get("encoding", DEFAULT_ENCODING)))
    field = "features" if encoding == "csv" else "vector"
    if field not in features_message:
        raise ValueError(f"a {encoding} features message has its vector in {field!r}, which is missing")
    values = decode(features_message[field], encoding)
    dim = features_message.get("dim")
    if dim is not None and values.size != dim:
        raise ValueError(f"the vector has {values.size} values, but the message's dim is {dim}")
    return values
