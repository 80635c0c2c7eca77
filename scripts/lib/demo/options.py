"""The demo's command line."""

import argparse
import os
from dataclasses import dataclass, field
from typing import List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# OpenCV's pedestrian sample, from Debian's opencv-doc (scripts/setup installs it; docs/demo.md says why
# it is not in the repository). The small synthetic video stays for tests and as a fallback.
VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
SYNTHETIC = os.path.join(ROOT, "scripts", "demo-assets", "sample-video.avi")
DEFAULT_SECONDS = 60.0


@dataclass
class DemoOptions:
    """What to run, for how long, and where everything goes."""

    source: str
    loop: bool
    seconds: float = DEFAULT_SECONDS
    frames: Optional[int] = None          # stop once the viewer has drawn this many frames
    output: str = os.path.join(ROOT, "demo-output")
    run_dir: str = os.path.join(ROOT, "local-nucleus-run")
    build_dir: str = os.path.join(ROOT, "greengrass-build")
    no_build: bool = False
    runtime_work: Optional[str] = None     # keep ggvision.DLRRuntime's venv elsewhere (tests)
    camera_id: str = "demo"
    model: Optional[str] = None            # ObjectDetection's ModelPath; default: the recipe's model
    extra_recipe_dirs: List[str] = field(default_factory=list)


def default_video() -> str:
    return VTEST if os.path.isfile(VTEST) else SYNTHETIC


def parse_args(argv: Optional[List[str]] = None) -> DemoOptions:
    parser = argparse.ArgumentParser(
        prog="scripts/demo", description="Run CameraCapture -> ObjectDetection -> the demo viewer through "
        "the local nucleus and leave an annotated MP4, a contact sheet, the IoT Core messages and a "
        "summary in demo-output/.")
    parser.add_argument("positional_seconds", nargs="?", type=float, metavar="SECONDS",
                        help="same as --seconds (kept for the old `scripts/demo 120`)")
    sources = parser.add_mutually_exclusive_group()
    sources.add_argument("--webcam", nargs="?", const=0, type=int, metavar="N",
                         help="a V4L2/USB camera (index N, default 0)")
    sources.add_argument("--video", metavar="PATH",
                         help=f"a video file, played in a loop (default: {VTEST}, or the small synthetic "
                         "video when opencv-doc is not installed)")
    sources.add_argument("--rtsp", metavar="URL", help="an RTSP (or HTTP MJPEG) stream")
    parser.add_argument("--seconds", type=float, help=f"how long to run once everything is up "
                        f"(default {DEFAULT_SECONDS:g}); Ctrl-C stops earlier, cleanly")
    parser.add_argument("--frames", type=int, metavar="N",
                        help="stop as soon as the viewer has drawn N frames (or after --seconds)")
    parser.add_argument("--output", default=DemoOptions.output, metavar="DIR",
                        help="where the outputs go (default demo-output/; emptied first)")
    parser.add_argument("--run-dir", default=DemoOptions.run_dir, metavar="DIR",
                        help="the local nucleus's folder (default local-nucleus-run/, which keeps the "
                        "runtime's environment between runs)")
    parser.add_argument("--build-dir", default=DemoOptions.build_dir, metavar="DIR",
                        help="where scripts/build writes (default greengrass-build/)")
    parser.add_argument("--no-build", action="store_true", help="run the existing build")
    parser.add_argument("--model", metavar="FOLDER",
                        help="a model folder for ObjectDetection (its ModelPath); default the bundled model")
    parser.add_argument("--runtime-work", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--camera-id", default="demo", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seconds is not None and args.positional_seconds is not None:
        parser.error("give the seconds once: either SECONDS or --seconds")
    seconds = args.seconds if args.seconds is not None else args.positional_seconds
    seconds = DEFAULT_SECONDS if seconds is None else seconds
    if seconds <= 0:
        parser.error("--seconds must be positive")
    if args.frames is not None and args.frames <= 0:
        parser.error("--frames must be positive")
    if args.webcam is not None:
        source, loop = str(args.webcam), False
    elif args.rtsp:
        source, loop = args.rtsp, False
    else:
        source, loop = os.path.abspath(args.video or default_video()), True
        if not os.path.isfile(source):
            parser.error(f"no video file at {source}")
    return DemoOptions(source=source, loop=loop, seconds=seconds, frames=args.frames,
                       output=os.path.abspath(args.output), run_dir=os.path.abspath(args.run_dir),
                       build_dir=os.path.abspath(args.build_dir), no_build=args.no_build,
                       runtime_work=args.runtime_work, camera_id=args.camera_id,
                       model=os.path.abspath(args.model) if args.model else None)
