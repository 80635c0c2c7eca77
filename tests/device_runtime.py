"""ggvision.DLRRuntime for the tests: built once per session for this machine's platform and device
Python, and installed by its own recipe's Install step through the local nucleus into a work folder kept
between runs (the install re-creates the environment only when what it installs changes). Components
launched by the tests then run on exactly what a device runs: their built artifacts and the runtime's
virtual environment, never the development .venv."""

import io
import os
import tempfile
from typing import Any, Dict, List

from local_nucleus.device import RUNTIME, build_for_this_machine, runtime_work_cache
from local_nucleus.launcher import Launcher

INSTALL_TIMEOUT = 900  # a cold install downloads nothing, but a loaded 2-core machine is slow


class DeviceRuntime:
    """The built runtime (recipe and artifact folders) and its installed work folder."""

    def __init__(self, build: Dict[str, str], work: str) -> None:
        self.recipes = build["recipes"]
        self.artifacts = build["artifacts"]
        self.work = work

    @property
    def python(self) -> str:
        return os.path.join(self.work, "venv", "bin", "python3")

    def with_components(self, built: Dict[str, Any]) -> Dict[str, Any]:
        """`built` (recipes and artifacts of other components) with the runtime added, plus the
        launcher options that keep the runtime's work folder."""
        return {"recipes": _as_list(built["recipes"]) + [self.recipes],
                "artifacts": _as_list(built["artifacts"]) + [self.artifacts],
                "shared_work": {RUNTIME: self.work}}


def prepare() -> DeviceRuntime:
    """Build the runtime and install it as a device would (once per session)."""
    output = tempfile.mkdtemp(prefix="ggvision-runtime-build-")
    runtime = DeviceRuntime(build_for_this_machine(output, [RUNTIME]), runtime_work_cache())
    from harness import local_nucleus

    log = io.StringIO()
    with local_nucleus() as nucleus:
        launcher = Launcher(nucleus, runtime.recipes, runtime.artifacts, os.path.join(output, "run"),
                            components=[RUNTIME], shared_work={RUNTIME: runtime.work}, output=log)
        with launcher:
            if not launcher.wait_for_state(RUNTIME, "FINISHED", INSTALL_TIMEOUT):
                raise RuntimeError(f"{RUNTIME} did not install: {launcher.log_lines(RUNTIME)[-20:]}")
    return runtime


def _as_list(value: Any) -> List[str]:
    return [value] if isinstance(value, str) else list(value)
