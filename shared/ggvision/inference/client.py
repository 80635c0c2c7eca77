"""`InferenceClient`: ask an ObjectDetection service for detections, the v2 form of the v1 ML SDK's
`invoke_inference_service`.

    client = ggvision.InferenceClient("detector")
    result = client.invoke(content_type="image/jpeg", body=jpeg_bytes, timeout=5)
    result["prediction"]  # [[class_id, score, xmin, ymin, xmax, ymax], ...]

The caller's recipe must allow publishing to `ggvision/inference/<service>/request` and subscribing to
its reply topic (`ggvision/inference/<service>/reply/<client name>`) and
`ggvision/inference/<service>/errors` — see docs/migrating-from-v1.md.
"""

import io
import json
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Dict, Optional

from ..ipc import IpcClient, Message, Subscription, describe_error
from .protocol import ErrorCode, InferenceError, ServiceUnavailableError, build_request, topics


class InferenceClient:
    """Requests to one inference service. Until the service has answered once, a request is sent again
    every `resend_interval` seconds (same request id): a service that is still starting, not yet
    subscribed, would otherwise lose it. Duplicates a service does receive are answered once each and
    the first answer wins."""

    def __init__(self, service_name: str = "detector", ipc: Optional[IpcClient] = None,
                 client_name: Optional[str] = None, resend_interval: float = 1.0) -> None:
        self.service_name = service_name
        self._topics = topics(service_name)
        self._client_name = client_name or uuid.uuid4().hex[:16]
        self.reply_topic = self._topics["reply_prefix"] + self._client_name
        self._own_ipc = ipc is None
        self._ipc = ipc or IpcClient.connect()
        self._waiting: Dict[str, Future] = {}
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._others: Dict[str, InferenceClient] = {}  # other services named in ServiceName
        self._resend_interval = resend_interval
        self._service_answered = threading.Event()
        self._replies: Subscription = self._subscribe(self.reply_topic)
        try:
            self._errors: Subscription = self._subscribe(self._topics["errors"])
        except ServiceUnavailableError:
            self._replies.close()
            raise
        self._closed = False
        self._dispatcher = threading.Thread(target=self._dispatch, name="inference-replies", daemon=True)
        self._dispatcher.start()

    def invoke(self, content_type: Optional[str] = None, body: Optional[bytes] = None,
               frame: Optional[Dict[str, Any]] = None, timeout: float = 10.0,
               score_threshold: Optional[float] = None,
               max_detections: Optional[int] = None) -> Dict[str, Any]:
        """Detections for an image (`content_type` + `body`) or a `frame` event; raises InferenceError."""
        request_id = uuid.uuid4().hex
        future: Future = Future()
        with self._lock:
            self._waiting[request_id] = future
        try:
            request = build_request(request_id, self.reply_topic, content_type, body, frame,
                                    score_threshold, max_detections)
            try:
                self._ipc.publish_json(self._topics["request"], request)
            except Exception as error:  # UnauthorizedError: the caller's recipe does not allow it
                raise _not_authorized("aws.greengrass#PublishToTopic", self._topics["request"],
                                      error) from None
            try:
                response = self._wait(future, request, timeout)
            except Exception:
                raise ServiceUnavailableError(
                    ErrorCode.TIMEOUT, f"no answer from {self.service_name} within {timeout} s (is "
                    f"ggvision.ObjectDetection running with ServiceName {self.service_name}?)") from None
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        if "error" in response:
            raise InferenceError(response["error"]["code"], response["error"]["message"])
        return response

    def invoke_inference_service(self, AlgoType: str = "object-detection", ServiceName: str = "",
                                 ContentType: str = "image/jpeg", Accept: str = "application/json",
                                 Body: bytes = b"", timeout: float = 10.0) -> Dict[str, Any]:
        """The v1 ML SDK call shape: returns {"Body": <file with the JSON {"prediction": [...]}>}.

        `ServiceName` names the service as in v1 (ObjectDetection's ServiceName); empty: this client's."""
        client = self
        if ServiceName and ServiceName != self.service_name:
            with self._lock:
                client = self._others.get(ServiceName)
            if client is None:
                client = InferenceClient(ServiceName, ipc=self._ipc, client_name=self._client_name)
                with self._lock:
                    self._others[ServiceName] = client
        response = client.invoke(content_type=ContentType, body=Body, timeout=timeout)
        payload = json.dumps({"prediction": response["prediction"]}).encode()
        return {"Body": io.BytesIO(payload), "ContentType": "application/json"}

    def _dispatch(self) -> None:
        while not self._closed:
            self._wakeup.wait(0.5)
            self._wakeup.clear()
            for subscription in (self._replies, self._errors):
                while True:
                    message = subscription.get_nowait()
                    if message is None:
                        break
                    self._complete(message)

    def _complete(self, message: Message) -> None:
        payload = message.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("request_id"), str):
            return
        self._service_answered.set()
        with self._lock:
            future = self._waiting.get(payload["request_id"])
        if future is not None and not future.done():
            future.set_result(payload)

    def _wait(self, future: Future, request: Dict[str, Any], timeout: float) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self._service_answered.is_set():
            remaining = deadline - time.monotonic()
            try:
                return future.result(max(0.0, min(self._resend_interval, remaining)))
            except FutureTimeout:
                if time.monotonic() >= deadline:
                    raise
                if not self._service_answered.is_set():  # still starting, or not there: ask again
                    self._ipc.publish_json(self._topics["request"], request)
        return future.result(max(0.0, deadline - time.monotonic()))

    def _subscribe(self, topic: str) -> Subscription:
        try:
            return self._ipc.subscribe(topic, 256, wakeup=self._wakeup)
        except Exception as error:  # UnauthorizedError: the caller's recipe does not allow it
            raise _not_authorized("aws.greengrass#SubscribeToTopic", topic, error) from None

    def close(self) -> None:
        self._closed = True
        for other in self._others.values():
            other.close()
        self._replies.close()
        self._errors.close()
        if self._own_ipc:
            self._ipc.close()

    def __enter__(self) -> "InferenceClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _not_authorized(operation: str, topic: str, error: Exception) -> ServiceUnavailableError:
    """The refusal, with the topic and the accessControl line that allows it."""
    return ServiceUnavailableError(
        ErrorCode.NOT_AUTHORIZED,
        f"{describe_error(error)} on {topic}: add a policy to your component's recipe, under "
        f"accessControl > aws.greengrass.ipc.pubsub, with operations [{operation}] and resources "
        f"[{topic}] (docs/migrating-from-v1.md)")
