"""Where the viewer leaves its work: one annotated JPEG per drawn frame and an index (JSON lines)
that says, per detections message, which frame it drew and which boxes — or why it could not."""

import json
import os
from typing import IO, Optional

import cv2
import numpy as np
from annotate import FrameDetections

INDEX = "index.jsonl"


class AnnotatedFrameLog:
    """`<folder>/<camera>-<seq>.jpg` and `<folder>/index.jsonl`, appended as frames are drawn."""

    def __init__(self, folder: str, jpeg_quality: int = 90) -> None:
        self.folder = folder
        self.jpeg_quality = jpeg_quality
        os.makedirs(folder, exist_ok=True)
        # open for the whole run, one line per frame; close() ends it
        self._index: Optional[IO[str]] = open(os.path.join(folder, INDEX), "a")  # noqa: SIM115

    def drawn(self, detections: FrameDetections, image: np.ndarray, frame_number: int, draw_ms: float) -> str:
        """Write the annotated frame, then its index line: the index never names a missing file."""
        name = f"{detections.camera_id}-{detections.seq:08d}.jpg"
        path = os.path.join(self.folder, name)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        with open(path + ".tmp", "wb") as stream:
            stream.write(data.tobytes())
        os.replace(path + ".tmp", path)
        height, width = image.shape[:2]
        self._append({"camera_id": detections.camera_id, "seq": detections.seq, "file": name,
                      "frame_number": frame_number, "width": width, "height": height,
                      "captured_at": detections.captured_at, "prediction": detections.prediction,
                      "labels": detections.labels, "inference_ms": detections.inference_ms,
                      "reused": detections.reused, "draw_ms": round(draw_ms, 3)})
        return path

    def missed(self, detections: FrameDetections, reason: str) -> None:
        """A detections message whose frame the viewer could not read (overwritten before it got there)."""
        self._append({"camera_id": detections.camera_id, "seq": detections.seq, "missed": reason})

    def _append(self, record: dict) -> None:
        # One line per record, flushed: the demo wrapper follows the index while the viewer runs.
        if self._index is None:
            return
        self._index.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._index.flush()

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
