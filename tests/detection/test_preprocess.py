"""prepare(): stretch and letterbox, channel order, layout, dtype and normalisation; BoxTransform."""

import cv2
import numpy as np
import pytest
from ggvision.imaging.preprocess import LETTERBOX_FILL, BoxTransform, prepare
from ggvision.models import ModelSpec


def spec(**fields) -> ModelSpec:
    base = dict(width=512, height=512, layout="NCHW", channel_order="BGR", resize="stretch", scale=1.0,
                mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], dtype="float32")
    base.update(fields)
    return ModelSpec(**base)


def gradient(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_stretch_resizes_the_whole_image_to_the_input():
    image = gradient(360, 640)
    tensor, transform = prepare(image, spec(layout="NHWC"))
    expected = cv2.resize(image, (512, 512), interpolation=cv2.INTER_LINEAR)
    assert tensor.shape == (1, 512, 512, 3) and tensor.dtype == np.float32
    assert np.array_equal(tensor[0], expected.astype(np.float32))
    assert (transform.offset_x, transform.offset_y) == (0, 0)
    assert (transform.content_width, transform.content_height) == (512, 512)
    assert (transform.source_width, transform.source_height) == (640, 360)


def test_an_image_of_the_input_size_is_not_resized():
    image = gradient(512, 512)
    tensor, _ = prepare(image, spec(layout="NHWC", dtype="uint8"))
    assert np.array_equal(tensor[0], image)


def test_letterbox_keeps_the_aspect_ratio_and_pads_centred():
    image = gradient(360, 640)
    tensor, transform = prepare(image, spec(layout="NHWC", resize="letterbox", dtype="uint8"))
    assert tensor.shape == (1, 512, 512, 3) and tensor.dtype == np.uint8
    # 640×360 → 512×288, centred: 112 rows of padding above and below.
    assert (transform.content_width, transform.content_height) == (512, 288)
    assert (transform.offset_x, transform.offset_y) == (0, 112)
    assert np.all(tensor[0, :112] == LETTERBOX_FILL)
    assert np.all(tensor[0, 400:] == LETTERBOX_FILL)
    expected = cv2.resize(image, (512, 288), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(tensor[0, 112:400], expected)


def test_letterbox_of_a_portrait_image_pads_left_and_right():
    image = gradient(400, 200)
    tensor, transform = prepare(image, spec(layout="NHWC", resize="letterbox", dtype="uint8",
                                            width=300, height=300))
    assert (transform.content_width, transform.content_height) == (150, 300)
    assert (transform.offset_x, transform.offset_y) == (75, 0)
    assert np.all(tensor[0, :, :75] == LETTERBOX_FILL) and np.all(tensor[0, :, 225:] == LETTERBOX_FILL)


def test_stretch_and_letterbox_differ_for_a_non_square_image():
    image = gradient(360, 640)
    stretched, _ = prepare(image, spec(dtype="uint8"))
    boxed, _ = prepare(image, spec(dtype="uint8", resize="letterbox"))
    assert not np.array_equal(stretched, boxed)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_channel_order(layout):
    red = np.zeros((10, 10, 3), np.uint8)
    red[..., 2] = 255  # BGR red
    for order, red_channel in (("RGB", 0), ("BGR", 2)):
        tensor, _ = prepare(red, spec(layout=layout, channel_order=order, width=10, height=10))
        planes = tensor[0] if layout == "NCHW" else tensor[0].transpose(2, 0, 1)
        assert np.all(planes[red_channel] == 255)
        assert np.all(np.delete(planes, red_channel, axis=0) == 0)


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_nchw_and_nhwc_hold_the_same_values_contiguously(dtype):
    image = gradient(100, 150)
    nchw, _ = prepare(image, spec(layout="NCHW", dtype=dtype, channel_order="RGB", width=64, height=48))
    nhwc, _ = prepare(image, spec(layout="NHWC", dtype=dtype, channel_order="RGB", width=64, height=48))
    assert nchw.shape == (1, 3, 48, 64) and nhwc.shape == (1, 48, 64, 3)
    assert nchw.flags.c_contiguous and nhwc.flags.c_contiguous
    assert nchw.dtype == nhwc.dtype == np.dtype(dtype)
    assert np.array_equal(nchw[0].transpose(1, 2, 0), nhwc[0])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_scale_then_mean_and_std(layout):
    image = np.empty((8, 8, 3), np.uint8)
    image[...] = (30, 120, 240)  # B, G, R
    mean, std, scale = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 1 / 255.0
    tensor, _ = prepare(image, spec(layout=layout, channel_order="RGB", width=8, height=8,
                                    scale=scale, mean=mean, std=std))
    planes = tensor[0] if layout == "NCHW" else tensor[0].transpose(2, 0, 1)
    for channel, pixel in enumerate((240, 120, 30)):  # R, G, B
        expected = (pixel * scale - mean[channel]) / std[channel]
        assert np.allclose(planes[channel], expected, atol=1e-5)


def test_gluoncv_default_normalisation_on_0_255_pixels():
    image = np.full((4, 4, 3), 200, np.uint8)
    tensor, _ = prepare(image, ModelSpec(width=4, height=4))
    expected = [(200 - m) / s for m, s in zip([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])]
    assert np.allclose(tensor[0, :, 0, 0], expected, atol=1e-5)


def test_uint8_tensor_holds_raw_pixels_whatever_the_normalisation():
    image = gradient(20, 20)
    tensor, _ = prepare(image, spec(dtype="uint8", layout="NHWC", width=20, height=20, scale=0.5,
                                    mean=[1, 2, 3], std=[2, 2, 2]))
    assert np.array_equal(tensor[0], image)


def test_grey_and_bgra_images_are_accepted():
    grey = np.full((30, 40), 90, np.uint8)
    tensor, _ = prepare(grey, spec(dtype="uint8", width=40, height=30))
    assert tensor.shape == (1, 3, 30, 40) and np.all(tensor == 90)
    bgra = np.full((30, 40, 4), 90, np.uint8)
    tensor, _ = prepare(bgra, spec(dtype="uint8", width=40, height=30))
    assert tensor.shape == (1, 3, 30, 40) and np.all(tensor == 90)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 2), np.uint8),
                                 np.zeros((4,), np.uint8), "not an image"])
def test_bad_images_are_value_errors(bad):
    with pytest.raises(ValueError):
        prepare(bad, spec())


def test_letterbox_transform_maps_input_pixels_back_to_the_source():
    _, transform = prepare(gradient(360, 640), spec(resize="letterbox"))
    # The source's top-left quarter occupies x 0–256, y 112–256 of the 512×512 input.
    boxes = transform.to_source(np.array([[0, 112, 256, 256], [256, 256, 512, 400]], np.float32))
    assert np.allclose(boxes, [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], atol=1e-6)
    # Normalised to the input (TF layout): the same boxes divided by 512.
    normalised = transform.normalized_to_source(np.array([[0, 112 / 512, 0.5, 0.5]], np.float32))
    assert np.allclose(normalised, [[0, 0, 0.5, 0.5]], atol=1e-6)


def test_transform_clips_to_the_image():
    _, transform = prepare(gradient(360, 640), spec(resize="letterbox"))
    boxes = transform.to_source(np.array([[-50, 0, 600, 120]], np.float32))  # reaches into padding
    assert np.allclose(boxes, [[0, 0, 1, 8 / 288]], atol=1e-6)


def test_stretch_transform_is_relative_to_the_input():
    transform = BoxTransform.identity(512, 512)
    assert np.allclose(transform.to_source(np.array([[128, 0, 512, 256]])), [[0.25, 0, 1, 0.5]])
