"""An ONNX model's fixed input size (and layout, where only one axis can hold the channels) comes from
the model when model.yaml leaves it out; what model.yaml states is still checked against the model
(issue 9, point 11). Real ONNX models built with onnx.helper."""

import numpy as np
import onnx_models
import pytest
from ggvision.detector import Detector

# One GluonCV-layout row: class 1 over the image's top-left quarter (input pixels).
ROW = dict(ids=[1.0], scores=[0.9], boxes=[[0, 0, 208, 208]])


def folder_with(tmp_path, model, model_yaml: str = "") -> str:
    folder = tmp_path / "model"
    onnx_models.save(model, str(folder), "model.onnx")
    if model_yaml:
        (folder / "model.yaml").write_text(model_yaml)
    return str(folder)


def nhwc_model(size: int):
    """`constant_gluoncv_model`'s outputs behind an NHWC input [1, size, size, 3]."""
    model = onnx_models.constant_gluoncv_model(size=size, **ROW)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(dims, (1, size, size, 3)):
        dim.dim_value = value
    return model


def test_the_size_comes_from_the_model_when_model_yaml_leaves_it_out(tmp_path):
    folder = folder_with(tmp_path, onnx_models.constant_gluoncv_model(size=416, **ROW),
                         "name: m416\noutput: {layout: gluoncv}\nlabels: [a, b]\n")
    with Detector.load(folder) as detector:
        assert (detector.spec.width, detector.spec.height, detector.spec.layout) == (416, 416, "NCHW")
        detections = detector.detect(np.full((300, 600, 3), 128, np.uint8), 0.5, 10, None)
    assert detections.class_ids.tolist() == [1]
    assert np.allclose(detections.boxes, [[0, 0, 0.5, 0.5]], atol=1e-6)


def test_a_folder_with_no_model_yaml_at_all_takes_the_size_from_the_model(tmp_path):
    folder = folder_with(tmp_path, onnx_models.constant_gluoncv_model(size=300, **ROW))
    with Detector.load(folder) as detector:
        assert (detector.spec.width, detector.spec.height) == (300, 300)


def test_an_nhwc_model_gives_its_layout_too(tmp_path):
    folder = folder_with(tmp_path, nhwc_model(320), "input: {scale: 0.00392156862745098}\n")
    with Detector.load(folder) as detector:
        assert (detector.spec.width, detector.spec.height, detector.spec.layout) == (320, 320, "NHWC")


def test_a_width_model_yaml_states_is_kept_and_the_other_side_comes_from_the_model(tmp_path):
    model = onnx_models.constant_gluoncv_model(size=416, **ROW)
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 240  # [1, 3, 240, 416]
    with Detector.load(folder_with(tmp_path, model, "input: {width: 416}\n")) as detector:
        assert (detector.spec.width, detector.spec.height) == (416, 240)


def test_model_yaml_stating_another_size_is_still_one_clear_error(tmp_path):
    folder = folder_with(tmp_path, onnx_models.constant_gluoncv_model(size=416, **ROW),
                         "input: {width: 512, height: 512}\n")
    with pytest.raises(ValueError, match=r"the model's input 'data' has shape \[1, 3, 416, 416\], but "
                                         r"model.yaml describes \[1, 3, 512, 512\]"):
        Detector.load(folder)


def test_model_yaml_stating_another_layout_is_still_one_clear_error(tmp_path):
    folder = folder_with(tmp_path, nhwc_model(320), "input: {layout: NCHW}\n")
    with pytest.raises(ValueError, match=r"has shape \[1, 320, 320, 3\], but model.yaml describes "
                                         r"\[1, 3, 320, 320\]"):
        Detector.load(folder)


def test_a_dynamic_input_keeps_the_defaults(tmp_path):
    model = onnx_models.constant_gluoncv_model(size=416, **ROW)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    with Detector.load(folder_with(tmp_path, model)) as detector:
        assert (detector.spec.width, detector.spec.height, detector.spec.layout) == (512, 512, "NCHW")
