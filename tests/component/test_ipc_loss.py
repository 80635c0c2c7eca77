"""A component whose IPC connection is gone stops: one clear line, the service stopped, exit status
EXIT_IPC_LOST (3), so no orphan keeps running beside the components a restarted nucleus starts.

The real case is a `kill -9` of the nucleus: the nucleus runs in a process of its own
(tests/nucleus_process.py) and the components as their own main.py processes with the IPC environment
the nucleus gives them, as on a device.
"""

import os
import re
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass

import pytest
import yaml
from ggvision.component import EXIT_IPC_LOST, run_component
from ggvision.config import setting
from ggvision.config import validators as v
from ggvision.ipc import IpcClient
from ggvision.lifecycle import StopSignal
from harness import local_nucleus
from nucleus_process import ROOT, NucleusProcess, start_component

pytestmark = pytest.mark.timeout(120)

CAMERA = "ggvision.CameraCapture"
DETECTOR = "ggvision.ObjectDetection"
MAINS = {CAMERA: os.path.join(ROOT, "components", "camera-capture", "main.py"),
         DETECTOR: os.path.join(ROOT, "components", "object-detection", "main.py")}
STARTUP = 60.0  # only a broken component takes this long to start
STOPPED_WITHIN = 10.0  # after the kill: the run loop notices at once, the service then stops


def wait_for(predicate, timeout):
    """Poll predicate until it holds or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return predicate()
        time.sleep(0.05)
    return True


def read(path):
    with open(path, errors="replace") as stream:
        return stream.read()


def group_alive(pgid):
    """True while any process of the process group is left (start_new_session: one group each)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def recipe_defaults(name):
    with open(os.path.join(ROOT, "recipes", name + ".yaml")) as stream:
        return yaml.safe_load(stream)["ComponentConfiguration"]["DefaultConfiguration"]


@pytest.fixture
def folder():
    path = tempfile.mkdtemp(prefix="ggl")  # AF_UNIX paths are limited to 107 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_components_exit_promptly_when_the_nucleus_is_killed(folder):
    import cv2
    import numpy as np

    # A looping video for the camera, and the detector reading the camera's frames.
    video = os.path.join(folder, "clip.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for index in range(25):
        writer.write(np.full((48, 64, 3), (index * 8, 255 - index * 8, 128), np.uint8))
    writer.release()
    rings = os.path.join(folder, "rings")
    camera = dict(recipe_defaults(CAMERA), Cameras=[{"CameraId": "demo", "Source": video, "Loop": True,
                                                      "FrameRate": 10}],
                  RingFolder=rings, StatusIntervalSeconds=0.5)
    detector = dict(recipe_defaults(DETECTOR), RingFolder=rings, StatusIntervalSeconds=0.5,
                    ModelPath=os.path.join(ROOT, "components", "object-detection", "models", "demo-model"))
    nucleus = NucleusProcess(folder, {CAMERA: camera, DETECTOR: detector})
    processes, logs = {}, {}
    try:
        for name in (CAMERA, DETECTOR):
            logs[name] = os.path.join(folder, name + ".log")
            processes[name] = start_component(MAINS[name], nucleus.env[name], logs[name])
        for name, process in processes.items():
            assert wait_for(lambda name=name, process=process: f"{name} running" in read(logs[name])
                            or process.poll() is not None, STARTUP)
            assert process.poll() is None, read(logs[name])

        killed_at = time.monotonic()
        nucleus.kill()

        for name, process in processes.items():
            assert wait_for(lambda process=process: process.poll() is not None, STOPPED_WITHIN), (
                f"{name} still running {STOPPED_WITHIN} s after the nucleus was killed:\n{read(logs[name])}")
        took = time.monotonic() - killed_at
        for name, process in processes.items():
            log = read(logs[name])
            assert process.returncode == EXIT_IPC_LOST, log
            lost = [line for line in log.splitlines() if "lost its IPC connection" in line]
            assert len(lost) == 1, log
            # The reason is named (not an empty `ConnectionClosedError: `). Which error carries it
            # depends on where the loss is seen first (AwsCrtError, ConnectionClosedError, or the
            # RuntimeError "4104 (AWS_ERROR_EVENT_STREAM_RPC_CONNECTION_CLOSED) …" under load).
            assert re.search(r"connection to the Greengrass nucleus \((\w+): \S[^)]*\)", lost[0]), lost[0]
            assert f"{name} stopped" in log, log
            assert "Traceback" not in log, log
            assert not group_alive(process.pid), f"a process of {name} is left"
        assert took < STOPPED_WITHIN
    finally:
        for process in processes.values():
            if group_alive(process.pid):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        nucleus.kill()


# -- the run loop itself, in-process ---------------------------------------------------------------

@dataclass(frozen=True)
class LoopSettings:
    topic: str = setting("Topic", v.topic())


class PublishingService:
    """Publishes as fast as a camera would, until stopped; records what the run loop asks of it."""

    def __init__(self, settings, ipc):
        self.ipc = ipc
        self.topic = settings.topic
        self.events = ["built"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.01):
            try:
                self.ipc.publish_json_async(self.topic, {"n": 1})
            except Exception:  # noqa: BLE001 - the connection goes away under it
                pass

    def start(self):
        self.events.append("started")
        self._thread.start()

    def stop(self):
        self.events.append("stopped")
        self._stop.set()
        self._thread.join(5)


def test_run_loop_stops_the_service_and_returns_the_lost_status(caplog):
    services = []

    def build(settings, ipc):
        services.append(PublishingService(settings, ipc))
        return services[-1]

    with local_nucleus() as nucleus:
        token = nucleus.add_component("test.Lost", {"Topic": "t/x", "accessControl": {
            "aws.greengrass.ipc.pubsub": {"test.Lost:pub": {"policyDescription": "publish",
                                                           "operations": ["*"], "resources": ["*"]}}}})
        ipc = IpcClient.connect(nucleus.socket_path, token)
        result = {}
        thread = threading.Thread(target=lambda: result.update(code=run_component(
            "test.Lost", LoopSettings, build, ipc=ipc, stop=StopSignal(install_handlers=False))), daemon=True)
        thread.start()
        assert nucleus.wait_for_state("test.Lost", "RUNNING", 10)
    # The nucleus is gone (its connections were dropped, as by a kill): the loop ends by itself.
    thread.join(10)
    assert not thread.is_alive()
    assert result["code"] == EXIT_IPC_LOST
    assert services[0].events == ["built", "started", "stopped"]
    assert ipc.connection_lost.is_set() and ipc.lost_reason
    lost = [r.getMessage() for r in caplog.records if "lost its IPC connection" in r.getMessage()]
    assert len(lost) == 1 and ipc.lost_reason in lost[0]


def test_a_client_closed_by_its_owner_is_not_lost():
    with local_nucleus() as nucleus:
        ipc = IpcClient.connect(nucleus.socket_path, nucleus.add_component("test.Closer"))
        seen = []
        ipc.on_connection_lost(lambda: seen.append(True))
        ipc.close()
        assert wait_for(lambda: nucleus.stats()["connections"] == 0, 10)
    assert not ipc.connection_lost.is_set() and seen == []


def test_after_the_loss_publishes_are_quiet_and_errors_name_the_reason():
    from awsiot.eventstreamrpc import ConnectionClosedError

    with local_nucleus() as nucleus:
        ipc = IpcClient.connect(nucleus.socket_path, nucleus.add_component("test.After"))
    assert wait_for(ipc.connection_lost.is_set, 10)
    # What components publish at a high rate: nothing sent, a cancelled future (as while closing).
    assert ipc.publish_json_async("t/x", {"n": 1}).cancelled()
    assert ipc.publish_binary_async("t/x", b"1").cancelled()
    # A call that waits for its answer fails, saying why (the client's own error has no text).
    with pytest.raises(ConnectionClosedError, match="IPC connection to the nucleus is lost"):
        ipc.publish_json("t/x", {"n": 1})
    ipc.close()


def test_errors_that_mean_the_connection_is_gone():
    from awscrt.exceptions import AwsCrtError
    from awsiot.eventstreamrpc import ConnectionClosedError, EventStreamError
    from awsiot.greengrasscoreipc.model import UnauthorizedError
    from ggvision.ipc import is_connection_error

    # A call racing the disconnect gets the native layer's error before the SDK knows.
    assert is_connection_error(RuntimeError("4104 (AWS_ERROR_EVENT_STREAM_RPC_CONNECTION_CLOSED): event "
                                            "stream rpc connection has been closed"))
    assert is_connection_error(AwsCrtError(1051, "AWS_IO_SOCKET_CLOSED", "socket is closed."))
    assert is_connection_error(ConnectionClosedError()) and is_connection_error(EventStreamError("x"))
    assert not is_connection_error(RuntimeError("something else"))
    assert not is_connection_error(UnauthorizedError(message="not allowed"))
