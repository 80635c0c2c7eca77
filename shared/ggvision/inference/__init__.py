"""The inference service protocol (requests, responses, error codes) and its client."""

from .client import InferenceClient
from .protocol import ErrorCode, InferenceError

__all__ = ["ErrorCode", "InferenceClient", "InferenceError"]
