"""A reference index for visual search: feature vectors of a folder of images, their names and the model.

Built with the same Featurizer (so the same preprocessing) the component runs, saved as one `.npz`
(numpy arrays only, read back without pickle), and searched by cosine similarity: the vectors are
L2-normalised, so a dot product is the cosine. Brute force is exact and, for the few thousand
references a local check holds, takes well under a millisecond a query.
"""

import os
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple

import numpy as np

from ..featurizer import Featurizer, l2_normalise

FORMAT = "ggvision.search-index/1"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class SearchError(ValueError):
    """Something a user can fix (a folder, an index file, a message from another model): one line."""


@dataclass(frozen=True)
class Match:
    """One reference found for a query, and its cosine similarity to it (in [-1, 1])."""

    reference: str
    similarity: float

    def to_json(self) -> Mapping[str, Any]:
        return {"reference": self.reference, "similarity": round(self.similarity, 6)}


@dataclass(frozen=True)
class ReferenceIndex:
    """`vectors` [N, D] float32, row i the L2-normalised features of `names[i]` (a path relative to the
    folder it was built from, `/`-separated), by the model `model_name` `model_version`."""

    vectors: np.ndarray
    names: Tuple[str, ...]
    model_name: str
    model_version: str

    def __post_init__(self) -> None:
        vectors = np.asarray(self.vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
            raise SearchError(f"an index needs [N, D] vectors with N, D ≥ 1, not shape {vectors.shape}")
        if vectors.shape[0] != len(self.names):
            raise SearchError(f"an index has {vectors.shape[0]} vectors but {len(self.names)} names")
        object.__setattr__(self, "vectors", vectors)
        object.__setattr__(self, "names", tuple(str(name) for name in self.names))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def model(self) -> str:
        return f"{self.model_name} {self.model_version}"

    def __len__(self) -> int:
        return len(self.names)

    def check_query(self, dim: int, model_name: Optional[str] = None,
                    model_version: Optional[str] = None, what: str = "the query") -> None:
        """SearchError unless a query of dimension `dim` from that model may be compared with this index:
        vectors of another model (or version) live in another space, even at the same dimension."""
        from_model = f" (model {model_name} {model_version or '?'})" if model_name else ""
        if dim != self.dim:
            raise SearchError(f"{what} has dimension {dim}{from_model} but the index has dimension "
                              f"{self.dim} (model {self.model}): query with vectors of the model the "
                              f"index was built with, or rebuild the index with that model")
        other_version = model_version is not None and model_version != self.model_version
        if model_name is not None and (model_name != self.model_name or other_version):
            raise SearchError(f"{what} comes from model {model_name} {model_version or '?'} but the index "
                              f"was built with model {self.model}: their vectors are not comparable; "
                              f"rebuild the index with that model")

    def nearest(self, vector: np.ndarray, k: int = 5) -> List[Match]:
        """The `k` references most similar to `vector` (cosine), most similar first; ties keep index order.
        The query is normalised here (a float16 message is only nearly unit length)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SearchError(f"k {k!r} is not allowed (allowed: a whole number of at least 1)")
        query = np.asarray(vector, dtype=np.float32).ravel()
        self.check_query(int(query.size))
        similarities = self.vectors @ l2_normalise(query)
        order = np.argsort(-similarities, kind="stable")[:k]
        return [Match(self.names[i], float(np.clip(similarities[i], -1.0, 1.0))) for i in order]

    def save(self, path: str) -> None:
        """Write the index to `path` exactly (no `.npz` added), atomically: a reader never sees half."""
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise SearchError(f"cannot write the index to {path}: folder {directory} does not exist")
        temporary = f"{path}.tmp-{os.getpid()}"
        try:
            with open(temporary, "wb") as f:
                np.savez(f, format=np.array(FORMAT), vectors=self.vectors,
                         names=np.array(self.names, dtype=str),
                         model_name=np.array(self.model_name), model_version=np.array(self.model_version),
                         dim=np.array(self.dim, dtype=np.int64))
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    @classmethod
    def load(cls, path: str) -> "ReferenceIndex":
        """The index saved at `path`; SearchError for a missing file or one that is not an index."""
        if not os.path.isfile(path):
            raise SearchError(f"index {path} does not exist (build it with: python -m ggvision.search index)")
        if not zipfile.is_zipfile(path):
            raise SearchError(f"{path} is not a ggvision.search index (not an .npz file)")
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {key: data[key] for key in data.files}
        except (OSError, ValueError) as error:
            raise SearchError(f"{path} is not a ggvision.search index ({str(error).strip()[:120]})") from None
        missing = [key for key in ("format", "vectors", "names", "model_name", "model_version", "dim")
                   if key not in fields]
        if missing or str(fields["format"]) != FORMAT:
            raise SearchError(f"{path} is not a {FORMAT} index (missing: {', '.join(missing) or 'format'})"
                              if missing else f"{path} is a {fields['format']} index, not {FORMAT}")
        index = cls(vectors=fields["vectors"], names=tuple(fields["names"].tolist()),
                    model_name=str(fields["model_name"]), model_version=str(fields["model_version"]))
        if int(fields["dim"]) != index.dim:
            raise SearchError(f"{path}: its dim {int(fields['dim'])} disagrees with its vectors "
                              f"({index.dim})")
        return index


@dataclass(frozen=True)
class BuildReport:
    """What `build_index` made and what it had to skip (relative names of unreadable images)."""

    index: ReferenceIndex
    skipped: Tuple[str, ...]


def image_files(folder: str) -> List[str]:
    """Relative, `/`-separated paths of the jpg/png/bmp files under `folder` (subfolders too), sorted."""
    if not os.path.isdir(folder):
        raise SearchError(f"image folder {folder} does not exist" if not os.path.exists(folder)
                          else f"{folder} is not a folder")
    found = []
    for directory, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in files:
            if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."):
                relative = os.path.relpath(os.path.join(directory, name), folder)
                found.append(relative.replace(os.sep, "/"))
    return sorted(found)


def read_image(path: str) -> Optional[np.ndarray]:
    """A BGR uint8 image, or None when the file cannot be read or decoded. Decoded from bytes, so a
    path OpenCV's imread cannot open (non-ASCII on Windows) still works."""
    import cv2

    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if raw.size == 0:
        return None
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    return image if image is not None and image.size else None


def build_index(featurizer: Featurizer, folder: str,
                on_skip: Optional[Callable[[str], None]] = None) -> BuildReport:
    """Featurize every readable image under `folder`, one at a time (memory stays one image), as the
    component does: `featurizer.features([bgr_image])`. Unreadable files are skipped and reported to
    `on_skip`; a folder with no readable image is a SearchError."""
    names = image_files(folder)
    if not names:
        raise SearchError(f"image folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    kept: List[str] = []
    rows: List[np.ndarray] = []
    skipped: List[str] = []
    for name in names:
        image = read_image(os.path.join(folder, *name.split("/")))
        if image is None:
            skipped.append(name)
            if on_skip is not None:
                on_skip(name)
            continue
        rows.append(featurizer.features([image])[0])
        kept.append(name)
    if not rows:
        raise SearchError(f"image folder {folder}: none of its {len(names)} image files could be read")
    index = ReferenceIndex(vectors=np.stack(rows), names=tuple(kept),
                           model_name=str(featurizer.name), model_version=str(featurizer.version))
    return BuildReport(index=index, skipped=tuple(skipped))


def featurize_image(featurizer: Featurizer, path: str) -> np.ndarray:
    """The feature vector of one image file; SearchError when it is missing or unreadable."""
    if not os.path.isfile(path):
        raise SearchError(f"image {path} does not exist")
    image = read_image(path)
    if image is None:
        raise SearchError(f"image {path} cannot be read as an image")
    return featurizer.features([image])[0]
