"""Object detection end to end against a monolithic loop, on the same model and the same frames.

- raw: what a single script achieves — one process reads a 1280×720 MJPEG video with
  cv2.VideoCapture and, frame by frame, preprocesses, infers and decodes (ggvision's Detector on the
  bundled demo model, ONNX Runtime with its default threads).
- end to end: the real components as Greengrass runs them, as real processes through the local
  nucleus and its launcher (scripts/build artifacts, recipes, accessControl): ggvision.CameraCapture
  reads the same video as fast as it can (FrameRate 0, PlaybackSpeed max) into its shared-memory
  ring → ggvision.ObjectDetection (the recipe's bundled model) → detections received by a subscriber
  component over IPC. Throughput: detections received per second while the camera runs flat out
  (the detector takes the newest frame and skips the rest; the camera decodes every frame, the raw
  loop only those it infers). Latency: detections received time − the frame's captured_at, with
  the camera playing the file at its own 30 fps (below the detector's speed, so no queueing, and
  each frame announced as soon as it is decoded), against the raw loop's per-frame
  preprocess+infer+decode time (captured_at is stamped once the camera has decoded the frame, so the
  video decode is on neither side); `added_latency_ms_p50` is the difference of the medians — what
  the ring, the IPC hops and the messages add. CPU time of each process (camera, detector, this
  process with the nucleus and the subscriber) is recorded for the flat-out interval.
- motion gate: a static scene (one view with sensor noise) paced at 30 fps; the ObjectDetection
  process's CPU time (/proc/<pid>/stat utime+stime) over the same interval with MotionGate off, then
  on (a live configuration change); `motion_gate_cpu_fraction` = gated ÷ ungated.

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
DEMO_MODEL = os.path.join(ROOT, "components", "object-detection", "models", "demo-model")
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
        load_before = os.getloadavg()[0]
        raw = raw_loop(moving, plan["raw_frames"])
        built = _build(os.path.join(videos, "build"))
        pipeline = end_to_end(built, moving, scratch, nucleus_dir, plan)
        gate = motion_gate(built, static, scratch, nucleus_dir, plan["gate_seconds"])
        heavy_gate = motion_gate(built, static, scratch, nucleus_dir, plan["gate_seconds"],
                                 {"ModelPath": ssd_cost_model(os.path.join(scratch, "ssd-cost-model"))})
        extra = {} if quick else _full_only(built, moving, static, scratch, nucleus_dir, plan)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(videos, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(nucleus_dir, ignore_errors=True)
    added = pipeline["latency_ms"]["p50"] - raw["detect_ms"]["p50"]
    return {
        "end_to_end_over_raw_throughput": round(pipeline["detections_per_s"] / raw["fps"], 3),
        "added_latency_ms_p50": round(added, 3),
        # A real detector costs tens of ms per frame, not the demo model's 1.5 ms: the gate is measured
        # on a model with a mobile SSD's compute (ssd_cost_model); the demo model's figure is in details.
        "motion_gate_cpu_fraction": round(heavy_gate["gated_cpu_s"] / heavy_gate["ungated_cpu_s"], 3),
        "motion_gate_model": "the demo detector with a mobile-SSD-sized backbone (about 2 GFLOP per frame)",
        "motion_gate_cpu_fraction_demo_model": round(gate["gated_cpu_s"] / gate["ungated_cpu_s"], 3),
        "raw_fps": raw["fps"],
        "end_to_end_fps": pipeline["detections_per_s"],
        "end_to_end_latency_ms_p50": pipeline["latency_ms"]["p50"],
        "raw_per_frame_ms_p50": raw["detect_ms"]["p50"],
        "frame_size": f"{WIDTH}x{HEIGHT}",
        "model": "bundled demo model (ONNX Runtime)",
        "processes": "real processes: CameraCapture and ObjectDetection through the local nucleus launcher",
        "load_average_1m": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "details": dict({"plan": plan, "raw": raw, "end_to_end": pipeline, "motion_gate": heavy_gate,
                         "motion_gate_demo_model": gate}, **extra),
    }


def _full_only(built: Dict[str, str], moving: str, static: str, scratch: str, nucleus_dir: str,
               plan: Dict[str, Any]) -> Dict[str, Any]:
    """Comparisons that explain the headline figures (full runs only).

    - one inference thread on both sides (a component sharing two cores with a camera);
    - the DLR fixture (a real SageMaker Neo artifact, ../shared/fixtures) on both sides.
    """
    extra: Dict[str, Any] = {}
    raw = raw_loop(moving, plan["raw_frames"], threads=1)
    pipeline = end_to_end(built, moving, scratch, nucleus_dir, plan, {"InferenceThreads": 1})
    gate = motion_gate(built, static, scratch, nucleus_dir, plan["gate_seconds"], {"InferenceThreads": 1})
    extra["inference_threads_1"] = {
        "end_to_end_over_raw_throughput": round(pipeline["detections_per_s"] / raw["fps"], 3),
        "added_latency_ms_p50": round(pipeline["latency_ms"]["p50"] - raw["detect_ms"]["p50"], 3),
        "motion_gate_cpu_fraction": round(gate["gated_cpu_s"] / gate["ungated_cpu_s"], 3),
        "raw": raw, "end_to_end": pipeline, "motion_gate": gate}
    if os.path.isdir(DLR_FIXTURE):
        model = _dlr_model(os.path.join(scratch, "dlr-model"))
        raw = raw_loop(moving, plan["raw_frames"], model_dir=model, runtime="dlr")
        pipeline = end_to_end(built, moving, scratch, nucleus_dir, plan,
                              {"ModelPath": model, "Runtime": "dlr"})
        extra["dlr_fixture"] = {
            "model": "colour_detector_512_dlr (SageMaker Neo, DLR)",
            "end_to_end_over_raw_throughput": round(pipeline["detections_per_s"] / raw["fps"], 3),
            "added_latency_ms_p50": round(pipeline["latency_ms"]["p50"] - raw["detect_ms"]["p50"], 3),
            "raw": raw, "end_to_end": pipeline}
    return extra


def ssd_cost_model(folder: str) -> str:
    """The demo detector with the compute of a mobile SSD: the same outputs (so the same detections),
    plus a 4-layer strided conv backbone on the 512×512 input (about 2 GFLOP) whose result is added to
    the scores times zero — work the runtime must do on every frame, as a real detector's would be."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(os.path.join(DEMO_MODEL, "model.onnx"))
    graph = model.graph
    rng = np.random.default_rng(0)
    channels = [3, 32, 64, 128, 256]
    backbone = []
    previous = "data"
    for index, (cin, cout) in enumerate(zip(channels, channels[1:])):
        weight = f"backbone_w{index}"
        graph.initializer.append(numpy_helper.from_array(
            (rng.standard_normal((cout, cin, 3, 3)) * 0.05).astype(np.float32), weight))
        backbone += [helper.make_node("Conv", [previous, weight], [f"backbone_c{index}"], strides=[2, 2],
                                      pads=[1, 1, 1, 1]),
                     helper.make_node("Relu", [f"backbone_c{index}"], [f"backbone_r{index}"])]
        previous = f"backbone_r{index}"
    graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), "backbone_zero"))
    backbone += [helper.make_node("ReduceMean", [previous], ["backbone_mean"], keepdims=0),
                 helper.make_node("Mul", ["backbone_mean", "backbone_zero"], ["backbone_nothing"])]
    nodes = list(graph.node)
    producer = next(node for node in nodes if "scores" in node.output)
    producer.output[list(producer.output).index("scores")] = "scores_unchanged"
    at = nodes.index(producer) + 1
    nodes.insert(at, helper.make_node("Add", ["scores_unchanged", "backbone_nothing"], ["scores"]))
    del graph.node[:]
    graph.node.extend(backbone + nodes)
    onnx.checker.check_model(model)
    shutil.copytree(DEMO_MODEL, folder)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    return folder


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
               plan: Dict[str, Any], detector: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    # The file at its own 30 fps, each frame announced when decoded (FrameRate 0: no extra pacing).
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
        pipeline.configure(CAMERA, {"PlaybackSpeed": "max"})
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
        "latency_frame_rate": "the file's own (30 fps)",
        "cpu_cores_camera_flat_out": cpu,
        "latency_ms_camera_flat_out": percentiles(saturated),
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
