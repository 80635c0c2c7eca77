"""Shared set-up for ggvision.search: a small gallery of OpenCV's sample images, the real featurizer,
and queries that are crops and mirrors of gallery images."""

import os
import shutil

import cv2
import pytest
from ggvision.featurizer import Featurizer
from search_helpers import BROKEN, GALLERY, IGNORED, MODEL, SAMPLES, crop_mirror


@pytest.fixture(scope="session")
def samples() -> str:
    missing = [source for source in GALLERY.values() if not os.path.isfile(os.path.join(SAMPLES, source))]
    if missing:
        pytest.skip(f"OpenCV's sample images are absent ({SAMPLES}: no {', '.join(missing)}); "
                    f"install opencv-doc")
    return SAMPLES


@pytest.fixture(scope="session")
def gallery(samples, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("gallery")
    for name, source in GALLERY.items():
        target = folder.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.join(samples, source), str(target))
    folder.joinpath(BROKEN).write_bytes(b"not a png at all")
    folder.joinpath(IGNORED).write_text("not an image, not counted")
    return str(folder)


@pytest.fixture(scope="session")
def featurizer():
    with Featurizer.load(MODEL) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def query_images(gallery):
    """{reference name: a crop-and-mirror of it} for a few gallery images."""
    names = ["baboon.jpg", "butterfly.jpg", "sub/apple.jpg", "starry_night.jpg"]
    return {name: crop_mirror(cv2.imread(os.path.join(gallery, *name.split("/")))) for name in names}
