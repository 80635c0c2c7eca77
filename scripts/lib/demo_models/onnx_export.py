"""What both conversions do to tf2onnx's output: plain tensor names, a name, an IR version old devices
read, and ONNX's own checker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict

if TYPE_CHECKING:
    import onnx

OPSET = 13


def rename_tensors(model: onnx.ModelProto, renames: Dict[str, str]) -> None:
    """tf2onnx keeps TensorFlow's `name:0`; the model folder reads better with plain names."""
    graph = model.graph
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in list(graph.input) + list(graph.output):
        value.name = renames.get(value.name, value.name)


def finish_model(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    import onnx
    model.graph.name = name
    # The producer string is recorded in the committed ONNX bytes: keep it as it was.
    model.producer_name = "ggvision scripts/make-demo-models (tf2onnx)"
    # IR 8: readable by ONNX Runtime 1.10+, the oldest a device may have.
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    return model
