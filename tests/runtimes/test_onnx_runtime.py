"""OnnxRuntime on real ONNX models built with onnx.helper (tests/onnx_models.py)."""

import logging
import os

import numpy as np
import onnx_models
import pytest
from ggvision.runtimes import RuntimeLoadError
from ggvision.runtimes.onnx import OnnxRuntime


@pytest.fixture()
def affine_dir(tmp_path):
    onnx_models.save(onnx_models.affine_model(shape=(1, 3, 8, 8), scale=2.0, offset=1.0), str(tmp_path))
    return str(tmp_path)


def test_outputs_are_the_models_function_of_the_input(affine_dir):
    data = np.random.default_rng(1).random((1, 3, 8, 8), dtype=np.float32)
    with OnnxRuntime(affine_dir) as runtime:
        outputs = runtime.run({"data": data})
    expected = onnx_models.affine_expected(data, 2.0, 1.0)
    assert len(outputs) == 2
    np.testing.assert_allclose(outputs[0], expected[0], rtol=1e-6)
    np.testing.assert_allclose(outputs[1], expected[1], rtol=1e-5)


def test_describes_input_and_outputs(affine_dir):
    runtime = OnnxRuntime(affine_dir)
    assert runtime.name == "onnx"
    assert runtime.input_name == "data"
    assert runtime.input_shape == (1, 3, 8, 8)
    assert runtime.input_dtype == "float32"
    assert runtime.output_names == ["affine", "total"]
    assert runtime.providers == ["CPUExecutionProvider"]


def test_dynamic_dimensions_are_minus_one_and_accept_any_size(tmp_path):
    onnx_models.save(onnx_models.identity_model(shape=("batch", 3, "height", "width")), str(tmp_path))
    runtime = OnnxRuntime(str(tmp_path))
    assert runtime.input_shape == (-1, 3, -1, -1)
    data = np.arange(2 * 3 * 5 * 7, dtype=np.float32).reshape(2, 3, 5, 7)
    (output,) = runtime.run({"data": data})
    np.testing.assert_array_equal(output, data)


def test_uint8_input(tmp_path):
    onnx_models.save(onnx_models.identity_model(shape=(1, 4, 4, 3), input_name="image", dtype="uint8"),
                     str(tmp_path))
    runtime = OnnxRuntime(str(tmp_path))
    assert (runtime.input_name, runtime.input_dtype) == ("image", "uint8")
    image = np.full((1, 4, 4, 3), 200, np.uint8)
    np.testing.assert_array_equal(runtime.run({"image": image})[0], image)


def test_a_file_path_is_accepted(tmp_path):
    path = onnx_models.save(onnx_models.identity_model(), str(tmp_path), "detector.onnx")
    assert OnnxRuntime(path).path == path


def test_model_onnx_is_preferred_among_several(tmp_path):
    onnx_models.save(onnx_models.identity_model(output_name="other"), str(tmp_path), "other.onnx")
    onnx_models.save(onnx_models.identity_model(output_name="chosen"), str(tmp_path), "model.onnx")
    assert OnnxRuntime(str(tmp_path)).output_names == ["chosen"]


def test_the_only_onnx_file_of_a_folder_is_used(tmp_path):
    onnx_models.save(onnx_models.identity_model(), str(tmp_path), "ssd.onnx")
    (tmp_path / "labels.txt").write_text("person\n")
    assert OnnxRuntime(str(tmp_path)).path == os.path.join(str(tmp_path), "ssd.onnx")


def test_folder_without_onnx_file_is_a_clear_error(tmp_path):
    (tmp_path / "labels.txt").write_text("person\n")
    with pytest.raises(RuntimeLoadError, match=r"no \.onnx file in .*\(found: labels\.txt\)"):
        OnnxRuntime(str(tmp_path))


def test_folder_with_two_onnx_files_is_a_clear_error(tmp_path):
    onnx_models.save(onnx_models.identity_model(), str(tmp_path), "a.onnx")
    onnx_models.save(onnx_models.identity_model(), str(tmp_path), "b.onnx")
    with pytest.raises(RuntimeLoadError, match=r"2 \.onnx files \(a\.onnx, b\.onnx\).*model\.onnx"):
        OnnxRuntime(str(tmp_path))


def test_missing_path_and_broken_file_are_clear_errors(tmp_path):
    with pytest.raises(RuntimeLoadError, match="no such file or folder"):
        OnnxRuntime(str(tmp_path / "absent"))
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"this is not a protobuf")
    with pytest.raises(RuntimeLoadError, match="ONNX Runtime cannot load .*model.onnx"):
        OnnxRuntime(str(tmp_path))


@pytest.mark.parametrize("inputs, message", [
    ({"data": np.zeros((1, 3, 4, 4), np.float32)},
     r"has shape \(1, 3, 4, 4\), the model expects \[1, 3, 8, 8\]"),
    ({"data": np.zeros((1, 3, 8, 8), np.float64)}, "has dtype float64, the model expects float32"),
    ({"image": np.zeros((1, 3, 8, 8), np.float32)}, "input 'data' is missing"),
    ({"data": [[0.0]]}, "must be a numpy array"),
    ({}, "inputs must be a dict"),
    ({"data": np.zeros((1, 3, 8, 8), np.float32), "extra": np.zeros(1)}, "no input named 'extra'"),
])
def test_bad_inputs_are_value_errors(affine_dir, inputs, message):
    with pytest.raises(ValueError, match=message):
        OnnxRuntime(affine_dir).run(inputs)


def test_threads_and_device_are_checked(affine_dir):
    assert OnnxRuntime(affine_dir, threads=1).run({"data": np.zeros((1, 3, 8, 8), np.float32)})
    with pytest.raises(ValueError, match="threads 0 is not allowed"):
        OnnxRuntime(affine_dir, threads=0)
    with pytest.raises(ValueError, match="device 'tpu' is not allowed"):
        OnnxRuntime(affine_dir, device="tpu")


def test_gpu_without_a_gpu_provider_runs_on_the_cpu_with_a_warning(affine_dir, caplog):
    import onnxruntime

    if {"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(onnxruntime.get_available_providers()):
        pytest.skip("this ONNX Runtime has a GPU provider")
    with caplog.at_level(logging.WARNING, logger="ggvision.runtimes.onnx"):
        runtime = OnnxRuntime(affine_dir, device="gpu")
    assert runtime.providers == ["CPUExecutionProvider"]
    assert "no GPU provider" in caplog.text and "onnxruntime-gpu" in caplog.text


def test_a_closed_runtime_refuses_to_run(affine_dir):
    runtime = OnnxRuntime(affine_dir)
    runtime.close()
    runtime.close()
    with pytest.raises(RuntimeError, match="closed"):
        runtime.run({"data": np.zeros((1, 3, 8, 8), np.float32)})


def test_pool_threads_sleep_between_runs_instead_of_spinning(affine_dir):
    # Spinning threads would burn a core between frames (scripts/bench detection shows the cost).
    runtime = OnnxRuntime(affine_dir)
    options = runtime._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    runtime.close()
