"""This machine seen as a core device: the platform name ggvision's build uses for it, the Python the
nucleus would find (`python3` on systemd's PATH), and a build of the components for exactly that, so
that local runs install and run what a device of this kind would (development and tests only)."""

import os
import platform
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

from .process_environment import SYSTEMD_DEFAULT_PATH

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "scripts", "build")
RUNTIME = "ggvision.DLRRuntime"


class DeviceError(RuntimeError):
    """This machine cannot stand in for a device (no usable python3, unknown platform, failed build)."""


def host_platform() -> str:
    """x86_64, aarch64 or armv7l: the name of this machine's platform in ggvision's builds."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "armv7l" if sys.maxsize < 2 ** 32 else "aarch64"
    if machine.startswith("arm"):
        return "armv7l"
    raise DeviceError(f"ggvision has no build for this machine ({machine})")


def device_python() -> str:
    """The `python3` a component's script finds on the nucleus's PATH."""
    found = shutil.which("python3", path=SYSTEMD_DEFAULT_PATH)
    if found is None:
        raise DeviceError(f"no python3 on {SYSTEMD_DEFAULT_PATH}: install Python 3.8+ (Debian: python3, "
                          "python3-venv)")
    return found


def python_version(python: str) -> str:
    """`3.X` of an interpreter."""
    try:
        output = subprocess.check_output([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                         text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise DeviceError(f"cannot run {python}: {error}") from error
    return output.strip()


def build_for_this_machine(output: str, components: Optional[Sequence[str]] = None,
                           extra: Sequence[str] = ()) -> Dict[str, str]:
    """scripts/build for this platform and the device Python into `output` (every component, or the
    ones named); the recipe and artifact folders a Launcher takes."""
    base = [sys.executable, BUILD, "--output-dir", output, "--platform", host_platform(),
            "--python", python_version(device_python())] + list(extra)
    runs: List[List[str]] = [base + ["--component", name] for name in components] if components else [base]
    for command in runs:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise DeviceError(f"scripts/build failed: {result.stderr.strip()[-2000:]}")
    return {"recipes": os.path.join(output, "recipes"), "artifacts": os.path.join(output, "artifacts")}


def runtime_work_cache() -> str:
    """Where tests keep ggvision.DLRRuntime's work folder (its virtual environment) between runs: the
    runtime's Install re-creates it only when what it installs changes."""
    base = os.environ.get("GGVISION_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ggvision")
    return os.path.join(base, "runtime-work", RUNTIME)
