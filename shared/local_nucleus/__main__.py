"""Run ggvision's components on this machine, against the local nucleus (development only).

    scripts/local-nucleus                          build, then run every component in recipes/
    scripts/local-nucleus --components ggvision.ObjectDetection --config my-config.yaml
    scripts/local-nucleus --no-build --duration 30

Components run as real processes with the real Greengrass IPC client; their output is printed with a
`[Component]` prefix and kept in <run-dir>/logs/; IoT Core publishes go to <run-dir>/iot-core.jsonl.
Ctrl-C (or SIGTERM) stops everything cleanly.
"""

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from typing import List, Optional

from .device import DeviceError, build_for_this_machine
from .launcher import Launcher, LauncherError
from .recipes import RecipeError, parse_platform_overrides
from .server import LocalNucleus

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 107 bytes

_log = logging.getLogger("local_nucleus")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="local-nucleus", description="Run ggvision's Greengrass components locally against a stand-in "
        "nucleus that speaks the real Greengrass IPC protocol (development and tests only).")
    parser.add_argument("--recipe-dir", action="append", metavar="DIR",
                        help="folder of component recipes; repeatable (default: recipes)")
    parser.add_argument("--artifact-dir", action="append", metavar="DIR",
                        help="artifacts as <DIR>/<Name>/<Version>/<file>, the greengrass-cli --artifactDir "
                        "layout; repeatable (default: greengrass-build/artifacts)")
    parser.add_argument("--no-build", action="store_true",
                        help="do not run scripts/build first (by default it does, for this platform "
                        "and the Python on systemd's PATH, so artifacts are fresh)")
    parser.add_argument("--interpolate-component-configuration", action="store_true",
                        help="replace recipe variables in configurations (accessControl included), as the "
                        "nucleus does only with its option of that name (default off, as the nucleus)")
    parser.add_argument("--config", metavar="FILE",
                        help='configuration update, JSON or YAML: {"Component": {"MERGE": {...}, "RESET": '
                        '["/path"]}}')
    parser.add_argument("--components", metavar="A,B",
                        help="components to run, comma-separated (their dependencies come along); "
                        "default all")
    parser.add_argument("--run-dir", metavar="DIR", default=os.path.join(ROOT, "local-nucleus-run"),
                        help="the nucleus root: packages/, work/, logs/ (default: local-nucleus-run/)")
    parser.add_argument("--socket", metavar="PATH",
                        help="IPC socket path (default: <run-dir>/ipc.socket, or a short temporary path "
                        "when that is too long for a Unix socket)")
    parser.add_argument("--thing-name", default="ggvision-local",
                        help="the AWS IoT thing name components see (default: ggvision-local)")
    parser.add_argument("--iot-log", metavar="FILE",
                        help="where IoT Core publishes are recorded (default: <run-dir>/iot-core.jsonl)")
    parser.add_argument("--platform-override", action="append", default=[], metavar="KEY=VALUE",
                        help="a platform attribute, as the nucleus platformOverride "
                        "(e.g. ggvision.jetson=true); repeatable")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    parser.add_argument("--stop-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long components get after SIGTERM before SIGKILL (default: 10)")
    return parser.parse_args(argv)


def wait_until_started(launcher: Launcher, stop: threading.Event) -> None:
    """Until every component has started (RUNNING), finished or given up (BROKEN), or Ctrl-C."""
    settled = ("RUNNING", "FINISHED", "BROKEN")
    told = False
    while not stop.is_set():
        waiting = [name for name in launcher.components if launcher.state(name) not in settled]
        if not waiting:
            return
        if not told:
            _log.info("waiting for %s to start (a first install of ggvision.DLRRuntime takes a minute or "
                      "two; later runs re-use it)", ", ".join(waiting))
            told = True
        stop.wait(0.5)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="[local-nucleus] %(message)s")
    try:
        platform_overrides = parse_platform_overrides(args.platform_override)
    except RecipeError as error:
        print(f"local-nucleus: {error}", file=sys.stderr)
        return 2
    if args.duration is not None and args.duration <= 0:
        print("local-nucleus: --duration must be positive", file=sys.stderr)
        return 2
    if not args.no_build:
        try:
            build_for_this_machine(os.path.join(ROOT, "greengrass-build"))
        except DeviceError as error:
            print(f"local-nucleus: {error} (use --no-build to run the existing artifacts)", file=sys.stderr)
            return 1

    run_dir = os.path.abspath(args.run_dir)
    os.makedirs(run_dir, exist_ok=True)
    socket_dir = None
    socket_path = args.socket or os.path.join(run_dir, "ipc.socket")
    if not args.socket and len(socket_path) > MAX_SOCKET_PATH:
        socket_dir = tempfile.mkdtemp(prefix="ggn")
        socket_path = os.path.join(socket_dir, "ipc.socket")
    components = [name.strip() for name in args.components.split(",") if name.strip()] \
        if args.components else None

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    nucleus = LocalNucleus(socket_path, args.iot_log or os.path.join(run_dir, "iot-core.jsonl"),
                           thing_name=args.thing_name)
    launcher = Launcher(nucleus, args.recipe_dir or [os.path.join(ROOT, "recipes")],
                        args.artifact_dir or [os.path.join(ROOT, "greengrass-build", "artifacts")], run_dir,
                        config_overrides=args.config, platform_overrides=platform_overrides,
                        components=components, stop_timeout=args.stop_timeout,
                        interpolate_component_configuration=args.interpolate_component_configuration)
    code = 0
    try:
        nucleus.start()
        launcher.start()
        _log.info("nucleus on %s; IoT Core log %s; Ctrl-C stops", socket_path,
                  args.iot_log or os.path.join(run_dir, "iot-core.jsonl"))
        wait_until_started(launcher, stop)
        remaining = args.duration  # counted from when everything is up, not from the first install
        while not stop.is_set():
            # Short waits keep the main thread responsive to signals.
            stop.wait(0.5 if remaining is None else min(0.5, remaining))
            if remaining is not None:
                remaining -= 0.5
                if remaining <= 0:
                    break
    except (LauncherError, RecipeError) as error:
        print(f"local-nucleus: {error}", file=sys.stderr)
        code = 2
    finally:
        _log.info("stopping")
        launcher.stop()
        nucleus.stop()
        if os.path.exists(socket_path):
            os.unlink(socket_path)
        if socket_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    for name in launcher.components:
        _log.info("%s: %s", name, launcher.state(name))
    return code


if __name__ == "__main__":
    sys.exit(main())
