"""Model runtimes: one interface (`Runtime`), DLR for SageMaker Neo artifacts, ONNX Runtime for `.onnx`.

`load_runtime(model_dir)` picks the runtime from the folder's files unless one is configured. The
runtime packages themselves (`dlr`, `onnxruntime`) are imported only when a model is loaded.
"""

from .base import Runtime, RuntimeLoadError
from .selection import load_runtime, runtimes_for

__all__ = ["Runtime", "RuntimeLoadError", "load_runtime", "runtimes_for"]
