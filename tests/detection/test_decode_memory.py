"""What one large request costs: a 6000x6000 JPEG for a 512x512 model is decoded at 1/8 scale (750x750,
1.7 MB of pixels) instead of 108 MB, and the answer still reports the image's own size. Peak memory is
measured in a fresh process (its VmHWM), so nothing else in the test run adds to it."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from ggvision.imaging.decode import decode_image, image_size, jpeg_reduction

FULL_DECODE_MB = 6000 * 6000 * 3 / 2 ** 20  # 103 MiB of BGR pixels

# VmHWM, the peak of this process's own memory (ru_maxrss would carry the parent's peak across exec).
MEASURE = """
import sys
import numpy as np, cv2
from ggvision.imaging.decode import decode_image
def peak_kb():
    return int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
body = open(sys.argv[1], "rb").read()
at_least = None if sys.argv[2] == "none" else (512, 512)
before = peak_kb()
image = decode_image(body, "image/jpeg", 64 << 20, 40_000_000, at_least=at_least)
after = peak_kb()
print((after - before) / 1024.0, image.shape[1], image.shape[0])
"""


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory):
    image = np.zeros((6000, 6000, 3), np.uint8)
    image[:3000, :3000] = (0, 0, 255)  # a red quarter: something a model would see at any scale
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    path.write_bytes(data.tobytes())
    return str(path)


def peak_growth(path, at_least):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", MEASURE, path, at_least], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    mb, width, height = out.stdout.split()
    return float(mb), int(width), int(height)


def test_a_huge_jpeg_for_a_small_model_is_decoded_at_reduced_scale(big_jpeg):
    grown, width, height = peak_growth(big_jpeg, "512")
    assert (width, height) == (750, 750)  # 1/8 still covers 512x512
    assert grown < FULL_DECODE_MB / 4, grown  # a few MB, not the 103 MiB of a full decode
    full, width, height = peak_growth(big_jpeg, "none")
    assert (width, height) == (6000, 6000) and full > FULL_DECODE_MB * 0.9  # the cost it avoids


def test_the_reduction_never_goes_below_the_model_input():
    assert jpeg_reduction(6000, 6000, (512, 512)) == 8
    assert jpeg_reduction(1920, 1080, (512, 512)) == 2  # 960x540; 1/4 would be 480x270
    assert jpeg_reduction(1920, 1080, (300, 300)) == 2  # 1/4 = 480x270: too short
    assert jpeg_reduction(640, 480, (512, 512)) == 1
    assert jpeg_reduction(6000, 6000, None) == 1


def test_png_and_small_jpeg_decode_in_full_and_the_header_size_is_reported():
    image = np.full((480, 640, 3), 90, np.uint8)
    for extension, content_type in ((".png", "image/png"), (".jpg", "image/jpeg")):
        ok, data = cv2.imencode(extension, image)
        body = data.tobytes()
        assert decode_image(body, content_type, 1 << 20, 10 ** 6, at_least=(300, 300)).shape[:2] == (480, 640)
        assert image_size(body, content_type) == (640, 480)


MEASURE_FRAME = """
import base64, sys
from ggvision.frames import FrameReader
def peak_kb():
    return int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
data = base64.b64encode(open(sys.argv[1], "rb").read()).decode("ascii")
event = {"schema": "ggvision.frame/1", "ts": 1.0, "camera_id": "cam", "seq": 0, "captured_at": 1.0,
         "width": 6000, "height": 6000, "pixel_format": "bgr24", "transport": "jpeg", "jpeg": {"data": data}}
reader = FrameReader("/nonexistent", max_jpeg_pixels=40_000_000)
if sys.argv[2] != "none":
    reader.jpeg_at_least = (512, 512)  # what ObjectDetection sets from its model
before = peak_kb()
image = reader.read(event)
print((peak_kb() - before) / 1024.0, image.shape[1], image.shape[0])
"""


def test_a_huge_jpeg_frame_event_is_decoded_for_the_consumer_not_in_full(big_jpeg):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    results = {}
    for mode in ("512", "none"):
        out = subprocess.run([sys.executable, "-c", MEASURE_FRAME, big_jpeg, mode], capture_output=True,
                             text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        grown, width, height = out.stdout.split()
        results[mode] = (float(grown), int(width), int(height))
    assert results["512"][1:] == (750, 750) and results["512"][0] < FULL_DECODE_MB / 4, results
    assert results["none"][1:] == (6000, 6000) and results["none"][0] > FULL_DECODE_MB * 0.9, results
