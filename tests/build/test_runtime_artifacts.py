"""The artifacts the build generates for ggvision.DLRRuntime and the ML components: each platform's DLR,
the locked packages per Python, the shipped Arm libraries, the Neo model slots and the ggvision wheel."""

import hashlib
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))

import runtime_artifacts as artifacts  # noqa: E402

RUNTIME_DIR = os.path.join(ROOT, "components", "dlr-runtime")
ELF_MACHINE = {"aarch64": 183, "armv7l": 40}  # e_machine: EM_AARCH64, EM_ARM


def names(path):
    with zipfile.ZipFile(path) as archive:
        return sorted(archive.namelist())


def read(path, name):
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def test_the_shipped_arm_libraries_are_the_recorded_builds_for_their_machine():
    with open(os.path.join(RUNTIME_DIR, "dlr-builds", "SHA256SUMS")) as stream:
        sums = dict(reversed(line.split()) for line in stream if line.strip())
    assert sorted(sums) == ["aarch64/libdlr.so", "armv7l/libdlr.so"]
    for relative, digest in sums.items():
        with open(os.path.join(RUNTIME_DIR, "dlr-builds", relative), "rb") as stream:
            data = stream.read()
        assert hashlib.sha256(data).hexdigest() == digest
        assert data[:4] == b"\x7fELF"
        assert int.from_bytes(data[18:20], "little") == ELF_MACHINE[relative.split("/")[0]]
    assert os.path.isfile(os.path.join(RUNTIME_DIR, "dlr-builds", "LICENSE"))


@pytest.mark.parametrize("build, library", [("aarch64", "aarch64"), ("armv7l", "armv7l"),
                                            ("jetson", "aarch64")])
def test_arm_dlr_is_the_pypi_wrapper_with_the_shipped_library(build, library, tmp_path):
    target = str(tmp_path / f"dlr-{build}.zip")
    artifacts.dlr_build(build, RUNTIME_DIR, target, artifacts.Options(cache_dir=str(tmp_path / "cache")))
    assert names(target) == ["dlr-1.10.0-py3-none-any.whl", "libdlr.so"]
    with open(os.path.join(RUNTIME_DIR, "dlr-builds", library, "libdlr.so"), "rb") as stream:
        assert read(target, "libdlr.so") == stream.read()  # jetson: the aarch64 CPU build by default


def test_x86_64_dlr_is_the_pypi_wheel_that_bundles_its_library(tmp_path):
    target = str(tmp_path / "dlr-x86_64.zip")
    artifacts.dlr_build("x86_64", RUNTIME_DIR, target, artifacts.Options(cache_dir=str(tmp_path / "cache")))
    assert names(target) == ["dlr-1.6.0-py2.py3-none-manylinux1_x86_64.whl"]
    wheel = tmp_path / "dlr.whl"
    wheel.write_bytes(read(target, "dlr-1.6.0-py2.py3-none-manylinux1_x86_64.whl"))
    assert "dlr-1.6.0.data/data/dlr/libdlr.so" in names(str(wheel))


def test_a_dlr_build_of_your_own_replaces_the_default(tmp_path):
    own = tmp_path / "jetpack"
    own.mkdir()
    (own / "dlr-1.99.0-py3-none-linux_aarch64.whl").write_bytes(b"a GPU build's wheel")
    target = str(tmp_path / "dlr-jetson.zip")
    options = artifacts.Options(dlr_builds={"jetson": str(own)}, cache_dir=str(tmp_path / "cache"))
    artifacts.dlr_build("jetson", RUNTIME_DIR, target, options)
    assert names(target) == ["dlr-1.99.0-py3-none-linux_aarch64.whl"]  # a wheel alone: it bundles its lib
    with pytest.raises(artifacts.ArtifactError, match="neither a dlr wheel, a libdlr.so nor a folder"):
        artifacts.dlr_build("jetson", RUNTIME_DIR, target, artifacts.Options(
            dlr_builds={"jetson": str(tmp_path / "absent")}, cache_dir=str(tmp_path / "cache")))


@pytest.mark.parametrize("platform", artifacts.PLATFORMS)
def test_every_lock_covers_every_python_with_what_the_components_import(platform):
    lock = os.path.join(RUNTIME_DIR, "requirements", f"{platform}.lock")
    for python in artifacts.DEFAULT_PYTHONS:
        pins = dict(artifacts.read_lock(lock, python))
        assert len(pins) == len(artifacts.read_lock(lock, python))  # one version per package
        wanted = {"pip", "jsonschema", "awsiotsdk", "requests", "distro"}
        if platform != "armv7l":  # 32-bit Arm takes these from Debian
            wanted |= {"numpy", "opencv-python-headless", "onnxruntime", "awscrt", "pyyaml"}
        assert wanted <= set(pins), (platform, python, wanted - set(pins))
    assert dict(artifacts.read_lock(lock, "3.8")).get("numpy", "1.24.4") == "1.24.4"  # the last for 3.8


def test_a_neo_model_slot_without_a_model_is_a_readme_and_with_one_its_files(tmp_path):
    component = tmp_path / "component"
    (component / "models" / "neo-armv7l").mkdir(parents=True)
    (component / "models" / "neo-armv7l" / "compiled.so").write_bytes(b"so")
    (component / "models" / "neo-armv7l" / "model.yaml").write_text("name: x\n")
    options = artifacts.Options()
    artifacts.neo_model("aarch64", str(component), str(tmp_path / "aarch64.zip"), options)
    assert names(str(tmp_path / "aarch64.zip")) == ["README.txt"]
    assert b"scripts/build --neo-model aarch64=DIR" in read(str(tmp_path / "aarch64.zip"), "README.txt")
    artifacts.neo_model("armv7l", str(component), str(tmp_path / "armv7l.zip"), options)
    assert names(str(tmp_path / "armv7l.zip")) == ["compiled.so", "model.yaml"]
    with pytest.raises(artifacts.ArtifactError, match="not a folder"):
        artifacts.neo_model("x86_64", str(component), str(tmp_path / "x.zip"),
                            artifacts.Options(neo_models={"x86_64": str(tmp_path / "absent")}))


def test_the_ggvision_wheel_installs_and_imports_with_its_schemas(tmp_path):
    wheel = artifacts.ggvision_wheel(os.path.join(ROOT, "shared"), "0.1.0", str(tmp_path))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                    str(target), wheel], check=True, timeout=120)
    assert (target / "ggvision" / "contracts" / "schemas" / "detections-1.json").is_file()
    assert (target / "ggvision-0.1.0.dist-info" / "RECORD").is_file()
    # -S: not the development .venv's editable ggvision, only what the wheel installed
    script = f"import sys; sys.path.insert(0, {str(target)!r}); import ggvision; print(ggvision.__file__)"
    result = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(target / "ggvision" / "__init__.py")
