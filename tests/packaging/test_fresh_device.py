"""A fresh core device, as far as this machine can be one: only the built artifacts and a Python with no
packages. ggvision.DLRRuntime's own Install step makes the environment from its artifacts with no network
at all, the camera and the detector run in it (their sys.executable is the runtime's), detections come
out; the next deployment re-uses the environment and a new runtime version re-creates it."""

import io
import os
import shutil
import subprocess

import pytest
from ggvision.contracts import validate
from harness import connect, local_nucleus, pubsub_policy
from local_nucleus.device import RUNTIME, build_for_this_machine, device_python
from local_nucleus.launcher import Launcher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO = os.path.join(ROOT, "scripts", "demo-assets", "sample-video.avi")
CAMERA, DETECTOR = "ggvision.CameraCapture", "ggvision.ObjectDetection"
INSTALL = 900  # a cold install on a loaded 2-core machine
WAIT = 60


def offline_prefix():
    """`unshare -n`: run the install in a network namespace with no network at all (root only)."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.call([unshare, "-n", "true"], stderr=subprocess.DEVNULL) == 0:
        return f"{unshare} -n "
    return ""


def launch(built, run_dir, work, interpreter, components, output):
    overrides = {RUNTIME: {"MERGE": {"PythonInterpreter": interpreter}}}
    if CAMERA in components:
        overrides[CAMERA] = {"MERGE": {"Cameras": [{"CameraId": "fresh", "Source": VIDEO, "Loop": True}],
                                       "FrameRate": 10, "RingFolder": os.path.join(run_dir, "rings")}}
        overrides[DETECTOR] = {"MERGE": {"RingFolder": os.path.join(run_dir, "rings"),
                                         "CountsIntervalSeconds": 0}}
    return Launcher(built["nucleus"], built["recipes"], built["artifacts"], run_dir,
                    config_overrides=overrides, components=components, shared_work={RUNTIME: work},
                    output=output)


def runtime_line(launcher):
    """The runtime's closing line (`ggvision.DLRRuntime: <version> ready: …`)."""
    return next(line for line in launcher.log_lines(RUNTIME) if line.startswith(f"{RUNTIME}: ")
                and " ready: " in line)


@pytest.mark.parametrize("python", ["device", "3.8"])
def test_from_built_artifacts_and_a_bare_python_to_detections(tmp_path, python):
    """`device`: the python3 the nucleus finds here; `3.8`: Jetson JetPack 5's Python (pyenv's)."""
    extra = []
    if python == "3.8":
        if _pyenv("3.8") is None:
            pytest.skip("no Python 3.8 on this machine")
        extra = ["--python", "3.8"]
    build = build_for_this_machine(str(tmp_path / "build"), [RUNTIME, CAMERA, DETECTOR], extra)
    work = str(tmp_path / "runtime-work")  # a device that never had ggvision
    offline = offline_prefix()
    bare = device_python() if python == "device" else _pyenv("3.8")
    interpreter = f"{offline}{bare} -S"  # -S: not even the system's site-packages
    venv_python = os.path.join(work, "venv", "bin", "python3")
    with local_nucleus() as nucleus:
        built = dict(build, nucleus=nucleus)
        watcher = connect(nucleus, "test.Watcher", pubsub_policy(subscribe=["ggvision/detections/fresh"]))
        detections = watcher.subscribe("ggvision/detections/fresh", 64)
        try:
            with launch(built, str(tmp_path / "run1"), work, interpreter, [CAMERA, DETECTOR],
                        io.StringIO()) as launcher:
                assert launcher.wait_for_state(RUNTIME, "FINISHED", INSTALL), launcher.log_lines(RUNTIME)
                assert " ready: created " in runtime_line(launcher)
                for name in (CAMERA, DETECTOR):
                    assert nucleus.wait_for_state(name, "RUNNING", WAIT), launcher.log_lines(name)
                    started = "starting: Python 3.8." if python == "3.8" else "starting: Python "
                    assert any(started in line and line.endswith(f" at {venv_python}")
                               for line in launcher.log_lines(name)), launcher.log_lines(name)
                message = detections.get(WAIT)
                assert message is not None, launcher.log_lines(DETECTOR)
                validate(message.payload, "ggvision.detections/1")
                assert message.payload["model"]["name"] == "pedestrian-ssdlite"  # the bundled ONNX model
                # No Neo artifact was built in: the bundled ONNX model, and the log says which and why.
                lines = launcher.log_lines(DETECTOR)
                assert any("loaded from" in line and "(onnx)" in line for line in lines), lines
        finally:
            watcher.close()
        if python != "device":
            return

        # The next deployment: the environment is re-used (nothing re-installed).
        with launch(built, str(tmp_path / "run2"), work, interpreter, [RUNTIME], io.StringIO()) as launcher:
            assert launcher.wait_for_state(RUNTIME, "FINISHED", INSTALL), launcher.log_lines(RUNTIME)
            assert " ready: re-used " in runtime_line(launcher)

        # A real fault: a package deleted from the environment. The next install notices and makes it again.
        site = subprocess.check_output([venv_python, "-c", "import numpy, os; print(os.path.dirname("
                                        "os.path.dirname(numpy.__file__)))"], text=True).strip()
        shutil.rmtree(os.path.join(site, "numpy"))
        with launch(built, str(tmp_path / "run-damaged"), work, interpreter, [RUNTIME],
                    io.StringIO()) as launcher:
            assert launcher.wait_for_state(RUNTIME, "FINISHED", INSTALL), launcher.log_lines(RUNTIME)
            lines = launcher.log_lines(RUNTIME)
            assert any("the existing environment is damaged" in line and "numpy" in line for line in lines)
            assert " ready: created " in runtime_line(launcher)

        # A new runtime version: the environment is made again.
        newer = build_for_this_machine(str(tmp_path / "build-0.1.1"), [RUNTIME], ["--version", "0.1.1"])
        with launch(dict(newer, nucleus=nucleus), str(tmp_path / "run3"), work, interpreter, [RUNTIME],
                    io.StringIO()) as launcher:
            assert launcher.wait_for_state(RUNTIME, "FINISHED", INSTALL), launcher.log_lines(RUNTIME)
            assert " 0.1.1 ready: created " in runtime_line(launcher)
    if not offline:
        pytest.skip("installed without network isolation (unshare -n needs root): --no-index only")


def test_install_fails_with_one_line_on_a_python_the_runtime_was_not_built_for(tmp_path):
    """A device Python outside the build (`scripts/build --python`) is one clear line, not a pip error."""
    build = build_for_this_machine(str(tmp_path / "build"), [RUNTIME])
    other = "3.8" if device_python_version() != "3.8" else "3.9"
    interpreter = _pyenv(other) or shutil.which(f"python{other}", path="/usr/local/bin:/usr/bin")
    if interpreter is None:
        pytest.skip(f"no Python {other} on this machine")
    with local_nucleus() as nucleus, launch(dict(build, nucleus=nucleus), str(tmp_path / "run"),
                                            str(tmp_path / "work"), interpreter, [RUNTIME],
                                            io.StringIO()) as launcher:
        assert launcher.wait_for_state(RUNTIME, "BROKEN", INSTALL), launcher.state_history(RUNTIME)
        errors = [line for line in launcher.log_lines(RUNTIME) if line.startswith(f"{RUNTIME}: ")]
        assert len(errors) == 3 and len(set(errors)) == 1  # one line per try, the same each time
        assert f"no packages for Python {other}" in errors[0]
        assert f"scripts/build --python {other}" in errors[0]


def device_python_version():
    from local_nucleus.device import python_version

    return python_version(device_python())


def _pyenv(version):
    import glob

    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    return found[-1] if found else None
