"""The runtime interface: load a model, describe its input, run it, release it.

Each runtime module (DLR, ONNX Runtime) implements `Runtime`; everything above it (preprocessing,
decoders, the detector) sees only this interface.
"""

import abc
from typing import Dict, List, Tuple

import numpy as np


class RuntimeLoadError(Exception):
    """A model cannot be loaded: missing runtime, missing library, or a folder the runtime cannot use.

    The message says what was found and what to install or change.
    """


DEVICES = ("cpu", "gpu")


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"device {device!r} is not allowed (allowed: {', '.join(DEVICES)})")
    return device


def check_threads(threads) -> None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads {threads!r} is not allowed "
                         "(allowed: None or a whole number of at least 1)")


class Runtime(abc.ABC):
    """One loaded model. Not thread-safe: run it from one thread."""

    name: str = ""
    # What the model expects and returns: each runtime sets these once its model is loaded.
    _input_name: str = ""
    _input_shape: Tuple[int, ...] = ()
    _input_dtype: str = "float32"
    _output_names: List[str] = []

    @property
    def input_name(self) -> str:
        """The name of the (first) input."""
        return self._input_name

    @property
    def input_shape(self) -> Tuple[int, ...]:
        """The shape of the input; -1 for a dynamic dimension, () when the runtime cannot tell."""
        return self._input_shape

    @property
    def input_dtype(self) -> str:
        """The numpy dtype name of the input ("float32", "uint8", ...)."""
        return self._input_dtype

    @property
    def output_names(self) -> List[str]:
        """The outputs, in the order `run` returns them."""
        return list(self._output_names)

    @abc.abstractmethod
    def run(self, inputs: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """Run one batch; returns the outputs in `output_names` order."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the model. Safe to call twice."""

    def check_inputs(self, inputs: Dict[str, np.ndarray]) -> None:
        """Refuse inputs the model would reject or, worse, read past: a clear ValueError instead."""
        if not isinstance(inputs, dict) or not inputs:
            raise ValueError(f"{self.name}: inputs must be a dict of input name → array, "
                             f"e.g. {{{self.input_name!r}: array}}")
        if self.input_name not in inputs:
            raise ValueError(f"{self.name}: input {self.input_name!r} is missing "
                             f"(given: {', '.join(sorted(map(str, inputs)))})")
        tensor = inputs[self.input_name]
        if not isinstance(tensor, np.ndarray):
            raise ValueError(f"{self.name}: input {self.input_name!r} must be a numpy array, "
                             f"not {type(tensor).__name__}")
        expected = self.input_shape
        if expected:
            matches = len(expected) == tensor.ndim and all(
                want is None or want < 0 or want == got for want, got in zip(expected, tensor.shape))
            if not matches:
                raise ValueError(f"{self.name}: input {self.input_name!r} has shape {tuple(tensor.shape)}, "
                                 f"the model expects {format_shape(expected)}")
        if tensor.dtype.name != self.input_dtype:
            raise ValueError(f"{self.name}: input {self.input_name!r} has dtype {tensor.dtype.name}, "
                             f"the model expects {self.input_dtype}")

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} input {self.input_name!r} {format_shape(self.input_shape)} "
                f"{self.input_dtype}, outputs {self.output_names}>")


def format_shape(shape: Tuple[int, ...]) -> str:
    return "[" + ", ".join("?" if d is None or d < 0 else str(d) for d in shape) + "]"
