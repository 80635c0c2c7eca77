"""Service mode: answer `ggvision.inference-request/1` messages from any component.

Each request is checked before any work (protocol.parse_request), its image decoded within the byte
and pixel limits, and answered on its reply topic. A request that cannot be answered there (no valid
reply topic, or one the service may not publish to) is answered on the service's errors topic, so a
client still learns what went wrong.
"""

import collections
import time
from typing import Any, Callable, Deque, Dict, Optional, Tuple

import numpy as np
from ggvision.frames import FrameReader, FrameUnavailable
from ggvision.imaging.decode import (
    DecodeFailed,
    ImageTooLarge,
    UnsupportedContentType,
    decode_image,
    image_size,
)
from ggvision.inference.protocol import (
    ErrorCode,
    InferenceError,
    InferenceRequest,
    error_response,
    parse_request,
    reply_topic_of,
    request_id_of,
    success_response,
)
from ggvision.ipc import IpcClient, Message
from ggvision.log import get_logger

from .frame_pixels import read_bgr
from .settings import DetectionSettings

_log = get_logger("ggvision.ObjectDetection.requests")


class RequestQueue:
    """Requests received but not yet answered, oldest first, bounded: overflow is answered BUSY."""

    def __init__(self, ipc: IpcClient, reply_prefix: str, errors_topic: str) -> None:
        self._ipc = ipc
        self._reply_prefix = reply_prefix
        self._errors_topic = errors_topic
        self._pending: Deque[Message] = collections.deque()
        self.answered = 0
        self.errors = 0

    def offer(self, message: Message, capacity: int) -> None:
        if len(self._pending) >= capacity:
            self.reply_error(message.payload, ErrorCode.BUSY,
                             f"the service has {capacity} requests waiting; try again later")
            return
        self._pending.append(message)

    def take(self) -> Optional[Message]:
        return self._pending.popleft() if self._pending else None

    def __len__(self) -> int:
        return len(self._pending)

    def reply_error(self, payload: Any, code: str, text: str) -> None:
        self.errors += 1
        self._reply(payload, error_response(request_id_of(payload), code, text))

    def reply(self, payload: Any, response: Dict[str, Any]) -> None:
        self.answered += 1
        self._reply(payload, response)

    def _reply(self, payload: Any, response: Dict[str, Any]) -> None:
        topic = reply_topic_of(payload, self._reply_prefix)
        if topic is not None:
            try:
                self._ipc.publish_json(topic, response)
                return
            except Exception as error:  # e.g. UnauthorizedError: our policy does not cover that topic
                _log.warning("cannot reply on %s (%s); answering on %s", topic, error, self._errors_topic)
                if "error" not in response:
                    response = error_response(response["request_id"], ErrorCode.INVALID_REQUEST,
                                              f"the service may not publish to reply_topic {topic}")
        try:
            self._ipc.publish_json(self._errors_topic, response)
        except Exception as error:
            _log.warning("cannot publish to %s: %s", self._errors_topic, error)


def answer(message: Message, settings: DetectionSettings, queue: RequestQueue, reader: FrameReader,
           infer: Callable[[np.ndarray, Optional[float], Optional[int]], Dict[str, Any]],
           reply_prefix: str, input_size: Optional[Tuple[int, int]] = None) -> None:
    """Check, decode, infer and reply to one request; every failure becomes an error reply.

    `input_size` (the model's width, height) lets a large JPEG decode at a reduced scale that still
    covers it: one request then costs memory in proportion to the model, not to the image."""
    payload = message.payload
    if payload is None:
        queue.reply_error(None, ErrorCode.INVALID_REQUEST, "requests are JSON messages, not binary")
        return
    if time.time() - message.received_at > settings.request_timeout_s:
        queue.reply_error(payload, ErrorCode.TIMEOUT,
                          f"the request waited over {settings.request_timeout_s:g} s for the model")
        return
    try:
        request = parse_request(payload, reply_prefix, settings.max_request_bytes)
        image, size = _image_of(request, settings, reader, input_size)
        result = infer(image, request.score_threshold, request.max_detections)
        result["width"], result["height"] = size  # the image's own size, even when decoded reduced
    except InferenceError as error:
        queue.reply_error(payload, error.code, error.message)
        return
    except Exception as error:  # a model failure must not take the service down
        _log.exception("inference failed for request %s", request_id_of(payload))
        queue.reply_error(payload, ErrorCode.INTERNAL, f"inference failed: {type(error).__name__}")
        return
    queue.reply(payload, success_response(request.request_id, result))


def _image_of(request: InferenceRequest, settings: DetectionSettings, reader: FrameReader,
              input_size: Optional[Tuple[int, int]]) -> Tuple[np.ndarray, Tuple[int, int]]:
    if request.frame is not None:
        try:
            image = read_bgr(reader, request.frame)
            # The frame's own size (a jpeg frame may have been decoded at a reduced scale).
            return image, (int(request.frame["width"]), int(request.frame["height"]))
        except FrameUnavailable as error:
            raise InferenceError(ErrorCode.FRAME_UNAVAILABLE, str(error)) from None
        except ValueError as error:  # a path outside the ring folder, a bad geometry
            raise InferenceError(ErrorCode.INVALID_REQUEST, str(error)) from None
    try:
        body, content_type = request.body or b"", request.content_type or ""
        image = decode_image(body, content_type, settings.max_request_bytes, settings.max_image_pixels,
                             at_least=input_size)
        return image, image_size(body, content_type)
    except UnsupportedContentType as error:
        raise InferenceError(ErrorCode.UNSUPPORTED_CONTENT_TYPE, str(error)) from None
    except ImageTooLarge as error:
        raise InferenceError(ErrorCode.IMAGE_TOO_LARGE, str(error)) from None
    except DecodeFailed as error:
        raise InferenceError(ErrorCode.DECODE_FAILED, str(error)) from None
