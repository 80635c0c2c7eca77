"""ONNX Runtime: the runtime of `.onnx` models (the bundled demo model, CI, x86 machines, ONNX exports)."""

import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..log import get_logger
from .base import Runtime, RuntimeLoadError, check_device, check_threads

_log = get_logger("ggvision.runtimes.onnx")

PREFERRED_FILE = "model.onnx"
INSTALL_HINT = ("install ONNX Runtime: `pip install onnxruntime` (for a GPU: `onnxruntime-gpu`; on Jetson "
                "the onnxruntime-gpu wheel built for the JetPack version)")
# Tried in this order for device="gpu"; CPU is always the last resort.
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"

_TENSOR_TYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(uint16)": "uint16", "tensor(int16)": "int16",
    "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
}


def find_onnx_file(model_dir_or_file: str) -> str:
    """The model file: the path itself, or in a folder `model.onnx`, else its only `*.onnx` file."""
    if os.path.isfile(model_dir_or_file):
        return model_dir_or_file
    if not os.path.isdir(model_dir_or_file):
        raise RuntimeLoadError(f"no ONNX model at {model_dir_or_file}: no such file or folder")
    names = sorted(os.listdir(model_dir_or_file))
    if PREFERRED_FILE in names:
        return os.path.join(model_dir_or_file, PREFERRED_FILE)
    candidates = [name for name in names if name.lower().endswith(".onnx")]
    if not candidates:
        raise RuntimeLoadError(f"no .onnx file in {model_dir_or_file} "
                               f"(found: {', '.join(names) or 'nothing'})")
    if len(candidates) > 1:
        raise RuntimeLoadError(f"{model_dir_or_file} has {len(candidates)} .onnx files "
                               f"({', '.join(candidates)}): name the one to use {PREFERRED_FILE}, "
                               "or give the file's path")
    return os.path.join(model_dir_or_file, candidates[0])


def choose_providers(available: List[str], device: str) -> List[str]:
    if device != "gpu":
        return [CPU_PROVIDER]
    chosen = [name for name in GPU_PROVIDERS if name in available]
    if not chosen:
        _log.warning("device gpu: this ONNX Runtime has no GPU provider (available: %s); running on the CPU. "
                     "For a GPU install onnxruntime-gpu", ", ".join(available) or "none")
    return chosen + [CPU_PROVIDER]


class OnnxRuntime(Runtime):
    """An `.onnx` model in an `onnxruntime.InferenceSession`; `threads` sets intra-op threads."""

    name = "onnx"

    def __init__(self, model_dir_or_file: str, device: str = "cpu", threads: Optional[int] = None) -> None:
        check_device(device)
        check_threads(threads)
        self.path = find_onnx_file(model_dir_or_file)
        ort = _import_onnxruntime()
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # ONNX Runtime's pool threads spin-wait between runs by default: at camera rates (one run every
        # few tens of ms) that burns about a core doing nothing, which a device pays in heat and in CPU
        # taken from the camera and the other components.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        providers = choose_providers(list(ort.get_available_providers()), device)
        try:
            self._session = ort.InferenceSession(self.path, sess_options=options, providers=providers)
        except Exception as error:
            raise RuntimeLoadError(f"ONNX Runtime cannot load {self.path}: {str(error).strip()}") from None
        inputs = self._session.get_inputs()
        if not inputs:
            raise RuntimeLoadError(f"{self.path} has no inputs")
        self._input_names = [i.name for i in inputs]
        self._input_name = inputs[0].name
        self._input_shape = _shape(inputs[0].shape)
        self._input_dtype = _TENSOR_TYPES.get(inputs[0].type, inputs[0].type)
        self._output_names = [o.name for o in self._session.get_outputs()]
        _log.info("ONNX Runtime %s loaded %s with %s", getattr(ort, "__version__", "?"), self.path,
                  ", ".join(self._session.get_providers()))

    @property
    def providers(self) -> List[str]:
        return list(self._session.get_providers()) if self._session is not None else []

    def run(self, inputs: Dict[str, np.ndarray]) -> List[np.ndarray]:
        if self._session is None:
            raise RuntimeError("onnx: the model was closed")
        self.check_inputs(inputs)
        unknown = [name for name in inputs if name not in self._input_names]
        if unknown:
            raise ValueError(f"onnx: the model has no input named {', '.join(map(repr, unknown))} "
                             f"(its inputs: {', '.join(self._input_names)})")
        return list(self._session.run(None, inputs))

    def close(self) -> None:
        self._session = None


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise RuntimeLoadError(f"ONNX Runtime is not installed ({error}); {INSTALL_HINT}") from None
    return onnxruntime


def _shape(dims: Any) -> Tuple[int, ...]:
    # Symbolic dimensions ("batch", None) are dynamic.
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (dims or ()))
