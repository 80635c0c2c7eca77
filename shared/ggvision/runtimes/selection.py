"""Which runtime a model folder needs: picked from its files unless configured."""

import os
from typing import List, Optional

from ..log import get_logger
from .base import Runtime, RuntimeLoadError, check_device, check_threads

_log = get_logger("ggvision.runtimes")

RUNTIMES = ("dlr", "onnx")
# The files SageMaker Neo writes for a DLR model.
NEO_FILES = ("compiled.so", "compiled_model.json")


def runtimes_for(model_path: str) -> List[str]:
    """The runtimes whose model files are in `model_path` (a folder, or a `.onnx` file), DLR first."""
    if os.path.isfile(model_path):
        return ["onnx"] if model_path.lower().endswith(".onnx") else []
    names = os.listdir(model_path)
    found = []
    if any(name in NEO_FILES for name in names):
        found.append("dlr")
    if any(name.lower().endswith(".onnx") for name in names):
        found.append("onnx")
    return found


def load_runtime(model_dir: str, runtime: Optional[str] = None, device: str = "cpu",
                 threads: Optional[int] = None) -> Runtime:
    """Load the model in `model_dir` with `runtime` ("dlr", "onnx"; None or "auto": picked from the files).

    A folder holding both a Neo artifact and an `.onnx` file is loaded with DLR, or with ONNX Runtime when
    DLR cannot load it and no runtime was configured.
    """
    if runtime == "auto":
        runtime = None
    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(f"runtime {runtime!r} is not allowed (allowed: auto, {', '.join(RUNTIMES)})")
    check_device(device)
    check_threads(threads)
    if not os.path.exists(model_dir):
        raise RuntimeLoadError(f"model folder {model_dir} does not exist")
    found = runtimes_for(model_dir)
    if runtime is not None and runtime not in found:
        raise RuntimeLoadError(f"runtime {runtime} was configured, but {model_dir} has no "
                               f"{_files_of(runtime)} ({_describe(model_dir, found)})")
    if runtime is None:
        if not found:
            raise RuntimeLoadError(f"{model_dir} holds no model: expected a SageMaker Neo artifact "
                                   f"({' / '.join(NEO_FILES)}) for DLR or an .onnx file for ONNX Runtime "
                                   f"({_describe(model_dir, found)})")
        if found == ["dlr", "onnx"]:
            try:
                return _create("dlr", model_dir, device, threads)
            except RuntimeLoadError as error:
                _log.warning("%s; loading the .onnx model in the same folder with ONNX Runtime instead",
                             error)
                return _create("onnx", model_dir, device, threads)
        runtime = found[0]
    return _create(runtime, model_dir, device, threads)


def _create(runtime: str, model_dir: str, device: str, threads: Optional[int]) -> Runtime:
    if runtime == "dlr":
        from .dlr import DLRRuntime

        return DLRRuntime(model_dir, device=device, threads=threads)
    from .onnx import OnnxRuntime

    return OnnxRuntime(model_dir, device=device, threads=threads)


def _files_of(runtime: str) -> str:
    return f"SageMaker Neo artifact ({' / '.join(NEO_FILES)})" if runtime == "dlr" else ".onnx file"


def _describe(model_path: str, found: List[str]) -> str:
    if os.path.isfile(model_path):
        listing = f"it is the file {os.path.basename(model_path)}"
    else:
        names = sorted(os.listdir(model_path))
        shown = ", ".join(names[:20]) + (f", … ({len(names)} files)" if len(names) > 20 else "")
        listing = f"found: {shown or 'an empty folder'}"
    if found:
        listing += f"; it can be loaded with runtime {' or '.join(found)}"
    return listing
