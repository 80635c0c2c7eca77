"""A thin layer over awsiotsdk's GreengrassCoreIPCClientV2: the one way components talk IPC.

Subscriptions hand messages to a bounded queue from the IPC networking thread and never block it:
when a consumer falls behind, the oldest pending message is dropped and counted (for frames, newest
wins). IoT Core publishes check the 128 KB payload limit before sending.

A lost connection (the nucleus stopped or was killed) is not reconnected: `connection_lost` is set and
the `on_connection_lost` callbacks run, and the run loop (ggvision.component) stops the component, as the
nucleus starts a fresh one when it comes back.
"""

import collections
import concurrent.futures
import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Union

from awsiot.eventstreamrpc import ConnectionClosedError, EventStreamError, LifecycleHandler
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    QOS,
    BinaryMessage,
    ConfigurationValidityReport,
    ConfigurationValidityStatus,
    JsonMessage,
    Metric,
    PublishMessage,
    ReceiveMode,
    SubscriptionResponseMessage,
    UnauthorizedError,
)

from .log import LogThrottle, get_logger

# The nucleus's MQTT client refuses a payload of this many bytes or more (maxMessageSizeInBytes).
IOT_CORE_MAX_PAYLOAD = 128 * 1024

_log = get_logger(__name__)


class PayloadTooLarge(ValueError):
    """An IoT Core payload over the 128 KB limit; it was not sent."""


@dataclass
class Message:
    """One message received on a subscription: `payload` for JSON messages, `binary` for binary ones."""

    topic: str
    payload: Optional[Dict[str, Any]]
    binary: Optional[bytes]
    received_at: float


class Subscription:
    """A bounded queue of messages received on one topic filter."""

    def __init__(self, topic: str, max_pending: int, wakeup: Optional[threading.Event] = None) -> None:
        self.topic = topic
        self._wakeup = wakeup
        self.dropped = 0
        self._pending: Deque[Message] = collections.deque()
        self._max_pending = max(1, max_pending)
        self._ready = threading.Condition()
        self._closed = False
        self._operation: Any = None
        self._drop_warning = LogThrottle(__name__, 10.0)

    def _deliver(self, message: Message) -> None:
        # Runs on the IPC networking thread: O(1), never blocks beyond a short lock.
        with self._ready:
            if self._closed:
                return
            if len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self.dropped += 1
                self._drop_warning.warning("consumer of %s is slow: %d messages dropped so far",
                                           self.topic, self.dropped)
            self._pending.append(message)
            self._ready.notify()
        if self._wakeup is not None:
            self._wakeup.set()

    def get_nowait(self) -> Optional[Message]:
        with self._ready:
            return self._pending.popleft() if self._pending else None

    def get(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The oldest pending message; None after `timeout` seconds or once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._pending:
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._ready.wait(remaining)
            return self._pending.popleft()

    def get_latest(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The newest pending message, discarding (and counting) older ones: for newest-wins consumers."""
        first = self.get(timeout)
        if first is None:
            return None
        with self._ready:
            skipped = len(self._pending)
            latest = self._pending.pop() if skipped else first
            self._pending.clear()
            self.dropped += skipped
        return latest

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        operation, self._operation = self._operation, None
        if operation is not None:
            try:
                operation.close()
            except Exception:  # already closed by the server or a lost connection
                pass


class ConnectionWatch(LifecycleHandler):
    """The connection's lifecycle handler: records a disconnect the component did not ask for.

    awsiotsdk calls on_disconnect on its networking thread, last, once per connection; `reason` is None
    only when the client closed the connection itself.
    """

    def __init__(self) -> None:
        self.lost = threading.Event()
        self.reason: Optional[BaseException] = None
        self.closing = False
        self._callbacks: List[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_disconnect(self, reason: Optional[Exception]) -> None:
        if reason is None and self.closing:
            return
        self.mark_lost(reason if reason is not None else ConnectionClosedError("the connection closed"))

    def mark_lost(self, reason: BaseException) -> None:
        with self._lock:
            if self.lost.is_set() or self.closing:
                return
            self.reason = reason
            self.lost.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a callback must not break the networking thread
                _log.exception("error in a connection-lost callback")

    def add_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
            already = self.lost.is_set()
        if already:
            callback()


# awscrt error names that mean the connection is gone. A call racing the disconnect gets them from the
# native layer (as AwsCrtError, or a bare RuntimeError whose text names them) before the SDK knows.
_CLOSED_ERROR_NAMES = ("AWS_ERROR_EVENT_STREAM_RPC_CONNECTION_CLOSED", "AWS_IO_SOCKET_CLOSED",
                       "AWS_IO_BROKEN_PIPE", "AWS_IO_SOCKET_NOT_CONNECTED")


def is_connection_error(error: BaseException) -> bool:
    """True for the IPC client's errors that mean the connection itself is gone."""
    if isinstance(error, (ConnectionClosedError, EventStreamError)):
        return True
    name = getattr(error, "name", None)
    if isinstance(name, str) and name in _CLOSED_ERROR_NAMES:
        return True
    return type(error) is RuntimeError and any(name in str(error) for name in _CLOSED_ERROR_NAMES)


class IpcClient:
    """The component's IPC connection. Create one per process with `IpcClient.connect()`."""

    def __init__(self, client: GreengrassCoreIPCClientV2, thing_name: str = "",
                 watch: Optional[ConnectionWatch] = None) -> None:
        self._client = client
        self.thing_name = thing_name or os.environ.get("AWS_IOT_THING_NAME", "")
        self._subscriptions: List[Subscription] = []
        self._config_operations: List[Any] = []
        self._metrics_refused = False
        # Without a watch given to the connection (a client made elsewhere), a lost connection is
        # noticed only through the errors of calls made on it (note_error).
        self._watch = watch or ConnectionWatch()

    # -- the connection itself -----------------------------------------------------------------

    @property
    def connection_lost(self) -> threading.Event:
        """Set once the connection to the nucleus is gone without close() having been called."""
        return self._watch.lost

    @property
    def lost_reason(self) -> str:
        """Why the connection was lost, on one line ("" while it is not)."""
        reason = self._watch.reason
        return describe_error(reason) if reason is not None else ""

    def on_connection_lost(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once when the connection is lost (at once if it already is). It may run on
        the IPC networking thread: keep it short, and make no IPC call from it."""
        self._watch.add_callback(callback)

    def note_error(self, error: BaseException) -> bool:
        """Record `error` from an IPC call; True (and connection_lost set) when it means the connection
        is gone."""
        if is_connection_error(error):
            self._watch.mark_lost(error)
            return True
        return False

    @classmethod
    def connect(cls, socket_path: Optional[str] = None, auth_token: Optional[str] = None,
                timeout: float = 10.0) -> "IpcClient":
        """Connect to the nucleus named by the component environment (or by the arguments)."""
        import awsiot.greengrasscoreipc

        watch = ConnectionWatch()
        connection = awsiot.greengrasscoreipc.connect(ipc_socket=socket_path, authtoken=auth_token,
                                                      lifecycle_handler=watch, timeout=timeout)
        # executor=None: our callbacks only enqueue, so they may run on the networking thread;
        # a thread pool would reorder messages.
        return cls(GreengrassCoreIPCClientV2(client=connection, executor=None), watch=watch)

    # -- local pub/sub -------------------------------------------------------------------------

    def publish_json(self, topic: str, message: Dict[str, Any]) -> None:
        with self._noting_errors():
            self._client.publish_to_topic(topic=topic, publish_message=_json_message(message))

    def publish_json_async(self, topic: str, message: Dict[str, Any]) -> concurrent.futures.Future:
        """Publish without waiting for the nucleus's acknowledgement (for high-rate publishers).

        Once the connection is lost this sends nothing and returns a cancelled future (as for a
        connection closing): the run loop reports the loss once and stops the component."""
        return self._publish_async(lambda: self._client.publish_to_topic_async(
            topic=topic, publish_message=_json_message(message)))

    def publish_binary(self, topic: str, data: bytes) -> None:
        message = PublishMessage(binary_message=BinaryMessage(message=data))
        with self._noting_errors():
            self._client.publish_to_topic(topic=topic, publish_message=message)

    def publish_binary_async(self, topic: str, data: bytes) -> concurrent.futures.Future:
        """As publish_json_async, for bytes."""
        message = PublishMessage(binary_message=BinaryMessage(message=data))
        return self._publish_async(lambda: self._client.publish_to_topic_async(
            topic=topic, publish_message=message))

    def _publish_async(self, publish: Callable[[], concurrent.futures.Future]) -> concurrent.futures.Future:
        if not self._watch.lost.is_set():
            try:
                future = publish()
            except Exception as error:
                if not self.note_error(error):
                    raise
            else:
                future.add_done_callback(self._note_future)
                return future
        cancelled: concurrent.futures.Future = concurrent.futures.Future()
        cancelled.cancel()
        return cancelled

    @contextlib.contextmanager
    def _noting_errors(self) -> Iterator[None]:
        """Record errors that mean the connection is gone; the client's own (ConnectionClosedError)
        has no text, so it is raised again naming why the connection was lost."""
        try:
            yield
        except Exception as error:
            if self.note_error(error) and not str(error):
                raise ConnectionClosedError(
                    f"the IPC connection to the nucleus is lost ({self.lost_reason})") from None
            raise

    def _note_future(self, future: concurrent.futures.Future) -> None:
        if not future.cancelled():
            error = future.exception()
            if error is not None:
                self.note_error(error)

    def subscribe(self, topic: str, max_pending: int = 64, receive_mode: Optional[str] = None,
                  wakeup: Optional[threading.Event] = None) -> Subscription:
        """Subscribe to a topic or filter (`+`, `#`); messages queue in the returned Subscription.

        `wakeup` is set after each message, so one thread can wait on several subscriptions.
        """
        subscription = Subscription(topic, max_pending, wakeup)

        def on_event(event: SubscriptionResponseMessage) -> None:
            subscription._deliver(_to_message(event, topic))

        def on_error(error: Exception) -> bool:
            _log.warning("subscription to %s failed: %s", topic, error)
            return True  # close the stream; the owner sees get() return None

        def on_closed() -> None:
            with subscription._ready:
                subscription._closed = True
                subscription._ready.notify_all()

        _, operation = self._client.subscribe_to_topic(
            topic=topic,
            receive_mode=receive_mode,
            on_stream_event=on_event,
            on_stream_error=on_error,
            on_stream_closed=on_closed,
        )
        subscription._operation = operation
        self._subscriptions.append(subscription)
        return subscription

    # -- IoT Core ------------------------------------------------------------------------------

    def publish_iot_core(self, topic: str, payload: Union[bytes, Dict[str, Any]], qos: int = 0) -> None:
        """Publish to AWS IoT Core; raises PayloadTooLarge (nothing sent) above 128 KB."""
        data = encode_iot_payload(payload)
        self._client.publish_to_iot_core(
            topic_name=topic, qos=QOS.AT_LEAST_ONCE if qos else QOS.AT_MOST_ONCE, payload=data
        )

    # -- lifecycle, metrics, configuration -----------------------------------------------------

    def update_state(self, state: str) -> None:
        with self._noting_errors():
            self._client.update_state(state=state)

    def put_metric(self, name: str, value: float, unit: str = "COUNT") -> bool:
        return self.put_metrics({name: value}, unit)

    def put_metrics(self, values: Dict[str, float], unit: str = "COUNT") -> bool:
        """Send PutComponentMetric; False when the nucleus refuses it.

        The nucleus accepts component metrics only from components named `aws.*`
        (ComponentMetricIPCEventStreamAgent), so on a real device ggvision's are refused: that is
        logged once and not tried again. The same figures are on each component's status topic.
        """
        if self._metrics_refused:
            return False
        metrics = [Metric(name=name, unit=unit, value=max(0.0, float(v))) for name, v in values.items()]
        try:
            self._client.put_component_metric(metrics=metrics)
            return True
        except UnauthorizedError:
            self._metrics_refused = True
            _log.info("the nucleus does not take PutComponentMetric from this component "
                      "(reserved to aws.* components); metrics stay on the status topic")
            return False

    def get_configuration(self, key_path: Optional[List[str]] = None,
                          component_name: Optional[str] = None) -> Any:
        """The configuration under `key_path`, as the nucleus returns it: a leaf comes back as
        `{leaf_key: value}`."""
        with self._noting_errors():
            response = self._client.get_configuration(component_name=component_name, key_path=key_path or [])
        return response.value

    def on_configuration_update(self, callback: Callable[[List[str]], None],
                                key_path: Optional[List[str]] = None) -> None:
        """Call `callback(changed_key_path)` after each change of this component's configuration.

        The callback runs on a separate thread: it may call back into IPC (the networking thread may not).
        """

        def on_event(event: Any) -> None:
            changed = list(event.configuration_update_event.key_path or [])
            threading.Thread(target=callback, args=(changed,), name="config-update", daemon=True).start()

        _, operation = self._client.subscribe_to_configuration_update(
            key_path=key_path or [], on_stream_event=on_event
        )
        self._config_operations.append(operation)

    def on_validate_configuration(self, check: Callable[[Dict[str, Any]], Optional[str]]) -> None:
        """Answer the nucleus's validation of each deployment's configuration before it applies:
        `check(proposed_configuration)` returns None to accept it or the one-line reason to reject it
        (the deployment then fails and the running configuration stays). Runs on a separate thread."""

        def answer(event: Any) -> None:
            proposed = event.validate_configuration_update_event
            try:
                problem = check(proposed.configuration or {})
            except Exception as error:  # a checker bug must not accept silently
                problem = f"the configuration could not be checked: {describe_error(error)}"
            status = ConfigurationValidityStatus.REJECTED if problem else ConfigurationValidityStatus.ACCEPTED
            report = ConfigurationValidityReport(status=status, deployment_id=proposed.deployment_id,
                                                 message=problem or "")
            try:
                self._client.send_configuration_validity_report(configuration_validity_report=report)
            except Exception as error:
                _log.warning("cannot report the configuration's validity: %s", describe_error(error))

        def on_event(event: Any) -> None:
            threading.Thread(target=answer, args=(event,), name="config-validation", daemon=True).start()

        _, operation = self._client.subscribe_to_validate_configuration_updates(on_stream_event=on_event)
        self._config_operations.append(operation)

    def close(self) -> None:
        self._watch.closing = True
        for subscription in self._subscriptions:
            subscription.close()
        for operation in self._config_operations:
            try:
                operation.close()
            except Exception:
                pass
        self._client.close()


def describe_error(error: BaseException) -> str:
    """`Type: reason` on one line. The IPC client's errors (UnauthorizedError, ...) carry their reason in
    `.message`, and their str() is empty."""
    text = getattr(error, "message", None) or str(error)
    text = " ".join(str(text).split())
    return type(error).__name__ + (": " + text if text else "")


def encode_iot_payload(payload: Union[bytes, Dict[str, Any]]) -> bytes:
    """JSON-encode (compactly) and check the IoT Core size limit."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    if len(data) >= IOT_CORE_MAX_PAYLOAD:
        raise PayloadTooLarge(
            f"IoT Core payload is {len(data)} bytes; it must be under {IOT_CORE_MAX_PAYLOAD} bytes"
        )
    return data


def _json_message(message: Dict[str, Any]) -> PublishMessage:
    return PublishMessage(json_message=JsonMessage(message=message))


def _to_message(event: SubscriptionResponseMessage, subscribed_topic: str) -> Message:
    now = time.time()
    if event.json_message is not None:
        context = event.json_message.context
        return Message(_topic_of(context, subscribed_topic), event.json_message.message, None, now)
    binary = event.binary_message
    context = binary.context if binary is not None else None
    data = bytes(binary.message) if binary is not None and binary.message is not None else b""
    return Message(_topic_of(context, subscribed_topic), None, data, now)


def _topic_of(context: Any, fallback: str) -> str:
    topic = getattr(context, "topic", None)
    return topic if topic else fallback


RECEIVE_ALL = ReceiveMode.RECEIVE_ALL_MESSAGES
RECEIVE_FROM_OTHERS = ReceiveMode.RECEIVE_MESSAGES_FROM_OTHERS
