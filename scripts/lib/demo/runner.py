"""scripts/demo from start to end: build, run the pipeline through the local nucleus with a progress
line, stop cleanly, then write the outputs and print the summary."""

import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Dict, List

from local_nucleus.__main__ import wait_until_started
from local_nucleus.device import RUNTIME, DeviceError, build_for_this_machine
from local_nucleus.launcher import Launcher, LauncherError
from local_nucleus.recipes import RecipeError
from local_nucleus.server import LocalNucleus

from demo.config import demo_configuration
from demo.contact_sheet import write_contact_sheet
from demo.frame_index import count_drawn, read_index
from demo.monitor import PipelineMonitor
from demo.options import ROOT, DemoOptions
from demo.progress import ProgressLine
from demo.summary import format_summary, summarise, write_summary_json
from demo.video import playback_fps, write_mp4

DEMO_ASSETS = os.path.join(ROOT, "scripts", "demo-assets")
PIPELINE = ["ggvision.CameraCapture", "ggvision.ObjectDetection", "ggvision.demo.Viewer"]


def run_demo(options: DemoOptions) -> int:
    """Run the demo; 0 when it produced annotated frames and every component ran, 1 otherwise."""
    frames_folder = os.path.join(options.output, "frames")
    shutil.rmtree(options.output, ignore_errors=True)  # outputs of one run only
    os.makedirs(frames_folder)
    os.makedirs(options.run_dir, exist_ok=True)
    if options.no_build:
        build = {"recipes": os.path.join(options.build_dir, "recipes"),
                 "artifacts": os.path.join(options.build_dir, "artifacts")}
    else:
        print("demo: building the components for this machine (scripts/build)", flush=True)
        try:
            build = build_for_this_machine(options.build_dir)
        except DeviceError as error:
            print(f"demo: {error}", file=sys.stderr)
            return 1
    # A ring folder of this run's own: a test or another demo on the same machine uses other files.
    ring_folder = os.path.join("/dev/shm", f"ggvision-demo-{os.getpid()}")
    configuration = demo_configuration(options.source, options.loop, options.camera_id, frames_folder,
                                       ring_folder, options.model)
    with open(os.path.join(options.run_dir, "demo-config.json"), "w") as stream:
        json.dump(configuration, stream, indent=2)
    iot_log = os.path.join(options.run_dir, "iot-core.jsonl")
    if os.path.exists(iot_log):
        os.unlink(iot_log)
    socket_folder = tempfile.mkdtemp(prefix="ggn")  # AF_UNIX paths are limited to 107 bytes
    nucleus = LocalNucleus(os.path.join(socket_folder, "ipc.sock"), iot_log)
    launcher = Launcher(nucleus, [build["recipes"], os.path.join(DEMO_ASSETS, "recipes")],
                        [build["artifacts"], os.path.join(DEMO_ASSETS, "artifacts")], options.run_dir,
                        config_overrides=configuration, components=PIPELINE, output=None,
                        shared_work={RUNTIME: options.runtime_work} if options.runtime_work else None)
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set())
                for signum in (signal.SIGINT, signal.SIGTERM)}
    monitor = None
    started_at = time.monotonic()
    elapsed = 0.0
    try:
        nucleus.start()
        monitor = PipelineMonitor(nucleus, os.path.join(options.output, "detections.jsonl"))
        launcher.start()
        print(f"demo: {options.source} -> CameraCapture -> ObjectDetection -> demo viewer; component logs "
              f"in {os.path.join(options.run_dir, 'logs')}", flush=True)
        wait_until_started(launcher, stop)
        broken = [name for name in launcher.components if launcher.state(name) == "BROKEN"]
        if not broken:
            started_at = time.monotonic()
            elapsed = _run(options, launcher, monitor, frames_folder, stop, started_at)
    except (LauncherError, RecipeError) as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    finally:
        print("demo: stopping", flush=True)
        launcher.stop()
        if monitor is not None:
            monitor.close()
        nucleus.stop()
        shutil.rmtree(socket_folder, ignore_errors=True)
        shutil.rmtree(ring_folder, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    failed = _report_failed(launcher)
    _copy_iot_core_log(iot_log, os.path.join(options.output, "iot-core.jsonl"))
    produced = monitor is not None and _write_outputs(options, monitor, elapsed, frames_folder)
    return 0 if produced and not failed else 1


def _copy_iot_core_log(recorded: str, copy: str) -> None:
    # What the local nucleus recorded as IoT Core publishes; an empty file when nothing was sent.
    if os.path.exists(recorded):
        shutil.copyfile(recorded, copy)
    else:
        open(copy, "w").close()


def _run(options: DemoOptions, launcher: Launcher, monitor: PipelineMonitor, frames_folder: str,
         stop: threading.Event, started_at: float) -> float:
    """Until --seconds have passed, --frames are drawn, Ctrl-C, or a component gives up."""
    progress = ProgressLine()
    elapsed = 0.0
    try:
        while not stop.wait(0.5):
            elapsed = time.monotonic() - started_at
            counts, drawn = monitor.snapshot(), count_drawn(frames_folder)
            progress.update(elapsed, counts.frames, counts.inferred, counts.boxes, drawn)
            if elapsed >= options.seconds or (options.frames is not None and drawn >= options.frames):
                break
            if any(launcher.state(name) == "BROKEN" for name in PIPELINE):
                break
    finally:
        progress.done()
    return time.monotonic() - started_at


def _report_failed(launcher: Launcher) -> List[str]:
    """Components that did not run to the end, each with the tail of its log."""
    failed = [name for name in launcher.components
              if launcher.state(name) in ("BROKEN", "ERRORED") or "BROKEN" in launcher.state_history(name)]
    for name in failed:
        print(f"demo: {name} is {launcher.state(name)}; its last lines:", file=sys.stderr)
        for line in launcher.log_lines(name)[-15:]:
            print(f"  [{name}] {line}", file=sys.stderr)
    return failed


def _write_outputs(options: DemoOptions, monitor: PipelineMonitor, elapsed: float,
                   frames_folder: str) -> bool:
    index = read_index(frames_folder)
    outputs: Dict[str, str] = {}
    if index.drawn:
        print(f"demo: encoding {len(index.drawn)} annotated frames", flush=True)
        video = write_mp4(index.drawn, os.path.join(options.output, "annotated.mp4"),
                          playback_fps(index.drawn))
        outputs["video"] = video.path
        sheet = os.path.join(options.output, "contact-sheet.png")
        write_contact_sheet(index.drawn, sheet)
        outputs["sheet"] = sheet
    iot_copy = os.path.join(options.output, "iot-core.jsonl")
    with open(iot_copy) as stream:
        iot_messages = sum(1 for line in stream if line.strip())
    outputs.update({"iot core": iot_copy, "detections": os.path.join(options.output, "detections.jsonl"),
                    "frames": os.path.join(frames_folder, "index.jsonl")})
    summary = summarise(elapsed, options.source, monitor.snapshot(), index, iot_messages, outputs)
    outputs["summary"] = os.path.join(options.output, "summary.json")
    write_summary_json(summary, outputs["summary"])
    for line in format_summary(summary):
        print(line)
    if not index.drawn:
        print("demo: no frame was annotated; see the component logs", file=sys.stderr)
    return bool(index.drawn)
