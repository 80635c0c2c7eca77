"""DLRRuntime with the real DLR 1.6.0 on the Neo-format fixtures (../shared/fixtures/dlr/README.md).

The fixtures' behaviour is documented there; every model has an ONNX twin, and DLR and ONNX Runtime
must agree on the same input.
"""

import os
import shutil

import cv2
import numpy as np
import pytest
from ggvision.runtimes import RuntimeLoadError
from ggvision.runtimes.dlr import DLRRuntime
from ggvision.runtimes.onnx import OnnxRuntime
from runtime_subprocess import FIXTURES, SHARED, SITE_PACKAGES, link_packages, load_in_subprocess

pytestmark = [
    pytest.mark.dlr,
    pytest.mark.skipif(not os.path.isdir(FIXTURES), reason="no ../shared/fixtures/dlr"),
]
COLOUR = os.path.join(FIXTURES, "colour_detector_512_dlr")
FEATURIZER = os.path.join(FIXTURES, "featurizer_224_dlr")


def _dlr_installed():
    from ggvision.runtimes.dlr import import_dlr

    try:
        import_dlr()
    except RuntimeLoadError:
        return False
    return True


needs_dlr = pytest.mark.skipif(not _dlr_installed(), reason="DLR is not installed (pip install dlr==1.6.0)")


def readme_example(size: int = 512) -> np.ndarray:
    """The README's example as the model's input: grey 640×480, pure red top-left 160×120 block, pure
    blue bottom-right one; RGB, stretched to the input size, /255, NCHW float32."""
    image = np.full((480, 640, 3), 128, np.uint8)
    image[:120, :160] = (255, 0, 0)
    image[360:, 480:] = (0, 0, 255)
    stretched = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray((stretched.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])


def random_input(shape, seed):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@needs_dlr
def test_colour_detector_gives_the_readme_rows():
    runtime = DLRRuntime(COLOUR)
    ids, scores, boxes = runtime.run({"data": readme_example()})
    assert (ids.shape, scores.shape, boxes.shape) == ((1, 48, 1), (1, 48, 1), (1, 48, 4))
    above = np.flatnonzero(scores[0, :, 0] > 0.5)
    assert len(above) == 2
    assert ids[0, above, 0].tolist() == [0.0, 2.0]
    np.testing.assert_allclose(scores[0, above, 0], [0.998, 0.998], atol=1e-3)
    np.testing.assert_allclose(boxes[0, above], [[0, 0, 128, 128], [384, 384, 512, 512]], atol=1e-4)
    # GluonCV padding: the classes that scored 0.05 or less carry id -1.
    assert set(ids[0, :, 0].tolist()) == {-1.0, 0.0, 2.0}


@needs_dlr
def test_describes_the_neo_artifact():
    runtime = DLRRuntime(COLOUR)
    assert runtime.name == "dlr"
    assert runtime.input_name == "data"
    assert runtime.input_shape == (1, 3, 512, 512)
    assert runtime.input_dtype == "float32"
    assert runtime.output_names == ["ids", "scores", "bboxes"]
    assert runtime.library and os.path.basename(runtime.library) == "libdlr.so"


@needs_dlr
@pytest.mark.parametrize("make_input", [lambda: readme_example(), lambda: random_input((1, 3, 512, 512), 3)],
                         ids=["readme-example", "random"])
def test_dlr_and_onnx_runtime_agree_on_the_colour_detector(make_input):
    data = make_input()
    from_dlr = DLRRuntime(COLOUR).run({"data": data})
    from_onnx = OnnxRuntime(os.path.join(FIXTURES, "colour_detector_512.onnx")).run({"data": data})
    assert len(from_dlr) == len(from_onnx) == 3
    for a, b in zip(from_dlr, from_onnx):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


@needs_dlr
def test_featurizer_shape_and_agreement():
    runtime = DLRRuntime(FEATURIZER, threads=1)
    assert (runtime.input_shape, runtime.output_names) == ((1, 3, 224, 224), ["features"])
    data = random_input((1, 3, 224, 224), 5)
    (features,) = runtime.run({"data": data})
    assert features.shape == (1, 64, 1, 1)
    (twin,) = OnnxRuntime(os.path.join(FIXTURES, "featurizer_224.onnx")).run({"data": data})
    np.testing.assert_allclose(features, twin, rtol=0, atol=1e-5)
    assert float(np.abs(features).max()) > 0  # not a degenerate all-zero answer


@needs_dlr
def test_wrong_input_is_a_value_error_not_a_crash():
    runtime = DLRRuntime(COLOUR)
    expected = r"has shape \(1, 3, 300, 300\), the model expects \[1, 3, 512, 512\]"
    with pytest.raises(ValueError, match=expected):
        runtime.run({"data": np.zeros((1, 3, 300, 300), np.float32)})
    with pytest.raises(ValueError, match="input 'data' is missing"):
        runtime.run({"input": np.zeros((1, 3, 512, 512), np.float32)})


def test_a_folder_that_is_not_a_neo_artifact(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(RuntimeLoadError, match=r"not a SageMaker Neo artifact.*found: model\.onnx"):
        DLRRuntime(str(tmp_path))
    with pytest.raises(RuntimeLoadError, match="is not a folder"):
        DLRRuntime(str(tmp_path / "model.onnx"))


@needs_dlr
def test_a_libdlr_inside_the_model_folder_is_the_one_used(tmp_path):
    from dlr.libpath import find_lib_path

    folder = tmp_path / "artifact"
    shutil.copytree(COLOUR, str(folder))
    # A copy (not a link): a separate file, so the loader maps it separately from the installed one.
    shutil.copy(find_lib_path(), str(folder / "libdlr.so"))
    runtime = DLRRuntime(str(folder))
    assert runtime.library == str(folder / "libdlr.so")
    with open("/proc/self/maps") as maps:
        assert str(folder / "libdlr.so") in maps.read()
    expected = DLRRuntime(COLOUR).run({"data": readme_example()})
    for a, b in zip(runtime.run({"data": readme_example()}), expected):
        np.testing.assert_array_equal(a, b)


@needs_dlr
def test_without_libdlr_the_error_says_what_to_install():
    # The real dlr 1.6.0 package without its native library, which is what the 1.7+ PyPI wheels are:
    # with -S, sys.prefix is the base interpreter's, so none of DLR's search paths
    # (<sys.prefix>/dlr/libdlr.so, ~/.local/dlr/, folders next to the package) holds libdlr.so.
    if os.path.exists(os.path.expanduser("~/.local/dlr/libdlr.so")):
        pytest.skip("a libdlr.so in ~/.local/dlr would be found")
    result = load_in_subprocess(COLOUR, "dlr", [SITE_PACKAGES, SHARED], no_site=True)
    message = result.get("error", "")
    assert "cannot find its native library libdlr.so" in message, result
    assert os.path.abspath(COLOUR) in message
    assert "ggvision.DLRRuntime" in message and "pip install dlr==1.6.0" in message
    assert "DLR build for this platform" in message


def test_without_the_dlr_package_the_error_says_what_to_install(tmp_path):
    site_dir = link_packages(str(tmp_path / "site"), ["numpy", "numpy.libs"])
    result = load_in_subprocess(COLOUR, "dlr", [site_dir, SHARED], no_site=True)
    message = result.get("error", "")
    assert "the DLR runtime is not installed" in message, result
    assert "pip install dlr==1.6.0" in message and "ggvision.DLRRuntime" in message


def test_without_onnxruntime_the_error_says_what_to_install(tmp_path):
    import onnx_models

    model_dir = str(tmp_path / "model")
    onnx_models.save(onnx_models.identity_model(), model_dir, "model.onnx")
    site_dir = link_packages(str(tmp_path / "site"), ["numpy", "numpy.libs"])
    result = load_in_subprocess(model_dir, None, [site_dir, SHARED], no_site=True)
    assert "ONNX Runtime is not installed" in result.get("error", ""), result
    assert "pip install onnxruntime" in result["error"]
