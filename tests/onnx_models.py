"""Small real ONNX models built with `onnx.helper`, for any test that needs a model with known outputs.

Each builder returns a `onnx.ModelProto`; `save(model, path)` writes it (`path` a folder → `model.onnx`).
The opset is kept low (13) so that any ONNX Runtime from 1.10 loads them.
"""

import os
from typing import Optional, Sequence

import numpy as np

OPSET = 13
# ONNX Runtime 1.10+ reads IR version 7 and later.
IR_VERSION = 7


def _model(nodes, inputs, outputs, initializers=(), name: str = "test-model"):
    import onnx
    from onnx import helper

    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", OPSET)],
                              producer_name="ggvision-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _elem_type(dtype: str) -> int:
    from onnx import TensorProto

    return {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8, "float16": TensorProto.FLOAT16,
            "int64": TensorProto.INT64}[dtype]


def identity_model(shape: Sequence = (1, 3, 8, 8), input_name: str = "data", output_name: str = "output",
                   dtype: str = "float32"):
    """`output` = `input`. A dimension given as a string (e.g. "batch") is dynamic."""
    from onnx import helper

    return _model([helper.make_node("Identity", [input_name], [output_name])],
                  [helper.make_tensor_value_info(input_name, _elem_type(dtype), list(shape))],
                  [helper.make_tensor_value_info(output_name, _elem_type(dtype), list(shape))],
                  name="identity")


def affine_model(shape: Sequence = (1, 3, 8, 8), scale: float = 2.0, offset: float = 1.0,
                 input_name: str = "data"):
    """Two outputs: `affine` = input * scale + offset, and `total` [1] = the sum of `affine`."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Mul", [input_name, "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "offset"], ["affine"]),
        helper.make_node("ReduceSum", ["affine"], ["total_scalar"], keepdims=0),
        helper.make_node("Reshape", ["total_scalar", "one"], ["total"]),
    ]
    initializers = [numpy_helper.from_array(np.array(scale, np.float32), "scale"),
                    numpy_helper.from_array(np.array(offset, np.float32), "offset"),
                    numpy_helper.from_array(np.array([1], np.int64), "one")]
    return _model(nodes, [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(shape))],
                  [helper.make_tensor_value_info("affine", TensorProto.FLOAT, list(shape)),
                   helper.make_tensor_value_info("total", TensorProto.FLOAT, [1])],
                  initializers, name="affine")


def affine_expected(data: np.ndarray, scale: float = 2.0, offset: float = 1.0):
    """What `affine_model` returns for `data`."""
    affine = data.astype(np.float32) * np.float32(scale) + np.float32(offset)
    return [affine, np.array([affine.sum(dtype=np.float64)], np.float32)]


def constant_gluoncv_model(ids: Sequence[float], scores: Sequence[float], boxes: Sequence[Sequence[float]],
                           size: int = 512, input_name: str = "data", dtype: str = "float32"):
    """A detector that always answers the same rows in the GluonCV/Neo layout, whatever the image.

    Outputs `ids` [1,N,1], `scores` [1,N,1], `bboxes` [1,N,4] (xmin, ymin, xmax, ymax in input pixels).
    The input [1,3,size,size] is still read (times 0) so that the graph depends on it.
    """
    from onnx import TensorProto, helper, numpy_helper

    count = len(ids)
    values = {
        "ids": np.asarray(ids, np.float32).reshape(1, count, 1),
        "scores": np.asarray(scores, np.float32).reshape(1, count, 1),
        "bboxes": np.asarray(boxes, np.float32).reshape(1, count, 4),
    }
    nodes = [helper.make_node("Cast", [input_name], ["as_float"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["as_float"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"])]
    initializers = [numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    outputs = []
    for name, value in values.items():
        initializers.append(numpy_helper.from_array(value, f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    data = helper.make_tensor_value_info(input_name, _elem_type(dtype), [1, 3, size, size])
    return _model(nodes, [data], outputs, initializers, name="constant-gluoncv")


def save(model, path: str, file_name: Optional[str] = None) -> str:
    """Write `model` to `path` (a folder → `<path>/model.onnx`, or `file_name` in it); returns the file."""
    if os.path.isdir(path) or file_name is not None:
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, file_name or "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path
