"""Sources the CameraCapture tests make themselves (video file, image folder, local MJPEG server),
frames whose colour encodes their index, and a capture service on a local nucleus."""

import base64
import contextlib
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Optional

import cv2
import numpy as np
import yaml
from camera_capture.service import CaptureService
from camera_capture.settings import CaptureSettings
from ggvision.config import parse_config
from ggvision.contracts import validate
from harness import connect, local_nucleus, pubsub_policy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPE = os.path.join(ROOT, "recipes", "ggvision.CameraCapture.yaml")
NAME = "ggvision.CameraCapture"
WAIT = 20.0  # generous: only a broken component ever waits this long

WIDTH, HEIGHT = 64, 48
STEP = 8  # colour step per frame index: survives JPEG's small errors


def colour_of(index: int) -> tuple:
    """BGR colour of frame `index` (mod 32): blue counts up, green down, red fixed."""
    level = (index % 32) * STEP
    return (level, 255 - level, 128)


def index_of(image: np.ndarray, tolerance: int = 6) -> int:
    """The frame index (mod 32) a solid frame's colour encodes; AssertionError if it encodes none."""
    b, g, r = (int(round(float(c))) for c in image.reshape(-1, 3).mean(axis=0))
    index = int(round(b / STEP))
    errors = (abs(b + g - 255), abs(r - 128), abs(b - index * STEP))
    encodes = max(errors) <= tolerance
    assert encodes, f"not a test frame colour: {(b, g, r)}"
    return index


def solid(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    return np.full((height, width, 3), colour_of(index), np.uint8)


def make_video(path: str, frames: int, fps: float = 25.0, width: int = WIDTH, height: int = HEIGHT) -> str:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(solid(index, width, height))
    writer.release()
    return path


def make_image_folder(folder: str, count: int, extensions: tuple = (".png", ".jpg")) -> str:
    """Frames 0..count-1 as images named in order, the extensions taken in turn."""
    os.makedirs(folder, exist_ok=True)
    for index in range(count):
        extension = extensions[index % len(extensions)]
        assert cv2.imwrite(os.path.join(folder, f"frame-{index:03d}{extension}"), solid(index))
    return folder


def recipe_configuration() -> Dict[str, Any]:
    with open(RECIPE) as stream:
        return yaml.safe_load(stream)["ComponentConfiguration"]["DefaultConfiguration"]


def configuration(tmp_path: Any, cameras: List[Dict[str, Any]], **overrides: Any) -> Dict[str, Any]:
    """The recipe's DefaultConfiguration (accessControl included) with test cameras and a tmp ring."""
    config = recipe_configuration()
    config.update(Cameras=cameras, RingFolder=str(tmp_path / "rings"), StatusIntervalSeconds=0.5,
                  ReconnectInitialSeconds=0.1, ReconnectMaxSeconds=0.4, ReadTimeoutSeconds=2)
    config.update(overrides)
    return config


class Capture:
    """A CaptureService connected as the component (its recipe's policy enforced) and an observer."""

    def __init__(self, nucleus: Any, config: Dict[str, Any], name: str = NAME) -> None:
        self.nucleus = nucleus
        self.ipc = connect(nucleus, name, config)
        self.observer = connect(nucleus, "test.Observer", pubsub_policy(
            subscribe=["ggvision/cameras/+/frames", "ggvision/cameras/+/status"]))
        self.frames = self.observer.subscribe("ggvision/cameras/+/frames", 1000)
        self.statuses = self.observer.subscribe("ggvision/cameras/+/status", 1000)
        self.service = CaptureService(parse_config(CaptureSettings, config), self.ipc)

    def frame_events(self, count: int, timeout: float = WAIT) -> List[Dict[str, Any]]:
        events = []
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            message = self.frames.get(0.2)
            if message is not None:
                validate(message.payload, "ggvision.frame/1")
                events.append(message.payload)
        assert len(events) == count, f"{len(events)} of {count} frame events within {timeout} s"
        return events

    def wait_status(self, predicate: Callable[[Dict[str, Any]], bool],
                    timeout: float = WAIT) -> Dict[str, Any]:
        """The first status message (each one validated) for which `predicate` holds."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            message = self.statuses.get(0.2)
            if message is None:
                continue
            validate(message.payload, "ggvision.camera-status/1")
            seen.append(message.payload)
            if predicate(message.payload):
                return message.payload
        raise AssertionError(f"no such status within {timeout} s; last: {seen[-3:]}")

    def close(self) -> None:
        self.service.stop()
        self.observer.close()
        self.ipc.close()


@contextlib.contextmanager
def running_capture(config: Dict[str, Any], name: str = NAME) -> Iterator[Capture]:
    with local_nucleus() as nucleus:
        capture = Capture(nucleus, config, name)
        capture.service.start()
        try:
            yield capture
        finally:
            capture.close()


# -- a local HTTP MJPEG camera ---------------------------------------------------------------------

BOUNDARY = "ggvisionframe"


class MjpegCamera:
    """A multipart MJPEG server on 127.0.0.1 that can be stopped and restarted on the same port.

    `/stream` sends parts with Content-Length, `/bare` without (parts end at the next boundary),
    `/snapshot.jpg` one JPEG per request, `/stall` the stream's headers and then nothing. With
    `credentials` ("user:password") it wants HTTP Basic.
    """

    def __init__(self, fps: float = 30.0, credentials: Optional[str] = None) -> None:
        self.fps = fps
        self.credentials = credentials
        self.port = 0
        self.frames_sent = 0
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def start(self) -> "MjpegCamera":
        self._stopping.clear()
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if camera.credentials:
                    expected = "Basic " + base64.b64encode(camera.credentials.encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                if self.path == "/snapshot.jpg":
                    data = camera.jpeg()
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                with_length = self.path == "/stream"
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                if self.path == "/stall":
                    self.wfile.flush()
                    camera._stopping.wait()
                    return
                try:
                    while not camera._stopping.is_set():
                        data = camera.jpeg()
                        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        if with_length:
                            head += f"Content-Length: {len(data)}\r\n"
                        self.wfile.write(head.encode() + b"\r\n" + data + b"\r\n")
                        self.wfile.flush()
                        time.sleep(1.0 / camera.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def jpeg(self) -> bytes:
        ok, data = cv2.imencode(".jpg", solid(self.frames_sent), [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        self.frames_sent += 1
        return data.tobytes()

    def stop(self) -> None:
        """Close every stream (clients see the connection end) and stop listening."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Nothing may answer on the port any more.
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
            raise AssertionError("the MJPEG camera still accepts connections")

    def url(self, path: str = "/stream") -> str:
        user = f"{self.credentials}@" if self.credentials else ""
        return f"http://{user}127.0.0.1:{self.port}{path}"


def launch(nucleus: Any, built: Dict[str, Any], tmp_path: Any, merge: Dict[str, Any]) -> Any:
    """The CameraCapture process from its built recipe, `merge` over its defaults (a started Launcher)."""
    from local_nucleus.launcher import Launcher

    launcher = Launcher(nucleus, built["recipes"], built["artifacts"], str(tmp_path / "run"),
                        shared_work=built["shared_work"], config_overrides={NAME: {"MERGE": merge}},
                        components=[NAME], restart_delay=0.1, stop_timeout=5.0, output=None)
    launcher.start()
    return launcher


def make_vfr_video(path: str, frame_times_ms: List[int], header_fps: int = 15,
                   width: int = WIDTH, height: int = HEIGHT) -> str:
    """A variable-frame-rate H.264 MP4 whose frame `i` (colour `i`) is stamped `frame_times_ms[i]`.

    OpenCV's VideoWriter only writes constant-rate files; PyAV (a test dependency) sets each frame's
    timestamp, as a phone's recorder does."""
    import fractions

    import av

    millisecond = fractions.Fraction(1, 1000)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=header_fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = millisecond
        stream.codec_context.time_base = millisecond
        stream.options = {"crf": "10"}  # near-lossless: the colour index survives
        for index, stamp in enumerate(frame_times_ms):
            frame = av.VideoFrame.from_ndarray(solid(index, width, height), format="bgr24")
            frame.pts, frame.time_base = stamp, millisecond
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
