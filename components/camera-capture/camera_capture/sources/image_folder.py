"""A folder of images, read in name order (zero-pad the numbers), once or looped.

The folder is listed again at the start of every pass, so images added while it plays are picked up
on the next loop. Files that are not readable images are skipped (and counted), not fatal.
"""

import os
from typing import List, Optional

import cv2
import numpy as np
from ggvision.log import LogThrottle

from .base import Source, SourceError
from .opencv import to_bgr24

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")


def list_images(folder: str) -> List[str]:
    """The image files directly in `folder`, sorted by name (hidden files left out)."""
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."))
    return [os.path.join(folder, name) for name in names]


class ImageFolderSource(Source):
    finite = True

    def __init__(self, folder: str, loop: bool = False) -> None:
        self.folder = folder
        self.loop = loop
        self.skipped = 0
        self._files: List[str] = []
        self._next = 0
        self._read_this_pass = 0
        self._warn = LogThrottle(f"ggvision.CameraCapture.folder.{os.path.basename(folder)}", 30.0)

    def open(self) -> None:
        self._start_pass()

    def _start_pass(self) -> None:
        if not os.path.isdir(self.folder):
            raise SourceError(f"no folder at {self.folder}")
        try:
            self._files = list_images(self.folder)
        except OSError as error:
            raise SourceError(f"cannot list {self.folder}: {error.strerror}") from None
        if not self._files:
            raise SourceError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {self.folder}")
        self._next = 0
        self._read_this_pass = 0

    def read(self) -> Optional[np.ndarray]:
        while True:
            if self._next >= len(self._files):
                if self._read_this_pass == 0:
                    raise SourceError(f"none of the images in {self.folder} could be read")
                if not self.loop:
                    return None
                self._start_pass()
            path = self._files[self._next]
            self._next += 1
            image = cv2.imread(path, cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                self._warn.warning("skipping %s: not a readable image (%d skipped so far)", path,
                                   self.skipped)
                continue
            self._read_this_pass += 1
            return to_bgr24(image)
