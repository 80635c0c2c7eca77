"""The detection benchmark's picture: throughput and latency of the raw runtime, the monolithic loop and
the pipeline of components, for each model, drawn with OpenCV (no plotting library needed)."""

import os
from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np

WIDTH, HEIGHT = 1200, 520
BAR_COLOURS = [(180, 119, 31), (14, 127, 255), (44, 160, 44)]  # BGR: raw runtime, monolithic loop, pipeline
STAGES = ["raw runtime (preprocess + infer + decode)", "monolithic loop (one process)",
          "pipeline (CameraCapture -> ring -> ObjectDetection -> IPC)"]
INK = (40, 40, 40)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_detection_chart(result: Dict[str, Any], path: str) -> str:
    """Write the chart of a full `detection` result to `path` (PNG); returns the path."""
    models = [("real detector (pedestrian-ssdlite)", result["details"]),
              ("colour-blob test model", result["details"]["colour_model"])]
    throughput = [(name, _throughputs(figures)) for name, figures in models]
    latency = [(name, _latencies(figures)) for name, figures in models]
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    _panel(image, (0, 0, WIDTH // 2, HEIGHT - 70), "throughput (frames/s, higher is better)", throughput)
    _panel(image, (WIDTH // 2, 0, WIDTH // 2, HEIGHT - 70), "latency per frame (ms p50, lower is better)",
           latency)
    _legend(image, HEIGHT - 60)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, image):
        raise RuntimeError(f"cannot write {path}")
    return path


def _throughputs(figures: Dict[str, Any]) -> List[float]:
    raw, pipeline = figures["raw"], figures["end_to_end"]
    return [1000.0 / raw["detect_ms"]["p50"], raw["fps"], pipeline["detections_per_s"]]


def _latencies(figures: Dict[str, Any]) -> List[float]:
    raw, pipeline = figures["raw"], figures["end_to_end"]
    return [raw["detect_ms"]["p50"], raw["per_frame_ms"]["p50"], pipeline["latency_ms"]["p50"]]


def _panel(image: np.ndarray, box: Tuple[int, int, int, int], title: str,
           groups: Sequence[Tuple[str, List[float]]]) -> None:
    left, top, width, height = box
    cv2.putText(image, title, (left + 20, top + 32), FONT, 0.6, INK, 1, cv2.LINE_AA)
    base = top + height - 40
    plot_top = top + 60
    group_width = (width - 60) // len(groups)
    bar_width = (group_width - 40) // 3
    for index, (name, values) in enumerate(groups):
        # Each model on its own scale: their costs differ twentyfold.
        scale = (base - plot_top) / max(max(values), 1e-9)
        x0 = left + 40 + index * group_width
        for bar, value in enumerate(values):
            x = x0 + bar * bar_width
            y = int(base - value * scale)
            cv2.rectangle(image, (x + 4, y), (x + bar_width - 4, base), BAR_COLOURS[bar], -1)
            text = f"{value:.1f}"
            cv2.putText(image, text, (x + 6, y - 6), FONT, 0.45, INK, 1, cv2.LINE_AA)
        cv2.putText(image, name, (x0, base + 24), FONT, 0.5, INK, 1, cv2.LINE_AA)
    cv2.line(image, (left + 30, base), (left + width - 20, base), INK, 1)


def _legend(image: np.ndarray, top: int) -> None:
    x = 20
    for colour, label in zip(BAR_COLOURS, STAGES):
        cv2.rectangle(image, (x, top + 8), (x + 18, top + 26), colour, -1)
        cv2.putText(image, label, (x + 26, top + 23), FONT, 0.45, INK, 1, cv2.LINE_AA)
        x += 30 + cv2.getTextSize(label, FONT, 0.45, 1)[0][0] + 20
