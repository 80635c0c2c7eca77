"""What every model runner shares (Detector, Featurizer): a runtime holding a model folder's model, its
input reconciled with model.yaml at load, one way to feed it, and release."""

from typing import List, Optional, TypeVar

import numpy as np

from ..runtimes import Runtime
from .model_input import check_input_shape, input_dtype, input_name, with_model_input
from .spec import ModelSpec

_Self = TypeVar("_Self", bound="LoadedModel")


class LoadedModel:
    """A loaded model: `spec` completed from the model's own input, checked against it. Not
    thread-safe, like the runtimes."""

    def __init__(self, runtime: Runtime, spec: ModelSpec) -> None:
        self._runtime: Optional[Runtime] = runtime
        self.name = spec.name
        self.version = spec.version
        self.runtime_name = runtime.name
        self._input_name = input_name(runtime, spec)
        self.spec = with_model_input(runtime, spec)
        check_input_shape(runtime, self.spec, self._input_name)
        self._input_dtype = input_dtype(runtime, self.spec)

    def _run_input(self, runtime: Runtime, tensor: np.ndarray) -> List[np.ndarray]:
        """The runtime's outputs for one prepared input tensor, in the dtype the model takes."""
        if tensor.dtype.name != self._input_dtype:
            tensor = tensor.astype(self._input_dtype)  # e.g. a float16 model
        return runtime.run({self._input_name: tensor})

    def close(self) -> None:
        """Release the model. Safe to call twice."""
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
