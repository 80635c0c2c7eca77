"""One run of CameraCapture -> ObjectDetection (+ the recorder) under the local nucleus, from the built
recipes and artifacts, as a device runs them: the nucleus resolves the manifest for its platform,
stages the artifacts, runs ggvision.DLRRuntime's Install (the venv, offline, from its artifacts), then
the components in that environment.

The same code stages and watches the run on the host (x86_64) and inside an emulated device: a run
folder holds the nucleus code, the recipes, the artifacts, the video and the configuration; `inner` is
where the nucleus sees that folder (the chroot's view), `folder` where this host sees it.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
RECORDER = "ggvision.devicecheck.Recorder"
COMPONENTS = ["ggvision.CameraCapture", "ggvision.ObjectDetection", RECORDER]
RUNTIME = "ggvision.DLRRuntime"
VIDEO = os.path.join(REPO, "scripts", "demo-assets", "sample-video.avi")
CAMERA = "check"
# The test model scores each 128x128 cell of its 512x512 input (4x4 grid) by its colour; the sample
# video's blocks cover at most about 40 % of a cell, so its scores lie between 0.05 (the model's own
# padding limit) and 0.5: the default threshold of 0.5 would leave nothing to compare.
SCORE_THRESHOLD = 0.05


# Decodes the sample video into lossless PNG frames (run with a host Python that has OpenCV).
_EXTRACT = """
import os, sys, cv2
video, folder = sys.argv[1], sys.argv[2]
capture = cv2.VideoCapture(video)
count = 0
while True:
    ok, image = capture.read()
    if not ok:
        break
    cv2.imwrite(os.path.join(folder, "frame-%04d.png" % count), image)
    count += 1
print(count)
"""


def video_frames(python, folder, video=VIDEO):
    """The sample video's frames as PNG files in `folder`, decoded once on this host.

    Played as an image folder, every platform sees the same pixels (PNG decoding is exact), so the
    comparison tests the runtime and the model, not the platform's video decoder: Debian's OpenCV and
    FFmpeg (armv7l) decode this MJPEG video 1-2 levels apart from the PyPI OpenCV wheels."""
    os.makedirs(folder, exist_ok=True)
    done = subprocess.run([python, "-c", _EXTRACT, video, folder], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip().isdigit() or int(done.stdout) == 0:
        raise RuntimeError(f"could not decode {video} into frames with {python} (OpenCV needed: "
                           f"run scripts/setup): {done.stderr.strip()[-500:]}")
    return folder


def ring_folder():
    """The frame rings' folder: per check, so that it never meets a demo's or a test's rings on the host
    (inside the device, /dev/shm is the chroot's own tmpfs)."""
    return f"/dev/shm/ggvision-device-check-{os.getpid()}"


def configuration(inner, source, frame_rate):
    """The deployment's configuration update: `source` (the sample video, or a folder of its frames) as
    a camera, looped and read in lockstep (`PlaybackSpeed: max`: every frame announced in order, so a
    frame's seq names the same video frame in every run), DLR on the Neo model the recipe ships for the
    platform, the recorder's file."""
    ring = ring_folder()
    return {
        "ggvision.CameraCapture": {"MERGE": {
            "Cameras": [{"CameraId": CAMERA, "Source": f"{inner}/camera/{source}", "Loop": True,
                         "PlaybackSpeed": "max", "FrameRate": frame_rate, "Transport": "shm"}],
            "RingFolder": ring, "RingSlots": 8, "StatusIntervalSeconds": 5}},
        "ggvision.ObjectDetection": {"MERGE": {
            "ModelPath": "", "Runtime": "dlr", "RingFolder": ring, "MotionGate": False,
            "ScoreThreshold": SCORE_THRESHOLD,
            "CountsIntervalSeconds": 0, "StatusIntervalSeconds": 5}},
        RECORDER: {"MERGE": {"Output": f"{inner}/out/detections.jsonl"}},
    }


class PipelineRun:
    """Stage with `stage()`, then `start(command_for)`, `watch(...)`, `stop()`."""

    def __init__(self, label, folder, inner, build_dir, frame_rate, source=VIDEO):
        self.label = label
        self.source = os.path.abspath(source)  # a video file or a folder of images, on this host
        self.folder = os.path.abspath(folder)
        self.inner = inner
        self.build_dir = build_dir
        self.frame_rate = frame_rate
        self.process = None
        self.log_path = os.path.join(self.folder, "out", "nucleus.log")
        self.events = {}  # name -> time.monotonic() when the nucleus's log showed it
        self.started = None
        self._reader = None

    # -- staging -----------------------------------------------------------------------------
    def stage(self):
        os.makedirs(self.folder, exist_ok=True)
        copies = [
            (os.path.join(REPO, "shared", "local_nucleus"), "nucleus/local_nucleus"),
            (os.path.join(self.build_dir, "recipes"), "recipes"),
            (os.path.join(self.build_dir, "artifacts"), "artifacts"),
            (os.path.join(HERE, "recorder", "recipes"), "check-recipes"),
            (os.path.join(HERE, "recorder", "artifacts"), "check-artifacts"),
        ]
        for source, target in copies:
            destination = os.path.join(self.folder, target)
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        camera = os.path.join(self.folder, "camera", os.path.basename(self.source))
        shutil.rmtree(os.path.dirname(camera), ignore_errors=True)
        os.makedirs(os.path.dirname(camera))
        if os.path.isdir(self.source):
            shutil.copytree(self.source, camera)
        else:
            shutil.copyfile(self.source, camera)
        for sub in ("run", "out"):
            os.makedirs(os.path.join(self.folder, sub), exist_ok=True)
        with open(os.path.join(self.folder, "config.json"), "w") as f:
            json.dump(configuration(self.inner, os.path.basename(self.source), self.frame_rate), f, indent=2)

    def nucleus_argv(self, python, duration):
        inner = self.inner
        return [python, "-m", "local_nucleus", "--no-build",
                "--recipe-dir", f"{inner}/recipes", "--recipe-dir", f"{inner}/check-recipes",
                "--artifact-dir", f"{inner}/artifacts", "--artifact-dir", f"{inner}/check-artifacts",
                "--config", f"{inner}/config.json", "--run-dir", f"{inner}/run",
                "--components", ",".join(COMPONENTS), "--duration", str(int(duration))]

    def nucleus_env(self):
        """Only the nucleus gets PYTHONPATH (its own code); it gives components a clean environment."""
        return {"PYTHONPATH": f"{self.inner}/nucleus"}

    # -- running -----------------------------------------------------------------------------
    def start(self, command, env=None):
        """Start the nucleus: `command` is the host argv (already wrapped for the chroot if needed)."""
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self):
        patterns = {
            "install_started": re.compile(re.escape(RUNTIME) + r": Install started"),
            "installed": re.compile(re.escape(RUNTIME) + r": \w+ -> INSTALLED"),
            "runtime_failed": re.compile(re.escape(RUNTIME) + r": .*(-> BROKEN|-> ERRORED|Install exited"
                                         r"|Install timed out)"),
        }
        with open(self.log_path, "w") as log:
            for raw in self.process.stdout:
                line = raw.decode("utf-8", "replace")
                now = time.monotonic()
                log.write(f"{now - self.started:7.1f} {line}")
                log.flush()
                for name, pattern in patterns.items():
                    if name not in self.events and pattern.search(line):
                        self.events[name] = now

    def records(self):
        from .compare import load
        path = os.path.join(self.folder, "out", "detections.jsonl")
        return load(path) if os.path.exists(path) else []

    def install_seconds(self):
        if "installed" not in self.events:
            return None
        return self.events["installed"] - self.events.get("install_started", self.started)

    def watch(self, done, timeout, progress=None, every=15.0):
        """Poll until `done(records)` is true; False on timeout, when the nucleus exits or the runtime's
        Install fails. `progress(records, elapsed)` is called every `every` seconds."""
        deadline = time.monotonic() + timeout
        next_progress = time.monotonic() + every
        while time.monotonic() < deadline:
            records = self.records()
            if done(records):
                return True
            if self.process.poll() is not None:
                self.failure = f"the nucleus exited with {self.process.returncode}"
                return False
            if "runtime_failed" in self.events:
                self.failure = f"{RUNTIME} failed to install (see the log)"
                return False
            if progress and time.monotonic() >= next_progress:
                next_progress += every
                progress(records, time.monotonic() - self.started)
            time.sleep(0.5)
        self.failure = f"no result within {timeout:.0f} s"
        return False

    def stop(self, timeout=60):
        """SIGTERM the nucleus (it stops its components), then SIGKILL its process group if needed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:  # components the nucleus left behind (their own process groups are its business)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self._reader is not None:
            self._reader.join(5)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path) as f:
                return f.read().splitlines()[-lines:]
        except OSError:
            return []
