"""Every recipe in recipes/ works on a stock core device: the platform manifests in the order the issue
fixes, every component on ggvision.DLRRuntime's interpreter (never the system python3), each
platform's DLR build and model artifacts, nothing that needs configuration interpolation, no privilege."""

import os
import re

import pytest
from local_nucleus.recipes import lifecycle_step, load_recipes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = load_recipes([os.path.join(ROOT, "recipes")])
RUNTIME = "ggvision.DLRRuntime"
RUNTIME_PYTHON = "{ggvision.DLRRuntime:work:path}/venv/bin/python3 -u "
VARIABLE = re.compile(r"\{[.\w]+:[^}]+}")

# platform -> (the manifest that must win, the ggvision platform name)
PLATFORMS = {
    "jetson": ({"os": "linux", "architecture": "aarch64", "ggvision.jetson": "true"}, "Jetson", "jetson"),
    "aarch64": ({"os": "linux", "architecture": "aarch64"}, "Linux aarch64", "aarch64"),
    "armv7l": ({"os": "linux", "architecture": "arm", "architecture.detail": "armv7l"}, "Linux armv7l",
               "armv7l"),
    "arm, no detail": ({"os": "linux", "architecture": "arm"}, "Linux arm (32-bit userland, no detail)",
                       "armv7l"),
    "x86_64": ({"os": "linux", "architecture": "amd64"}, "Linux x86_64", "x86_64"),
}
MANIFEST_ORDER = [name for _, name, _ in PLATFORMS.values()]
WITH_CODE = sorted(name for name, recipe in RECIPES.items() if any(m.artifacts for m in recipe.manifests))


def test_the_collection_is_there():
    expected = {RUNTIME, "ggvision.CameraCapture", "ggvision.ObjectDetection", "ggvision.Pipeline"}
    assert expected <= set(RECIPES)


@pytest.mark.parametrize("name", WITH_CODE)
def test_manifests_come_in_the_documented_order_and_each_platform_gets_its_own(name):
    recipe = RECIPES[name]
    assert [manifest.name for manifest in recipe.manifests] == MANIFEST_ORDER
    for platform, manifest_name, _ in PLATFORMS.values():
        assert recipe.select_manifest(platform).name == manifest_name
    assert recipe.select_manifest({"os": "linux", "architecture": "x86"}) is None  # 32-bit x86: no build


@pytest.mark.parametrize("name", [name for name in WITH_CODE if name != RUNTIME])
def test_components_run_on_the_runtime_interpreter_never_the_system_python(name):
    recipe = RECIPES[name]
    dependency = recipe.dependencies[RUNTIME]
    assert dependency.dependency_type == "HARD"
    for manifest in recipe.manifests:
        lifecycle = recipe.lifecycle(manifest)
        steps = [lifecycle_step(lifecycle, step) for step in ("Install", "Startup", "Run")]
        scripts = [step.script for step in steps if step is not None]
        assert scripts, manifest.name
        for script in scripts:
            assert script.startswith(RUNTIME_PYTHON), script
            assert f"{{artifacts:decompressedPath}}/{name}/main.py" in script
        assert not any(step.requires_privilege for step in steps if step is not None)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_nothing_needs_configuration_interpolation(name):
    # The nucleus resolves recipe variables in a configuration only with interpolateComponentConfiguration
    # (default false): accessControl must grant what the component uses without it. ({iot:thingName} in a
    # topic *setting* is the component's own placeholder, which it fills from AWS_IOT_THING_NAME.)
    control = RECIPES[name].default_configuration.get("accessControl", {})
    resources = [resource for service in control.values() for policy in service.values()
                 for resource in policy.get("resources", [])]
    assert not [resource for resource in resources if VARIABLE.search(resource)]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_minimum_nucleus_is_declared(name):
    nucleus = RECIPES[name].dependencies.get("aws.greengrass.Nucleus")
    if name == "ggvision.Pipeline":
        return  # its dependencies carry it
    assert nucleus is not None and nucleus.dependency_type == "SOFT"
    assert nucleus.version_requirement == ">=2.6.0"


def test_the_runtime_installs_each_platforms_own_dlr_and_packages_without_privilege():
    recipe = RECIPES[RUNTIME]
    for platform, _, key in PLATFORMS.values():
        manifest = recipe.select_manifest(platform)
        arch = "aarch64" if key == "jetson" else key
        assert [(a.file_name, a.unarchive) for a in manifest.artifacts] == [
            (RUNTIME + ".zip", "ZIP"), (f"python-packages-{arch}.zip", "ZIP"), (f"dlr-{key}.zip", "ZIP")]
        lifecycle = recipe.lifecycle(manifest)
        install = lifecycle_step(lifecycle, "Install")
        assert install.script.startswith("{configuration:/PythonInterpreter} -u ")
        assert f"--platform {arch} " in install.script and "--venv {work:path}/venv" in install.script
        assert f"--dlr {{artifacts:decompressedPath}}/dlr-{key} " in install.script
        assert install.timeout >= 600 and not install.requires_privilege
        assert lifecycle_step(lifecycle, "Run") is None and lifecycle_step(lifecycle, "Startup") is None
    assert recipe.default_configuration == {"PythonInterpreter": "python3"}


def test_object_detection_names_the_neo_artifact_of_every_target_and_onnx_only_where_it_runs():
    recipe = RECIPES["ggvision.ObjectDetection"]
    for platform, _, key in PLATFORMS.values():
        manifest = recipe.select_manifest(platform)
        files = [(a.file_name, a.unarchive) for a in manifest.artifacts]
        setenv = recipe.lifecycle(manifest)["Setenv"]
        assert (f"neo-model-{key}.zip", "ZIP") in files
        assert setenv["GGVISION_PLATFORM"] == key
        assert setenv["GGVISION_NEO_MODEL_DIR"] == f"{{artifacts:decompressedPath}}/neo-model-{key}"
        onnx_runtime_exists = key != "armv7l"  # PyPI and Debian have no ONNX Runtime for 32-bit Arm
        # The bundled ONNX model: the pedestrian detector (scripts/make-demo-models).
        assert (("pedestrian-ssdlite.zip", "ZIP") in files) is onnx_runtime_exists
        assert ("GGVISION_MODEL_DIR" in setenv) is onnx_runtime_exists
        if onnx_runtime_exists:
            assert setenv["GGVISION_MODEL_DIR"] == "{artifacts:decompressedPath}/pedestrian-ssdlite"
        assert ("demo-model.zip", "ZIP") not in files  # the colour model is a test fixture


def test_the_pipeline_deploys_the_runtime_and_both_components():
    assert set(RECIPES["ggvision.Pipeline"].dependencies) == {
        RUNTIME, "ggvision.CameraCapture", "ggvision.ObjectDetection"}
