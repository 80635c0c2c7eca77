"""Which model the ObjectDetection service loads when ModelPath is empty: the environment the recipe
sets per platform manifest (GGVISION_PLATFORM, GGVISION_NEO_MODEL_DIR, GGVISION_MODEL_DIR where ONNX
Runtime exists), with real model folders — the bundled ONNX demo model and the x86_64 SageMaker Neo
fixture (cases that need it are skipped without ../shared). A platform without a model, and a Neo
folder that holds something unusable, stop the component with one line and ERRORED.
"""

import logging
import os
import shutil

import pytest
from detection_helpers import COMPONENT, DEMO_MODEL, FIXTURES, recipe_defaults, running_service, settings
from ggvision.component import ServiceError, run_component
from ggvision.lifecycle import StopSignal
from harness import connect, local_nucleus
from object_detection.model_choice import (
    MODEL_DIR_ENV,
    NEO_MODEL_DIR_ENV,
    PLATFORM_ENV,
    choose_model,
)

NEO_FIXTURE = os.path.join(FIXTURES, "colour_detector_512_dlr")
needs_neo_fixture = pytest.mark.skipif(not os.path.isdir(NEO_FIXTURE),
                                       reason="needs ../shared/fixtures (the x86_64 Neo test model)")


def placeholder(parent):
    """What scripts/build ships in the Neo slot when it was given no Neo model: a README only."""
    folder = os.path.join(str(parent), "neo-model-placeholder")
    os.makedirs(folder)
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write("No SageMaker Neo model was built into this component.\n")
    return folder


def neo_copy(parent, drop=()):
    """The x86_64 Neo fixture copied (writable), without the files named in `drop`."""
    folder = os.path.join(str(parent), "neo-model-x86_64")
    shutil.copytree(NEO_FIXTURE, folder)
    os.chmod(folder, 0o755)
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o644)
        if name in drop:
            os.remove(os.path.join(folder, name))
    return folder


def recipe_env(platform, neo_dir, bundled=None):
    """The environment a manifest's Setenv gives: the bundled model only where ONNX Runtime exists."""
    env = {PLATFORM_ENV: platform, NEO_MODEL_DIR_ENV: neo_dir}
    if bundled:
        env[MODEL_DIR_ENV] = bundled
    return env


def refused(model_path=None, runtime="auto", env=None):
    with pytest.raises(ServiceError) as raised:
        choose_model(model_path, runtime, env)
    message = str(raised.value)
    assert "\n" not in message
    return message


# -- the choice -----------------------------------------------------------------------------------

def test_model_path_wins_over_what_the_recipe_ships(tmp_path):
    env = recipe_env("x86_64", placeholder(tmp_path), DEMO_MODEL)
    choice = choose_model("/models/mine", "auto", env)
    assert choice.folder == "/models/mine" and choice.reason == "ModelPath"


@needs_neo_fixture
def test_a_neo_model_in_the_slot_is_preferred_to_the_bundled_onnx_model(tmp_path):
    neo = neo_copy(tmp_path)
    choice = choose_model(None, "auto", recipe_env("x86_64", neo, DEMO_MODEL))
    assert choice.folder == neo
    assert "SageMaker Neo model for x86_64" in choice.reason


@needs_neo_fixture
def test_armv7l_runs_its_neo_model_without_any_onnx_model(tmp_path):
    neo = neo_copy(tmp_path)
    assert choose_model("", "auto", recipe_env("armv7l", neo)).folder == neo


def test_a_placeholder_neo_slot_falls_back_to_the_bundled_onnx_model(tmp_path):
    neo = placeholder(tmp_path)
    choice = choose_model("", "auto", recipe_env("aarch64", neo, DEMO_MODEL))
    assert choice.folder == DEMO_MODEL
    assert "bundled ONNX model" in choice.reason and neo in choice.reason
    assert "built without one" in choice.reason


def test_a_missing_neo_folder_falls_back_to_the_bundled_onnx_model(tmp_path):
    missing = str(tmp_path / "neo-model-jetson")
    choice = choose_model("", "auto", recipe_env("jetson", missing, DEMO_MODEL))
    assert choice.folder == DEMO_MODEL and "does not exist" in choice.reason


@needs_neo_fixture
def test_runtime_onnx_passes_over_the_neo_model_and_runtime_dlr_over_the_onnx_one(tmp_path):
    neo = neo_copy(tmp_path)
    assert choose_model("", "onnx", recipe_env("x86_64", neo, DEMO_MODEL)).folder == DEMO_MODEL
    message = refused(runtime="dlr", env=recipe_env("x86_64", placeholder(tmp_path), DEMO_MODEL))
    assert message.startswith("no model for x86_64: Runtime is dlr")


# -- a Neo slot that holds something unusable never falls back ---------------------------------------

@needs_neo_fixture
@pytest.mark.parametrize("drop, missing", [
    (("compiled.params",), "no compiled.params"),
    (("compiled_model.json",), "no compiled_model.json"),
], ids=["no params", "no graph json"])
def test_an_incomplete_neo_artifact_is_one_line_not_a_fallback(tmp_path, drop, missing):
    neo = neo_copy(tmp_path, drop)
    message = refused(env=recipe_env("x86_64", neo, DEMO_MODEL))
    assert neo in message and missing in message and "incomplete SageMaker Neo artifact" in message
    assert NEO_MODEL_DIR_ENV in message


def test_a_neo_folder_without_a_model_file_is_one_line_not_a_fallback(tmp_path):
    neo = str(tmp_path / "neo-model-aarch64")
    os.makedirs(neo)
    for name in ("labels.txt", "model.yaml"):
        shutil.copy(os.path.join(DEMO_MODEL, name), neo)
    message = refused(env=recipe_env("aarch64", neo, DEMO_MODEL))
    assert neo in message and "holds no model" in message and "labels.txt, model.yaml" in message


# -- no model for the platform: what to compile, and where to put it -------------------------------

@pytest.mark.parametrize("platform, targets", [
    ("armv7l", ["TargetDevice rasp3b", "Arch ARM_EABIHF"]),
    ("aarch64", ["Os LINUX, Arch ARM64"]),
    ("jetson", ["jetson_nano", "jetson_tx2", "jetson_xavier", "Arch ARM64, Accelerator NVIDIA"]),
    ("x86_64", ["Os LINUX, Arch X86_64"]),
])
def test_no_model_names_the_neo_target_and_where_to_put_it(tmp_path, platform, targets):
    neo = placeholder(tmp_path)
    message = refused(env=recipe_env(platform, neo))  # no bundled ONNX model
    assert message.startswith(f"no model for {platform}: ")
    assert neo in message
    for target in targets:
        assert target in message
    assert f"components/object-detection/models/neo-{platform}/" in message
    assert f"scripts/build --neo-model {platform}=DIR" in message and "ModelPath" in message
    if platform == "armv7l":
        assert "ONNX Runtime has no build for armv7l" in message
    else:
        assert f"no ONNX model was shipped ({MODEL_DIR_ENV} is not set)" in message


def test_no_recipe_environment_at_all_says_set_model_path():
    message = refused(env={})
    assert message.startswith(f"no model for this platform ({PLATFORM_ENV} is not set)")
    assert "Set ModelPath" in message


# -- the service ----------------------------------------------------------------------------------

@pytest.fixture
def nucleus():
    with local_nucleus() as server:
        yield server


def start_logged(nucleus, tmp_path, caplog):
    configuration = settings(RingFolder=str(tmp_path), CountsIntervalSeconds=0)
    with caplog.at_level(logging.INFO, logger="ggvision.ObjectDetection"), \
            running_service(nucleus, configuration) as service:
        name = service._detector.runtime_name
    return name, [r.getMessage() for r in caplog.records if "loaded from" in r.getMessage()]


def test_the_service_logs_its_choice_once(nucleus, tmp_path, caplog, monkeypatch):
    neo = placeholder(tmp_path)
    for key, value in recipe_env("x86_64", neo, DEMO_MODEL).items():
        monkeypatch.setenv(key, value)
    runtime, lines = start_logged(nucleus, tmp_path, caplog)
    assert runtime == "onnx"
    assert len(lines) == 1, lines
    assert f"loaded from {DEMO_MODEL} (onnx): the bundled ONNX model" in lines[0] and neo in lines[0]


@pytest.mark.dlr
@needs_neo_fixture
def test_the_service_runs_the_neo_model_from_the_slot(nucleus, tmp_path, caplog, monkeypatch):
    neo = neo_copy(tmp_path)
    for key, value in recipe_env("x86_64", neo, DEMO_MODEL).items():
        monkeypatch.setenv(key, value)
    runtime, lines = start_logged(nucleus, tmp_path, caplog)
    assert runtime == "dlr"
    assert len(lines) == 1 and f"loaded from {neo} (dlr): the SageMaker Neo model for x86_64" in lines[0]


def test_armv7l_without_a_neo_model_is_one_error_line_and_errored(nucleus, tmp_path, caplog, monkeypatch):
    """The component's own run loop, as main.py runs it: one ERROR line naming target and folder."""
    from object_detection.service import DetectionService
    from object_detection.settings import DetectionSettings

    neo = placeholder(tmp_path)
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)  # armv7l's manifest ships no ONNX model
    for key, value in recipe_env("armv7l", neo).items():
        monkeypatch.setenv(key, value)
    configuration = dict(recipe_defaults(), RingFolder=str(tmp_path))
    ipc = connect(nucleus, COMPONENT, configuration)
    code = run_component(COMPONENT, DetectionSettings, DetectionService, ipc=ipc,
                         stop=StopSignal(install_handlers=False))
    assert code == 1
    assert nucleus.get_state(COMPONENT) == "ERRORED"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    line = errors[0]
    assert line.startswith("no model for armv7l: ONNX Runtime has no build for armv7l"), line
    assert neo in line and "TargetDevice rasp3b" in line and "ARM_EABIHF" in line
    assert "components/object-detection/models/neo-armv7l/" in line and "--neo-model armv7l=DIR" in line
    assert "\n" not in line
