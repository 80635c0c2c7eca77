"""The printed summary (and summary.json): frames and rates per stage, detections per class, outputs."""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from demo.frame_index import ViewerIndex
from demo.monitor import PipelineCounts


@dataclass
class StageFigures:
    """One stage's figures: counted by the demo, and as the stage reported them on its status topic."""

    frames: int
    fps: float
    reported: Dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoSummary:
    seconds: float
    source: str
    camera: StageFigures
    detector: StageFigures
    viewer: StageFigures
    viewer_draw_ms: float
    viewer_missed: int
    classes: Dict[str, Dict[str, int]]
    iot_core_messages: int
    outputs: Dict[str, str]
    model: Optional[Dict[str, Any]] = None


def summarise(seconds: float, source: str, counts: PipelineCounts, index: ViewerIndex,
              iot_core_messages: int, outputs: Dict[str, str]) -> DemoSummary:
    per_second = (lambda n: round(n / seconds, 2)) if seconds > 0 else (lambda n: 0.0)
    camera = counts.camera_status or {}
    detector = counts.detector_status or {}
    draw_ms = [frame.draw_ms for frame in index.drawn]
    return DemoSummary(
        seconds=round(seconds, 1), source=source,
        camera=StageFigures(counts.frames, per_second(counts.frames),
                            _pick(camera, "fps_in", "fps_out", "frames_out", "dropped", "reconnects",
                                  "last_error")),
        detector=StageFigures(counts.inferred, per_second(counts.inferred),
                              _pick(detector, "fps", "inference_ms_mean", "inference_ms_max",
                                    "frames_inferred", "frames_skipped", "frames_gated", "errors")),
        viewer=StageFigures(len(index.drawn), per_second(len(index.drawn))),
        viewer_draw_ms=round(sum(draw_ms) / len(draw_ms), 2) if draw_ms else 0.0,
        viewer_missed=len(index.missed),
        classes={name: vars(tally).copy() for name, tally in sorted(counts.classes.items())},
        iot_core_messages=iot_core_messages, outputs=outputs, model=detector.get("model"))


def _pick(status: Dict[str, Any], *keys: str) -> Dict[str, Any]:
    return {key: status[key] for key in keys if key in status}


def format_summary(summary: DemoSummary) -> List[str]:
    camera, detector = summary.camera.reported, summary.detector.reported
    model = summary.model or {}
    lines = [
        "",
        f"demo summary ({summary.seconds:g} s on {summary.source})",
        "  camera     {} frames read ({:.1f} fps){}".format(
            summary.camera.frames, summary.camera.fps,
            "; reported {} fps in, {} fps out, {} dropped".format(
                camera.get("fps_in"), camera.get("fps_out"), camera.get("dropped")) if camera else ""),
        "  detector   {} frames inferred ({:.1f} fps){}".format(
            summary.detector.frames, summary.detector.fps,
            "; reported {} fps, inference {} ms mean / {} ms max, {} gated, {} skipped; model {} {} ({})"
            .format(detector.get("fps"), detector.get("inference_ms_mean"), detector.get("inference_ms_max"),
                    detector.get("frames_gated"), detector.get("frames_skipped"), model.get("name"),
                    model.get("version"), model.get("runtime")) if detector else ""),
        f"  viewer     {summary.viewer.frames} frames annotated ({summary.viewer.fps:.1f} fps), "
        f"{summary.viewer_draw_ms:.1f} ms per frame (read + draw); {summary.viewer_missed} frames missed",
        "  detections per class:" + ("" if summary.classes else " none"),
    ]
    for name, tally in summary.classes.items():
        lines.append("    {:<14} {} boxes in {} frames, at most {} in one frame".format(
            name, tally["boxes"], tally["frames_with"], tally["max_per_frame"]))
    lines.append(f"  IoT Core   {summary.iot_core_messages} messages it would have sent")
    for label, path in summary.outputs.items():
        size = os.path.getsize(path) if os.path.isfile(path) else None
        lines.append("  {:<10} {}{}".format(label, path, "" if size is None else f" ({size / 1e6:.1f} MB)"))
    return lines


def write_summary_json(summary: DemoSummary, path: str) -> None:
    with open(path, "w") as stream:
        json.dump(asdict(summary), stream, indent=2)
        stream.write("\n")
