"""Run components from their recipes as real processes, supervised the way the Greengrass nucleus
supervises generic components.

For each component (dependencies first): pick the manifest for this platform, resolve its
configuration, register it with the LocalNucleus, stage its artifacts in a run folder laid out as the
nucleus's root (`packages/artifacts`, `packages/artifacts-unarchived`, `work`), interpolate the
lifecycle, then drive it through the nucleus's states:

    NEW -Install-> INSTALLED -dependencies RUNNING/FINISHED-> STARTING -Run-> RUNNING
    RUNNING -exit 0-> STOPPING -> FINISHED
    RUNNING -exit != 0, UpdateState(ERRORED), Run Timeout-> ERRORED -> STOPPING -> INSTALLED -> ...
    the third error within an hour in the same state (NEW, STARTING, RUNNING) -> BROKEN

Scripts run with `sh -c` in the component's work folder, each in its own process group; their output
lines are printed prefixed with the component name and kept (the last N) for tests. Stopping sends
SIGTERM to every process group, waits, then SIGKILLs what is left.
"""

import collections
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from typing import IO, Any, Deque, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from .recipes import (
    ComponentPaths,
    ConfigurationUpdate,
    Interpolator,
    LifecycleStep,
    Manifest,
    Recipe,
    RecipeError,
    component_paths,
    current_platform,
    environment_values,
    lifecycle_step,
    load_configuration_updates,
    load_recipes,
    parse_configuration_updates,
    parse_platform_overrides,
    resolve_configuration,
    start_order,
)

_log = logging.getLogger("local_nucleus.launcher")

NEW, INSTALLED, STARTING, RUNNING = "NEW", "INSTALLED", "STARTING", "RUNNING"
STOPPING, FINISHED, ERRORED, BROKEN = "STOPPING", "FINISHED", "ERRORED", "BROKEN"
STATES = (NEW, INSTALLED, STARTING, RUNNING, STOPPING, FINISHED, ERRORED, BROKEN)

# The nucleus's Lifecycle: the third ERRORED within an hour from the same state makes the service BROKEN.
MAX_ERRORS = 3
ERROR_RESET_SECONDS = 3600.0
INSTALL_TIMEOUT = 120
STARTUP_TIMEOUT = 120
SHUTDOWN_TIMEOUT = 15

_AUTO = object()
PathList = Union[str, Sequence[str]]


class LauncherError(RuntimeError):
    """The components cannot be launched (recipe, platform, configuration or artifact problem)."""


@dataclass
class ComponentPlan:
    """What the launcher runs for one component, resolved before anything starts."""

    recipe: Recipe
    manifest: Manifest
    configuration: Dict[str, Any]
    lifecycle: Dict[str, Any]
    paths: ComponentPaths
    dependencies: List[str]

    @property
    def name(self) -> str:
        return self.recipe.name


def plan_components(recipes: Dict[str, Recipe], platform: Dict[str, str],
                    updates: Mapping[str, ConfigurationUpdate], run_dir: str, thing_name: str,
                    wanted: Optional[Sequence[str]] = None) -> List[ComponentPlan]:
    """Resolve manifests, configurations and lifecycles, dependencies first."""
    try:
        order = start_order(recipes, wanted)
    except RecipeError as error:
        raise LauncherError(str(error)) from error
    for name in updates:
        if name not in recipes:
            raise LauncherError(f"configuration given for {name}, which has no recipe")
        if name not in order:
            _log.warning("configuration for %s ignored: it is not launched", name)
    configurations: Dict[str, Dict[str, Any]] = {}
    manifests: Dict[str, Manifest] = {}
    paths: Dict[str, ComponentPaths] = {}
    for name in order:
        recipe = recipes[name]
        manifest = recipe.select_manifest(platform)
        if manifest is None:
            raise LauncherError(f"{name}: no manifest of {recipe.path} matches this platform {platform} "
                                "(a custom attribute is set with --platform-override key=value)")
        manifests[name] = manifest
        configurations[name] = resolve_configuration(recipe.default_configuration, updates.get(name))
        paths[name] = component_paths(run_dir, name, recipe.version)
    running = set(order)
    interpolator = Interpolator(run_dir, thing_name, configurations, paths,
                                {name: set(recipes[name].dependencies) for name in order})
    plans = []
    for name in order:
        recipe = recipes[name]
        lifecycle = interpolator.interpolate(recipe.lifecycle(manifests[name]), name)
        plans.append(ComponentPlan(recipe, manifests[name], configurations[name], lifecycle, paths[name],
                                   [dep for dep in recipe.dependencies if dep in running]))
    return plans


def stage_artifacts(plan: ComponentPlan, artifact_dirs: Sequence[str]) -> None:
    """Copy the manifest's artifacts from `<artifact-dir>/<Name>/<Version>/<file>` (the greengrass-cli
    --artifactDir layout) into the run folder, unzip `Unarchive: ZIP` ones, create the work folder."""
    name, version = plan.recipe.name, plan.recipe.version
    for folder in (plan.paths.artifacts, plan.paths.decompressed):
        shutil.rmtree(folder, ignore_errors=True)  # a fresh copy each launch: never a stale build
        os.makedirs(folder)
    os.makedirs(plan.paths.work, exist_ok=True)
    for artifact in plan.manifest.artifacts:
        if artifact.uri.startswith("docker:"):
            _log.warning("%s: docker artifact %s is not pulled by the local nucleus", name, artifact.uri)
            continue
        candidates = [os.path.join(folder, name, version, artifact.file_name) for folder in artifact_dirs]
        source = next((path for path in candidates if os.path.isfile(path)), None)
        if source is None:
            raise LauncherError(f"{name}: artifact {artifact.file_name} not found (looked for "
                                f"{', '.join(candidates)}); build it with scripts/build")
        target = os.path.join(plan.paths.artifacts, artifact.file_name)
        shutil.copyfile(source, target)
        _apply_permission(target, artifact.read, artifact.execute)
        if artifact.unarchive == "ZIP":
            stem = artifact.file_name
            if stem.lower().endswith(".zip"):
                stem = stem[:-4]
            _unzip(target, os.path.join(plan.paths.decompressed, stem), artifact.read, artifact.execute)
        elif artifact.unarchive != "NONE":
            raise LauncherError(f"{name}: Unarchive {artifact.unarchive} is not supported (ZIP or NONE)")


def _apply_permission(path: str, read: str, execute: str) -> None:
    # The nucleus sets each artifact file's mode from the recipe's Permission (default Read OWNER).
    mode = {"OWNER": 0o400, "ALL": 0o444}.get(read, 0)
    mode |= {"OWNER": 0o100, "ALL": 0o111}.get(execute, 0)
    os.chmod(path, mode | 0o200)  # owner-writable so that the next launch can replace it


def _unzip(archive: str, destination: str, read: str, execute: str) -> None:
    root = os.path.realpath(destination)
    os.makedirs(root, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                target = os.path.realpath(os.path.join(root, member.filename))
                if not target.startswith(root + os.sep):
                    raise LauncherError(f"{archive}: entry {member.filename!r} is outside the archive folder")
                if member.is_dir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with zipped.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1024 * 1024)
                _apply_permission(target, read, execute)
    except zipfile.BadZipFile as error:
        raise LauncherError(f"{archive} is not a valid ZIP: {error}") from error


def _default_bin_dir() -> Optional[str]:
    # Inside a virtual environment, recipes' `python3` must be this environment's python.
    if sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        return os.path.join(sys.prefix, "bin")
    return None


class Launcher:
    """Runs components from recipes against a started LocalNucleus.

    `recipe_dir` and `artifact_dir` take one folder or a list (searched in order); `config_overrides`
    a configuration update file or mapping (`{"Component": {"MERGE": {...}, "RESET": [...]}}`);
    `platform_overrides` a mapping or `key=value` strings; `components` the names to run (their
    dependencies come along), default all.
    """

    def __init__(self, nucleus: Any, recipe_dir: PathList, artifact_dir: PathList, run_dir: str,
                 config_overrides: Union[None, str, Mapping[str, Any]] = None,
                 platform_overrides: Union[None, Mapping[str, str], Sequence[str]] = None,
                 components: Optional[Sequence[str]] = None, stop_timeout: float = 10.0,
                 restart_delay: float = 1.0, log_lines: int = 1000, output: Optional[IO[str]] = sys.stdout,
                 python_bin_dir: Any = _AUTO) -> None:
        self.nucleus = nucleus
        self.recipe_dirs = [recipe_dir] if isinstance(recipe_dir, str) else list(recipe_dir)
        self.artifact_dirs = [artifact_dir] if isinstance(artifact_dir, str) else list(artifact_dir)
        self.run_dir = os.path.abspath(run_dir)
        self.stop_timeout = stop_timeout
        self.restart_delay = restart_delay
        self.output = output
        self._config_overrides = config_overrides
        self._platform_overrides = platform_overrides
        self._wanted = list(components) if components is not None else None
        self._log_lines = log_lines
        self._bin_dir = _default_bin_dir() if python_bin_dir is _AUTO else python_bin_dir
        self._components: Dict[str, _Component] = {}
        self._order: List[str] = []
        self._changed = threading.Condition()
        self._output_lock = threading.Lock()
        self._started = False
        self._stopped = False

    # -- public API ---------------------------------------------------------------------------
    @property
    def components(self) -> List[str]:
        """The components launched, dependencies first."""
        return list(self._order)

    def start(self) -> None:
        """Resolve, stage and register every component, then start supervising them."""
        if self._started:
            raise RuntimeError("this launcher was already started")
        self._started = True
        try:
            recipes = load_recipes(self.recipe_dirs)
            updates = self._updates()
            overrides = self._platform_overrides
            if overrides is not None and not isinstance(overrides, Mapping):
                overrides = parse_platform_overrides(overrides)
            platform = current_platform(overrides)
        except RecipeError as error:
            raise LauncherError(str(error)) from error
        plans = plan_components(recipes, platform, updates, self.run_dir, self.nucleus.thing_name,
                                self._wanted)
        os.makedirs(os.path.join(self.run_dir, "logs"), exist_ok=True)
        for plan in plans:
            stage_artifacts(plan, self.artifact_dirs)
        for plan in plans:
            self.nucleus.add_component(plan.name, plan.configuration)
            self._components[plan.name] = _Component(self, plan)
            self._order.append(plan.name)
        self.nucleus.add_state_listener(self._on_reported_state)
        _log.info("launching %s on %s", ", ".join(self._order) or "nothing", platform)
        for name in self._order:
            self._components[name].start()

    def stop(self) -> None:
        """SIGTERM every component's processes, SIGKILL what outlives `stop_timeout`; wait for all."""
        if self._stopped or not self._started:
            self._stopped = True
            return
        self._stopped = True
        for component in self._components.values():
            component.request_stop()
        deadline = time.monotonic() + self.stop_timeout + SHUTDOWN_TIMEOUT + 5
        for component in self._components.values():
            component.join(max(0.0, deadline - time.monotonic()))
        for component in self._components.values():
            component.close_log()
        with self._changed:
            self._changed.notify_all()

    def state(self, name: str) -> str:
        """The component's lifecycle state (see STATES)."""
        return self._component(name).state

    def state_history(self, name: str) -> List[str]:
        """Every state the component went through, in order."""
        with self._changed:
            return list(self._component(name).history)

    def wait_for_state(self, name: str, state: str, timeout: float) -> bool:
        """Wait until the component is in `state`; False if `timeout` seconds pass first."""
        component = self._component(name)
        with self._changed:
            return self._changed.wait_for(lambda: component.state == state, timeout)

    def log_lines(self, name: str) -> List[str]:
        """The component's last output lines (stdout and stderr, without the prefix)."""
        with self._output_lock:
            return list(self._component(name).lines)

    def __enter__(self) -> "Launcher":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------
    def _component(self, name: str) -> "_Component":
        try:
            return self._components[name]
        except KeyError:
            raise KeyError(f"{name} is not launched (launched: {', '.join(self._order)})") from None

    def _updates(self) -> Dict[str, ConfigurationUpdate]:
        overrides = self._config_overrides
        if overrides is None:
            return {}
        if isinstance(overrides, str):
            return load_configuration_updates(overrides)
        if all(isinstance(value, ConfigurationUpdate) for value in overrides.values()):
            return dict(overrides)
        return parse_configuration_updates(dict(overrides))

    def _on_reported_state(self, name: str, state: str) -> None:
        # Runs on the nucleus thread: only hand the report over.
        component = self._components.get(name)
        if component is not None and not self._stopped:
            component.post(("reported", state))

    def _set_state(self, component: "_Component", state: str) -> None:
        with self._changed:
            previous = component.state
            component.state = state
            component.history.append(state)
            self._changed.notify_all()
        _log.info("%s: %s -> %s", component.name, previous, state)

    def _dependencies_ready(self, component: "_Component") -> bool:
        """Block until every dependency is RUNNING or FINISHED; False when stopping first."""
        dependencies = [self._components[name] for name in component.plan.dependencies]

        def ready() -> bool:
            return (component.stopping.is_set()
                    or all(dep.state in (RUNNING, FINISHED) for dep in dependencies))

        with self._changed:
            if not ready():
                _log.info("%s: waiting for %s", component.name, ", ".join(component.plan.dependencies))
            self._changed.wait_for(ready)
        return not component.stopping.is_set()

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _emit(self, component: "_Component", line: str) -> None:
        with self._output_lock:
            component.lines.append(line)
            if self.output is not None:
                try:
                    self.output.write(f"[{component.name}] {line}\n")
                    self.output.flush()
                except (OSError, ValueError):
                    pass
            if component.log_file is not None:
                component.log_file.write(line + "\n")
                component.log_file.flush()

    def _environment(self, component: "_Component", step: LifecycleStep) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.nucleus.component_env(component.name))
        if self._bin_dir:
            env["PATH"] = self._bin_dir + os.pathsep + env.get("PATH", "")
        env.update(environment_values(component.plan.lifecycle.get("Setenv")))
        env.update(step.setenv)
        return env


class _Component:
    """One component's supervisor: a thread running the nucleus's lifecycle for it."""

    def __init__(self, launcher: Launcher, plan: ComponentPlan) -> None:
        self.launcher = launcher
        self.plan = plan
        self.name = plan.name
        self.state = NEW
        self.history: List[str] = [NEW]
        self.lines: Deque[str] = collections.deque(maxlen=max(1, launcher._log_lines))
        self.stopping = threading.Event()
        self.log_file: Optional[IO[str]] = open(  # noqa: SIM115 - closed by close_log()
            os.path.join(launcher.run_dir, "logs", plan.name + ".log"), "a", encoding="utf-8")
        self._events: queue.Queue = queue.Queue()  # (kind, ...) tuples
        self._generation = 0
        self._processes: List[subprocess.Popen] = []
        self._errors: Dict[str, List[float]] = {NEW: [], STARTING: [], RUNNING: []}
        self._thread = threading.Thread(target=self._main, name=f"launcher-{plan.name}", daemon=True)

    # -- control from the launcher
    def start(self) -> None:
        self._thread.start()

    def post(self, event: Tuple[Any, ...]) -> None:
        self._events.put(event)

    def request_stop(self) -> None:
        self.stopping.set()
        self.post(("stop",))
        self.launcher._wake()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            _log.error("%s: supervisor did not stop in time; killing its processes", self.name)
            self._kill_all(signal.SIGKILL)

    def close_log(self) -> None:
        with self.launcher._output_lock:
            if self.log_file is not None:
                self.log_file.close()
                self.log_file = None

    # -- the lifecycle
    def _main(self) -> None:
        try:
            self._lifecycle()
        except Exception:  # noqa: BLE001 - a supervisor bug must not leave processes behind
            _log.exception("%s: supervisor failed", self.name)
            self._terminate()
            self._set(BROKEN)
            return
        if self.state not in (BROKEN, FINISHED):
            self._set(STOPPING)
            self._run_shutdown()
            self._terminate()
            self._set(FINISHED)
        else:
            self._terminate()

    def _set(self, state: str) -> None:
        self.launcher._set_state(self, state)

    def _lifecycle(self) -> None:
        if lifecycle_step(self.plan.lifecycle, "Bootstrap") is not None:
            _log.warning("%s: the Bootstrap step is not run by the local nucleus", self.name)
        installed = False
        while not self.stopping.is_set():
            if not installed:
                outcome = self._install()
                if outcome == "stopped":
                    return
                if outcome == "error":
                    if self._errored(NEW):
                        return
                    self._set(NEW)
                    self._pause()
                    continue
                installed = True
                self._errors[NEW].clear()
                self._set(INSTALLED)
            if not self.launcher._dependencies_ready(self):
                return
            self._set(STARTING)
            outcome, phase = self._start_and_run()
            if outcome == "stopped":
                return
            if outcome == "finished":
                self._errors[RUNNING].clear()
                self._set(STOPPING)
                self._terminate()
                self._set(FINISHED)
                self.stopping.wait()
                return
            if self._errored(phase):
                return
            self._set(STOPPING)
            self._run_shutdown()
            self._terminate()
            self._set(INSTALLED)
            self._pause()

    def _errored(self, phase: str) -> bool:
        """Count an error in `phase`; True when it makes the component BROKEN."""
        now = time.monotonic()
        history = self._errors[phase]
        if history and now - history[-1] >= ERROR_RESET_SECONDS:
            history.clear()
        history.append(now)
        if len(history) >= MAX_ERRORS:
            _log.error("%s: %d errors in %s: BROKEN (a new launch is needed)", self.name, len(history), phase)
            self._terminate()
            self._set(BROKEN)
            return True
        self._set(ERRORED)
        return False

    def _pause(self) -> None:
        self.stopping.wait(self.launcher.restart_delay)

    def _install(self) -> str:
        step = lifecycle_step(self.plan.lifecycle, "Install")
        if step is None or self._skip(step, "Install"):
            return "ok"
        generation = self._spawn("Install", step)
        timeout = step.timeout if step.timeout is not None else INSTALL_TIMEOUT
        deadline = time.monotonic() + timeout
        while True:
            event = self._next_event(deadline)
            if event is None:
                _log.error("%s: Install timed out after %ss", self.name, timeout)
                self._terminate()
                return "error"
            if event[0] == "stop":
                return "stopped"
            if event[0] == "exit" and event[1] == generation:
                if event[2] == 0:
                    return "ok"
                _log.error("%s: Install exited with %s", self.name, event[2])
                return "error"

    def _start_and_run(self) -> Tuple[str, str]:
        """Run Startup or Run; ("finished" | "error" | "stopped", the state the error happened in)."""
        startup = lifecycle_step(self.plan.lifecycle, "Startup")
        run = lifecycle_step(self.plan.lifecycle, "Run")
        if startup is not None and not self._skip(startup, "Startup"):
            return self._startup(startup)
        if run is None or self._skip(run, "Run"):
            return "finished", RUNNING
        generation = self._spawn("Run", run)
        self._errors[STARTING].clear()
        self._set(RUNNING)
        deadline = time.monotonic() + run.timeout if run.timeout is not None else None
        while True:
            event = self._next_event(deadline)
            if event is None:
                _log.error("%s: Run still running after its Timeout of %ss", self.name, run.timeout)
                return "error", RUNNING
            kind = event[0]
            if kind == "stop":
                return "stopped", RUNNING
            if kind == "exit" and event[1] == generation:
                if event[2] == 0:
                    _log.info("%s: Run exited with 0", self.name)
                    return "finished", RUNNING
                _log.error("%s: Run exited with %s", self.name, event[2])
                return "error", RUNNING
            if kind == "reported" and event[1] == ERRORED:
                _log.error("%s: reported ERRORED", self.name)
                return "error", RUNNING

    def _startup(self, step: LifecycleStep) -> Tuple[str, str]:
        # A Startup script launches background processes; its exit 0 (or the component reporting
        # RUNNING) means RUNNING. A non-zero exit of it is an error even later, as in the nucleus.
        generation = self._spawn("Startup", step)
        timeout = step.timeout if step.timeout is not None else STARTUP_TIMEOUT
        deadline: Optional[float] = time.monotonic() + timeout
        phase = STARTING
        while True:
            event = self._next_event(deadline)
            if event is None:
                _log.error("%s: Startup did not report RUNNING within %ss", self.name, timeout)
                return "error", STARTING
            kind = event[0]
            if kind == "stop":
                return "stopped", phase
            became_running = ((kind == "exit" and event[1] == generation and event[2] == 0)
                              or (kind == "reported" and event[1] == RUNNING))
            if became_running and phase == STARTING:
                phase, deadline = RUNNING, None
                self._errors[STARTING].clear()
                self._set(RUNNING)
            elif kind == "exit" and event[1] == generation and event[2] != 0:
                _log.error("%s: Startup exited with %s", self.name, event[2])
                return "error", phase
            elif kind == "reported" and event[1] == ERRORED:
                _log.error("%s: reported ERRORED", self.name)
                return "error", phase

    def _run_shutdown(self) -> None:
        step = lifecycle_step(self.plan.lifecycle, "Shutdown")
        if step is None or self._skip(step, "Shutdown"):
            return
        generation = self._spawn("Shutdown", step)
        timeout = step.timeout if step.timeout is not None else SHUTDOWN_TIMEOUT
        deadline = time.monotonic() + timeout
        while True:
            event = self._next_event(deadline, ignore_stop=True)
            if event is None:
                _log.warning("%s: Shutdown did not finish within %ss", self.name, timeout)
                return
            if event[0] == "exit" and event[1] == generation:
                return

    def _skip(self, step: LifecycleStep, name: str) -> bool:
        if not step.skipif:
            return False
        check, _, argument = step.skipif.strip().partition(" ")
        argument = argument.strip()
        if check == "onpath":
            path = self.launcher._environment(self, step).get("PATH")
            skip = shutil.which(argument, path=path) is not None
        elif check == "exists":
            skip = os.path.exists(argument)
        else:
            _log.error("%s: Skipif %r not understood (onpath or exists); the step runs",
                       self.name, step.skipif)
            return False
        if skip:
            _log.info("%s: %s skipped (Skipif %s)", self.name, name, step.skipif)
        return skip

    def _next_event(self, deadline: Optional[float], ignore_stop: bool = False) -> Optional[Tuple[Any, ...]]:
        """The next event, or None at the deadline. Stale events of older processes are dropped."""
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                return None
            if event[0] == "stop" and ignore_stop:
                continue
            if event[0] == "exit" and event[1] != self._generation:
                continue
            return event

    # -- processes
    def _spawn(self, step_name: str, step: LifecycleStep) -> int:
        self._drain_reports()
        self._generation += 1
        generation = self._generation
        if step.requires_privilege:
            _log.warning("%s: %s has RequiresPrivilege: the local nucleus runs it unprivileged",
                         self.name, step_name)
        env = self.launcher._environment(self, step)
        process = subprocess.Popen(["sh", "-c", step.script], cwd=self.plan.paths.work, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        _log.info("%s: %s started (pid %d)", self.name, step_name, process.pid)
        self._processes.append(process)
        readers = [threading.Thread(target=self._pump, args=(stream,), daemon=True,
                                    name=f"{self.name}-{step_name}-output")
                   for stream in (process.stdout, process.stderr)]
        for reader in readers:
            reader.start()
        threading.Thread(target=self._watch, args=(process, readers, generation), daemon=True,
                         name=f"{self.name}-{step_name}-wait").start()
        return generation

    def _drain_reports(self) -> None:
        # UpdateState reports queued before a new process starts belong to an older one.
        kept = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            if event[0] != "reported":
                kept.append(event)
        for event in kept:
            self._events.put(event)

    def _pump(self, stream: IO[bytes]) -> None:
        try:
            for raw in iter(lambda: stream.readline(65536), b""):
                self.launcher._emit(self, raw.decode("utf-8", "replace").rstrip("\r\n"))
        except (OSError, ValueError):
            pass
        finally:
            stream.close()

    def _watch(self, process: subprocess.Popen, readers: List[threading.Thread], generation: int) -> None:
        code = process.wait()
        for reader in readers:
            reader.join(2.0)  # the last lines before the exit is handled (a child may hold the pipe)
        self.post(("exit", generation, code))

    def _terminate(self) -> None:
        """SIGTERM every process group this component started; SIGKILL after the stop timeout."""
        self._generation += 1  # exits from here on are expected, not errors
        groups = self._live_groups()
        if not groups:
            self._processes.clear()
            return
        self._kill_all(signal.SIGTERM)
        deadline = time.monotonic() + self.launcher.stop_timeout
        while self._live_groups() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._live_groups():
            _log.warning("%s: still running %ss after SIGTERM: SIGKILL",
                         self.name, self.launcher.stop_timeout)
            self._kill_all(signal.SIGKILL)
            for process in self._processes:
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self._processes.clear()

    def _live_groups(self) -> Set[int]:
        alive = set()
        for process in self._processes:
            process.poll()  # reap the leader so that an exited group is seen as gone
            try:
                os.killpg(process.pid, 0)
                alive.add(process.pid)
            except (ProcessLookupError, PermissionError):
                pass
        return alive

    def _kill_all(self, signum: int) -> None:
        for pgid in self._live_groups():
            try:
                os.killpg(pgid, signum)
            except (ProcessLookupError, PermissionError):
                pass

