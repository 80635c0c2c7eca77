"""The inference service protocol (requests, responses, error codes) and its client."""

from .client import InferenceClient
from .protocol import (
    ErrorCode,
    GreengrassDependencyException,
    GreengrassInferenceException,
    InferenceError,
    ServiceUnavailableError,
)

__all__ = ["ErrorCode", "GreengrassDependencyException", "GreengrassInferenceException", "InferenceClient",
           "InferenceError", "ServiceUnavailableError"]
