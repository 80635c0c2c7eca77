"""A folder of images, read in name order (zero-pad the numbers), once or looped.

The folder is listed again at the start of every pass, so images added while it plays are picked up
on the next loop. Files that are not readable images are skipped (and counted), not fatal: a JPEG
or PNG is checked as the inference service checks a request's image (complete to its end marker, its
header's size), so a truncated JPEG is refused instead of being shown grey-filled.
"""

import os
from typing import List, Optional, Tuple

import cv2
import numpy as np
from ggvision.imaging.decode import JPEG, PNG, DecodeFailed, ImageTooLarge, decode_image
from ggvision.log import LogThrottle

from .base import Source, SourceError
from .opencv import to_bgr24

_MAX_BYTES = 1 << 31
_MAX_PIXELS = 1 << 30  # OpenCV's own limit (CV_IO_MAX_IMAGE_PIXELS)

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

    def read(self, into: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
        while True:
            if self._next >= len(self._files):
                if self._read_this_pass == 0:
                    raise SourceError(f"none of the images in {self.folder} could be read")
                if not self.loop:
                    return None
                self._start_pass()
            path = self._files[self._next]
            self._next += 1
            image, problem = read_image(path)
            if image is None:
                self.skipped += 1
                self._warn.warning("skipping %s: %s (%d skipped so far)", path, problem, self.skipped)
                continue
            self._read_this_pass += 1
            return to_bgr24(image)


def read_image(path: str) -> Tuple[Optional[np.ndarray], str]:
    """(the decoded image, "") or (None, why not). JPEG and PNG files go through decode_image's
    checks (a truncated JPEG, which libjpeg would fill with grey, is refused); others through OpenCV."""
    try:
        with open(path, "rb") as stream:
            body = stream.read()
    except OSError as error:
        return None, f"cannot read it: {error.strerror}"
    kind = (JPEG if body.startswith(b"\xff\xd8\xff")
            else PNG if body.startswith(b"\x89PNG\r\n\x1a\n") else None)
    if kind is not None:
        try:
            return decode_image(body, kind, _MAX_BYTES, _MAX_PIXELS), ""
        except (DecodeFailed, ImageTooLarge) as error:
            return None, str(error)
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) if body else None
    return (None, "not a readable image") if image is None else (image, "")
