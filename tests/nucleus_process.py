"""A LocalNucleus in a process of its own, so a test can `kill -9` it (a nucleus in the test process
cannot be killed without the test), with components registered and their IPC environment handed back.

    python tests/nucleus_process.py SPEC.json INFO.json

SPEC: {"socket": path, "components": {name: configuration}, "handshake_timeout": s (optional),
"max_unauthenticated": n (optional), "max_open_files": n (optional)}. Once listening, the process
writes INFO: {"pid": ..., "env": {name: the component's IPC environment}}, and serves until killed.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")


class NucleusProcess:
    """The nucleus process (`process`) and each registered component's IPC environment (`env`)."""

    def __init__(self, folder: str, components: Dict[str, Dict[str, Any]], **options: Any) -> None:
        self.folder = folder
        self.socket_path = os.path.join(folder, "ipc.sock")
        spec = dict(options, socket=self.socket_path, components=components)
        spec_path = os.path.join(folder, "nucleus-spec.json")
        self.info_path = os.path.join(folder, "nucleus-info.json")
        with open(spec_path, "w") as stream:
            json.dump(spec, stream)
        self.log_path = os.path.join(folder, "nucleus.log")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "shared"))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), spec_path,
                                             self.info_path], stdout=log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True)
        self.env: Dict[str, Dict[str, str]] = self._wait_for_info(30.0)

    def _wait_for_info(self, timeout: float) -> Dict[str, Dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.info_path):
                with open(self.info_path) as stream:
                    return json.load(stream)["env"]
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"the nucleus process did not start: {self.log()}")

    def log(self) -> str:
        with open(self.log_path, errors="replace") as stream:
            return stream.read()

    def kill(self) -> None:
        """SIGKILL, as `kill -9`: the nucleus closes nothing itself."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def start_component(main_py: str, env: Dict[str, str], log_path: str,
                    python: Optional[str] = None) -> subprocess.Popen:
    """The component's main.py as a process of its own, with the IPC environment the nucleus gives it."""
    component_dir = os.path.dirname(os.path.abspath(main_py))
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "shared"), component_dir]),
                    PYTHONUNBUFFERED="1", **env)
    with open(log_path, "wb") as log:
        return subprocess.Popen([python or PYTHON, main_py], stdout=log, stderr=subprocess.STDOUT,
                                env=full_env, cwd=component_dir, start_new_session=True)


def _serve(spec_path: str, info_path: str) -> None:
    import logging

    with open(spec_path) as stream:
        spec = json.load(stream)
    if spec.get("max_open_files"):
        import resource

        limit = int(spec["max_open_files"])
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from local_nucleus.server import LocalNucleus

    nucleus = LocalNucleus(spec["socket"], os.path.join(os.path.dirname(spec["socket"]), "iot.jsonl"))
    for option in ("handshake_timeout", "max_unauthenticated"):
        if option in spec:
            setattr(nucleus, option, spec[option])
    nucleus.start()
    env = {}
    for name, configuration in spec.get("components", {}).items():
        nucleus.add_component(name, configuration)
        env[name] = nucleus.component_env(name)
    partial = info_path + ".part"
    with open(partial, "w") as stream:
        json.dump({"pid": os.getpid(), "env": env}, stream)
    os.rename(partial, info_path)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    nucleus.stop()


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
