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
SIGTERM to every process group, waits, then SIGKILLs what is left. The lifecycle of one component is in
component_lifecycle.py, the plan in plan.py, the artifact layout in staging.py.
"""

import logging
import os
import sys
import threading
import time
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Union

from .component_lifecycle import FINISHED, RUNNING, SHUTDOWN_TIMEOUT, STATES, ComponentLifecycle
from .deployment_config import ConfigurationUpdate, load_configuration_updates, parse_configuration_updates
from .plan import ComponentPlan, LauncherError, plan_components
from .process_environment import component_environment
from .recipes import (
    LifecycleStep,
    RecipeError,
    current_platform,
    environment_values,
    load_recipes,
    parse_platform_overrides,
)
from .staging import stage_artifacts

_log = logging.getLogger("local_nucleus.launcher")

__all__ = ["Launcher", "LauncherError", "ComponentPlan", "plan_components", "STATES"]

PathList = Union[str, Sequence[str]]


class Launcher:
    """Runs components from recipes against a started LocalNucleus.

    `recipe_dir` and `artifact_dir` take one folder or a list (searched in order); `config_overrides`
    a configuration update file or mapping (`{"Component": {"MERGE": {...}, "RESET": [...]}}`);
    `platform_overrides` a mapping or `key=value` strings; `components` the names to run (their
    dependencies come along), default all.

    As the nucleus: scripts get a clean service environment (no virtual environment, no PYTHONPATH),
    recipe variables in configurations only with `interpolate_component_configuration` (the nucleus
    option, default false). `shared_work` maps a component to a work folder kept outside `run_dir`, so
    that what its Install step made there survives between launches, as a device's work folder does
    between deployments (the tests keep the DLRRuntime's virtual environment that way).
    """

    def __init__(self, nucleus: Any, recipe_dir: PathList, artifact_dir: PathList, run_dir: str,
                 config_overrides: Union[None, str, Mapping[str, Any]] = None,
                 platform_overrides: Union[None, Mapping[str, str], Sequence[str]] = None,
                 components: Optional[Sequence[str]] = None, stop_timeout: float = 10.0,
                 restart_delay: float = 1.0, log_lines: int = 1000, output: Optional[IO[str]] = sys.stdout,
                 interpolate_component_configuration: bool = False,
                 shared_work: Optional[Mapping[str, str]] = None) -> None:
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
        self._interpolate_configuration = interpolate_component_configuration
        self._shared_work = dict(shared_work or {})
        self._components: Dict[str, ComponentLifecycle] = {}
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
                                self._wanted, self._interpolate_configuration, self._shared_work)
        os.makedirs(os.path.join(self.run_dir, "logs"), exist_ok=True)
        for plan in plans:
            stage_artifacts(plan, self.artifact_dirs)
        for plan in plans:
            self.nucleus.add_component(plan.name, plan.configuration)
            self._components[plan.name] = ComponentLifecycle(self, plan)
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
    def _component(self, name: str) -> "ComponentLifecycle":
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

    def _set_state(self, component: "ComponentLifecycle", state: str) -> None:
        with self._changed:
            previous = component.state
            component.state = state
            component.history.append(state)
            self._changed.notify_all()
        _log.info("%s: %s -> %s", component.name, previous, state)

    def _dependencies_ready(self, component: "ComponentLifecycle") -> bool:
        """Block until every HARD dependency is RUNNING or FINISHED; False when stopping first. A SOFT
        dependency may be in any state (the nucleus's GreengrassService.dependencyReady)."""
        declared = component.plan.recipe.dependencies
        hard = [name for name in component.plan.dependencies if declared[name].dependency_type == "HARD"]
        dependencies = [self._components[name] for name in hard]

        def ready() -> bool:
            return (component.stopping.is_set()
                    or all(dep.state in (RUNNING, FINISHED) for dep in dependencies))

        with self._changed:
            if not ready():
                _log.info("%s: waiting for %s", component.name, ", ".join(hard))
            self._changed.wait_for(ready)
        return not component.stopping.is_set()

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _emit(self, component: "ComponentLifecycle", line: str) -> None:
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

    def _environment(self, component: "ComponentLifecycle", step: LifecycleStep) -> Dict[str, str]:
        setenv = environment_values(component.plan.lifecycle.get("Setenv"))
        setenv.update(step.setenv)
        return component_environment(self.nucleus.component_env(component.name), setenv)
