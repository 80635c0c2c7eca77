"""Skip a vector too similar to the last one published for the same source: a static scene sends nothing.

The reference is the last vector *published* for a key (a camera, a camera and class, …), not the last
one seen: a scene drifting slowly still gets published once it has moved far enough from what the
cloud last received. The caller asks `is_duplicate`, publishes (or not: a rate cap may refuse), and
reports what it published with `published`; `accept` does both for a caller with nothing in between.
"""

from collections import OrderedDict
from typing import Hashable, Optional

import numpy as np

# Sources remembered at most; the least recently published is forgotten first (a camera list changes,
# box keys come and go), so memory stays bounded on a long-running device.
DEFAULT_MAX_KEYS = 4096


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity in [-1, 1]; two zero vectors are identical (1.0), one zero vector is unlike (0.0)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        return 0.0  # another model: nothing in common to compare
    norm_a, norm_b = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if norm_a == 0.0 or norm_b == 0.0:
        return 1.0 if norm_a == norm_b else 0.0
    return float(np.clip(np.dot(a, b) / (norm_a * norm_b), -1.0, 1.0))


class Deduplicator:
    """Per-key cosine-similarity skip. `threshold` in [0, 1]; None or 1.0 never skips."""

    def __init__(self, threshold: Optional[float], max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0.0 <= threshold <= 1.0):
            raise ValueError(f"dedup threshold {threshold!r} is not allowed (allowed: a number from 0 to 1, "
                             f"or none to publish every vector)")
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys {max_keys!r} is not allowed (allowed: a whole number of at least 1)")
        self.threshold = None if threshold is None else float(threshold)
        self.max_keys = max_keys
        self.skipped = 0
        self._last: OrderedDict[Hashable, np.ndarray] = OrderedDict()

    def is_duplicate(self, key: Hashable, vector: np.ndarray) -> bool:
        """True (and counted in `skipped`) when `vector` is above the threshold of similarity to the last
        vector published for `key`."""
        if self.threshold is None:
            return False
        last = self._last.get(key)
        if last is None or cosine_similarity(last, vector) <= self.threshold:
            return False
        self.skipped += 1
        return True

    def published(self, key: Hashable, vector: np.ndarray) -> None:
        """Record `vector` as the last one published for `key`."""
        self._last[key] = np.array(vector, dtype=np.float32).ravel()  # a copy: callers reuse buffers
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)

    def accept(self, key: Hashable, vector: np.ndarray) -> bool:
        """`not is_duplicate`, recording the vector as published when it is not a duplicate."""
        if self.is_duplicate(key, vector):
            return False
        self.published(key, vector)
        return True

    def forget(self, key: Hashable) -> None:
        """Drop `key`'s reference (e.g. its camera was removed): its next vector is published."""
        self._last.pop(key, None)
