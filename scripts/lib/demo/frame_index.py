"""The viewer's index (frames/index.jsonl): one line per detections message it handled — the frame
it drew, with the boxes it drew, or why it could not read the frame."""

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List

INDEX = "index.jsonl"


@dataclass(frozen=True)
class DrawnFrame:
    """An annotated frame on disk and the detections drawn on it."""

    camera_id: str
    seq: int
    path: str
    width: int
    height: int
    captured_at: float
    prediction: List[List[float]]
    labels: Dict[str, str]
    draw_ms: float


@dataclass
class ViewerIndex:
    drawn: List[DrawnFrame]
    missed: List[Dict[str, Any]]


def count_drawn(folder: str) -> int:
    """How many frames the viewer has drawn so far (cheap enough to call twice a second)."""
    path = os.path.join(folder, INDEX)
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as stream:
        return sum(1 for line in stream if b'"file"' in line)


def read_index(folder: str) -> ViewerIndex:
    """Every complete line, drawn frames in seq order (a line cut short by the stop is skipped)."""
    drawn: List[DrawnFrame] = []
    missed: List[Dict[str, Any]] = []
    path = os.path.join(folder, INDEX)
    if os.path.exists(path):
        with open(path) as stream:
            for line in stream:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if "file" not in record:
                    missed.append(record)
                    continue
                drawn.append(DrawnFrame(record["camera_id"], int(record["seq"]),
                                        os.path.join(folder, record["file"]), int(record["width"]),
                                        int(record["height"]), float(record["captured_at"]),
                                        record["prediction"], record["labels"], float(record["draw_ms"])))
    drawn.sort(key=lambda frame: (frame.camera_id, frame.seq))
    return ViewerIndex(drawn, missed)
