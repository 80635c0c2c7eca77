"""A model's input as the runtime sees it, reconciled with its model.yaml: what model.yaml leaves out
is taken from the model's own fixed input shape, and what it states is checked against the model.
Shared by every model runner (the detector, the featurizer)."""

import dataclasses
from typing import Optional, Tuple

from ..runtimes import Runtime
from ..runtimes.base import format_shape
from .spec import ModelSpec


def input_name(runtime: Runtime, spec: ModelSpec) -> str:
    if spec.input_name and spec.input_name != runtime.input_name:
        raise ValueError(f"model.yaml names the input {spec.input_name!r}, but the model's input is "
                         f"{runtime.input_name!r} (input.name)")
    return runtime.input_name


def _fixed(dimension: Optional[int]) -> bool:
    return dimension is not None and dimension > 0


def with_model_input(runtime: Runtime, spec: ModelSpec) -> ModelSpec:
    """`spec` with what model.yaml left out taken from the model's own fixed input shape: the layout
    (when only one axis can be the 3 channels), then the width and height. What model.yaml states is
    kept, and checked against the model by `check_input_shape`."""
    shape: Tuple[Optional[int], ...] = tuple(runtime.input_shape or ())
    if len(shape) != 4:
        return spec
    changes = {}
    # The model's own layout, when its shape tells: the one axis of length 3 holds the channels.
    model_layout = None
    channels_first, channels_last = shape[1] == 3, shape[3] == 3
    if channels_first != channels_last:
        model_layout = "NCHW" if channels_first else "NHWC"
    elif not channels_first and _fixed(shape[1]) != _fixed(shape[3]):
        # One axis dynamic, the other fixed and not 3: the fixed one is a side, not the channels.
        model_layout = "NHWC" if _fixed(shape[1]) else "NCHW"
    layout = spec.layout
    if model_layout and not spec.states("layout"):
        layout = model_layout
        if layout != spec.layout:
            changes["layout"] = layout
    # Sides read by the model's layout (a layout model.yaml states wrongly is reported as such).
    height, width = (shape[2], shape[3]) if (model_layout or layout) == "NCHW" else (shape[1], shape[2])
    if not spec.states("width") and _fixed(width):
        changes["width"] = int(width)
    if not spec.states("height") and _fixed(height):
        changes["height"] = int(height)
    return dataclasses.replace(spec, **changes) if changes else spec


def check_input_shape(runtime: Runtime, spec: ModelSpec, input_name: str) -> None:
    """The model's static input dimensions must be what the spec prepares: batch 1, 3 channels, H×W."""
    shape = tuple(runtime.input_shape or ())
    if not shape:
        return  # the runtime cannot tell; the trial run will
    if spec.layout == "NCHW":
        expected = (1, 3, spec.height, spec.width)
    else:
        expected = (1, spec.height, spec.width, 3)
    fits = len(shape) == 4 and all(
        got is None or got < 0 or got == want for got, want in zip(shape, expected))
    if not fits:
        raise ValueError(f"the model's input {input_name!r} has shape {format_shape(shape)}, but model.yaml "
                         f"describes {format_shape(expected)} (layout {spec.layout}, width {spec.width}, "
                         f"height {spec.height}): fix input.layout/width/height")


def input_dtype(runtime: Runtime, spec: ModelSpec) -> str:
    wanted = runtime.input_dtype or spec.dtype
    if wanted == spec.dtype or (spec.dtype == "float32" and wanted in ("float16", "float64")):
        return wanted
    raise ValueError(f"the model's input {runtime.input_name!r} is {wanted}, but model.yaml says "
                     f"input.dtype {spec.dtype}")
