"""The throw-away virtualenv: TensorFlow and tf2onnx are never project dependencies, so the tool
installs its pinned TOOLS into a virtualenv of its own and re-runs itself with that interpreter."""

import os
import subprocess
import sys
from typing import Dict, Sequence

VENV = os.environ.get("GGVISION_MAKE_MODELS_VENV",
                      os.path.join(os.path.expanduser("~"), ".cache", "ggvision", "make-demo-models"))
CACHE = os.path.dirname(VENV)
# The versions this was built with; the TF graph is TF1-style, which TF 2.x reads through compat.v1.
TOOLS = ["tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "onnx==1.23.2", "onnxruntime==1.32.0",
         "opencv-python-headless==5.0.0.93", "numpy==2.4.6"]


def in_tool_env() -> bool:
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def _read_text(path: str) -> str:
    if not os.path.isfile(path):
        return ""
    with open(path) as f:
        return f.read()


def enter_tool_env(script: str, argv: Sequence[str]) -> None:
    """Create the virtualenv with TOOLS when missing, then run `script` again inside it (never returns)."""
    python = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, "ggvision-tools.txt")  # which TOOLS the virtualenv holds
    wanted = "\n".join(TOOLS) + "\n"
    if _read_text(stamp) != wanted:
        print(f"make-demo-models: installing {' '.join(TOOLS)} into {VENV}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "-q", *TOOLS])
        with open(stamp, "w") as f:
            f.write(wanted)
    # A fixed hash seed: tf2onnx walks sets of node names, and the ONNX bytes follow their order.
    os.execve(python, [python, os.path.abspath(script), *argv], dict(os.environ, PYTHONHASHSEED="0"))


def tool_versions() -> Dict[str, str]:
    """The installed version of each of TOOLS, for PROVENANCE.json."""
    from importlib.metadata import version
    return {name.split("==")[0]: version(name.split("==")[0]) for name in TOOLS}
