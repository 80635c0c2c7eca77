"""Helpers for the ggvision.search tests (a uniquely named module: tests/ has no packages)."""

import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "components", "featurizer", "models", "mobilenetv2-features")
SHARED = os.path.join(ROOT, "shared")
SAMPLES = "/usr/share/doc/opencv-doc/examples/data"
# Very different pictures; apple goes in a subfolder so names are relative paths.
GALLERY = {"baboon.jpg": "baboon.jpg", "fruits.jpg": "fruits.jpg", "butterfly.jpg": "butterfly.jpg",
           "HappyFish.jpg": "HappyFish.jpg", "starry_night.jpg": "starry_night.jpg",
           "sudoku.png": "sudoku.png", "building.jpg": "building.jpg", "sub/apple.jpg": "apple.jpg"}
# Files the index must skip (unreadable, counted) or ignore (not an image extension).
BROKEN = "broken.png"
IGNORED = "notes.txt"


def crop_mirror(image: np.ndarray, keep: float = 0.7, shift: float = 0.1) -> np.ndarray:
    """`keep` of each side, `shift` of a side from the top-left corner, mirrored left-right."""
    height, width = image.shape[:2]
    top, left = int(height * shift), int(width * shift)
    crop = image[top:top + int(height * keep), left:left + int(width * keep)]
    return np.ascontiguousarray(crop[:, ::-1])
