"""load_runtime: the runtime is picked from the model folder's files unless configured."""

import logging
import os
import shutil

import numpy as np
import onnx_models
import pytest
from ggvision.runtimes import Runtime, RuntimeLoadError, load_runtime, runtimes_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "dlr")
needs_fixtures = pytest.mark.skipif(not os.path.isdir(FIXTURES), reason="no ../shared/fixtures/dlr")


@pytest.fixture()
def onnx_dir(tmp_path):
    folder = tmp_path / "onnx-model"
    onnx_models.save(onnx_models.identity_model(), str(folder), "model.onnx")
    return str(folder)


@pytest.mark.parametrize("runtime", [None, "auto", "onnx"])
def test_onnx_folder(onnx_dir, runtime):
    loaded = load_runtime(onnx_dir, runtime=runtime)
    assert isinstance(loaded, Runtime) and loaded.name == "onnx"
    data = np.ones((1, 3, 8, 8), np.float32)
    np.testing.assert_array_equal(loaded.run({"data": data})[0], data)


def test_onnx_file(onnx_dir):
    assert load_runtime(os.path.join(onnx_dir, "model.onnx")).name == "onnx"


def test_folder_without_a_model_lists_what_it_has(tmp_path):
    (tmp_path / "labels.txt").write_text("a\n")
    (tmp_path / "model.yaml").write_text("name: x\n")
    with pytest.raises(RuntimeLoadError, match=r"holds no model.*found: labels\.txt, model\.yaml"):
        load_runtime(str(tmp_path))
    with pytest.raises(RuntimeLoadError, match="an empty folder"):
        load_runtime(_empty(tmp_path))


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return str(folder)


def test_configured_runtime_that_does_not_match_the_folder(onnx_dir):
    with pytest.raises(RuntimeLoadError) as raised:
        load_runtime(onnx_dir, runtime="dlr")
    message = str(raised.value)
    assert "runtime dlr was configured" in message
    assert "SageMaker Neo artifact" in message and "found: model.onnx" in message
    assert "can be loaded with runtime onnx" in message


def test_unknown_runtime_device_and_missing_folder(onnx_dir, tmp_path):
    with pytest.raises(ValueError, match="runtime 'tensorflow' is not allowed"):
        load_runtime(onnx_dir, runtime="tensorflow")
    with pytest.raises(ValueError, match="device 'npu' is not allowed"):
        load_runtime(onnx_dir, device="npu")
    with pytest.raises(RuntimeLoadError, match="does not exist"):
        load_runtime(str(tmp_path / "absent"))


def test_runtimes_for(tmp_path, onnx_dir):
    assert runtimes_for(onnx_dir) == ["onnx"]
    (tmp_path / "compiled_model.json").write_text("{}")
    assert runtimes_for(str(tmp_path)) == ["dlr"]
    shutil.copy(os.path.join(onnx_dir, "model.onnx"), str(tmp_path))
    assert runtimes_for(str(tmp_path)) == ["dlr", "onnx"]


@needs_fixtures
def test_neo_artifact_is_loaded_with_dlr():
    folder = os.path.join(FIXTURES, "featurizer_224_dlr")
    assert load_runtime(folder).name == "dlr"
    with pytest.raises(RuntimeLoadError, match=r"runtime onnx was configured.*compiled\.so.*runtime dlr"):
        load_runtime(folder, runtime="onnx")


@needs_fixtures
def test_folder_with_both_prefers_dlr(tmp_path):
    folder = tmp_path / "both"
    shutil.copytree(os.path.join(FIXTURES, "colour_detector_512_dlr"), str(folder))
    shutil.copy(os.path.join(FIXTURES, "colour_detector_512.onnx"), str(folder / "model.onnx"))
    assert load_runtime(str(folder)).name == "dlr"
    assert load_runtime(str(folder), runtime="onnx").name == "onnx"


def test_folder_with_both_falls_back_to_onnx_when_dlr_cannot_load(tmp_path, onnx_dir, caplog):
    # A "Neo artifact" whose compiled.so is not a shared library: DLR refuses it, ONNX Runtime takes over.
    folder = tmp_path / "both"
    shutil.copytree(onnx_dir, str(folder))
    (folder / "compiled.so").write_bytes(b"not a shared library")
    with caplog.at_level(logging.WARNING, logger="ggvision.runtimes"):
        loaded = load_runtime(str(folder))
    assert loaded.name == "onnx"
    assert "with ONNX Runtime instead" in caplog.text
    with pytest.raises(RuntimeLoadError):
        load_runtime(str(folder), runtime="dlr")
