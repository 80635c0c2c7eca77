"""Run a snippet in a fresh Python process with a chosen set of packages (for what a test process cannot
undo: which `dlr` is imported, which native library it finds, whether the phone-home fired)."""

import json
import os
import site
import subprocess
import sys
from typing import Any, Dict, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "shared")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "dlr")
SITE_PACKAGES = site.getsitepackages()[0]
RESULT_MARK = "RESULT:"


def run_python(code: str, path: Sequence[str], no_site: bool = False, timeout: float = 120) -> Dict[str, Any]:
    """Run `code` with `path` as PYTHONPATH; the code prints `RESULT:` + JSON, which is returned.

    `no_site` (-S) leaves out site-packages and keeps `sys.prefix` at the base interpreter's.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "PYTHONPATH": os.pathsep.join(path), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable] + (["-S"] if no_site else []) + ["-c", code]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    raise AssertionError(f"no result (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}")


def link_packages(folder: str, names: Sequence[str], source: Optional[str] = None) -> str:
    """A site folder holding symlinks to `names` from the test environment's site-packages."""
    os.makedirs(folder, exist_ok=True)
    for name in names:
        target = os.path.join(source or SITE_PACKAGES, name)
        if os.path.exists(target):
            os.symlink(target, os.path.join(folder, name))
    return folder


LOAD_AND_REPORT = """
import json, sys
from ggvision.runtimes import RuntimeLoadError, load_runtime
try:
    runtime = load_runtime(sys.argv_model, runtime=sys.argv_runtime)
    result = {"loaded": runtime.name}
except RuntimeLoadError as error:
    result = {"error": str(error)}
print("RESULT:" + json.dumps(result))
"""


def load_in_subprocess(model_dir: str, runtime: Optional[str], path: Sequence[str],
                       no_site: bool = False) -> Dict[str, Any]:
    """`load_runtime(model_dir, runtime)` in a fresh process: {"loaded": name} or {"error": message}."""
    code = (f"import sys; sys.argv_model = {model_dir!r}; sys.argv_runtime = {runtime!r}\n" + LOAD_AND_REPORT)
    return run_python(code, path, no_site=no_site)
