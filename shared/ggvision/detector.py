"""Detector: a model folder turned into `detect(image) -> Detections`.

It joins the pieces: the model folder's spec (`ggvision.models`), a runtime (`ggvision.runtimes`),
preprocessing (`ggvision.imaging.preprocess`) and the output decoder (`ggvision.decoders`). Everything
that can be checked about the model is checked at load (input name, shape, dtype, output names, one
trial inference), so a wrong model.yaml stops the component at start with one clear message instead of
failing on every frame. Not thread-safe, like the runtimes: call `detect` from one thread.
"""

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .decoders import LAYOUTS, decode
from .decoders.yolo import yolo_layout
from .detections import Detections
from .imaging.preprocess import prepare
from .models import ModelSpec, load_model_spec
from .models.loaded_model import LoadedModel
from .runtimes import Runtime, load_runtime

# Outputs each layout needs at least (tensorflow's count output is optional).
_MIN_OUTPUTS = {"gluoncv": 3, "tensorflow": 3, "yolo": 1}


class Detector(LoadedModel):
    """A loaded detection model. Build it with `Detector.load(model_dir)`."""

    def __init__(self, runtime: Runtime, spec: ModelSpec, check: bool = True) -> None:
        super().__init__(runtime, spec)
        self.labels: Dict[int, str] = dict(spec.labels)
        self.runtime_output_names = list(runtime.output_names)
        self._output_order = _output_order(runtime, self.spec)
        if check:
            self._trial_run()

    @classmethod
    def load(cls, model_dir: str, runtime: Optional[str] = None, device: str = "cpu",
             threads: Optional[int] = None) -> "Detector":
        """Load the model in `model_dir` (runtime None/"auto": picked from the files).

        Raises RuntimeLoadError (no usable runtime), ValueError (model.yaml or the model disagree with
        each other), OSError (unreadable folder).
        """
        spec = load_model_spec(model_dir)
        if spec.output_layout not in LAYOUTS:
            raise ValueError(f"output layout {spec.output_layout!r} is not supported "
                             f"(allowed: {', '.join(sorted(LAYOUTS))})")
        loaded = load_runtime(model_dir, runtime=runtime, device=device, threads=threads)
        try:
            return cls(loaded, spec)
        except BaseException:
            loaded.close()
            raise

    def detect(self, image_bgr: np.ndarray, score_threshold: float = 0.5, max_detections: Optional[int] = 100,
               class_filter: Optional[Sequence[int]] = None,
               input_released: Optional[Callable[[], None]] = None) -> Detections:
        """Detections in a BGR (or grey) uint8 image: at least `score_threshold`, of `class_filter`'s
        classes when given, the `max_detections` best, sorted by score, boxes relative to the image.

        `input_released` is called once the image has become the model's input tensor and is read no
        more, before inference: a caller detecting on a zero-copy view of a frame ring checks there
        that the camera did not overwrite the frame meanwhile (and raises to abandon it)."""
        runtime = self._runtime
        if runtime is None:
            raise RuntimeError(f"detector {self.name}: the model was closed")
        tensor, transform = prepare(image_bgr, self.spec)
        if input_released is not None:
            input_released()
        outputs = self._run(runtime, tensor)
        detections = decode(self.spec.output_layout, outputs, self.spec, transform, score_threshold)
        return detections.filter(score_threshold, class_filter).top(max_detections)

    def _run(self, runtime: Runtime, tensor: np.ndarray) -> List[np.ndarray]:
        outputs = self._run_input(runtime, tensor)
        if self._output_order is not None:
            outputs = [outputs[index] for index in self._output_order]
        return outputs

    def _output_names_in_order(self) -> List[str]:
        names = list(self.runtime_output_names)
        if self._output_order is not None:
            return [names[index] for index in self._output_order if index < len(names)]
        return names

    def __repr__(self) -> str:
        return f"<Detector {self.name} {self.version} ({self.runtime_name}, {self.spec.output_layout})>"

    def _trial_run(self) -> None:
        """One inference on a grey image: a model whose outputs do not fit its layout fails here, once."""
        grey = np.full((self.spec.height, self.spec.width, 3), 128, np.uint8)
        if self.spec.output_layout == "yolo":
            self._check_yolo_outputs(grey)
        try:
            self.detect(grey, score_threshold=1.0, max_detections=1)
        except (ValueError, IndexError, TypeError) as error:
            raise ValueError(f"model {self.name}: a trial inference failed ({error}); check model.yaml's "
                             f"input and output sections (output layout {self.spec.output_layout})") from None
        except Exception as error:  # the runtime's own errors have their own types
            raise ValueError(f"model {self.name}: a trial inference failed: "
                             f"{type(error).__name__}: {str(error).strip()[:300]}") from None

    def _check_yolo_outputs(self, grey: np.ndarray) -> None:
        """The yolo head's shape against the objectness and the labels, before anything is decoded: a
        mismatch would decode as garbage (class ids in the thousands) or as nothing, silently."""
        runtime = self._runtime
        assert runtime is not None
        try:
            outputs = self._run(runtime, prepare(grey, self.spec)[0])
        except Exception:
            return  # the trial inference reports it
        try:
            objectness, _ = yolo_layout([np.shape(output) for output in outputs], self.spec.objectness,
                                        self.spec.labels, self.spec.class_id_offset,
                                        names=self._output_names_in_order())
        except ValueError as error:
            raise ValueError(f"model {self.name}: {error}") from None
        self.spec = dataclasses.replace(self.spec, objectness=objectness)


def _output_order(runtime: Runtime, spec: ModelSpec) -> Optional[List[int]]:
    """Indices into the runtime's outputs in `spec.output_names` order; None: the runtime's order."""
    available = list(runtime.output_names)
    needed = _MIN_OUTPUTS.get(spec.output_layout, 1)
    if not spec.output_names:
        if available and len(available) < needed:
            raise ValueError(f"output layout {spec.output_layout} needs {needed} outputs; the model has "
                             f"{len(available)} ({', '.join(available)})")
        return None
    missing = [name for name in spec.output_names if name not in available]
    if missing:
        raise ValueError(f"model.yaml output.names lists {', '.join(map(repr, missing))}, which the model "
                         f"does not have (its outputs: {', '.join(available) or 'none reported'})")
    if len(spec.output_names) < needed:
        raise ValueError(f"output layout {spec.output_layout} needs {needed} outputs in output.names; "
                         f"got {len(spec.output_names)}")
    return [available.index(name) for name in spec.output_names]
