"""One component's lifecycle as the Greengrass nucleus drives a generic component:

    NEW -Install-> INSTALLED -dependencies RUNNING/FINISHED-> STARTING -Run-> RUNNING
    STARTING -Startup exits 0 or the process reports RUNNING-> RUNNING (dependents wait until then)
    RUNNING -exit 0-> STOPPING -> FINISHED
    RUNNING -exit != 0, UpdateState(ERRORED), Run Timeout-> ERRORED -> STOPPING -> INSTALLED -> ...
    the third error within an hour in the same state (NEW, STARTING, RUNNING) -> BROKEN

Steps run with `sh -c` in the component's work folder, each in its own process group, with `Timeout`
(Install 120 s, Startup 120 s by default) and `Skipif` (`onpath`, `exists`) as the nucleus reads them.
"""

import collections
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from typing import IO, TYPE_CHECKING, Any, Deque, Dict, List, Optional, Set, Tuple

from .plan import ComponentPlan
from .process_environment import SYSTEMD_DEFAULT_PATH
from .recipes import LifecycleStep, lifecycle_step

if TYPE_CHECKING:
    from .launcher import Launcher

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


class ComponentLifecycle:
    """One component's supervisor: a thread running the nucleus's lifecycle for it."""

    def __init__(self, launcher: "Launcher", plan: ComponentPlan) -> None:
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
        skip = self._skip(step, "Install")
        if skip is None:
            return "error"
        if step is None or skip:
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
        if startup is not None:
            skip = self._skip(startup, "Startup")
            if skip is None:
                return "error", STARTING
            # A skipped Startup is "done" with no process: only a RUNNING report ends STARTING.
            return self._startup(startup, spawn=not skip)
        skip = self._skip(run, "Run")
        if skip is None:
            return "error", RUNNING
        if run is None or skip:
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

    def _startup(self, step: LifecycleStep, spawn: bool = True) -> Tuple[str, str]:
        # A Startup script launches background processes; its exit 0 (or the component reporting
        # RUNNING) means RUNNING. A non-zero exit of it is an error even later, as in the nucleus.
        generation = self._spawn("Startup", step) if spawn else None
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
        if step is None or self._skip(step, "Shutdown") is not False:
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

    def _skip(self, step: Optional[LifecycleStep], name: str) -> Optional[bool]:
        """Whether `Skipif` skips the step; None when the expression is invalid (the step errors), as in
        the nucleus's GenericExternalService.shouldSkip: `[!]onpath CMD` (the nucleus's own PATH, not
        the step's Setenv) or `[!]exists PATH` (`~/` expanded)."""
        if step is None or not step.skipif:
            return False
        expression = step.skipif.strip()
        negate = expression.startswith("!")
        match = re.fullmatch(r"(\S+)\s+(.+)", expression[1:].strip() if negate else expression)
        check = match.group(1) if match else None
        if check == "onpath":
            skip = shutil.which(match.group(2).strip(), path=SYSTEMD_DEFAULT_PATH) is not None
        elif check == "exists":
            skip = os.path.exists(os.path.expanduser(match.group(2).strip()))
        else:
            _log.error("%s: %s has an invalid Skipif %r ([!]onpath CMD or [!]exists PATH): the step errors",
                       self.name, name, step.skipif)
            return None
        skip = skip != negate
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
