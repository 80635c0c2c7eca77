"""The local nucleus is as strict as a Greengrass core device, shown with components whose lifecycle
steps are plain `sh` scripts (no Python dependencies: the ggvision runtime is covered elsewhere), run by
the real Launcher against the real LocalNucleus:

1. components get the service environment of a device, not the developer's: a component that leans on
   the development `.venv` or on PYTHONPATH fails here as it does on a device;
2. recipe variables are replaced in the lifecycle always, in the configuration (accessControl
   included) only with `interpolate_component_configuration` (the nucleus's
   `interpolateComponentConfiguration`, default false);
3. a Startup step holds dependents back until it exits 0 (or times out: then they never start), a Run
   step does not;
4. Install honours `Timeout` (an error, retried, BROKEN after the third) and `Skipif`;
5. `shared_work` keeps a component's work folder between launches, as a device keeps it between
   deployments.

Behaviour checked against aws-greengrass-nucleus: `Lifecycle` (errors per state, BROKEN on the third),
`GenericExternalService` (Startup/Run, `Skipif`), `GreengrassService.dependencyReady`,
`KernelConfigResolver` (recipe variables), `Exec` (the environment).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import Any, Callable, Dict, List, Optional, Tuple

import awsiot.greengrasscoreipc
import pytest
import yaml
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import QOS, UnauthorizedError
from local_nucleus.launcher import Launcher
from local_nucleus.process_environment import SYSTEMD_DEFAULT_PATH
from local_nucleus.server import SOCKET_ENV, LocalNucleus

pytestmark = [pytest.mark.timeout(120), pytest.mark.integration]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THING = "fidelity-thing"
WAIT = 60  # generous: only a broken launcher ever waits this long (the tests must hold under a CPU hog)

NEW, INSTALLED, STARTING, RUNNING = "NEW", "INSTALLED", "STARTING", "RUNNING"
STOPPING, FINISHED, ERRORED, BROKEN = "STOPPING", "FINISHED", "ERRORED", "BROKEN"
RAN_TO_COMPLETION = [NEW, INSTALLED, STARTING, RUNNING, STOPPING, FINISHED]


# ------------------------------------------------------------------------------------------- helpers

class RecordingLauncher(Launcher):
    """The Launcher, also keeping the state changes of all its components in one ordered timeline, so
    that a test can tell which of two components changed state first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timeline: List[Tuple[str, str]] = []

    def _set_state(self, component: Any, state: str) -> None:
        # Under the launcher's own (reentrant) lock: the timeline's order is the order of the changes.
        with self._changed:
            super()._set_state(component, state)
            self._timeline.append((component.name, state))

    def timeline(self) -> List[Tuple[str, str]]:
        with self._changed:
            return list(self._timeline)


def settle(launcher: Launcher, name: str, timeout: float = WAIT) -> str:
    """Wait until the component has run to completion or given up; its state then."""
    wait_until(lambda: launcher.state(name) in (FINISHED, BROKEN), timeout)
    return launcher.state(name)


def first(timeline: List[Tuple[str, str]], name: str, state: str) -> int:
    """Where `name` first entered `state` in the timeline (a failed assertion when it never did)."""
    assert (name, state) in timeline, f"{name} was never {state}: {timeline}"
    return timeline.index((name, state))


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll until the predicate holds; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def process_gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def pids(path: str) -> List[int]:
    with open(path) as lines:
        return [int(line) for line in lines if line.strip()]


def recipe(name: str, lifecycle: Dict[str, Any], configuration: Optional[Dict[str, Any]] = None,
           dependencies: Optional[Dict[str, str]] = None,
           artifacts: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """A recipe as a user writes it (one Linux manifest); `dependencies` maps a name to HARD/SOFT."""
    data: Dict[str, Any] = {"RecipeFormatVersion": "2020-01-25", "ComponentName": name,
                            "ComponentVersion": "1.0.0"}
    if configuration is not None:
        data["ComponentConfiguration"] = {"DefaultConfiguration": configuration}
    if dependencies:
        data["ComponentDependencies"] = {dependency: {"VersionRequirement": ">=1.0.0", "DependencyType": kind}
                                         for dependency, kind in dependencies.items()}
    manifest: Dict[str, Any] = {"Platform": {"os": "linux"}, "Lifecycle": lifecycle}
    if artifacts:
        manifest["Artifacts"] = artifacts
    data["Manifests"] = [manifest]
    return data


class Workspace:
    """Recipes and artifacts written into a test's tmp_path, and the launches made from them."""

    def __init__(self, nucleus: LocalNucleus, base: str) -> None:
        self.nucleus = nucleus
        self.base = base
        self.recipes = os.path.join(base, "recipes")
        self.artifacts = os.path.join(base, "artifacts")
        os.makedirs(self.recipes)
        os.makedirs(self.artifacts)
        self.launchers: List[RecordingLauncher] = []

    def add(self, *recipes: Dict[str, Any]) -> None:
        for each in recipes:
            with open(os.path.join(self.recipes, each["ComponentName"] + ".yaml"), "w") as stream:
                yaml.safe_dump(each, stream, sort_keys=False)

    def artifact(self, component: str, file_name: str, files: Dict[str, str]) -> None:
        """A ZIP artifact holding `files` ({name: text}), where scripts/build would put it."""
        folder = os.path.join(self.artifacts, component, "1.0.0")
        os.makedirs(folder, exist_ok=True)
        with zipfile.ZipFile(os.path.join(folder, file_name), "w") as archive:
            for name, text in files.items():
                archive.writestr(name, text)

    def run_dir(self, name: str = "run") -> str:
        return os.path.join(self.base, name)

    def work(self, component: str, run: str = "run") -> str:
        """A component's work folder under a launch's root, as the nucleus lays it out."""
        return os.path.join(self.run_dir(run), "work", component)

    def launch(self, components: List[str], run: str = "run", **options: Any) -> RecordingLauncher:
        options.setdefault("restart_delay", 0.1)
        options.setdefault("stop_timeout", 5.0)
        launcher = RecordingLauncher(self.nucleus, self.recipes, self.artifacts, self.run_dir(run),
                                     components=components, **options)
        self.launchers.append(launcher)
        launcher.start()
        return launcher

    def stop(self) -> None:
        for launcher in self.launchers:
            launcher.stop()


@pytest.fixture
def nucleus():
    folder = tempfile.mkdtemp(prefix="ggn", dir="/tmp")  # AF_UNIX paths are limited to 107 bytes
    server = LocalNucleus(os.path.join(folder, "ipc.sock"), os.path.join(folder, "iot.jsonl"),
                          thing_name=THING)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def workspace(nucleus, tmp_path):
    space = Workspace(nucleus, str(tmp_path))
    yield space
    space.stop()


@pytest.fixture
def developer_environment(monkeypatch):
    """The test process as a developer runs it: the project's .venv activated (first on PATH,
    VIRTUAL_ENV set) and PYTHONPATH pointing at the sources. A component that inherited any of it
    would import the project's packages; on a device it cannot."""
    venv = sys.prefix if sys.prefix != sys.base_prefix else os.path.join(ROOT, ".venv")
    monkeypatch.setenv("VIRTUAL_ENV", venv)
    monkeypatch.setenv("PATH", os.path.join(venv, "bin") + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("PYTHONPATH", os.path.join(ROOT, "shared"))
    return venv


def ipc_client(nucleus: LocalNucleus, component: str) -> GreengrassCoreIPCClientV2:
    """A real awsiotsdk client connected as `component` (with the token the launcher registered)."""
    env = nucleus.component_env(component)
    connection = awsiot.greengrasscoreipc.connect(ipc_socket=env[SOCKET_ENV], authtoken=env["SVCUID"])
    return GreengrassCoreIPCClientV2(client=connection)


# ------------------------------------------------------- 1. the environment of a device, not of the developer

def test_component_gets_the_service_environment_not_the_developers(workspace, nucleus, developer_environment):
    name = "test.fidelity.Environment"
    workspace.add(recipe(name, {
        "Setenv": {"GGV_MANIFEST": "from-the-lifecycle", "GGV_BOTH": "lifecycle"},
        "Run": {"Script": "env > env.partial && mv env.partial env.txt",
                "Setenv": {"GGV_STEP": "from-the-step", "GGV_BOTH": "step"}},
    }))
    assert os.environ["PATH"].startswith(os.path.join(developer_environment, "bin"))  # the test's own

    launcher = workspace.launch([name])
    assert settle(launcher, name) == FINISHED, launcher.state_history(name)

    with open(os.path.join(workspace.work(name), "env.txt")) as recorded:
        env = dict(line.rstrip("\n").split("=", 1) for line in recorded if "=" in line)
    assert env["PATH"] == SYSTEMD_DEFAULT_PATH
    assert "VIRTUAL_ENV" not in env
    assert "PYTHONPATH" not in env
    assert not [key for key, value in env.items() if developer_environment in value], env
    registered = nucleus.component_env(name)
    assert env["SVCUID"] == registered["SVCUID"] and env["SVCUID"]
    assert env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"] == nucleus.socket_path
    assert env["AWS_IOT_THING_NAME"] == THING
    # Setenv: the lifecycle's, then the step's on top (the nucleus adds parents' Setenv first).
    assert env["GGV_MANIFEST"] == "from-the-lifecycle"
    assert env["GGV_STEP"] == "from-the-step"
    assert env["GGV_BOTH"] == "step"


def test_component_relying_on_the_development_venv_fails_as_on_a_device(workspace, developer_environment):
    if shutil.which("python3", path=SYSTEMD_DEFAULT_PATH) is None:
        pytest.skip("no python3 on systemd's default PATH here")
    script = 'python3 -c "import local_nucleus"'
    # In the developer's environment the import works (.venv's editable install, or PYTHONPATH) ...
    assert subprocess.run(["sh", "-c", script], env=dict(os.environ), capture_output=True).returncode == 0
    name = "test.fidelity.NeedsTheVenv"
    workspace.add(recipe(name, {"Run": script}))

    launcher = workspace.launch([name])

    # ... in a component it fails, is retried, and is BROKEN after the third error, as on a device.
    assert launcher.wait_for_state(name, BROKEN, WAIT), launcher.state_history(name)
    history = launcher.state_history(name)
    assert history == [NEW, INSTALLED] + [STARTING, RUNNING, ERRORED, STOPPING, INSTALLED] * 2 \
        + [STARTING, RUNNING, BROKEN]
    assert "ModuleNotFoundError: No module named 'local_nucleus'" in launcher.log_lines(name)
    with open(os.path.join(workspace.run_dir(), "logs", name + ".log")) as log:
        assert log.read().count("ModuleNotFoundError: No module named 'local_nucleus'") == 3


# ------------------------------------------------------------------------------ 2. recipe variables

COUNTS = "test.fidelity.Counts"
DEPENDENCY = "test.fidelity.Dependency"
UNRELATED = "test.fidelity.Unrelated"
COUNTS_POLICY = COUNTS + ":mqttproxy:1"

VARIABLES_SCRIPT = """\
{
  echo "work={work:path}"
  echo "own={configuration:/Name}"
  echo "thing={iot:thingName}"
  echo "dependency_work={test.fidelity.Dependency:work:path}"
  echo "dependency_setting={test.fidelity.Dependency:configuration:/Setting}"
  echo "dependency_files={test.fidelity.Dependency:artifacts:decompressedPath}"
  echo "dependency_file=$(cat "{test.fidelity.Dependency:artifacts:decompressedPath}/files/hello.txt")"
  echo "unrelated_work={test.fidelity.Unrelated:work:path}"
} > variables.partial && mv variables.partial variables.txt
exec sleep 3600
"""


def interpolation_recipes(workspace: Workspace) -> None:
    workspace.add(
        recipe(COUNTS, {"Run": VARIABLES_SCRIPT}, dependencies={DEPENDENCY: "HARD"}, configuration={
            "Name": "camera-1",
            "Thing": "{iot:thingName}",
            "Topic": "ggvision/{iot:thingName}/counts",
            "Echo": "{configuration:/Name}",
            "Work": "{work:path}",
            "accessControl": {"aws.greengrass.ipc.mqttproxy": {COUNTS_POLICY: {
                "policyDescription": "publish the counts",
                "operations": ["aws.greengrass#PublishToIoTCore"],
                "resources": ["ggvision/{iot:thingName}/counts"]}}},
        }),
        recipe(DEPENDENCY, {"Run": "echo dependency done"}, configuration={"Setting": "from-the-dependency"},
               artifacts=[{"URI": f"s3://BUCKET/{DEPENDENCY}/1.0.0/files.zip", "Unarchive": "ZIP"}]),
        recipe(UNRELATED, {"Run": "echo unrelated done"}),
    )
    workspace.artifact(DEPENDENCY, "files.zip", {"hello.txt": "hello from the dependency"})


@pytest.mark.parametrize("interpolate", [False, True],
                         ids=["default-core", "interpolateComponentConfiguration"])
def test_recipe_variables_in_configuration_only_with_interpolate_component_configuration(
        workspace, nucleus, interpolate):
    interpolation_recipes(workspace)
    launcher = workspace.launch([COUNTS, UNRELATED], interpolate_component_configuration=interpolate)
    variables_file = os.path.join(workspace.work(COUNTS), "variables.txt")
    assert wait_until(lambda: os.path.exists(variables_file)), launcher.state_history(COUNTS)
    assert launcher.wait_for_state(COUNTS, RUNNING, WAIT), launcher.state_history(COUNTS)

    # The lifecycle is interpolated either way; a variable of a component it does not depend on is not.
    run = workspace.run_dir()
    with open(variables_file) as lines:
        variables = dict(line.rstrip("\n").split("=", 1) for line in lines)
    assert variables == {
        "work": os.path.join(run, "work", COUNTS),
        "own": "camera-1",
        "thing": THING,
        "dependency_work": os.path.join(run, "work", DEPENDENCY),
        "dependency_setting": "from-the-dependency",
        "dependency_files": os.path.join(run, "packages", "artifacts-unarchived", DEPENDENCY, "1.0.0"),
        "dependency_file": "hello from the dependency",
        "unrelated_work": "{test.fidelity.Unrelated:work:path}",
    }

    configuration = nucleus.get_configuration(COUNTS)
    resources = configuration["accessControl"]["aws.greengrass.ipc.mqttproxy"][COUNTS_POLICY]["resources"]
    counts_topic = f"ggvision/{THING}/counts"
    client = ipc_client(nucleus, COUNTS)
    try:
        if interpolate:
            assert configuration["Thing"] == THING
            assert configuration["Topic"] == counts_topic
            assert configuration["Echo"] == "camera-1"
            assert configuration["Work"] == os.path.join(run, "work", COUNTS)
            assert resources == [counts_topic]
            client.publish_to_iot_core(topic_name=counts_topic, qos=QOS.AT_LEAST_ONCE,
                                       payload=b'{"count": 1}')
            messages = nucleus.wait_for_iot_core(counts_topic, WAIT)
            assert [message.payload for message in messages] == [b'{"count": 1}']
        else:
            # A default core: the configuration keeps the text, and the policy grants only that text.
            assert configuration["Thing"] == "{iot:thingName}"
            assert configuration["Topic"] == "ggvision/{iot:thingName}/counts"
            assert configuration["Echo"] == "{configuration:/Name}"
            assert configuration["Work"] == "{work:path}"
            assert resources == ["ggvision/{iot:thingName}/counts"]
            with pytest.raises(UnauthorizedError):
                client.publish_to_iot_core(topic_name=counts_topic, qos=QOS.AT_LEAST_ONCE, payload=b"{}")
            assert nucleus.iot_core_messages() == []
    finally:
        client.close()


# ---------------------------------------------------------------------- 3. Startup readiness

PRODUCER = "test.fidelity.Producer"
CONSUMER = "test.fidelity.Consumer"


def consumer(check: str, dependency_type: str = "HARD") -> Dict[str, Any]:
    """A component whose Run succeeds only when `check` (a shell test) holds."""
    return recipe(CONSUMER, {"Run": f'if {check}; then echo "consumer saw the producer ready"; '
                                    f'else echo "producer not ready"; exit 1; fi'},
                  dependencies={PRODUCER: dependency_type})


def test_startup_holds_dependents_back_until_it_exits_0(workspace):
    workspace.add(
        recipe(PRODUCER, {"Startup": "sleep 2 && echo ready > ready && echo producer ready"}),
        consumer(f'[ -f "{{{PRODUCER}:work:path}}/ready" ]'),
    )

    launcher = workspace.launch([CONSUMER])

    assert settle(launcher, CONSUMER) == FINISHED, launcher.state_history(CONSUMER)
    timeline = launcher.timeline()
    assert first(timeline, PRODUCER, RUNNING) < first(timeline, CONSUMER, STARTING), timeline
    assert launcher.state_history(CONSUMER) == RAN_TO_COMPLETION  # first time, no error
    assert launcher.log_lines(CONSUMER) == ["consumer saw the producer ready"]
    # A Startup component stays RUNNING once its script exited 0 (until it is stopped).
    assert launcher.state_history(PRODUCER) == [NEW, INSTALLED, STARTING, RUNNING]


def test_startup_that_launches_a_background_process_and_exits_0(workspace):
    workspace.add(
        recipe(PRODUCER, {"Startup": (
            "( while :; do date > heartbeat; sleep 0.2; done ) >/dev/null 2>&1 &\n"
            "echo $! > daemon.pid\n"
            "while [ ! -s heartbeat ]; do sleep 0.1; done\n"
            "echo producer daemon started\n")}),
        consumer(f'kill -0 "$(cat "{{{PRODUCER}:work:path}}/daemon.pid")"'),
    )

    launcher = workspace.launch([CONSUMER])

    assert settle(launcher, CONSUMER) == FINISHED, launcher.state_history(CONSUMER)
    timeline = launcher.timeline()
    assert first(timeline, PRODUCER, RUNNING) < first(timeline, CONSUMER, STARTING), timeline
    assert launcher.state_history(CONSUMER) == RAN_TO_COMPLETION
    assert launcher.state(PRODUCER) == RUNNING
    daemon = pids(os.path.join(workspace.work(PRODUCER), "daemon.pid"))[0]
    assert not process_gone(daemon)  # the Startup script exited, its daemon runs on

    launcher.stop()
    assert launcher.state_history(PRODUCER) == [NEW, INSTALLED, STARTING, RUNNING, STOPPING, FINISHED]
    assert wait_until(lambda: process_gone(daemon))  # stopping the component stops its daemon


def test_startup_that_never_exits_0_times_out_and_dependents_never_start(workspace):
    workspace.add(
        recipe(PRODUCER, {"Startup": {"Script": "echo $$ >> startup.pids; exec sleep 600", "Timeout": 1}}),
        recipe(CONSUMER, {"Run": "echo consumer ran > consumer-ran; echo consumer ran"},
               dependencies={PRODUCER: "HARD"}),
    )

    launcher = workspace.launch([CONSUMER])

    assert launcher.wait_for_state(PRODUCER, BROKEN, WAIT), launcher.state_history(PRODUCER)
    # Each Startup timeout is an error in STARTING: stop, retry; the third one is BROKEN (nucleus Lifecycle).
    assert launcher.state_history(PRODUCER) == [NEW, INSTALLED] \
        + [STARTING, ERRORED, STOPPING, INSTALLED] * 2 + [STARTING, BROKEN]
    startups = pids(os.path.join(workspace.work(PRODUCER), "startup.pids"))
    assert 1 <= len(startups) <= 3  # (a script killed by its timeout before its first line records none)
    assert wait_until(lambda: all(process_gone(pid) for pid in startups))  # each timed-out Startup was killed
    # BROKEN is final until a new deployment: the dependent never started.
    assert launcher.state_history(CONSUMER) == [NEW, INSTALLED]
    assert launcher.log_lines(CONSUMER) == []
    assert not os.path.exists(os.path.join(workspace.work(CONSUMER), "consumer-ran"))


def test_run_step_dependency_lets_dependents_start_at_once(workspace, nucleus):
    workspace.add(
        recipe(PRODUCER, {"Run": "echo $$ > producer.pid; echo producer running; exec sleep 600"}),
        consumer(f'[ -s "{{{PRODUCER}:work:path}}/producer.pid" ]'),
    )

    launcher = workspace.launch([CONSUMER])

    # The consumer ran to completion while the producer's Run is still running: it waited for nothing
    # but RUNNING, which a Run step is as soon as its process starts (no UpdateState needed).
    assert settle(launcher, CONSUMER) == FINISHED, launcher.state_history(CONSUMER)
    timeline = launcher.timeline()
    assert first(timeline, PRODUCER, RUNNING) < first(timeline, CONSUMER, STARTING), timeline
    assert launcher.state_history(CONSUMER) == RAN_TO_COMPLETION
    assert launcher.state_history(PRODUCER) == [NEW, INSTALLED, STARTING, RUNNING]
    assert nucleus.get_state(PRODUCER) is None  # it never reported anything over IPC


def test_soft_dependency_does_not_hold_dependents_back(workspace):
    # GreengrassService.dependencyReady: "Soft dependency can be in any state".
    workspace.add(
        recipe(PRODUCER, {"Startup": {"Script": "exec sleep 600", "Timeout": 110}}),
        recipe(CONSUMER, {"Run": "echo consumer ran"}, dependencies={PRODUCER: "SOFT"}),
    )

    launcher = workspace.launch([CONSUMER])

    # The consumer runs to completion while the producer is never RUNNING (its Startup never exits).
    assert settle(launcher, CONSUMER) == FINISHED, launcher.state_history(CONSUMER)
    assert launcher.state_history(CONSUMER) == RAN_TO_COMPLETION
    assert launcher.wait_for_state(PRODUCER, STARTING, WAIT)
    assert launcher.state_history(PRODUCER) == [NEW, INSTALLED, STARTING]


# -------------------------------------------------------------------------- 4. Install Timeout, Skipif

def test_install_longer_than_its_timeout_is_an_error_then_broken(workspace):
    name = "test.fidelity.SlowInstall"
    workspace.add(recipe(name, {
        "Install": {"Script": "echo installing; echo $$ >> install.pids; exec sleep 600", "Timeout": 1},
        "Run": "echo never",
    }))

    launcher = workspace.launch([name])

    assert launcher.wait_for_state(name, BROKEN, WAIT), launcher.state_history(name)
    assert launcher.state_history(name) == [NEW, ERRORED, NEW, ERRORED, NEW, BROKEN]
    lines = launcher.log_lines(name)
    assert 1 <= len(lines) <= 3 and set(lines) == {"installing"}, lines  # never "never": Run did not run
    installs = pids(os.path.join(workspace.work(name), "install.pids"))
    assert 1 <= len(installs) <= 3
    assert wait_until(lambda: all(process_gone(pid) for pid in installs))


def test_skipif_onpath_and_exists_skip_the_install_step(workspace, tmp_path, monkeypatch):
    present = tmp_path / "present"
    present.write_text("here")
    # A command only the developer has: on the test process's PATH, not on the nucleus's.
    dev_bin = tmp_path / "dev-bin"
    dev_bin.mkdir()
    tool = dev_bin / "ggvision-dev-only-tool"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(dev_bin) + os.pathsep + os.environ.get("PATH", ""))
    cases = {  # component: (Skipif, whether Install is skipped)
        "test.fidelity.SkipOnpath": ("onpath sh", True),
        "test.fidelity.RunOnpathMissing": ("onpath ggvision-no-such-command", False),
        "test.fidelity.RunOnpathDeveloperOnly": ("onpath ggvision-dev-only-tool", False),
        "test.fidelity.SkipExists": (f"exists {present}", True),
        "test.fidelity.RunExistsMissing": (f"exists {tmp_path / 'absent'}", False),
        # GenericExternalService.shouldSkip: a leading "!" negates; exists expands "~/"
        "test.fidelity.SkipNotOnpath": ("! onpath ggvision-no-such-command", True),
        "test.fidelity.RunNotExists": (f"!exists {present}", False),
        "test.fidelity.SkipExistsHome": ("exists ~/", True),
    }
    for name, (skipif, _) in cases.items():
        workspace.add(recipe(name, {
            "Install": {"Script": "echo install ran > install-ran; echo install ran", "Skipif": skipif},
            "Run": "echo run ran",
        }))

    launcher = workspace.launch(list(cases))

    for name, (skipif, skipped) in cases.items():
        assert settle(launcher, name) == FINISHED, (name, launcher.state_history(name))
        assert launcher.state_history(name) == RAN_TO_COMPLETION, name
        expected = ["run ran"] if skipped else ["install ran", "run ran"]
        assert launcher.log_lines(name) == expected, (name, skipif)
        installed = os.path.exists(os.path.join(workspace.work(name), "install-ran"))
        assert installed is not skipped, (name, skipif)


def test_an_invalid_skipif_makes_the_step_an_error_as_in_the_nucleus(workspace):
    # shouldSkip throws InputValidationException: the step is errored, not run and not skipped.
    workspace.add(recipe("test.fidelity.BadSkipif", {
        "Install": {"Script": "echo install ran", "Skipif": "whenever it rains"}, "Run": "echo run ran"}))

    launcher = workspace.launch(["test.fidelity.BadSkipif"])

    assert launcher.wait_for_state("test.fidelity.BadSkipif", BROKEN, WAIT)
    assert launcher.state_history("test.fidelity.BadSkipif") == [NEW, ERRORED, NEW, ERRORED, NEW, BROKEN]
    assert launcher.log_lines("test.fidelity.BadSkipif") == []  # neither step ran


def test_a_skipped_startup_waits_for_the_component_to_report_running(workspace):
    # A skipped step is done with no process: nothing exits 0, so only UpdateState(RUNNING) (or the
    # Startup Timeout) ends STARTING; Run is not used instead.
    workspace.add(recipe("test.fidelity.SkippedStartup", {
        "Startup": {"Script": "echo startup ran", "Skipif": "onpath sh", "Timeout": 2},
        "Run": "echo run ran"}))

    launcher = workspace.launch(["test.fidelity.SkippedStartup"])

    assert launcher.wait_for_state("test.fidelity.SkippedStartup", BROKEN, WAIT)
    assert launcher.state_history("test.fidelity.SkippedStartup") == [NEW, INSTALLED] \
        + [STARTING, ERRORED, STOPPING, INSTALLED] * 2 + [STARTING, BROKEN]
    assert launcher.log_lines("test.fidelity.SkippedStartup") == []


# ------------------------------------------------------------------------------------ 5. shared_work

STAMP_INSTALL = """\
echo "install cwd=$(pwd)"
echo "work={work:path}"
if [ -f "{work:path}/stamp" ]; then
  echo "re-used $(cat "{work:path}/stamp")"
else
  echo "{configuration:/Label}" > "{work:path}/stamp"
  echo created
fi
"""


def test_shared_work_keeps_the_work_folder_between_launches(workspace, tmp_path):
    name = "test.fidelity.Stamp"
    workspace.add(recipe(name, {"Install": STAMP_INSTALL, "Run": 'echo "run cwd=$(pwd)"'},
                         configuration={"Label": "default"}))
    shared = str(tmp_path / "kept" / name)
    real_shared = os.path.realpath(shared)
    stamp = os.path.join(shared, "stamp")

    def launch_once(run: str, label: str, **options: Any) -> List[str]:
        launcher = workspace.launch([name], run=run, config_overrides={name: {"MERGE": {"Label": label}}},
                                    **options)
        try:
            assert settle(launcher, name) == FINISHED, launcher.state_history(name)
        finally:
            launcher.stop()
        assert launcher.state_history(name) == RAN_TO_COMPLETION
        return launcher.log_lines(name)

    first_lines = launch_once("run1", "first", shared_work={name: shared})
    # The shared folder is the component's work folder: {work:path} is it, the scripts run in it.
    assert first_lines == [f"install cwd={real_shared}", f"work={shared}", "created",
                           f"run cwd={real_shared}"]
    with open(stamp) as made:
        assert made.read() == "first\n"

    second_lines = launch_once("run2", "second", shared_work={name: shared})
    assert second_lines == [f"install cwd={real_shared}", f"work={shared}", "re-used first",
                            f"run cwd={real_shared}"]
    with open(stamp) as kept:
        assert kept.read() == "first\n"
    for run in ("run1", "run2"):  # nothing went to the launches' own work folders
        assert not os.path.exists(os.path.join(workspace.work(name, run), "stamp"))

    # Without shared_work a new root is a new device: a fresh work folder under it.
    third_lines = launch_once("run3", "third")
    own = workspace.work(name, "run3")
    assert third_lines == [f"install cwd={os.path.realpath(own)}", f"work={own}", "created",
                           f"run cwd={os.path.realpath(own)}"]
    with open(stamp) as untouched:
        assert untouched.read() == "first\n"
