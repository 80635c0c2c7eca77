"""Detections: the one type every step passes along (decoder → detector → service → messages).

Boxes are relative to the source image (0–1), `xmin, ymin, xmax, ymax`, whatever the model's output
layout was; the decoders do the conversion once so nothing downstream needs to know the model.
"""

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

import numpy as np

# Enough for a consumer to place a box on any real image (1e-6 of 100k pixels), small on the wire.
_DIGITS = 6


@dataclass
class Detections:
    class_ids: np.ndarray  # (N,) int64
    scores: np.ndarray  # (N,) float32
    boxes: np.ndarray  # (N, 4) float32: xmin, ymin, xmax, ymax relative to the source image

    def __post_init__(self) -> None:
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        if not (len(self.class_ids) == len(self.scores) == len(self.boxes)):
            raise ValueError(f"Detections need as many class ids ({len(self.class_ids)}), scores "
                             f"({len(self.scores)}) and boxes ({len(self.boxes)})")

    @classmethod
    def empty(cls) -> "Detections":
        """No detections (a constructor: test emptiness with `len(detections) == 0`)."""
        return cls(np.zeros((0,), np.int64), np.zeros((0,), np.float32), np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def _take(self, index: np.ndarray) -> "Detections":
        return Detections(self.class_ids[index], self.scores[index], self.boxes[index])

    def filter(self, score_threshold: float, class_ids: Optional[Iterable[int]] = None) -> "Detections":
        """Detections scoring at least `score_threshold`, of the given classes only when given."""
        keep = self.scores >= score_threshold
        if class_ids is not None:
            keep &= np.isin(self.class_ids, np.asarray(list(class_ids), dtype=np.int64))
        if keep.all():
            return self
        return self._take(keep)

    def sorted(self) -> "Detections":
        """Highest score first; ties keep their original order (stable), so results are repeatable."""
        order = np.argsort(-self.scores, kind="stable")
        return self._take(order)

    def top(self, k: Optional[int]) -> "Detections":
        """The k best detections, sorted by score descending (all of them, sorted, when k is None)."""
        ranked = self.sorted()
        if k is None or k >= len(ranked):
            return ranked
        return ranked._take(np.arange(max(0, int(k))))

    def to_prediction(self) -> List[List[float]]:
        """The v1 connector rows `[class_id, score, xmin, ymin, xmax, ymax]`, by score.

        class_id is an int, as the v1 ML Object Detection connector documents it (so `names[row[0]]`
        works); the other values are plain Python floats.
        """
        ranked = self.sorted()
        rows = np.empty((len(ranked), 5), np.float64)
        rows[:, 0] = ranked.scores
        rows[:, 1:] = ranked.boxes
        return [[int(class_id)] + row for class_id, row in
                zip(ranked.class_ids.tolist(), np.round(rows, _DIGITS).tolist())]

    def labels_present(self, labels: Dict[int, str]) -> Dict[str, str]:
        """str(class id) → name for the classes present that the labels name."""
        present = sorted(set(self.class_ids.tolist()))
        return {str(class_id): labels[class_id] for class_id in present if class_id in labels}
