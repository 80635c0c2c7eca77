"""The featurizer's retrieval figure: a held-out set made of OpenCV's sample images, and top-1 retrieval
on it for the shipped featurizer, a no-network baseline and the backbone layers not shipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Sequence, Tuple, Union

from .featurizer import ALTERNATIVES, FEATURIZER_SIZE, backbone_graph
from .inference import as_input, tf_session
from .samples import load_image

if TYPE_CHECKING:
    import numpy as np
    import tensorflow as tf

    from .samples import Image

    Embedder = Callable[[Image], np.ndarray]
    LabelledImages = Sequence[Tuple[str, Image]]  # (item, BGR image)

RETRIEVAL_SEED = 11  # the layer was picked on seed 7's queries; the recorded figures use fresh ones
# Pairs are two photographs of one scene (another viewpoint, exposure or time); singles are distinct
# objects and scenes that serve as reference items and distractors.
VIEW_PAIRS = [("aero1.jpg", "aero3.jpg"), ("aloeL.jpg", "aloeR.jpg"), ("basketball1.png", "basketball2.png"),
              ("graf1.png", "graf3.png"), ("leuvenA.jpg", "leuvenB.jpg"),
              ("rubberwhale1.png", "rubberwhale2.png"),
              ("Blender_Suzanne1.jpg", "Blender_Suzanne2.jpg"), ("left.jpg", "right.jpg")]
SINGLES = ["apple.jpg", "baboon.jpg", "building.jpg", "butterfly.jpg", "fruits.jpg", "HappyFish.jpg",
           "home.jpg", "messi5.jpg", "orange.jpg", "smarties.png", "squirrel_cls.jpg", "starry_night.jpg",
           "stuff.jpg", "sudoku.png", "board.jpg", "notes.png", "pic1.png", "chicky_512.png",
           "WindowsLogo.jpg"]
QUERIES_PER_ITEM = 6
# As PROVENANCE.json first recorded it (retrieval_set now lives here), so a rebuild writes the same file.
SET_DESCRIPTION = "OpenCV sample images (opencv-doc), see scripts/make-demo-models retrieval_set"


def augment(image: Image, rng: np.random.Generator) -> Image:
    """A query view: a crop of 45–85 % of each side at a random place, maybe mirrored, brighter or darker."""
    import numpy as np
    height, width = image.shape[:2]
    side = rng.uniform(0.45, 0.85)
    crop_h = int(height * side)
    crop_w = int(width * rng.uniform(max(0.45, side - 0.15), min(0.85, side + 0.15)))
    top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
    view = image[top:top + crop_h, left:left + crop_w]
    if rng.random() < 0.5:
        view = view[:, ::-1]
    gain = rng.uniform(0.6, 1.4)
    return np.clip(view.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def retrieval_set(seed: int = 7, queries_per_item: int = QUERIES_PER_ITEM
                  ) -> Tuple[List[Tuple[str, Image]], List[Tuple[str, Image]]]:
    """(gallery, queries) as (item, BGR image). The gallery holds one whole image per item (the first
    view of each pair, each single). Queries: each pair's second photograph, whole and as augmented
    crops (a view the gallery never saw), and augmented crops of each single. Missing files are skipped."""
    import numpy as np
    rng = np.random.default_rng(seed)
    gallery, queries = [], []
    for first, second in VIEW_PAIRS:
        reference, other = load_image(first), load_image(second)
        if reference is None or other is None:
            continue
        gallery.append((first, reference))
        queries.append((first, other))
        queries.extend((first, augment(other, rng)) for _ in range(queries_per_item - 1))
    for name in SINGLES:
        image = load_image(name)
        if image is None:
            continue
        gallery.append((name, image))
        queries.extend((name, augment(image, rng)) for _ in range(queries_per_item))
    return gallery, queries


def top1(embed: Embedder, gallery: LabelledImages, queries: LabelledImages) -> Dict[str, object]:
    """Share of queries whose nearest gallery item (cosine) is their own item."""
    import numpy as np

    def unit(image):
        vector = np.asarray(embed(image), np.float64).reshape(-1)
        return vector / max(np.linalg.norm(vector), 1e-12)

    references = np.stack([unit(image) for _, image in gallery])
    names = [name for name, _ in gallery]
    hits = sum(names[int(np.argmax(references @ unit(image)))] == name for name, image in queries)
    return {"items": len(gallery), "queries": len(queries), "top1": round(hits / max(len(queries), 1), 4)}


def tiny_image(image: Image) -> np.ndarray:
    """Baseline: the image as 8 × 8 RGB pixels, centred — what retrieval gets without a network."""
    import cv2
    small = cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA).astype("float32").reshape(-1)
    return small - small.mean()


def onnx_embedder(onnx_path_or_bytes: Union[str, bytes]) -> Embedder:
    """The output of an ONNX model fed as the components feed it, at the model's own input size."""
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_path_or_bytes, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    size = session.get_inputs()[0].shape[1]
    return lambda image: session.run(None, {name: as_input(image, size)})[0]


def tf_embedder(backbone_def: tf.compat.v1.GraphDef) -> Embedder:
    """The pooled feature map of a TF backbone graph, for the layers not converted."""
    session = tf_session(backbone_def)

    def embed(image):
        return session.run("feature_map:0", {"image:0": as_input(image, FEATURIZER_SIZE)}).mean(axis=(1, 2))

    return embed


def retrieval_figures(featurizer_onnx: bytes, graph_def: tf.compat.v1.GraphDef) -> Dict[str, object]:
    """Top-1 on fresh queries (RETRIEVAL_SEED): the shipped featurizer, the 8 × 8 baseline and each of
    ALTERNATIVES through TensorFlow."""
    gallery, queries = retrieval_set(RETRIEVAL_SEED)
    return {"set": SET_DESCRIPTION, "seed": RETRIEVAL_SEED,
            "mobilenetv2_features": top1(onnx_embedder(featurizer_onnx), gallery, queries),
            "baseline_tiny_image_8x8": top1(tiny_image, gallery, queries),
            "not_shipped": {name: top1(tf_embedder(backbone_graph(graph_def, name)), gallery, queries)
                            for name in ALTERNATIVES}}
