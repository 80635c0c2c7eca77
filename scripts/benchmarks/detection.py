"""Object detection end to end against a monolithic loop, on the same model and the same frames.

The headline runs the real detector ObjectDetection ships by default (pedestrian-ssdlite, an SSDLite
MobileNetV2 in ONNX, about 25 ms per frame here) on real footage: OpenCV's `vtest.avi` (pedestrians,
768×576, 10 fps, from Debian's opencv-doc, which scripts/setup installs; without it a synthetic
1280×720 clip). The colour-blob test model (1.5 ms per frame: what remains is the pipeline's fixed
cost) on the synthetic 1280×720 clip is in `details.colour_model`.

- raw: what a single script achieves — one process reads the video with cv2.VideoCapture and, frame
  by frame, preprocesses, infers and decodes (ggvision's Detector, ONNX Runtime with its default
  threads). `detect_ms` is the runtime's part (preprocess+infer+decode), `per_frame_ms` the loop's.
- end to end: the real components as Greengrass runs them, as real processes through the local
  nucleus and its launcher (scripts/build artifacts, recipes, accessControl): ggvision.CameraCapture
  reads the same video into its shared-memory ring → ggvision.ObjectDetection → detections received
  by a subscriber component over IPC. Throughput: detections received per second while the camera
  feeds a quarter more frames than the raw loop's rate (PlaybackSpeed max, FrameRate 1.25 × raw
  fps: like a real camera faster than the model, it decodes only what it announces; the detector
  takes the newest frame and skips the rest). Full runs add the camera flat out
  (`details.camera_flat_out`: it then decodes every frame as fast as it can, taking a core from the
  model on a 2-core machine, which the raw loop, decoding only the frames it infers, does not).
  Latency: detections received time − the frame's captured_at, with the camera playing the
  file at its own rate (below the detector's speed, so no queueing), against the raw loop's
  per-frame preprocess+infer+decode time (captured_at is stamped once the camera has decoded the
  frame, so the video decode is on neither side); `added_latency_ms_p50` is the difference of the
  medians — what the ring, the IPC hops and the messages add; `details.end_to_end.latency_breakdown`
  splits it. CPU time of each process is recorded for the throughput interval.
- motion gate: a static scene (one view with sensor noise) paced at 30 fps; the ObjectDetection
  process's CPU time (/proc/<pid>/stat utime+stime) over the same interval with MotionGate off, then
  on (a live configuration change); `motion_gate_cpu_fraction` = gated ÷ ungated, with the real model.

A full run (not --quick) draws docs/images/detection-benchmark.png: throughput and latency of the raw
runtime, the monolithic loop and the pipeline, for both models.

The machine may be shared (load average recorded): compare figures from the same run.
"""

import itertools
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np
from ggvision.detector import Detector
from ggvision.ipc import IpcClient, Subscription
from local_nucleus.device import RUNTIME, build_for_this_machine, runtime_work_cache
from local_nucleus.launcher import Launcher
from local_nucleus.server import LocalNucleus

from .processes import component_pid
from .results import ROOT, percentiles

CAMERA = "ggvision.CameraCapture"
DETECTOR = "ggvision.ObjectDetection"
DEMO_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "demo-model")  # colour blobs
REAL_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "pedestrian-ssdlite")
REAL_FOOTAGE = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
CHART = os.path.join(ROOT, "docs", "images", "detection-benchmark.png")
DLR_FIXTURE = os.path.join(ROOT, "..", "shared", "fixtures", "dlr", "colour_detector_512_dlr")
WIDTH, HEIGHT = 1280, 720
CAMERA_ID = "bench"
DETECTIONS_TOPIC = f"ggvision/detections/{CAMERA_ID}"
FRAMES_TOPIC = f"ggvision/cameras/{CAMERA_ID}/frames"
STATIC_FRAME_RATE = 30
START_TIMEOUT = 60.0
INSTALL_TIMEOUT = 900.0  # the runtime's first install on this machine (then it is re-used)
_RUNS = itertools.count()


def run(quick: bool = False) -> Dict[str, Any]:
    plan = {
        "video_frames": 60 if quick else 300,
        "raw_frames": 60 if quick else 600,
        "latency_frames": 15 if quick else 100,
        "throughput_seconds": 4.0 if quick else 20.0,
        "gate_seconds": 3.0 if quick else 15.0,
    }
    videos = tempfile.mkdtemp(prefix="ggvision-bench-video-")
    parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
    scratch = tempfile.mkdtemp(prefix="ggvision-bench-", dir=parent)
    nucleus_dir = tempfile.mkdtemp(prefix="ggb")  # AF_UNIX socket paths are short
    try:
        moving = write_video(os.path.join(videos, "moving.avi"), plan["video_frames"], moving=True)
        static = write_video(os.path.join(videos, "static.avi"), 60, moving=False)
        footage = REAL_FOOTAGE if os.path.isfile(REAL_FOOTAGE) else moving
        load_before = os.getloadavg()[0]
        built = _build(os.path.join(videos, "build"))
        # The real detector (the recipe's default model) on real footage: the headline.
        raw = raw_loop(footage, plan["raw_frames"], model_dir=REAL_MODEL)
        # The camera feeds a quarter more frames than the model's own rate: always a fresh frame.
        pipeline = end_to_end(built, footage, scratch, nucleus_dir, plan, feed_fps=1.25 * raw["fps"])
        gate = motion_gate(built, static, scratch, nucleus_dir, plan["gate_seconds"])
        # The colour-blob model: the pipeline's fixed costs, with almost no model cost beside them.
        colour_raw = raw_loop(moving, plan["raw_frames"], model_dir=DEMO_MODEL)
        colour_pipeline = end_to_end(built, moving, scratch, nucleus_dir, plan, {"ModelPath": DEMO_MODEL},
                                     feed_fps=1.25 * colour_raw["fps"])
        colour_gate = motion_gate(built, static, scratch, nucleus_dir, plan["gate_seconds"],
                                  {"ModelPath": DEMO_MODEL})
        extra = {} if quick else _full_only(built, footage, scratch, nucleus_dir, plan)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(videos, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(nucleus_dir, ignore_errors=True)
    colour = {"model": "the colour-blob test model (components/object-detection/models/demo-model)",
              "footage": f"synthetic {WIDTH}x{HEIGHT} MJPEG clip",
              **_headline(colour_raw, colour_pipeline, colour_gate),
              "raw": colour_raw, "end_to_end": colour_pipeline, "motion_gate": colour_gate}
    result = {
        **_headline(raw, pipeline, gate),
        "model": "pedestrian-ssdlite (SSDLite MobileNetV2, ONNX Runtime), the recipe's default model",
        "footage": ("OpenCV's vtest.avi (768x576, 10 fps)" if footage == REAL_FOOTAGE
                    else f"synthetic {WIDTH}x{HEIGHT} MJPEG clip (vtest.avi not installed)"),
        "colour_model_added_latency_ms_p50": colour["added_latency_ms_p50"],
        "colour_model_end_to_end_over_raw_throughput": colour["end_to_end_over_raw_throughput"],
        "processes": "real processes: CameraCapture and ObjectDetection through the local nucleus launcher",
        "load_average_1m": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "details": dict({"plan": plan, "raw": raw, "end_to_end": pipeline, "motion_gate": gate,
                         "colour_model": colour}, **extra),
    }
    if not quick:  # a smoke run's figures are not worth a picture
        from .chart import draw_detection_chart

        result["chart"] = os.path.relpath(draw_detection_chart(result, CHART), ROOT)
    return result


def _headline(raw: Dict[str, Any], pipeline: Dict[str, Any], gate: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "end_to_end_over_raw_throughput": round(pipeline["detections_per_s"] / raw["fps"], 3),
        "added_latency_ms_p50": round(pipeline["latency_ms"]["p50"] - raw["detect_ms"]["p50"], 3),
        "motion_gate_cpu_fraction": round(gate["gated_cpu_s"] / gate["ungated_cpu_s"], 3),
        "raw_fps": raw["fps"],
        "end_to_end_fps": pipeline["detections_per_s"],
        "end_to_end_latency_ms_p50": pipeline["latency_ms"]["p50"],
        "raw_per_frame_ms_p50": raw["detect_ms"]["p50"],
    }


def _full_only(built: Dict[str, str], footage: str, scratch: str, nucleus_dir: str,
               plan: Dict[str, Any]) -> Dict[str, Any]:
    """Comparisons that explain the headline figures (full runs only).

    - one inference thread on both sides (a component sharing two cores with a camera), real model;
    - the DLR fixture (a real SageMaker Neo artifact, ../shared/fixtures) on both sides.
    """
    extra: Dict[str, Any] = {}
    raw = raw_loop(footage, plan["raw_frames"], model_dir=REAL_MODEL)
    flat_out = end_to_end(built, footage, scratch, nucleus_dir, plan)
    extra["camera_flat_out"] = {
        "what": "the camera decoding the file as fast as it can, taking CPU from the model",
        "end_to_end_over_raw_throughput": round(flat_out["detections_per_s"] / raw["fps"], 3),
        "raw": raw, "end_to_end": flat_out}
    raw = raw_loop(footage, plan["raw_frames"], model_dir=REAL_MODEL, threads=1)
    pipeline = end_to_end(built, footage, scratch, nucleus_dir, plan, {"InferenceThreads": 1},
                          feed_fps=1.25 * raw["fps"])
    extra["inference_threads_1"] = {
        "end_to_end_over_raw_throughput": round(pipeline["detections_per_s"] / raw["fps"], 3),
        "added_latency_ms_p50": round(pipeline["latency_ms"]["p50"] - raw["detect_ms"]["p50"], 3),
        "raw": raw, "end_to_end": pipeline}
    if os.path.isdir(DLR_FIXTURE):
        model = _dlr_model(os.path.join(scratch, "dlr-model"))
        raw = raw_loop(footage, plan["raw_frames"], model_dir=model, runtime="dlr")
        pipeline = end_to_end(built, footage, scratch, nucleus_dir, plan,
                              {"ModelPath": model, "Runtime": "dlr"}, feed_fps=1.25 * raw["fps"])
        extra["dlr_fixture"] = {
            "model": "colour_detector_512_dlr (SageMaker Neo, DLR)",
            "end_to_end_over_raw_throughput": round(pipeline["detections_per_s"] / raw["fps"], 3),
            "added_latency_ms_p50": round(pipeline["latency_ms"]["p50"] - raw["detect_ms"]["p50"], 3),
            "raw": raw, "end_to_end": pipeline}
    return extra


def _dlr_model(folder: str) -> str:
    """The DLR fixture with the model.yaml its README describes (RGB, pixel / 255, stretch, gluoncv)."""
    shutil.copytree(DLR_FIXTURE, folder)
    os.chmod(folder, 0o755)  # the fixture is read-only; the copy gets a model.yaml
    with open(os.path.join(folder, "model.yaml"), "w") as f:
        f.write("name: colour-detector-512\nversion: \"1\"\ninput: {name: data, width: 512, height: 512, "
                "layout: NCHW, channel_order: RGB, resize: stretch, scale: 0.00392156862745098, "
                "mean: [0, 0, 0], std: [1, 1, 1]}\noutput: {layout: gluoncv}\nlabels: [red, green, blue]\n")
    return folder


# -- test videos --------------------------------------------------------------------------------------

def write_video(path: str, frames: int, moving: bool) -> str:
    """A 1280×720 MJPEG clip: coloured blocks on a lit, textured background with sensor noise; the
    blocks move unless `moving` is False (then only the noise changes)."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MJPEG video here")
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    background = np.dstack([110 + 40 * np.sin(x / 97.0), 120 + 30 * np.cos(y / 53.0),
                            115 + 35 * np.sin((x + y) / 151.0)]).astype(np.int16)
    rng = np.random.default_rng(5)
    colours = [(0, 0, 230), (0, 200, 0), (230, 0, 0)]
    for index in range(frames):
        frame = background + rng.integers(-3, 4, background.shape, dtype=np.int16)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        t = index / 30.0 if moving else 0.0
        for k, colour in enumerate(colours):
            bx = int((100 + k * 380 + t * (120 + 60 * k)) % (WIDTH - 200))
            by = int(120 + k * 160 + 60 * np.sin(t * (1 + k)))
            frame[by:by + 180, bx:bx + 180] = colour
        writer.write(frame)
    writer.release()
    return path


# -- the monolithic loop ----------------------------------------------------------------------------

def raw_loop(video: str, frames: int, model_dir: str = DEMO_MODEL, runtime: Optional[str] = None,
             threads: Optional[int] = None) -> Dict[str, Any]:
    """Read, preprocess, infer, decode, frame after frame, in this one process."""
    detector = Detector.load(model_dir, runtime=runtime, threads=threads)
    capture = cv2.VideoCapture(video)
    read_ms: List[float] = []
    detect_ms: List[float] = []
    found = 0
    try:
        started = time.perf_counter()
        while len(detect_ms) < frames:
            t0 = time.perf_counter()
            ok, image = capture.read()
            if not ok:  # loop the clip, as the camera does
                capture.release()
                capture = cv2.VideoCapture(video)
                continue
            t1 = time.perf_counter()
            found += len(detector.detect(image, score_threshold=0.5, max_detections=100))
            t2 = time.perf_counter()
            read_ms.append((t1 - t0) * 1000.0)
            detect_ms.append((t2 - t1) * 1000.0)
        elapsed = time.perf_counter() - started
    finally:
        capture.release()
        detector.close()
    return {"frames": frames, "fps": round(frames / elapsed, 2), "read_ms": percentiles(read_ms),
            "detect_ms": percentiles(detect_ms),
            "per_frame_ms": percentiles([r + d for r, d in zip(read_ms, detect_ms)]),
            "detections_per_frame": round(found / float(frames), 2)}


# -- the components as real processes ---------------------------------------------------------------

def _build(output: str) -> Dict[str, str]:
    # The components run as on a device: built for this platform, in ggvision.DLRRuntime's environment
    # (installed once, kept in the runtime work cache the tests use too).
    return build_for_this_machine(output, [RUNTIME, CAMERA, DETECTOR])


class _Pipeline:
    """A local nucleus, the two components launched from their recipes, and a subscriber component."""

    def __init__(self, built: Dict[str, str], scratch: str, nucleus_dir: str, name: str,
                 camera: Dict[str, Any], detector: Dict[str, Any]) -> None:
        name = f"{name}{next(_RUNS)}"
        self.run_dir = os.path.join(scratch, name)
        rings = os.path.join(scratch, name + "-rings")
        camera = dict(camera, RingFolder=rings)
        detector = dict(detector, RingFolder=rings, CountsIntervalSeconds=0)
        self.nucleus = LocalNucleus(os.path.join(nucleus_dir, name + ".sock"))
        self.nucleus.start()
        self.launcher: Optional[Launcher] = None
        self.client: Optional[IpcClient] = None
        try:
            token = self.nucleus.add_component("bench.Subscriber", {"accessControl": {
                "aws.greengrass.ipc.pubsub": {"bench.Subscriber:pubsub:1": {
                    "operations": ["aws.greengrass#SubscribeToTopic"],
                    "resources": [DETECTIONS_TOPIC, FRAMES_TOPIC]}}}})
            self.client = IpcClient.connect(self.nucleus.socket_path, token)
            self.detections: Subscription = self.client.subscribe(DETECTIONS_TOPIC, 100000)
            self.frames: Subscription = self.client.subscribe(FRAMES_TOPIC, 100000)
            overrides = {CAMERA: {"MERGE": camera}, DETECTOR: {"MERGE": detector}}
            self.launcher = Launcher(self.nucleus, built["recipes"], built["artifacts"], self.run_dir,
                                     config_overrides=overrides, components=[CAMERA, DETECTOR], output=None,
                                     shared_work={RUNTIME: runtime_work_cache()})
            self.launcher.start()
            if not self.launcher.wait_for_state(RUNTIME, "FINISHED", INSTALL_TIMEOUT):
                raise RuntimeError(f"{RUNTIME} did not install: {self.launcher.log_lines(RUNTIME)[-10:]}")
            for component in (CAMERA, DETECTOR):
                if not self.nucleus.wait_for_state(component, "RUNNING", START_TIMEOUT):
                    log = self.launcher.log_lines(component)[-10:]
                    raise RuntimeError(f"{component} did not start: {log}")
            if self.detections.get(START_TIMEOUT) is None:
                raise RuntimeError(f"no detections: {self.launcher.log_lines(DETECTOR)[-10:]}")
        except BaseException:
            self.close()
            raise

    def configure(self, component: str, values: Dict[str, Any]) -> None:
        """A live configuration change (a deployment MERGE), then time for the component to apply it."""
        self.nucleus.update_configuration(component, [], values)
        time.sleep(1.5)

    def drain(self) -> None:
        for subscription in (self.detections, self.frames):
            while subscription.get_nowait() is not None:
                pass

    def process_pid(self, component: str) -> int:
        """A component's Python process."""
        return component_pid(self.run_dir, component)

    def close(self) -> None:
        if self.launcher is not None:
            self.launcher.stop()
        if self.client is not None:
            self.client.close()
        self.nucleus.stop()


def end_to_end(built: Dict[str, str], video: str, scratch: str, nucleus_dir: str,
               plan: Dict[str, Any], detector: Optional[Dict[str, Any]] = None,
               feed_fps: float = 0.0) -> Dict[str, Any]:
    """Latency at the file's own rate, then throughput with the camera feeding `feed_fps` frames a
    second (PlaybackSpeed max, FrameRate feed_fps: the camera decodes only what it announces, as a
    real camera faster than the model would deliver), or flat out when `feed_fps` is 0."""
    # The file at its own rate, each frame announced when decoded (FrameRate 0: no extra pacing).
    camera = {"Cameras": [{"CameraId": CAMERA_ID, "Source": video, "Loop": True}],
              "PlaybackSpeed": "native", "FrameRate": 0}
    pipeline = _Pipeline(built, scratch, nucleus_dir, "e2e", camera, detector or {})
    try:
        # Latency: frames slower than the detector, each inferred as it arrives.
        time.sleep(0.5)
        pipeline.drain()
        latencies = []
        # Where the latency goes, per message: the detector's own detect() (inference_ms), the way in
        # (captured → the detector's message stamped, less its detect: camera announce, ring write,
        # the frame event's hop, the detector's queue and read) and the way out (its hop to us).
        breakdown: Dict[str, List[float]] = {"inference_ms": [], "frame_to_detector_ms": [],
                                             "detections_delivery_ms": []}
        while len(latencies) < plan["latency_frames"]:
            message = pipeline.detections.get(30)
            if message is None:
                raise RuntimeError("detections stopped")
            payload = message.payload
            latencies.append((message.received_at - payload["captured_at"]) * 1000.0)
            breakdown["inference_ms"].append(payload["inference_ms"])
            breakdown["frame_to_detector_ms"].append(
                (payload["ts"] - payload["captured_at"]) * 1000.0 - payload["inference_ms"])
            breakdown["detections_delivery_ms"].append((message.received_at - payload["ts"]) * 1000.0)
        # Throughput: the camera flat out, the detector as fast as it can take the newest frame.
        pipeline.configure(CAMERA, {"PlaybackSpeed": "max", "FrameRate": round(feed_fps, 1)})
        pipeline.drain()
        pids = {"camera": pipeline.process_pid(CAMERA), "detector": pipeline.process_pid(DETECTOR),
                "nucleus_and_subscriber": os.getpid()}
        cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        received: List[Any] = []
        frames = 0
        deadline = time.monotonic() + plan["throughput_seconds"]
        started = time.time()
        while time.monotonic() < deadline:
            message = pipeline.detections.get(max(0.0, deadline - time.monotonic()))
            if message is not None:
                received.append(message)
        elapsed = time.time() - started
        cpu = {name: round((_cpu_seconds(pid) - cpu_before[name]) / elapsed, 2) for name, pid in pids.items()}
        while pipeline.frames.get_nowait() is not None:
            frames += 1
        saturated = [(m.received_at - m.payload["captured_at"]) * 1000.0 for m in received]
        skipped = sum(m.payload.get("skipped_frames", 0) for m in received)
    finally:
        pipeline.close()
    return {
        "detections_per_s": round(len(received) / elapsed, 2),
        "camera_frames_per_s": round(frames / elapsed, 2),
        "frames_skipped_by_detector": skipped,
        "latency_ms": percentiles(latencies),
        "latency_breakdown": {name: percentiles(values) for name, values in breakdown.items()},
        "latency_frame_rate": "the file's own",
        "camera_feed_fps": round(feed_fps, 1) if feed_fps else "flat out",
        "cpu_cores_during_throughput": cpu,
        "latency_ms_during_throughput": percentiles(saturated),
        "inference_ms": percentiles([m.payload["inference_ms"] for m in received]),
        "throughput_seconds": round(elapsed, 2),
    }


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After "pid (comm)": state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def motion_gate(built: Dict[str, str], video: str, scratch: str, nucleus_dir: str,
                seconds: float, detector: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    camera = {"Cameras": [{"CameraId": CAMERA_ID, "Source": video, "Loop": True}],
              "PlaybackSpeed": "max", "FrameRate": STATIC_FRAME_RATE}
    pipeline = _Pipeline(built, scratch, nucleus_dir, "gate", camera,
                         dict(detector or {}, MotionGate=False, MotionMaxSkipSeconds=3600))
    try:
        pid = pipeline.process_pid(DETECTOR)
        time.sleep(0.5)
        ungated = _measure_cpu(pipeline, pid, seconds)
        pipeline.configure(DETECTOR, {"MotionGate": True})
        gated = _measure_cpu(pipeline, pid, seconds)
    finally:
        pipeline.close()
    return {"ungated_cpu_s": ungated[0], "gated_cpu_s": gated[0], "ungated_detections": ungated[1],
            "gated_detections": gated[1], "gated_reused": gated[2], "seconds": seconds,
            "frame_rate": STATIC_FRAME_RATE}


def _measure_cpu(pipeline: _Pipeline, pid: int, seconds: float) -> Tuple[float, int, int]:
    """CPU seconds the detector process used over `seconds`, detections published, how many reused."""
    pipeline.drain()
    before = _cpu_seconds(pid)
    deadline = time.monotonic() + seconds
    count = reused = 0
    while time.monotonic() < deadline:
        message = pipeline.detections.get(max(0.0, deadline - time.monotonic()))
        if message is not None:
            count += 1
            reused += bool(message.payload.get("reused"))
    return round(_cpu_seconds(pid) - before, 3), count, reused
