"""Running a model here as the components run it on a device: the input they feed, a TensorFlow session
for the reference side of each comparison, and ONNX Runtime's time per image."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import tensorflow as tf

    from .samples import Image


def as_input(image_bgr: Image, size: int) -> np.ndarray:
    """What the components feed: stretched to size × size, RGB, uint8, batch of one."""
    import cv2
    resized = cv2.resize(image_bgr, (size, size), interpolation=cv2.INTER_LINEAR)
    return resized[None, :, :, ::-1].copy()


def tf_session(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.Session:
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return tf.compat.v1.Session(graph=graph)


def time_ms(onnx_bytes: bytes, size: int, runs: int = 30) -> float:
    """Milliseconds per size × size image on this machine's CPU, after three warm-up runs."""
    import time

    import numpy as np
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    tensor = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    for _ in range(3):
        session.run(None, {name: tensor})
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, {name: tensor})
    return round((time.perf_counter() - start) * 1000 / runs, 1)
