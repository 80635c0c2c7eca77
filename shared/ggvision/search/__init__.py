"""Visual search, locally: the part of the DeepLens visual-search sample that ran in the cloud.

`ReferenceIndex` holds the features of a folder of reference images (built with the same Featurizer
and preprocessing as the component) and answers the nearest references of a vector by cosine
similarity; `python -m ggvision.search` builds one and queries it with `ggvision.features/1` messages
(see docs/visual-search.md).
"""

from .index import (
           FORMAT,
           IMAGE_EXTENSIONS,
           BuildReport,
           Match,
           ReferenceIndex,
           SearchError,
           build_index,
           featurize_image,
           image_files,
           read_image,
)

__all__ = ["FORMAT", "IMAGE_EXTENSIONS", "BuildReport", "Match", "ReferenceIndex", "SearchError",
           "build_index", "featurize_image", "image_files", "read_image"]
