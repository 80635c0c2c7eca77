"""The run loop every main.py uses, against the local nucleus with the real IPC client."""

import threading
from dataclasses import dataclass

import pytest
from ggvision.component import ServiceError, run_component
from ggvision.config import setting
from ggvision.config import validators as v
from ggvision.ipc import IpcClient
from ggvision.lifecycle import StopSignal
from harness import local_nucleus

NAME = "test.LoopComponent"


@dataclass(frozen=True)
class LoopSettings:
    threshold: float = setting("Threshold", v.number(minimum=0, maximum=1), live=True)
    topic: str = setting("Topic", v.topic())


class RecordingService:
    """A minimal service that records what the run loop asks of it."""

    instances = []

    def __init__(self, settings, ipc):
        self.settings = settings
        self.events = ["built"]
        RecordingService.instances.append(self)

    def start(self):
        self.events.append("started")

    def stop(self):
        self.events.append("stopped")

    def apply(self, settings):
        self.settings = settings
        self.events.append("applied")


@pytest.fixture
def nucleus():
    RecordingService.instances = []
    with local_nucleus() as running:
        yield running


def start_loop(nucleus, configuration, build=RecordingService):
    token = nucleus.add_component(NAME, configuration)
    stop = StopSignal(install_handlers=False)
    result = {}

    def run():
        ipc = IpcClient.connect(nucleus.socket_path, token)
        result["code"] = run_component(NAME, LoopSettings, build, ipc=ipc, stop=stop)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return stop, thread, result


def wait_for(predicate, timeout=5.0):
    event = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        event.wait(0.02)
    return predicate()


def test_valid_config_runs_reports_running_and_stops_cleanly(nucleus):
    stop, thread, result = start_loop(nucleus, {"Threshold": 0.5, "Topic": "a/b"})
    assert nucleus.wait_for_state(NAME, "RUNNING", 5)
    stop.set()
    thread.join(5)
    assert result["code"] == 0
    assert RecordingService.instances[0].events == ["built", "started", "stopped"]


def test_invalid_config_is_one_clear_error_and_errored_state(nucleus, caplog):
    stop, thread, result = start_loop(nucleus, {"Threshold": 1.5, "Topic": "a/b"})
    thread.join(5)
    assert result["code"] == 1
    assert nucleus.get_state(NAME) == "ERRORED"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["Invalid configuration: Threshold = 1.5 (allowed: a number from 0 to 1)"]
    assert RecordingService.instances == []


def test_live_change_is_applied_in_place(nucleus):
    stop, thread, result = start_loop(nucleus, {"Threshold": 0.5, "Topic": "a/b"})
    assert nucleus.wait_for_state(NAME, "RUNNING", 5)
    nucleus.update_configuration(NAME, [], {"Threshold": 0.9})
    assert wait_for(lambda: "applied" in RecordingService.instances[0].events)
    assert RecordingService.instances[0].settings.threshold == 0.9
    assert len(RecordingService.instances) == 1
    stop.set()
    thread.join(5)


def test_other_change_rebuilds_the_service_in_process(nucleus):
    stop, thread, result = start_loop(nucleus, {"Threshold": 0.5, "Topic": "a/b"})
    assert nucleus.wait_for_state(NAME, "RUNNING", 5)
    nucleus.update_configuration(NAME, [], {"Topic": "c/d"})
    assert wait_for(lambda: len(RecordingService.instances) == 2)
    first, second = RecordingService.instances
    assert first.events == ["built", "started", "stopped"]
    assert second.settings.topic == "c/d"
    stop.set()
    thread.join(5)
    assert result["code"] == 0


def test_service_that_cannot_start_reports_errored(nucleus, caplog):
    def build(settings, ipc):
        raise ServiceError("cannot load the model from /models/x: compiled.so is missing")

    stop, thread, result = start_loop(nucleus, {"Threshold": 0.5, "Topic": "a/b"}, build)
    thread.join(5)
    assert result["code"] == 1
    assert nucleus.get_state(NAME) == "ERRORED"
    assert any("compiled.so is missing" in r.getMessage() for r in caplog.records)
