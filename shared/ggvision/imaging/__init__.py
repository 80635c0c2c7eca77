"""Image operations: safe decoding of untrusted images, and model-input preparation."""

from .decode import DecodeFailed, ImageTooLarge, UnsupportedContentType, decode_image
from .preprocess import BoxTransform, prepare

__all__ = ["BoxTransform", "DecodeFailed", "ImageTooLarge", "UnsupportedContentType", "decode_image",
           "prepare"]
