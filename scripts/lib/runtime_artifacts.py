"""Artifacts the build generates rather than zips from a folder (plain Python 3.8+, no packages).

By artifact file name, for any recipe that names them:

- `python-packages-<platform>.zip` (x86_64, aarch64, armv7l): the locked wheels of
  components/dlr-runtime/requirements/<platform>.lock for each target Python, downloaded with pip
  (`pip download --only-binary=:all: --platform … --python-version …`, cached under
  ~/.cache/ggvision/wheels) and `locks/cp3X.txt`, what ggvision.DLRRuntime's Install installs offline.
- `dlr-<build>.zip` (x86_64, aarch64, armv7l, jetson): the platform's DLR: PyPI's dlr 1.6.0 wheel on
  x86_64 (it bundles libdlr.so), elsewhere PyPI's pure wrapper plus the libdlr.so of
  components/dlr-runtime/dlr-builds/<arch>/ (jetson: its own slot when filled, else aarch64), or the
  build the user names with --dlr-build.
- `neo-model-<platform>.zip` (jetson, aarch64, armv7l, x86_64): the SageMaker Neo artifact compiled for
  that target, from --neo-model or models/neo-<platform>/ in the component folder; without one, a
  README that says how to make it (the component then explains the same at start).
- the ggvision library as a wheel (`ggvision_wheel`), which the runtime installs.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

ZIP_TIME = (1980, 1, 1, 0, 0, 0)
PLATFORMS = ("x86_64", "aarch64", "armv7l")
DLR_BUILDS = ("x86_64", "aarch64", "armv7l", "jetson")
NEO_PLATFORMS = ("jetson", "aarch64", "armv7l", "x86_64")
DEFAULT_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12")
PLATFORM_TAGS = {
    "x86_64": ["manylinux1_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64",
               "manylinux_2_27_x86_64", "manylinux_2_28_x86_64"],
    "aarch64": ["manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_27_aarch64",
                "manylinux_2_28_aarch64"],
    "armv7l": ["manylinux2014_armv7l", "manylinux_2_17_armv7l", "manylinux_2_31_armv7l"],
}
# The DLR Python package per build: 1.6.0 is the last PyPI wheel with libdlr.so (x86_64 only); on Arm
# the 1.10.0 wrapper drives the 1.8.0 library (same C API; verified, docs/dlr-runtime.md).
DLR_WHEELS = {"x86_64": "dlr==1.6.0", "aarch64": "dlr==1.10.0", "armv7l": "dlr==1.10.0",
              "jetson": "dlr==1.10.0"}
# A lock line: name==version, optionally `; python_version == "3.X"`, optionally a comment.
_PIN = re.compile(r'^\s*([A-Za-z0-9_.-]+)==([^\s;#]+)\s*'
                  r'(?:;\s*python_version\s*==\s*"(\d+\.\d+)")?\s*(?:#.*)?$')
_SAVED = re.compile(r"^(?:Saved|File was already downloaded)\s+(.+\.whl)\s*$")


class ArtifactError(Exception):
    """An artifact that cannot be generated, with the reason."""


class Options:
    """What the command line says about generated artifacts."""

    def __init__(self, platforms: Sequence[str] = PLATFORMS, pythons: Sequence[str] = DEFAULT_PYTHONS,
                 neo_models: Optional[Dict[str, str]] = None, dlr_builds: Optional[Dict[str, str]] = None,
                 cache_dir: Optional[str] = None) -> None:
        self.platforms = tuple(platforms)
        self.pythons = tuple(pythons)
        for value in self.platforms:
            if value not in PLATFORMS:
                raise ArtifactError(f"unknown platform {value!r} (known: {', '.join(PLATFORMS)})")
        self.neo_models = dict(neo_models or {})
        self.dlr_builds = dict(dlr_builds or {})
        self.cache_dir = cache_dir or os.path.join(
            os.environ.get("GGVISION_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ggvision"),
            "wheels")


def arch_of(platform: str) -> str:
    """The machine architecture a platform or DLR build name runs on."""
    return "aarch64" if platform == "jetson" else platform


def wanted(file_name: str, options: Options) -> Optional[bool]:
    """True: this build generates the artifact; False: a generated artifact for a platform not
    selected (--platform); None: not a generated artifact."""
    for prefix, names in (("python-packages-", PLATFORMS), ("dlr-", DLR_BUILDS),
                          ("neo-model-", NEO_PLATFORMS)):
        matches = file_name.startswith(prefix) and file_name.endswith(".zip")
        stem = file_name[len(prefix):-4] if matches else None
        if stem in names:
            return arch_of(stem) in options.platforms
    return None


def generate(file_name: str, component_dir: str, target: str, options: Options) -> None:
    """Write the generated artifact `file_name` to `target`."""
    stem = file_name[:-4]
    if stem.startswith("python-packages-"):
        python_packages(stem[len("python-packages-"):], target, options)
    elif stem.startswith("dlr-"):
        dlr_build(stem[len("dlr-"):], component_dir, target, options)
    elif stem.startswith("neo-model-"):
        neo_model(stem[len("neo-model-"):], component_dir, target, options)
    else:
        raise ArtifactError(f"{file_name} is not a generated artifact")


# ------------------------------------------------------------------ python packages

def read_lock(path: str, python: str) -> List[Tuple[str, str]]:
    """(name, version) pins of a lock file that apply to `python` ("3.X")."""
    pins = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = _PIN.match(line)
            if not match:
                raise ArtifactError(f"{path}:{number}: expected name==version[; python_version == \"3.X\"]")
            if match.group(3) in (None, python):
                pins.append((match.group(1), match.group(2)))
    return pins


def python_packages(platform: str, target: str, options: Options) -> None:
    lock = os.path.join(_runtime_dir(), "requirements", f"{platform}.lock")
    if not os.path.isfile(lock):
        raise ArtifactError(f"no lock file {lock}: run scripts/lock-runtime")
    entries: Dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for python in options.pythons:
            pins = read_lock(lock, python)
            if not pins:
                raise ArtifactError(f"{lock} has nothing for Python {python}")
            for path in download(platform, python, [f"{n}=={v}" for n, v in pins], options):
                entries[os.path.basename(path)] = path
            lock_out = os.path.join(scratch, f"cp{python.replace('.', '')}.txt")
            with open(lock_out, "w", encoding="utf-8") as stream:
                stream.write("".join(f"{name}=={version}\n" for name, version in pins))
            entries["locks/" + os.path.basename(lock_out)] = lock_out
        write_zip(target, sorted(entries.items()))


def download(platform: str, python: str, requirements: List[str], options: Options) -> List[str]:
    """The wheel files for exact pins (no dependencies: the lock lists them all), from the cache when
    this exact download was made before, else with pip."""
    folder = os.path.join(options.cache_dir, platform)
    os.makedirs(folder, exist_ok=True)
    index_path = os.path.join(folder, "downloads.json")
    index = _load_json(index_path)
    key = f"cp{python.replace('.', '')}"
    files, missing = [], []
    for requirement in requirements:
        known = index.get(f"{key} {requirement}")
        if known and os.path.isfile(os.path.join(folder, known)):
            files.append(os.path.join(folder, known))
        else:
            missing.append(requirement)
    if missing:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--progress-bar", "off", "--disable-pip-version-check", "-d", folder,
                   "--python-version", python, "--implementation", "cp", "--abi", key, "--abi", "abi3",
                   "--abi", "none"]
        for tag in PLATFORM_TAGS[platform]:
            command += ["--platform", tag]
        print(f"build: downloading {len(missing)} wheels for {platform} Python {python}", file=sys.stderr)
        result = subprocess.run(command + missing, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        if result.returncode != 0:
            lines = [line for line in result.stdout.splitlines() if line.strip()]
            raise ArtifactError(f"pip download for {platform} Python {python} failed: "
                                f"{lines[-1] if lines else result.returncode}")
        # "Saved <path>" or "  File was already downloaded <path>": the files are in `folder` either way.
        saved = [os.path.join(folder, os.path.basename(m.group(1)))
                 for m in (_SAVED.match(line.strip()) for line in result.stdout.splitlines()) if m]
        if len(saved) != len(missing):
            raise ArtifactError(f"pip download for {platform} Python {python} gave {len(saved)} wheels for "
                                f"{len(missing)} requirements")
        for requirement in missing:
            name = requirement.split("==")[0].lower().replace("-", "_").replace(".", "_")
            match = next((p for p in saved if os.path.basename(p).lower().startswith(name + "-")), None)
            if match is None:
                raise ArtifactError(f"pip download did not report a wheel for {requirement}")
            index[f"{key} {requirement}"] = os.path.basename(match)
            files.append(match)
        _write_json(index_path, index)
    return files


# ------------------------------------------------------------------ DLR

def dlr_build(build: str, component_dir: str, target: str, options: Options) -> None:
    entries: Dict[str, str] = {}
    override = options.dlr_builds.get(build)
    sources = [override] if override else []
    if not override:
        slot = os.path.join(component_dir, "dlr-builds", build)
        if build == "jetson" and not _has_dlr(slot):
            slot = os.path.join(component_dir, "dlr-builds", "aarch64")
        if build != "x86_64":
            sources.append(slot)
    for source in sources:
        if os.path.isfile(source) and (source.endswith(".whl") or os.path.basename(source) == "libdlr.so"):
            entries[os.path.basename(source)] = source
        elif os.path.isdir(source):
            for name in os.listdir(source):
                if name == "libdlr.so" or (name.startswith("dlr-") and name.endswith(".whl")):
                    entries[name] = os.path.join(source, name)
        else:
            raise ArtifactError(f"DLR build for {build}: {source} is neither a dlr wheel, a libdlr.so nor a "
                                "folder holding them")
    if not any(name.endswith(".whl") for name in entries):
        wheel = download(arch_of(build), "3.8", [DLR_WHEELS[build]], options)[0]
        entries[os.path.basename(wheel)] = wheel
        # PyPI's wrapper has no libdlr.so outside x86_64. A wheel of your own may bundle one: the
        # runtime's Install checks that the library loads.
        if build != "x86_64" and "libdlr.so" not in entries:
            raise ArtifactError(f"no libdlr.so for {build} in {component_dir}/dlr-builds")
    write_zip(target, sorted(entries.items()))


def _has_dlr(folder: str) -> bool:
    return os.path.isdir(folder) and any(name == "libdlr.so" or name.endswith(".whl")
                                         for name in os.listdir(folder))


# ------------------------------------------------------------------ Neo models

NEO_README = """No SageMaker Neo model was built into this artifact for the {platform} target.

Compile your model with SageMaker Neo for this target (see docs/models.md, "Compiling with SageMaker
Neo"), then either put the unpacked artifact (compiled.so, compiled.params, compiled_model.json, and a
model.yaml) in components/object-detection/models/neo-{platform}/ before scripts/build, or build with
scripts/build --neo-model {platform}=DIR, or set the component's ModelPath on the device.
"""


def neo_model(platform: str, component_dir: str, target: str, options: Options) -> None:
    source = options.neo_models.get(platform) or os.path.join(component_dir, "models", f"neo-{platform}")
    if platform in options.neo_models and not os.path.isdir(source):
        raise ArtifactError(f"--neo-model {platform}={source}: not a folder")
    if os.path.isdir(source):
        entries = [(os.path.relpath(path, source).replace(os.sep, "/"), path)
                   for path in _files(source)]
        write_zip(target, entries)
        return
    with tempfile.TemporaryDirectory() as scratch:
        readme = os.path.join(scratch, "README.txt")
        with open(readme, "w", encoding="utf-8") as stream:
            stream.write(NEO_README.format(platform=platform))
        write_zip(target, [("README.txt", readme)])


# ------------------------------------------------------------------ the ggvision wheel

def ggvision_wheel(shared_dir: str, version: str, output_dir: str) -> str:
    """A py3-none-any wheel of shared/ggvision (what pip would build, without needing setuptools)."""
    package = os.path.join(shared_dir, "ggvision")
    dist_info = f"ggvision-{version}.dist-info"
    records: List[Tuple[str, bytes]] = []
    for path in _files(package):
        if path.endswith((".pyc", ".pyo")) or "__pycache__" in path:
            continue
        with open(path, "rb") as stream:
            records.append(("ggvision/" + os.path.relpath(path, package).replace(os.sep, "/"), stream.read()))
    metadata = (f"Metadata-Version: 2.1\nName: ggvision\nVersion: {version}\nSummary: ggvision's shared "
                "library for AWS IoT Greengrass computer-vision components\nRequires-Python: >=3.8\n"
                "License: Apache-2.0\n").encode()
    wheel = (b"Wheel-Version: 1.0\nGenerator: ggvision scripts/build\nRoot-Is-Purelib: true\n"
             b"Tag: py3-none-any\n")
    records += [(f"{dist_info}/METADATA", metadata), (f"{dist_info}/WHEEL", wheel),
                (f"{dist_info}/top_level.txt", b"ggvision\n")]
    lines = []
    for name, data in records:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{name},sha256={digest},{len(data)}")
    lines.append(f"{dist_info}/RECORD,,")
    records.append((f"{dist_info}/RECORD", ("\n".join(lines) + "\n").encode()))
    path = os.path.join(output_dir, f"ggvision-{version}-py3-none-any.whl")
    os.makedirs(output_dir, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(records):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
    return path


# ------------------------------------------------------------------ helpers

def write_zip(path: str, entries: Sequence[Tuple[str, str]]) -> None:
    """A deterministic ZIP; wheels and shared libraries are stored (they do not compress further)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with zipfile.ZipFile(temporary, "w") as archive:
            for name, source in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                stored = name.endswith((".whl", ".so"))
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                info.create_system = 3
                mode = 0o755 if os.access(source, os.X_OK) else 0o644
                info.external_attr = (stat.S_IFREG | mode) << 16
                with open(source, "rb") as stream, archive.open(info, "w") as sink:
                    shutil.copyfileobj(stream, sink, 1 << 20)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _files(folder: str) -> List[str]:
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [os.path.join(current, name) for name in sorted(files) if not name.startswith(".")]
    return found


def _runtime_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "components", "dlr-runtime")


def _load_json(path: str) -> Dict[str, str]:
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_json(path: str, data: Dict[str, str]) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=1, sort_keys=True)
    os.replace(temporary, path)
