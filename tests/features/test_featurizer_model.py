"""Featurizer: the real demo featurizer, and small ONNX models for each output shape and failure."""

import os

import numpy as np
import onnx_models
import pytest
from ggvision.featurizer import Featurizer, l2_normalise

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = os.path.join(ROOT, "components", "featurizer", "models", "mobilenetv2-features")
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "dlr")


def images(count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (240 + 10 * i, 320, 3), dtype=np.uint8) for i in range(count)]


@pytest.fixture(scope="module")
def real():
    with Featurizer.load(REAL) as featurizer:
        yield featurizer


def test_real_model_loads_from_its_folder(real):
    assert (real.dim, real.output_name, real.runtime_name) == (576, "features", "onnx")
    spec = real.spec
    assert (spec.width, spec.height, spec.layout, spec.dtype) == (224, 224, "NHWC", "uint8")
    assert not real.batching  # its batch dimension is fixed at 1


def test_real_model_gives_normalised_rows_and_batch_agrees_with_single(real):
    batch = images(3)
    vectors = real.features(batch)
    assert vectors.shape == (3, 576) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for image, row in zip(batch, vectors):
        np.testing.assert_allclose(real.features([image])[0], row, atol=1e-6)
    assert real.features([]).shape == (0, 576)


def test_different_images_give_different_vectors(real):
    red = np.zeros((224, 224, 3), np.uint8)
    red[..., 2] = 255
    stripes = np.zeros((224, 224, 3), np.uint8)
    stripes[::16] = 255
    a, b = real.features([red, stripes])
    assert float(np.dot(a, b)) < 0.9


def _mean_model(tmp_path, shape, keepdims, output="features", input_dtype="uint8"):
    """features = the per-channel mean of an NHWC image: [N, 3] (or [N, 1, 1, 3] with keepdims)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Cast", ["image"], ["pixels"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["pixels"], [output], axes=[1, 2], keepdims=keepdims)]
    out_shape = [shape[0], 1, 1, 3] if keepdims else [shape[0], 3]
    model = onnx_models._model(
        nodes, [helper.make_tensor_value_info("image", onnx_models._elem_type(input_dtype), list(shape))],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, out_shape)])
    onnx_models.save(model, str(tmp_path))
    (tmp_path / "model.yaml").write_text("input: {dtype: uint8, mean: [0, 0, 0], std: [1, 1, 1]}\n")
    return str(tmp_path)


def test_dynamic_batch_runs_in_batches_and_agrees_with_single(tmp_path):
    folder = _mean_model(tmp_path, ["batch", 8, 8, 3], keepdims=0)
    with Featurizer.load(folder, max_batch=2) as featurizer:
        assert featurizer.batching and featurizer.dim == 3
        batch = images(5)
        vectors = featurizer.features(batch)
        singles = np.concatenate([featurizer.features([image]) for image in batch])
    np.testing.assert_allclose(vectors, singles, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_pooled_map_output_and_zero_vectors(tmp_path):
    # [1, 1, 1, 3] pooled output; a black image has all-zero features, which must stay zero, not NaN.
    folder = _mean_model(tmp_path, [1, 8, 8, 3], keepdims=1)
    with Featurizer.load(folder) as featurizer:
        vectors = featurizer.features([np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 7, np.uint8)])
    np.testing.assert_array_equal(vectors[0], [0, 0, 0])
    np.testing.assert_allclose(vectors[1], [3 ** -0.5] * 3, atol=1e-6)


def test_l2_normalise_keeps_zero_rows():
    rows = l2_normalise(np.array([[0, 0], [3, 4]], np.float32))
    np.testing.assert_array_equal(rows, np.array([[0, 0], [0.6, 0.8]], np.float32))
    assert not np.isnan(rows).any()


def _two_output_model(tmp_path):
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ReduceMean", ["data"], ["pooled"], axes=[2, 3], keepdims=1),
             helper.make_node("Identity", ["data"], ["map"])]
    model = onnx_models._model(
        nodes, [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("map", TensorProto.FLOAT, [1, 3, 8, 8]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 3, 1, 1])])
    onnx_models.save(model, str(tmp_path))
    return str(tmp_path)


def test_named_output_is_used(tmp_path):
    folder = _two_output_model(tmp_path)
    (tmp_path / "model.yaml").write_text("output: {names: [pooled]}\n")
    with Featurizer.load(folder) as featurizer:
        assert (featurizer.output_name, featurizer.dim) == ("pooled", 3)
        assert featurizer.spec.layout == "NCHW"


@pytest.mark.parametrize("yaml_text, expected", [
    ("", "the model has 2 outputs (map, pooled); name the feature output in model.yaml"),
    ("output: {names: [map]}\n", "output 'map' has shape [1, 3, 8, 8] for a batch of 1; a featurizer needs"),
    ("output: {names: [logits]}\n", "model.yaml output.names lists 'logits', which the model does not have"),
    ("output: {names: [map, pooled]}\n", "output.names lists 2 outputs; a featurizer reads one"),
    ("output: {layout: gluoncv}\n", "output.layout gluoncv describes a detector"),
])
def test_unusable_outputs_fail_at_load_with_one_line(tmp_path, yaml_text, expected):
    folder = _two_output_model(tmp_path)
    (tmp_path / "model.yaml").write_text(yaml_text)
    with pytest.raises(ValueError) as raised:
        Featurizer.load(folder)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def _dlr_available():
    from ggvision.runtimes import RuntimeLoadError
    from ggvision.runtimes.dlr import import_dlr

    try:
        import_dlr()
    except RuntimeLoadError:
        return False
    return True


@pytest.mark.skipif(not os.path.isdir(FIXTURES), reason="no ../shared/fixtures/dlr")
def test_neo_fixture_with_dlr_and_its_onnx_twin_agree(tmp_path):
    if not _dlr_available():
        pytest.skip("DLR is not installed")
    # The fixture's preprocessing (README): RGB, pixel / 255, NCHW float32, stretched; no mean/std.
    yaml_text = "input: {scale: 0.00392156862745098, mean: [0, 0, 0], std: [1, 1, 1]}\n"
    onnx_dir = tmp_path / "onnx"
    onnx_dir.mkdir()
    (onnx_dir / "model.onnx").symlink_to(os.path.join(FIXTURES, "featurizer_224.onnx"))
    (onnx_dir / "model.yaml").write_text(yaml_text)
    dlr_dir = tmp_path / "dlr"
    dlr_dir.mkdir()
    for name in os.listdir(os.path.join(FIXTURES, "featurizer_224_dlr")):
        (dlr_dir / name).symlink_to(os.path.join(FIXTURES, "featurizer_224_dlr", name))
    (dlr_dir / "model.yaml").write_text(yaml_text)
    batch = images(2)
    with Featurizer.load(str(onnx_dir)) as with_onnx, \
            Featurizer.load(str(dlr_dir), runtime="dlr") as with_dlr:
        assert with_onnx.dim == with_dlr.dim == 64
        np.testing.assert_allclose(with_dlr.features(batch), with_onnx.features(batch), atol=1e-5)
