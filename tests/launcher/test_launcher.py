"""The launcher end to end: scripts/build -> Launcher -> LocalNucleus -> components as real processes
talking through the real awsiotsdk client."""

import io
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import awsiot.greengrasscoreipc
import pytest
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from local_nucleus.launcher import Launcher, LauncherError
from local_nucleus.server import LocalNucleus

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "scripts", "build")
EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example_component")
EXAMPLE_NAME = "test.launcher.Example"
EXAMPLE_VERSION = "1.2.3"
WAIT = 60  # generous: only a broken launcher ever waits this long

SETUP_RECIPE = """
RecipeFormatVersion: "2020-01-25"
ComponentName: test.launcher.Setup
ComponentVersion: "1.0.0"
ComponentConfiguration:
  DefaultConfiguration:
    Marker: from-the-recipe
Manifests:
  - Platform:
      os: linux
    Lifecycle:
      Install: echo installing setup
      Run: echo setup done > done && echo setup done
"""

# The example again under another name, configured to report ERRORED once it has published.
REPORTER_RECIPE = """
RecipeFormatVersion: "2020-01-25"
ComponentName: test.launcher.Reporter
ComponentVersion: "1.0.0"
ComponentDependencies:
  ggvision.DLRRuntime:
    VersionRequirement: ">=0.1.0"
ComponentConfiguration:
  DefaultConfiguration:
    Topic: test/reporter/hello
    Greeting: reporting
    ReportErrored: true
    accessControl:
      aws.greengrass.ipc.pubsub:
        test.launcher.Reporter:pubsub:1:
          operations: [aws.greengrass#PublishToTopic]
          resources: [test/reporter/hello]
Manifests:
  - Platform:
      os: linux
    Lifecycle:
      Run: >-
        {ggvision.DLRRuntime:work:path}/venv/bin/python3 -u
        {artifacts:decompressedPath}/test.launcher.Example/main.py
    Artifacts:
      - URI: s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/test.launcher.Example.zip
        Unarchive: ZIP
"""

SIMPLE_RECIPE = """
RecipeFormatVersion: "2020-01-25"
ComponentName: {name}
ComponentVersion: "1.0.0"
Manifests:
  - Platform:
      os: linux
    Lifecycle:
{lifecycle}
"""

SIMPLE = {
    "test.launcher.Crasher": "      Run: echo crashing; exit 1",
    "test.launcher.Finisher": "      Run: echo all done",
    "test.launcher.InstallFails": "      Install: echo install failing; exit 2\n      Run: echo never",
    "test.launcher.Stubborn": "      Run: trap '' TERM; echo $$ > pid; echo ignoring TERM; "
                              "while true; do sleep 0.1; done",
    "test.launcher.MissingArtifact": "      Run: echo never\n    Artifacts:\n"
                                     "      - URI: s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/absent.zip",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory, device_runtime):
    """The example component built by scripts/build, and the other test recipes and artifacts."""
    base = tmp_path_factory.mktemp("launcher")
    components = base / "components"
    shutil.copytree(EXAMPLE, str(components / "example"), ignore=shutil.ignore_patterns("__pycache__"))
    output = base / "greengrass-build"
    subprocess.run([sys.executable, BUILD, "--components-dir", str(components), "--output-dir", str(output)],
                   check=True, capture_output=True)
    extra = base / "recipes"
    extra.mkdir()
    (extra / "test.launcher.Setup.yaml").write_text(SETUP_RECIPE)
    (extra / "test.launcher.Reporter.yaml").write_text(REPORTER_RECIPE)
    for name, lifecycle in SIMPLE.items():
        (extra / (name + ".yaml")).write_text(SIMPLE_RECIPE.format(name=name, lifecycle=lifecycle))
    extra_artifacts = base / "artifacts" / "test.launcher.Reporter" / "1.0.0"
    extra_artifacts.mkdir(parents=True)
    shutil.copy(str(output / "artifacts" / EXAMPLE_NAME / EXAMPLE_VERSION / (EXAMPLE_NAME + ".zip")),
                str(extra_artifacts))
    built = device_runtime.with_components({
        "recipes": [str(output / "recipes"), str(extra)],
        "artifacts": [str(output / "artifacts"), str(base / "artifacts")]})
    return dict(built, python=device_runtime.python)


def start_nucleus():
    folder = tempfile.mkdtemp(prefix="ggn")  # AF_UNIX paths are limited to 107 bytes
    server = LocalNucleus(os.path.join(folder, "ipc.sock"), os.path.join(folder, "iot.jsonl"),
                          thing_name="launcher-thing")
    server.start()
    return server, folder


@pytest.fixture
def nucleus():
    server, folder = start_nucleus()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def launch(nucleus, built, tmp_path, components, **options):
    options.setdefault("restart_delay", 0.1)
    options.setdefault("stop_timeout", 5.0)
    options.setdefault("shared_work", built["shared_work"])
    launcher = Launcher(nucleus, built["recipes"], built["artifacts"], str(tmp_path / "run"),
                        components=components, **options)
    launcher.start()
    return launcher


def subscribe(nucleus, topic):
    """A real IPC client registered as an observer component, subscribed to `topic`."""
    token = nucleus.add_component("test.launcher.Observer", {"accessControl": {"aws.greengrass.ipc.pubsub": {
        "observer:1": {"operations": ["aws.greengrass#SubscribeToTopic"], "resources": [topic]}}}})
    connection = awsiot.greengrasscoreipc.connect(ipc_socket=nucleus.socket_path, authtoken=token)
    client = GreengrassCoreIPCClientV2(client=connection)
    received = queue.Queue()
    client.subscribe_to_topic(topic=topic,
                              on_stream_event=lambda event: received.put(event.json_message.message))
    return client, received


def test_example_component_runs_end_to_end_with_its_configuration_and_dependency(nucleus, built, tmp_path):
    config = tmp_path / "override.yaml"
    config.write_text(textwrap.dedent("""
        test.launcher.Example:
          MERGE:
            Greeting: hello from the override
        test.launcher.Setup:
          MERGE:
            Marker: setup-override
    """))
    output = io.StringIO()
    launcher = launch(nucleus, built, tmp_path, [EXAMPLE_NAME], config_overrides=str(config), output=output)
    run = str(tmp_path / "run")
    client, received = subscribe(nucleus, "test/example/hello")
    try:
        message = received.get(timeout=WAIT)
        assert message["greeting"] == "hello from the override"
        assert message["thing"] == message["env_thing"] == "launcher-thing"
        assert message["marker"] == "setup-override"  # {test.launcher.Setup:configuration:/Marker}
        artifacts = os.path.join(run, "packages", "artifacts", EXAMPLE_NAME, EXAMPLE_VERSION)
        assert message["artifacts"] == artifacts
        assert message["cwd"] == os.path.join(run, "work", EXAMPLE_NAME)
        assert message["python"] == built["python"]  # the runtime's environment, not .venv's python

        # the dependencies came along, in the order they start
        assert launcher.components == ["ggvision.DLRRuntime", "test.launcher.Setup", EXAMPLE_NAME]
        assert nucleus.wait_for_state(EXAMPLE_NAME, "RUNNING", WAIT)  # its own UpdateState(RUNNING)
        assert launcher.state(EXAMPLE_NAME) == "RUNNING"
        # The Run script checks the file Setup's Run writes: it ran after Setup finished, first time.
        assert launcher.state_history(EXAMPLE_NAME) == ["NEW", "INSTALLED", "STARTING", "RUNNING"]
        assert launcher.wait_for_state("test.launcher.Setup", "FINISHED", WAIT)
        assert "installing setup" in launcher.log_lines("test.launcher.Setup")

        assert "configured: greeting=hello from the override" in launcher.log_lines(EXAMPLE_NAME)
        assert f"[{EXAMPLE_NAME}] configured: greeting=hello from the override" in output.getvalue()
        assert "[test.launcher.Setup] setup done" in output.getvalue()
    finally:
        client.close()
        launcher.stop()
    assert launcher.state(EXAMPLE_NAME) == "FINISHED"
    assert "stopping on SIGTERM" in launcher.log_lines(EXAMPLE_NAME)  # it stopped on SIGTERM, not SIGKILL
    with open(os.path.join(run, "logs", EXAMPLE_NAME + ".log")) as log:
        assert "stopping on SIGTERM" in log.read()


@pytest.fixture(scope="module")
def failing(built, tmp_path_factory):
    """Components that fail in each way, launched together once for the tests below."""
    server, folder = start_nucleus()
    launcher = launch(server, built, tmp_path_factory.mktemp("failing"),
                      ["test.launcher.Crasher", "test.launcher.Reporter", "test.launcher.Finisher",
                       "test.launcher.InstallFails"])
    try:
        for name in ("test.launcher.Crasher", "test.launcher.Reporter", "test.launcher.InstallFails"):
            assert launcher.wait_for_state(name, "BROKEN", WAIT), launcher.state_history(name)
        assert launcher.wait_for_state("test.launcher.Finisher", "FINISHED", WAIT)
        yield launcher
    finally:
        launcher.stop()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_component_exiting_1_is_restarted_then_broken_on_the_third_error(failing):
    history = failing.state_history("test.launcher.Crasher")
    assert history == ["NEW", "INSTALLED"] + ["STARTING", "RUNNING", "ERRORED", "STOPPING", "INSTALLED"] * 2 \
        + ["STARTING", "RUNNING", "BROKEN"]
    assert failing.log_lines("test.launcher.Crasher") == ["crashing"] * 3


def test_component_reporting_errored_is_restarted_then_broken(failing):
    history = failing.state_history("test.launcher.Reporter")
    assert history.count("ERRORED") == 2 and history[-1] == "BROKEN"
    assert failing.log_lines("test.launcher.Reporter").count("reported ERRORED") == 3


def test_failing_install_is_retried_then_broken(failing):
    assert failing.state_history("test.launcher.InstallFails") == [
        "NEW", "ERRORED", "NEW", "ERRORED", "NEW", "BROKEN"]
    assert failing.log_lines("test.launcher.InstallFails") == ["install failing"] * 3


def test_component_exiting_0_is_finished(failing):
    assert failing.state_history("test.launcher.Finisher") == [
        "NEW", "INSTALLED", "STARTING", "RUNNING", "STOPPING", "FINISHED"]
    assert failing.log_lines("test.launcher.Finisher") == ["all done"]


def test_stop_kills_a_component_that_ignores_sigterm(nucleus, built, tmp_path):
    launcher = launch(nucleus, built, tmp_path, ["test.launcher.Stubborn"], stop_timeout=0.5)
    pid_file = tmp_path / "run" / "work" / "test.launcher.Stubborn" / "pid"
    try:
        assert launcher.wait_for_state("test.launcher.Stubborn", "RUNNING", WAIT)
        for _ in range(WAIT * 10):
            if "ignoring TERM" in launcher.log_lines("test.launcher.Stubborn"):
                break
            time.sleep(0.1)
        pid = int(pid_file.read_text())
    finally:
        launcher.stop()
    assert launcher.state("test.launcher.Stubborn") == "FINISHED"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_artifact_is_a_clear_error(nucleus, built, tmp_path):
    with pytest.raises(LauncherError, match=r"absent\.zip not found.*scripts/build"):
        launch(nucleus, built, tmp_path, ["test.launcher.MissingArtifact"])


def test_unknown_component_is_a_clear_error(nucleus, built, tmp_path):
    with pytest.raises(LauncherError, match="no recipe for component test.launcher.Nope"):
        launch(nucleus, built, tmp_path, ["test.launcher.Nope"])


def test_cli_runs_components_for_a_duration_and_stops(built, tmp_path):
    run = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"test.launcher.Setup": {"MERGE": {"Marker": "cli"}}}))
    args = [sys.executable, "-m", "local_nucleus", "--no-build", "--duration", "1.5", "--run-dir", str(run),
            "--components", "test.launcher.Finisher,test.launcher.Setup", "--config", str(config),
            "--socket", os.path.join(tempfile.mkdtemp(prefix="ggn"), "s")]
    for folder in built["recipes"]:
        args += ["--recipe-dir", folder]
    for folder in built["artifacts"]:
        args += ["--artifact-dir", folder]
    result = subprocess.run(args, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    assert "[test.launcher.Finisher] all done" in result.stdout
    assert "test.launcher.Setup: FINISHED" in result.stdout
    assert (run / "work" / "test.launcher.Setup" / "done").exists()


def test_cli_help_names_its_options():
    result = subprocess.run([os.path.join(ROOT, "scripts", "local-nucleus"), "--help"], capture_output=True,
                            text=True, timeout=WAIT)
    assert result.returncode == 0
    for option in ("--recipe-dir", "--artifact-dir", "--no-build", "--config", "--components", "--run-dir",
                   "--socket", "--thing-name", "--iot-log", "--platform-override", "--duration"):
        assert option in result.stdout
