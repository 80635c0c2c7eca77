"""Memory footprint: the resident set (VmRSS) of each component's Python process, idle and under load.

The real components as Greengrass runs them: built for this machine, in ggvision.DLRRuntime's
environment, started from their recipes through the local nucleus and its launcher (as the
detection area does). Each component's process is its `main.py` Python (the child of the launcher's
`sh -c`); its /proc/<pid>/status VmRSS is sampled every 0.25 s over a window once it has settled.

- idle: CameraCapture reads a 1280×720 video at 1 fps; ObjectDetection has its model loaded and
  subscribes to a camera topic nobody publishes on (no frames to infer).
- load: CameraCapture at 15 fps, ObjectDetection inferring each frame (motion gate off; the recipe's
  default model, pedestrian-ssdlite, with ONNX Runtime).
- idle with the colour-blob test model (4.6 KB): ObjectDetection's own memory without a real model's
  (`object_detection_idle_rss_mib_colour_model`); the difference is the model in ONNX Runtime.

Per component and phase: the largest sample (`rss_mib`), the median and VmHWM (the process's peak
since it started); at the end of the window, VmRSS split into RssAnon, RssFile and RssShmem — the
shared memory is the frame ring (4 slots of a 1280×720 frame, about 10.6 MiB), mapped by both
components and so counted in both figures; `private_mib` is RssAnon + RssFile (RssFile is mostly
shared libraries, whose pages the two processes share too).

Headlines: `max_idle_rss_mib`, the larger idle VmRSS of the two components (target: ≤ 80 MiB on
x86_64), `max_load_rss_mib`, and each component's idle and load VmRSS.
"""

import itertools
import os
import shutil
import statistics
import tempfile
import time
from typing import Any, Dict, List, Optional

from local_nucleus.device import RUNTIME, runtime_work_cache
from local_nucleus.launcher import Launcher
from local_nucleus.server import LocalNucleus

from .detection import (
    CAMERA,
    CAMERA_ID,
    DETECTOR,
    INSTALL_TIMEOUT,
    START_TIMEOUT,
    _build,
    _cpu_seconds,
    write_video,
)
from .processes import component_pid
from .results import ROOT

COLOUR_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "demo-model")

IDLE_FRAME_RATE = 1
LOAD_FRAME_RATE = 15
TARGET_IDLE_MIB = 80
_RUNS = itertools.count()


def run(quick: bool = False) -> Dict[str, Any]:
    plan = {"settle_seconds": 3.0 if quick else 10.0, "sample_seconds": 2.0 if quick else 10.0}
    videos = tempfile.mkdtemp(prefix="ggvision-bench-video-")
    parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
    scratch = tempfile.mkdtemp(prefix="ggvision-bench-", dir=parent)
    nucleus_dir = tempfile.mkdtemp(prefix="ggf")  # AF_UNIX socket paths are short
    try:
        video = write_video(os.path.join(videos, "moving.avi"), 60, moving=True)
        built = _build(os.path.join(videos, "build"))
        camera = {"Cameras": [{"CameraId": CAMERA_ID, "Source": video, "Loop": True}],
                  "PlaybackSpeed": "native"}
        idle = measure(built, scratch, nucleus_dir, plan, dict(camera, FrameRate=IDLE_FRAME_RATE),
                       {"FrameTopics": ["ggvision/cameras/nobody/frames"]})
        load = measure(built, scratch, nucleus_dir, plan, dict(camera, FrameRate=LOAD_FRAME_RATE), {})
        colour = measure(built, scratch, nucleus_dir, plan, dict(camera, FrameRate=IDLE_FRAME_RATE),
                         {"FrameTopics": ["ggvision/cameras/nobody/frames"], "ModelPath": COLOUR_MODEL})
    finally:
        shutil.rmtree(videos, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(nucleus_dir, ignore_errors=True)
    components = {name: {"idle": idle[component], "load": load[component]}
                  for name, component in (("camera_capture", CAMERA), ("object_detection", DETECTOR))}
    result: Dict[str, Any] = {
        "max_idle_rss_mib": max(c["idle"]["rss_mib"] for c in components.values()),
        "max_load_rss_mib": max(c["load"]["rss_mib"] for c in components.values()),
        "target_idle_rss_mib": TARGET_IDLE_MIB,
        "processes": "real processes: CameraCapture and ObjectDetection through the local nucleus launcher, "
                     "in ggvision.DLRRuntime's environment",
        "idle": f"camera at {IDLE_FRAME_RATE} fps (1280x720 video), detector subscribed to no camera",
        "load": f"camera at {LOAD_FRAME_RATE} fps (1280x720 video), detector inferring each frame "
                "(motion gate off; the recipe's default model, pedestrian-ssdlite, ONNX Runtime)",
        "object_detection_idle_rss_mib_colour_model": colour[DETECTOR]["rss_mib"],
        "details": {"plan": plan, "components": components,
                    "object_detection_idle_colour_model": colour[DETECTOR]},
    }
    for name, figures in components.items():
        result[f"{name}_idle_rss_mib"] = figures["idle"]["rss_mib"]
        result[f"{name}_load_rss_mib"] = figures["load"]["rss_mib"]
    return result


def measure(built: Dict[str, str], scratch: str, nucleus_dir: str, plan: Dict[str, float],
            camera: Dict[str, Any], detector: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Launch both components, let them settle, then sample each one's VmRSS."""
    name = f"footprint{next(_RUNS)}"
    run_dir = os.path.join(scratch, name)
    rings = os.path.join(scratch, name + "-rings")
    nucleus = LocalNucleus(os.path.join(nucleus_dir, name + ".sock"))
    nucleus.start()
    launcher: Optional[Launcher] = None
    try:
        overrides = {CAMERA: {"MERGE": dict(camera, RingFolder=rings)},
                     DETECTOR: {"MERGE": dict(detector, RingFolder=rings, CountsIntervalSeconds=0)}}
        launcher = Launcher(nucleus, built["recipes"], built["artifacts"], run_dir,
                            config_overrides=overrides, components=[CAMERA, DETECTOR], output=None,
                            shared_work={RUNTIME: runtime_work_cache()})
        launcher.start()
        if not launcher.wait_for_state(RUNTIME, "FINISHED", INSTALL_TIMEOUT):
            raise RuntimeError(f"{RUNTIME} did not install: {launcher.log_lines(RUNTIME)[-10:]}")
        for component in (CAMERA, DETECTOR):
            if not nucleus.wait_for_state(component, "RUNNING", START_TIMEOUT):
                raise RuntimeError(f"{component} did not start: {launcher.log_lines(component)[-10:]}")
        pids = {component: component_pid(run_dir, component) for component in (CAMERA, DETECTOR)}
        time.sleep(plan["settle_seconds"])
        samples: Dict[str, List[float]] = {component: [] for component in pids}
        cpu_before = {component: _cpu_seconds(pid) for component, pid in pids.items()}
        started = time.monotonic()
        deadline = time.monotonic() + plan["sample_seconds"]
        while time.monotonic() < deadline:
            for component, pid in pids.items():
                samples[component].append(status_mib(pid, "VmRSS"))
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        for component in (CAMERA, DETECTOR):
            if nucleus.get_state(component) != "RUNNING":
                raise RuntimeError(f"{component} stopped: {launcher.log_lines(component)[-10:]}")
        return {component: {"rss_mib": round(max(samples[component]), 1),
                            "rss_median_mib": round(statistics.median(samples[component]), 1),
                            "hwm_mib": round(status_mib(pid, "VmHWM"), 1),
                            # At the end of the window: private memory, mapped files (libraries) and
                            # shared memory (the frame ring, shared with the other component).
                            "anon_mib": round(status_mib(pid, "RssAnon"), 1),
                            "file_mib": round(status_mib(pid, "RssFile"), 1),
                            "shmem_mib": round(status_mib(pid, "RssShmem"), 1),
                            "private_mib": round(status_mib(pid, "RssAnon") + status_mib(pid, "RssFile"), 1),
                            "samples": len(samples[component]),
                            "cpu_cores": round((_cpu_seconds(pid) - cpu_before[component]) / elapsed, 3)}
                for component, pid in pids.items()}
    finally:
        if launcher is not None:
            launcher.stop()
        nucleus.stop()


def status_mib(pid: int, field: str) -> float:
    """A /proc/<pid>/status size (VmRSS, VmHWM) in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} for process {pid}")
