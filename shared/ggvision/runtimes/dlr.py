"""DLR: the runtime of SageMaker Neo artifacts (`compiled.so`, `compiled.params`, `compiled_model.json`).

The `dlr` Python package is only a wrapper around the native `libdlr.so`. DLR looks for that library
first in the model folder (a Neo artifact may carry one built for its target) and then in its own
search paths (`<sys.prefix>/dlr/`, `~/.local/dlr/`, next to the package, ...). The PyPI `dlr==1.6.0`
x86_64 wheel installs one into `<sys.prefix>/dlr/`; the 1.7+ wheels do not, so with those (and on
ARM) the library comes from the platform's DLR build or from the artifact.
"""

import json
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..log import get_logger
from .base import Runtime, RuntimeLoadError, check_device, check_threads
from .dlr_telemetry import disable_phone_home

_log = get_logger("ggvision.runtimes.dlr")

LIBRARY_NAME = "libdlr.so"
INSTALL_HINT = (
    "install DLR with its native library: deploy the ggvision.DLRRuntime component; or on x86_64 "
    "`pip install dlr==1.6.0` (the last PyPI wheel that bundles libdlr.so, the 1.7+ wheels are only the "
    "Python wrapper); or install the DLR build for this platform (Jetson, Raspberry Pi: the neo-ai-dlr "
    "release for the board); or put the libdlr.so built for this target into the model folder"
)


def import_dlr() -> Any:
    """`import dlr`, with the phone-home turned off first; RuntimeLoadError saying what to install."""
    disable_phone_home()
    try:
        import dlr
    except ImportError as error:
        raise RuntimeLoadError(f"the DLR runtime is not installed ({error}); {INSTALL_HINT}") from None
    except Exception as error:  # a broken installation fails in odd ways at import time
        raise RuntimeLoadError(f"the DLR runtime cannot be imported ({type(error).__name__}: {error}); "
                               f"{INSTALL_HINT}") from None
    return dlr


def find_library(model_dir: str) -> Optional[str]:
    """The libdlr.so DLR will load for this model folder: the folder's own, else DLR's search paths.

    None when this DLR version has no `dlr.libpath` to ask (DLR then reports the problem itself).
    """
    bundled = os.path.join(model_dir, LIBRARY_NAME)
    if os.path.isfile(bundled):
        return bundled
    try:
        from dlr.libpath import find_lib_path
    except ImportError:
        return None
    try:
        return find_lib_path(model_dir, use_default_dlr=False)
    except TypeError:  # another DLR version with another signature: let DLRModel search
        return None
    except Exception as error:
        searched: List[str] = []
        for line in str(error).splitlines()[1:]:  # DLR lists the candidate paths, one a line
            candidate = os.path.normpath(line.strip()) if line.strip() else ""
            if candidate and candidate not in searched:
                searched.append(candidate)
        raise RuntimeLoadError(
            f"DLR cannot find its native library {LIBRARY_NAME}: not in the model folder {model_dir} nor in "
            f"DLR's search paths ({', '.join(searched) or error}); {INSTALL_HINT}") from None


def check_artifact(model_dir: str) -> None:
    """A Neo artifact has a compiled `.so` (graph executor: + .params + _model.json; Relay VM: + .ro)."""
    if not os.path.isdir(model_dir):
        raise RuntimeLoadError(f"DLR needs a model folder (a SageMaker Neo artifact); "
                               f"{model_dir} is not a folder")
    names = sorted(os.listdir(model_dir))
    found = ", ".join(names) or "nothing"
    if not any(name.endswith(".so") and name != LIBRARY_NAME for name in names):
        raise RuntimeLoadError(
            f"{model_dir} is not a SageMaker Neo artifact: no compiled .so (a Neo artifact has compiled.so, "
            f"compiled.params and compiled_model.json; found: {found})")
    if any(name.endswith(".ro") for name in names):
        return  # Relay VM
    # Without them DLR takes the .so for a Treelite model and fails with a page of native stack trace.
    missing = [name for name, suffix in (("compiled.params", ".params"), ("compiled_model.json", ".json"))
               if not any(entry.endswith(suffix) for entry in names)]
    if missing:
        raise RuntimeLoadError(
            f"{model_dir} is an incomplete SageMaker Neo artifact: no {' and no '.join(missing)} (a Neo "
            f"artifact has compiled.so, compiled.params and compiled_model.json, or compiled.so and "
            f"compiled.ro; found: {found})")


class DLRRuntime(Runtime):
    """A Neo artifact loaded with `dlr.DLRModel`.

    `threads` sets TVM_NUM_THREADS, which TVM's thread pool reads once per process when it starts.
    """

    name = "dlr"

    def __init__(self, model_dir: str, device: str = "cpu", threads: Optional[int] = None) -> None:
        check_device(device)
        check_threads(threads)
        model_dir = os.path.abspath(model_dir)
        check_artifact(model_dir)
        dlr = import_dlr()
        library = find_library(model_dir)
        if threads is not None:
            os.environ["TVM_NUM_THREADS"] = str(threads)
        try:
            self._model = dlr.DLRModel(model_dir, device, 0)
        except Exception as error:
            hint = f"; {INSTALL_HINT}" if "DLRLibraryNotFound" in type(error).__name__ else ""
            detail = str(error).strip() or ("DLR gives no reason; check that the artifact is complete and "
                                            f"was compiled for this platform ({_platform()})")
            raise RuntimeLoadError(f"DLR cannot load {model_dir} on {device}: "
                                   f"{type(error).__name__}: {detail}{hint}") from None
        self.model_dir = model_dir
        self.library = library
        metadata = _artifact_metadata(model_dir)
        try:
            self._input_name = self._model.get_input_names()[0]
        except Exception as error:
            self.close()
            raise RuntimeLoadError(f"DLR reports no input for {model_dir} ({error})") from None
        self._input_dtype = self._read_input_dtype(metadata)
        self._input_shape = _input_shape(metadata, self._input_name)
        self._output_names = self._read_output_names(metadata)
        _log.info("DLR %s loaded %s on %s with %s", getattr(dlr, "__version__", "?"), model_dir, device,
                  library or "DLR's default library")

    def run(self, inputs: Dict[str, np.ndarray]) -> List[np.ndarray]:
        if self._model is None:
            raise RuntimeError("dlr: the model was closed")
        self.check_inputs(inputs)
        return list(self._model.run(inputs))

    def close(self) -> None:
        # DLRModel frees the native model when it is garbage collected.
        self._model = None

    def _read_input_dtype(self, metadata: "_Metadata") -> str:
        try:
            return str(self._model.get_input_dtype(0))
        except Exception:  # older backends do not report dtypes
            return metadata.input_dtypes.get(self._input_name, "float32")

    def _read_output_names(self, metadata: "_Metadata") -> List[str]:
        try:
            names = list(self._model.get_output_names())
        except Exception:  # only models with metadata have output names
            names = []
        if names:
            return names
        if metadata.output_names:
            return metadata.output_names
        return [f"output{i}" for i in range(metadata.output_count)]


class _Metadata:
    """What the artifact's files say about its tensors (the DLR 1.6 wrapper does not report shapes)."""

    def __init__(self) -> None:
        self.input_shapes: Dict[str, Tuple[int, ...]] = {}
        self.input_dtypes: Dict[str, str] = {}
        self.output_names: List[str] = []
        self.output_count = 0


def _artifact_metadata(model_dir: str) -> _Metadata:
    metadata = _Metadata()
    # Neo's compiled.meta: {"Model": {"Inputs": [{"name", "shape", "dtype"}], "Outputs": [{"name"}]}}
    meta = _load_json(model_dir, ".meta")
    model = meta.get("Model") if isinstance(meta.get("Model"), dict) else {}
    for entry in model.get("Inputs") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            if _is_shape(entry.get("shape")):
                metadata.input_shapes[entry["name"]] = tuple(int(d) for d in entry["shape"])
            if isinstance(entry.get("dtype"), str):
                metadata.input_dtypes[entry["name"]] = entry["dtype"]
    outputs = [e.get("name") for e in model.get("Outputs") or [] if isinstance(e, dict)]
    if outputs and all(isinstance(name, str) for name in outputs):
        metadata.output_names = outputs
    graph = _load_json(model_dir, "_model.json") or _load_json(model_dir, ".json")  # TVM graph
    try:
        nodes, row_ptr = graph["nodes"], graph["node_row_ptr"]
        shapes, dtypes = graph["attrs"]["shape"][1], graph["attrs"]["dltype"][1]
        for index in graph["arg_nodes"]:
            name = nodes[index]["name"]
            if _is_shape(shapes[row_ptr[index]]):
                metadata.input_shapes.setdefault(name, tuple(int(d) for d in shapes[row_ptr[index]]))
            metadata.input_dtypes.setdefault(name, str(dtypes[row_ptr[index]]))
        metadata.output_count = len(graph["heads"])
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    return metadata


def _input_shape(metadata: _Metadata, input_name: str) -> Tuple[int, ...]:
    return metadata.input_shapes.get(input_name, ())


def _platform() -> str:
    import platform

    return f"{platform.system()} {platform.machine()}"


def _is_shape(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in value)


def _load_json(model_dir: str, suffix: str) -> Dict[str, Any]:
    candidates = sorted(name for name in os.listdir(model_dir) if name.endswith(suffix))
    preferred = [name for name in candidates if name.startswith("compiled")]
    for name in preferred or candidates:
        try:
            with open(os.path.join(model_dir, name), encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}
