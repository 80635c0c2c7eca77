"""Featurizer: a model folder turned into `features(images) -> [N, D]` L2-normalised float32 vectors.

The same pieces as the Detector: the model folder's spec (`ggvision.models`), a runtime
(`ggvision.runtimes`) and preprocessing (`ggvision.imaging.preprocess`); the output is one feature
tensor instead of a detection layout. Everything that can be checked is checked at load (input name,
shape, dtype, which output holds the features and its shape, one trial inference), so a wrong model
stops the component at start with one clear message. Not thread-safe, like the runtimes.
"""

from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from .imaging.preprocess import prepare
from .log import get_logger
from .models import ModelSpec, load_model_spec
from .models.loaded_model import LoadedModel
from .runtimes import Runtime, load_runtime
from .runtimes.base import format_shape

_log = get_logger("ggvision.featurizer")

# model.yaml output layouts that describe detectors: a featurizer refuses them rather than misread them.
_DETECTOR_LAYOUTS = ("gluoncv", "tensorflow", "yolo")
# Images per run when the model's batch dimension is dynamic: bounds the memory a burst of crops takes.
DEFAULT_MAX_BATCH = 16


class Featurizer(LoadedModel):
    """A loaded featurizer model. Build it with `Featurizer.load(model_dir)`."""

    def __init__(self, runtime: Runtime, spec: ModelSpec, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch {max_batch!r} is not allowed "
                             f"(allowed: a whole number of at least 1)")
        super().__init__(runtime, spec)
        self.output_name, self._output_index = _feature_output(runtime, self.spec)
        shape = tuple(runtime.input_shape or ())
        # Unknown shape (some DLR artifacts): one image per run is what every model accepts.
        self.batching = bool(shape) and (shape[0] is None or shape[0] < 0)
        self.max_batch = max_batch if self.batching else 1
        self.dim = 0
        self._trial_run()

    @classmethod
    def load(cls, model_dir: str, runtime: Optional[str] = None, threads: Optional[int] = None,
             device: str = "cpu", max_batch: int = DEFAULT_MAX_BATCH) -> "Featurizer":
        """Load the featurizer in `model_dir` (runtime None/"auto": picked from the files, as for Detector).

        Raises RuntimeLoadError (no usable runtime), ValueError (model.yaml or the model's input or
        outputs unusable for features), OSError (unreadable folder).
        """
        spec = load_model_spec(model_dir)
        if spec.stated is not None and "output_layout" in spec.stated \
                and spec.output_layout in _DETECTOR_LAYOUTS:
            raise ValueError(f"{model_dir}: model.yaml output.layout {spec.output_layout} describes a "
                             f"detector; a featurizer has one feature output (remove output.layout)")
        loaded = load_runtime(model_dir, runtime=runtime, device=device, threads=threads)
        try:
            return cls(loaded, spec, max_batch=max_batch)
        except BaseException:
            loaded.close()
            raise

    def features(self, images: Sequence[np.ndarray],
                 input_released: Optional[Callable[[], None]] = None) -> np.ndarray:
        """[N, D] float32 L2-normalised features of N BGR (or grey) uint8 images; a zero row stays zero.

        Images are batched into one run (up to `max_batch`) when the model's batch dimension is
        dynamic, else run one by one. `input_released` is called once every image has become model
        input and is read no more (see Detector.detect): a caller on a frame ring checks it there."""
        runtime = self._runtime
        if runtime is None:
            raise RuntimeError(f"featurizer {self.name}: the model was closed")
        tensors = [prepare(image, self.spec)[0] for image in images]
        if input_released is not None:
            input_released()
        if not tensors:
            return np.zeros((0, self.dim), np.float32)
        rows = []
        for start in range(0, len(tensors), self.max_batch):
            chunk = tensors[start:start + self.max_batch]
            batch = chunk[0] if len(chunk) == 1 else np.concatenate(chunk, axis=0)
            rows.append(self._run(runtime, batch, len(chunk)))
        return l2_normalise(np.concatenate(rows, axis=0) if len(rows) > 1 else rows[0])

    def _run(self, runtime: Runtime, batch: np.ndarray, count: int) -> np.ndarray:
        """The raw [count, D] features of one batch (not normalised)."""
        outputs = self._run_input(runtime, batch)
        if self._output_index >= len(outputs):
            raise ValueError(f"featurizer {self.name}: the model returned {len(outputs)} outputs, "
                             f"expected output {self.output_name!r} at index {self._output_index}")
        return _as_rows(np.asarray(outputs[self._output_index]), count, self.output_name)

    def __repr__(self) -> str:
        return f"<Featurizer {self.name} {self.version} ({self.runtime_name}, dim {self.dim})>"

    def _trial_run(self) -> None:
        """One inference on grey images: the feature dimension, and whether batching really works."""
        runtime = self._runtime
        assert runtime is not None
        grey = np.full((self.spec.height, self.spec.width, 3), 128, np.uint8)
        tensor = prepare(grey, self.spec)[0]
        try:
            self.dim = int(self._run(runtime, tensor, 1).shape[1])
        except ValueError as error:
            raise ValueError(f"model {self.name}: {error}") from None
        except Exception as error:  # the runtime's own errors have their own types
            raise ValueError(f"model {self.name}: a trial inference failed: "
                             f"{type(error).__name__}: {str(error).strip()[:300]}") from None
        if self.batching:
            # A dynamic batch axis in the graph does not prove a reshape inside accepts it.
            try:
                pair = self._run(runtime, np.concatenate([tensor, tensor], axis=0), 2)
                if pair.shape[1] != self.dim:
                    raise ValueError(f"a batch of 2 gives dimension {pair.shape[1]}, not {self.dim}")
            except Exception as error:
                _log.warning("model %s: its batch dimension is dynamic but a batch of 2 failed (%s); "
                             "running one image at a time", self.name, str(error).strip()[:200])
                self.batching, self.max_batch = False, 1


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float32; an all-zero row stays zero (no NaN)."""
    rows = np.asarray(rows, dtype=np.float32)
    # float64 norms: a float16 model's large activations would overflow a float32 sum of squares less
    # often, and the extra precision costs nothing at these sizes.
    norms = np.linalg.norm(rows.astype(np.float64), axis=-1, keepdims=True)
    safe = np.where(norms > 0, norms, 1.0)
    return (rows / safe).astype(np.float32)


def _feature_output(runtime: Runtime, spec: ModelSpec) -> Tuple[str, int]:
    """(name, index) of the output that holds the features: the one model.yaml names, else the only one."""
    available: List[str] = list(runtime.output_names)
    if spec.output_names:
        if len(spec.output_names) != 1:
            raise ValueError(f"model.yaml output.names lists {len(spec.output_names)} outputs; a featurizer "
                             f"reads one: name the feature output alone (output.names: [name])")
        name = spec.output_names[0]
        if available and name not in available:
            raise ValueError(f"model.yaml output.names lists {name!r}, which the model does not have "
                             f"(its outputs: {', '.join(available)})")
        return name, available.index(name) if available else 0
    if len(available) > 1:
        raise ValueError(f"the model has {len(available)} outputs ({', '.join(available)}); name the "
                         f"feature output in model.yaml (output.names: [name])")
    return (available[0] if available else "output 0"), 0


def _as_rows(output: np.ndarray, count: int, name: str) -> np.ndarray:
    """A [count, D], [count, D, 1, 1] (or any shape whose only axis above 1 after the batch is D) output
    as [count, D]; anything else (a spatial map, class scores per box) is refused."""
    shape = tuple(output.shape)
    extra = [size for size in shape[1:] if size != 1]
    if len(shape) < 2 or shape[0] != count or len(extra) > 1:
        raise ValueError(f"output {name!r} has shape {format_shape(shape)} for a batch of {count}; a "
                         f"featurizer needs [N, D] or [N, D, 1, 1] (pool the feature map in the model)")
    return output.reshape(count, -1)
