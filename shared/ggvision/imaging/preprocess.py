"""Image → model input tensor, and the way back for boxes.

This is the hot path (every frame): resizing, padding and channel swaps happen on uint8 pixels with
OpenCV, and the float conversion is the single pass that also lays the tensor out, followed by the
scale/mean/std arithmetic in place. `prepare` returns the tensor and the `BoxTransform` that maps boxes
in model-input pixels back to relative coordinates of the source image (undoing letterbox padding).
"""

from dataclasses import dataclass
from typing import Any, Tuple

import cv2
import numpy as np

# Letterbox padding value: the mid-grey YOLO-family models are trained with (also harmless for SSDs).
LETTERBOX_FILL = 114


@dataclass(frozen=True)
class BoxTransform:
    """Where the source image sits inside the model input, in model-input pixels.

    The source image was resized to `content_width`×`content_height` and placed at
    (`offset_x`, `offset_y`) of an `input_width`×`input_height` input (stretch: offset 0, content = input).
    """

    input_width: int
    input_height: int
    offset_x: float
    offset_y: float
    content_width: float
    content_height: float
    source_width: int
    source_height: int

    @classmethod
    def identity(cls, width: int, height: int) -> "BoxTransform":
        """The transform of an image that already was the model input size (stretch)."""
        return cls(width, height, 0.0, 0.0, float(width), float(height), width, height)

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) xmin, ymin, xmax, ymax in model-input pixels → relative to the source, clipped 0–1."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        offset = np.array([self.offset_x, self.offset_y, self.offset_x, self.offset_y], np.float32)
        size = np.array([self.content_width, self.content_height,
                         self.content_width, self.content_height], np.float32)
        relative = (boxes - offset) / size
        return np.clip(relative, 0.0, 1.0, out=relative)

    def normalized_to_source(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) xmin, ymin, xmax, ymax relative to the model input (0–1) → relative to the source."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scale = np.array([self.input_width, self.input_height, self.input_width, self.input_height],
                         np.float32)
        return self.to_source(boxes * scale)


def prepare(image_bgr: np.ndarray, spec: Any) -> Tuple[np.ndarray, BoxTransform]:
    """The model input tensor for `image_bgr` (batch 1, C-contiguous) per the spec, and its BoxTransform.

    `spec` is a `ggvision.models.ModelSpec`: width, height, layout (NCHW/NHWC), channel_order (RGB/BGR),
    resize (stretch/letterbox), dtype (float32: `(pixel * scale - mean) / std`; uint8: raw pixels).
    The tensor never shares memory with `image_bgr`, which may be a view into a camera's ring that
    changes once the caller lets it go.
    """
    image = _as_bgr(image_bgr)
    width, height = int(spec.width), int(spec.height)
    if spec.resize == "letterbox":
        pixels, transform = _letterbox(image, width, height)
    else:
        pixels, transform = _stretch(image, width, height)
    if spec.channel_order == "RGB":
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    nchw = spec.layout == "NCHW"
    if spec.dtype == "uint8":
        tensor = np.ascontiguousarray(pixels.transpose(2, 0, 1) if nchw else pixels)[np.newaxis]
        if np.shares_memory(tensor, image_bgr):  # a frame already of the model's size and layout
            tensor = tensor.copy()
        return tensor, transform
    gain, shift = _gain_and_shift(spec)
    if nchw:
        tensor = np.empty((1, 3, height, width), np.float32)
        tensor[0] = pixels.transpose(2, 0, 1)  # the one uint8 → float32 pass, laid out as it goes
        _normalise_planes(tensor[0], gain, shift)
    else:
        # Interleaved channels: numpy broadcasting over a last axis of 3 is slow; OpenCV's per-pixel
        # affine transform does the multiply and subtract for all three channels in one pass.
        pixels = pixels.astype(np.float32)
        if np.any(gain != 1.0) or np.any(shift != 0.0):
            matrix = np.hstack([np.diag(gain), -shift.reshape(3, 1)]).astype(np.float32)
            pixels = cv2.transform(pixels, matrix)
        tensor = pixels.reshape(1, height, width, 3)
    return tensor, transform


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("an image must be a uint8 numpy array (BGR)")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    raise ValueError(f"an image must be HxW, HxWx3 or HxWx4; got shape {image.shape}")


def _stretch(image: np.ndarray, width: int, height: int) -> Tuple[np.ndarray, BoxTransform]:
    source_height, source_width = image.shape[:2]
    if (source_width, source_height) != (width, height):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    transform = BoxTransform(width, height, 0.0, 0.0, float(width), float(height),
                             source_width, source_height)
    return image, transform


def _letterbox(image: np.ndarray, width: int, height: int) -> Tuple[np.ndarray, BoxTransform]:
    source_height, source_width = image.shape[:2]
    ratio = min(width / float(source_width), height / float(source_height))
    content_width = min(width, max(1, int(round(source_width * ratio))))
    content_height = min(height, max(1, int(round(source_height * ratio))))
    offset_x = (width - content_width) // 2
    offset_y = (height - content_height) // 2
    canvas = np.full((height, width, 3), LETTERBOX_FILL, np.uint8)
    region = canvas[offset_y:offset_y + content_height, offset_x:offset_x + content_width]
    if (content_width, content_height) == (source_width, source_height):
        region[...] = image
    else:
        # Resize straight into the canvas; older OpenCV bindings may hand back a new array instead.
        resized = cv2.resize(image, (content_width, content_height), dst=region,
                             interpolation=cv2.INTER_LINEAR)
        if not np.shares_memory(resized, canvas):
            region[...] = resized
    transform = BoxTransform(width, height, float(offset_x), float(offset_y), float(content_width),
                             float(content_height), source_width, source_height)
    return canvas, transform


def _gain_and_shift(spec: Any) -> Tuple[np.ndarray, np.ndarray]:
    """(pixel * scale - mean) / std == pixel * gain - shift, with gain = scale / std, shift = mean / std.

    mean and std are in the model's channel order (spec.channel_order), as model cards give them.
    """
    std = np.asarray(spec.std, np.float32).reshape(-1)
    mean = np.asarray(spec.mean, np.float32).reshape(-1)
    if std.shape != (3,) or mean.shape != (3,) or np.any(std == 0):
        raise ValueError(f"mean and std must be 3 numbers, std non-zero; got mean {spec.mean}, "
                         f"std {spec.std}")
    gain = (np.float32(spec.scale) / std).astype(np.float32)
    shift = (mean / std).astype(np.float32)
    return gain, shift


def _normalise_planes(planes: np.ndarray, gain: np.ndarray, shift: np.ndarray) -> None:
    """In place on a (3, H, W) float32 array; a single multiply/subtract when channels agree."""
    if np.any(gain != 1.0):
        planes *= gain[0] if np.all(gain == gain[0]) else gain.reshape(3, 1, 1)
    if np.any(shift != 0.0):
        planes -= shift[0] if np.all(shift == shift[0]) else shift.reshape(3, 1, 1)
