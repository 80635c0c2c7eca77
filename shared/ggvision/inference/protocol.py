"""Both sides of the inference service protocol: `ggvision.inference-request/1` in,
`ggvision.inference-response/1` out, and the error codes in between.

Requests come from any component, so everything in them is untrusted: sizes are checked before
decoding, the reply topic must lie under the service's reply prefix, and each failure maps to one code.
"""

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ..contracts import ContractError, validate

REQUEST_SCHEMA = "ggvision.inference-request/1"
RESPONSE_SCHEMA = "ggvision.inference-response/1"
CONTENT_TYPES = ("image/jpeg", "image/png")


class ErrorCode:
    INVALID_REQUEST = "INVALID_REQUEST"
    UNSUPPORTED_CONTENT_TYPE = "UNSUPPORTED_CONTENT_TYPE"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    DECODE_FAILED = "DECODE_FAILED"
    FRAME_UNAVAILABLE = "FRAME_UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    BUSY = "BUSY"
    INTERNAL = "INTERNAL"


    # Client side only: the caller's own permissions refused the call (never in a reply).
    NOT_AUTHORIZED = "NOT_AUTHORIZED"


class InferenceError(Exception):
    """A request that could not be answered with detections; `code` is one of ErrorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ServiceUnavailableError(InferenceError):
    """The service could not be reached: no answer in time, or the caller may not use its topics."""


# The v1 ML SDK's exception names, so that ported `except` clauses keep working:
# `except GreengrassInferenceException` catches every failure, `except GreengrassDependencyException`
# the service being unreachable.
GreengrassInferenceException = InferenceError
GreengrassDependencyException = ServiceUnavailableError


@dataclass
class InferenceRequest:
    request_id: str
    reply_topic: str
    content_type: Optional[str] = None
    body: Optional[bytes] = None
    frame: Optional[Dict[str, Any]] = None
    score_threshold: Optional[float] = None
    max_detections: Optional[int] = None


def topics(service_name: str) -> Dict[str, str]:
    """Default topics of a service: where requests go, where replies may go, where stray errors go."""
    base = f"ggvision/inference/{service_name}"
    return {"request": base + "/request", "reply_prefix": base + "/reply/", "errors": base + "/errors",
            "status": base + "/status"}


def request_id_of(message: Any) -> str:
    """The request id to answer with, even for a request that is otherwise invalid."""
    if isinstance(message, dict) and isinstance(message.get("request_id"), str):
        return message["request_id"][:128]
    return ""


def reply_topic_of(message: Any, reply_prefix: str) -> Optional[str]:
    """The request's reply topic when it is one the service may answer on, else None."""
    topic = message.get("reply_topic") if isinstance(message, dict) else None
    if not isinstance(topic, str) or not topic.startswith(reply_prefix) or len(topic) > 256:
        return None
    suffix = topic[len(reply_prefix):]
    if not suffix or any(c in suffix for c in "+#*") or "//" in topic:
        return None
    return topic


def parse_request(message: Any, reply_prefix: str, max_body_bytes: int) -> InferenceRequest:
    """Check an untrusted request; raises InferenceError with the code that describes the fault."""
    if not isinstance(message, dict):
        raise InferenceError(ErrorCode.INVALID_REQUEST, "a request must be a JSON object")
    content_type = message.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise InferenceError(ErrorCode.INVALID_REQUEST, "content_type must be a string")
    if content_type is not None and content_type not in CONTENT_TYPES:
        raise InferenceError(ErrorCode.UNSUPPORTED_CONTENT_TYPE,
                             "content_type must be one of {}".format(", ".join(CONTENT_TYPES)))
    body_text = message.get("body")
    # base64 is 4/3 of the bytes: reject before decoding anything.
    if isinstance(body_text, str) and len(body_text) * 3 // 4 > max_body_bytes:
        raise InferenceError(ErrorCode.IMAGE_TOO_LARGE,
                             f"body is over the limit of {max_body_bytes} bytes")
    try:
        validate(message, REQUEST_SCHEMA)
    except ContractError as error:
        raise InferenceError(ErrorCode.INVALID_REQUEST, f"{error.path}: {error.reason}") from None
    reply_topic = reply_topic_of(message, reply_prefix)
    if reply_topic is None:
        raise InferenceError(ErrorCode.INVALID_REQUEST,
                             f"reply_topic must be a topic under {reply_prefix}")
    body = None
    if body_text is not None:
        try:
            body = base64.b64decode(body_text, validate=True)
        except (binascii.Error, ValueError):
            raise InferenceError(ErrorCode.INVALID_REQUEST, "body is not valid base64") from None
        if len(body) > max_body_bytes:
            raise InferenceError(ErrorCode.IMAGE_TOO_LARGE,
                                 f"body is {len(body)} bytes; the limit is {max_body_bytes}")
    return InferenceRequest(
        request_id=message["request_id"],
        reply_topic=reply_topic,
        content_type=content_type,
        body=body,
        frame=message.get("frame"),
        score_threshold=message.get("score_threshold"),
        max_detections=message.get("max_detections"),
    )


def build_request(request_id: str, reply_topic: str, content_type: Optional[str] = None,
                  body: Optional[bytes] = None, frame: Optional[Dict[str, Any]] = None,
                  score_threshold: Optional[float] = None,
                  max_detections: Optional[int] = None) -> Dict[str, Any]:
    message: Dict[str, Any] = {"schema": REQUEST_SCHEMA, "ts": time.time(), "request_id": request_id,
                               "reply_topic": reply_topic}
    if frame is not None:
        message["frame"] = frame
    else:
        message["content_type"] = content_type
        message["body"] = base64.b64encode(body or b"").decode("ascii")
    if score_threshold is not None:
        message["score_threshold"] = score_threshold
    if max_detections is not None:
        message["max_detections"] = max_detections
    return message


def error_response(request_id: str, code: str, message: str) -> Dict[str, Any]:
    return {"schema": RESPONSE_SCHEMA, "ts": time.time(), "request_id": request_id,
            "error": {"code": code, "message": message[:1024]}}


def success_response(request_id: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """`result` holds prediction, labels, width, height, model and inference_ms."""
    response = {"schema": RESPONSE_SCHEMA, "ts": time.time(), "request_id": request_id}
    response.update(result)
    return response
