"""ggvision.DLRRuntime's Install step: one Python virtual environment for every ggvision component.

Run by the nucleus as the component user with the device's own Python (3.8+, standard library only):

    python3 install.py --platform aarch64 --packages DIR --dlr DIR --venv DIR

- `--packages`: the unpacked python-packages-<platform> artifact: wheels and locks/cp3X.txt, the exact
  `name==version` list to install for each Python the build targeted. Everything installs offline
  (`--no-index`): many industrial devices reach only AWS endpoints.
- `--dlr`: the unpacked dlr-<build> artifact: the dlr wheel and, where PyPI's wheel does not bundle
  it, the libdlr.so built for this platform, which goes into the installed `dlr` package.
- `--venv`: where the environment lives (the runtime's work folder). It is re-created only when what
  would be installed changes (runtime version, locked packages, DLR build, Python); otherwise only
  the ggvision library is refreshed. DLR's phone-home is switched off before anything imports dlr.

Every failure is one line on stderr that says what is wrong and what to do, and exit status 1.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time

STAMP = "ggvision-runtime.json"
MACHINES = {"x86_64": ("x86_64", "amd64"), "aarch64": ("aarch64", "arm64"),
            "armv7l": ("armv7l", "armv8l", "aarch64", "armv7")}
# 32-bit Arm: what Debian / Raspberry Pi OS must provide (module: package).
ARMV7L_SYSTEM_MODULES = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml",
                         "awscrt": "python3-awscrt"}
CHECK_IMPORTS = ["numpy", "cv2", "yaml", "jsonschema", "awsiot.greengrasscoreipc.clientv2", "dlr",
                 "ggvision"]
ONNX_RUNTIME_PLATFORMS = ("x86_64", "aarch64")


class InstallError(Exception):
    """A reason the runtime cannot be installed, with what to do about it."""


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        summary = install(args)
    except InstallError as error:
        print(f"ggvision.DLRRuntime: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"ggvision.DLRRuntime: {summary} ({time.monotonic() - started:.1f} s)", flush=True)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Install ggvision.DLRRuntime's Python environment.")
    parser.add_argument("--platform", required=True, choices=sorted(MACHINES))
    parser.add_argument("--packages", required=True, help="the unpacked python-packages-<platform> artifact")
    parser.add_argument("--dlr", required=True, help="the unpacked dlr-<build> artifact")
    parser.add_argument("--venv", required=True, help="where the virtual environment goes")
    parser.add_argument("--runtime-info", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                               "runtime.json"))
    return parser.parse_args(argv)


def install(args) -> str:
    check_python()
    check_platform(args.platform)
    info = read_json(args.runtime_info, "the runtime's runtime.json")
    lock = lock_file(args.packages, info)
    wheel = os.path.join(os.path.dirname(os.path.abspath(args.runtime_info)), info["ggvision_wheel"])
    if not os.path.isfile(wheel):
        raise InstallError(f"{wheel} is missing from the runtime artifact: rebuild it with scripts/build")
    venv = os.path.abspath(args.venv)
    wanted = {"version": info["version"], "platform": args.platform, "python": sys.version.split()[0],
              "executable": os.path.realpath(sys.executable),
              "packages": digest_files([lock]), "dlr": digest_folder(args.dlr)}
    stamp = read_stamp(venv)
    reused = stamp is not None and {k: stamp.get(k) for k in wanted} == wanted
    if not reused:
        create_environment(venv, args.platform, args.packages, lock, args.dlr)
    python = venv_python(venv)
    ggvision_digest = digest_files([wheel])
    if not reused or stamp.get("ggvision") != ggvision_digest:
        pip(python, args.packages, ["--force-reinstall", wheel])
    try:
        verify(python, args.platform)
    except InstallError as error:
        if not reused:
            raise
        # Damaged since it was made (a deleted file, a full disk): make it again, once.
        print(f"ggvision.DLRRuntime: the existing environment is damaged ({error}); creating it again",
              flush=True)
        reused = False
        create_environment(venv, args.platform, args.packages, lock, args.dlr)
        pip(python, args.packages, ["--force-reinstall", wheel])
        verify(python, args.platform)
    write_json(os.path.join(venv, STAMP), dict(wanted, ggvision=ggvision_digest))
    how = "re-used" if reused else "created"
    return (f"{info['version']} ready: {how} {python} (Python {wanted['python']}, {args.platform}, "
            f"{lock_summary(lock)})")


def check_python() -> None:
    # Checked at run time: the device's python3 may well be older than this file's target.
    if sys.version_info < (3, 8):  # noqa: UP036
        raise InstallError(f"Python {sys.version.split()[0]} at {sys.executable} is too old: ggvision needs "
                           "3.8 or newer; set the runtime's PythonInterpreter to a newer python3")


def check_platform(expected: str) -> None:
    machine = platform.machine().lower()
    bits = struct.calcsize("P") * 8
    if expected == "armv7l":
        # A 32-bit userland on a 64-bit kernel reports aarch64 or armv8l: the Python's word size decides.
        ok = bits == 32 and machine in MACHINES["armv7l"]
    else:
        ok = machine in MACHINES[expected] and bits == 64
    if not ok:
        raise InstallError(f"this is the {expected} build but the device is {machine} ({bits}-bit Python): "
                           "check the nucleus platform (architecture, architecture.detail, platformOverride)")


def lock_file(packages: str, info: dict) -> str:
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    path = os.path.join(packages, "locks", tag + ".txt")
    if not os.path.isfile(path):
        built = ", ".join(info.get("pythons") or []) or "none"
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        raise InstallError(f"no packages for Python {version} in this runtime build (built for: {built}); "
                           f"rebuild with scripts/build --python {version}, or set PythonInterpreter to one "
                           "of those")
    return path


def create_environment(venv: str, platform_name: str, packages: str, lock: str, dlr: str) -> None:
    if os.path.lexists(venv):
        if not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
            raise InstallError(f"{venv} exists and is not a virtual environment: remove it")
        shutil.rmtree(venv)
    command = [sys.executable, "-m", "venv", "--without-pip"]
    if platform_name == "armv7l":
        command.append("--system-site-packages")  # Debian's numpy, OpenCV, PyYAML, awscrt
    run(command + [venv], "cannot create the virtual environment (is the venv module installed? "
        "Debian: apt-get install python3-venv)")
    python = venv_python(venv)
    if platform_name == "armv7l":
        check_system_modules(python)
    pip(python, packages, ["-r", lock])
    install_dlr(python, packages, dlr)


def check_system_modules(python: str) -> None:
    missing = [package for module, package in ARMV7L_SYSTEM_MODULES.items()
               if subprocess.call([python, "-c", f"import {module}"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) != 0]
    if missing:
        raise InstallError(f"32-bit Arm needs Debian's {', '.join(missing)} (PyPI has no wheels for it): "
                           f"sudo apt-get install {' '.join(missing)}")


def install_dlr(python: str, packages: str, dlr: str) -> None:
    wheels = sorted(name for name in os.listdir(dlr) if name.startswith("dlr-") and name.endswith(".whl"))
    if not wheels:
        raise InstallError(f"no dlr wheel in {dlr}: rebuild the runtime with scripts/build")
    pip(python, packages, [os.path.join(dlr, wheels[-1])])
    package_dir = os.path.join(site_packages(python), "dlr")
    library = os.path.join(dlr, "libdlr.so")
    if os.path.isfile(library):
        # The platform's own build, where the PyPI wheel has none: where DLR looks first (<prefix>/dlr,
        # where the x86_64 wheel puts its own).
        os.makedirs(os.path.join(os.path.dirname(os.path.dirname(python)), "dlr"), exist_ok=True)
        shutil.copyfile(library, os.path.join(os.path.dirname(os.path.dirname(python)), "dlr", "libdlr.so"))
    # DLR reports to a remote endpoint on first import unless this file says otherwise.
    counter = os.path.join(package_dir, "counter")
    os.makedirs(counter, exist_ok=True)
    write_json(os.path.join(counter, "ccm_config.json"), {"enable_phone_home": False})


def verify(python: str, platform_name: str) -> None:
    imports = CHECK_IMPORTS + (["onnxruntime"] if platform_name in ONNX_RUNTIME_PLATFORMS else [])
    script = ("import ctypes, importlib, os, sys\n"
              "for name in sys.argv[1:]:\n"
              "    try:\n"
              "        importlib.import_module(name)\n"
              "    except Exception as error:\n"
              "        sys.exit('cannot import %s: %s: %s' % (name, type(error).__name__, error))\n"
              "from dlr.libpath import find_lib_path\n"
              "try:\n"
              "    ctypes.CDLL(find_lib_path())\n"
              "except Exception as error:\n"
              "    sys.exit('libdlr.so does not load on this device: %s' % error)\n")
    result = subprocess.run([python, "-c", script] + imports, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InstallError(f"the environment does not work: {detail}")


def pip(python: str, packages: str, arguments: list) -> None:
    bootstrap = os.path.join(python_dir(python), "pip")
    # The venv has no pip yet on first use: run pip from its wheel in the artifact (pip supports that).
    if os.path.isfile(bootstrap):
        command = [python, "-m", "pip"]
    else:
        # The pip this Python's lock names (a newer one may not run on an older Python).
        with open(lock_file(packages, {}), encoding="utf-8") as stream:
            pins = dict(line.split("#", 1)[0].strip().split("==", 1) for line in stream if "==" in line)
        wheels = [name for name in os.listdir(packages) if name.startswith(f"pip-{pins.get('pip')}-")]
        if not wheels:
            raise InstallError(f"no pip wheel in {packages}: rebuild the runtime with scripts/build")
        command = [python, os.path.join(packages, wheels[0], "pip")]
    command += ["install", "--no-index", "--no-deps", "--find-links", packages, "--no-cache-dir",
                "--disable-pip-version-check", "--no-warn-script-location", "--quiet"]
    run(command + arguments, "installing Python packages failed")


def run(command: list, problem: str) -> None:
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
        raise InstallError(f"{problem}: {lines[-1] if lines else f'exit status {result.returncode}'}")


def venv_python(venv: str) -> str:
    return os.path.join(venv, "bin", "python3")


def python_dir(python: str) -> str:
    return os.path.dirname(python)


def site_packages(python: str) -> str:
    script = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.check_output([python, "-c", script], text=True).strip()


def lock_summary(lock: str) -> str:
    """The main packages of a lock file (`name==version` lines), for the log."""
    with open(lock, encoding="utf-8") as stream:
        pins = [line.split("#", 1)[0].strip().split("==") for line in stream]
    wanted = ("numpy", "opencv-python-headless", "onnxruntime", "awsiotsdk")
    main = [f"{pin[0]} {pin[1]}" for pin in pins if len(pin) == 2 and pin[0] in wanted]
    return ", ".join(main) or "system packages"


def digest_files(paths: list) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def digest_folder(folder: str) -> str:
    if not os.path.isdir(folder):
        raise InstallError(f"the DLR artifact {folder} is missing: rebuild the runtime with scripts/build")
    return digest_files([os.path.join(folder, name) for name in sorted(os.listdir(folder))
                         if os.path.isfile(os.path.join(folder, name))])


def read_json(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise InstallError(f"cannot read {what} ({path}): {error}") from error


def read_stamp(venv: str):
    try:
        with open(os.path.join(venv, STAMP), encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def write_json(path: str, value: dict) -> None:
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(value, stream, indent=2, sort_keys=True)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
