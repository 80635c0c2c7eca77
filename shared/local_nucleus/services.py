"""The Greengrass IPC operations the local nucleus serves, with the nucleus's semantics.

Sources, aws-greengrass-nucleus ``builtin/services``: PubSubIPCEventStreamAgent (local pub/sub),
MqttProxyIPCAgent + MqttClient (IoT Core), ConfigStoreIPCEventStreamAgent (configuration),
LifecycleIPCEventStreamAgent (UpdateState), ComponentMetricIPCEventStreamAgent (metrics).

Unsupported operations: the nucleus registers ``DefaultOperationHandler`` for every operation of the
Greengrass IPC model (IPCEventStreamService.startup) and a real handler for those it provides; an
operation whose provider is not present answers ``ServiceError`` "Operation <name> is not supported
by Greengrass" (e.g. GetSecretValue without the secret manager). A name outside the model reaches
the eventstream server's ``ServiceOperationMappingContinuationHandler.onIncomingStream``, which answers
APPLICATION_ERROR + TERMINATE_STREAM with only ``:content-type: application/json`` and the body
``{ "error": "Unsupported Operation", "message": "<name> is an unsupported operation." }``; having no
``service-model-type`` it is not a modeled error, so the Python client just sees the stream close
(``StreamClosedError``). Requests that cannot be deserialized get the Java server's unmodeled
``InternalServerError`` (text/plain) the same way.
"""

import base64
import copy
import hmac
import json
import logging
import secrets
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from . import rpc
from .authorization import (
    COMPONENT_METRIC_SERVICE,
    MQTT_PROXY_SERVICE,
    PUBSUB_SERVICE,
    AuthorizationError,
    Authorizer,
)
from .config_validation import Validations
from .configuration import ConfigStore, KeyPath
from .iot_core import IotCoreRecorder, publish_problem
from .topics import SubscriptionTrie, is_valid_mqtt_filter, is_wildcard, mqtt_filter_matches

LOG = logging.getLogger(__name__)

NS = "aws.greengrass#"
SERVICE_ERROR = NS + "ServiceError"
UNAUTHORIZED_ERROR = NS + "UnauthorizedError"
INVALID_ARGUMENTS_ERROR = NS + "InvalidArgumentsError"
RESOURCE_NOT_FOUND_ERROR = NS + "ResourceNotFoundError"
FAILED_UPDATE_CONDITION_ERROR = NS + "FailedUpdateConditionCheckError"

# Every operation of the Greengrass IPC model (awsiotsdk 1.31 / nucleus 2.12 model).
MODEL_OPERATIONS = frozenset(NS + name for name in (
    "AuthorizeClientDeviceAction", "CancelLocalDeployment", "CreateDebugPassword", "CreateLocalDeployment",
    "DeferComponentUpdate", "DeleteThingShadow", "GetClientDeviceAuthToken", "GetComponentDetails",
    "GetConfiguration", "GetLocalDeploymentStatus", "GetSecretValue", "GetThingShadow", "ListComponents",
    "ListLocalDeployments", "ListNamedShadowsForThing", "PauseComponent", "PublishToIoTCore",
    "PublishToTopic",
    "PutComponentMetric", "RestartComponent", "ResumeComponent", "SendConfigurationValidityReport",
    "StopComponent", "SubscribeToCertificateUpdates", "SubscribeToComponentUpdates",
    "SubscribeToConfigurationUpdate", "SubscribeToIoTCoreConnectionStatus", "SubscribeToIoTCore",
    "SubscribeToTopic", "SubscribeToValidateConfigurationUpdates", "UpdateConfiguration", "UpdateState",
    "UpdateThingShadow", "ValidateAuthorizationToken", "VerifyClientDeviceIdentity",
))

RECEIVE_ALL = "RECEIVE_ALL_MESSAGES"
RECEIVE_FROM_OTHERS = "RECEIVE_MESSAGES_FROM_OTHERS"
LIFECYCLE_STATES = ("RUNNING", "ERRORED")
# TelemetryUnit of the nucleus (CloudWatch units); matched ignoring case and non-alphanumerics.
_METRIC_UNITS = {"bytes", "bytespersecond", "count", "countpersecond", "megabytes", "none", "percent",
                 "seconds"}
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_UNSUPPORTED_HEADERS = rpc.JSON_CONTENT_HEADERS

_SUBSCRIPTION_EVENT = rpc.model_headers(NS + "SubscriptionResponseMessage")
_IOT_CORE_EVENT = rpc.model_headers(NS + "IoTCoreMessage")
_CONFIG_EVENT = rpc.model_headers(NS + "ConfigurationUpdateEvents")


class BadRequest(Exception):
    """The request does not deserialize into the operation's shape."""


class _TopicSubscription:
    __slots__ = ("stream", "topic", "component", "from_others")

    def __init__(self, stream: rpc.Stream, topic: str, from_others: bool) -> None:
        self.stream = stream
        self.topic = topic
        self.component = stream.component
        self.from_others = from_others


def _decode(payload: memoryview) -> dict:
    try:
        request = json.loads(str(payload, "utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"request is not JSON: {error}") from None
    if not isinstance(request, dict):
        raise BadRequest("request is not a JSON object")
    return request


def _string(obj: dict, key: str) -> Optional[str]:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    return value


def _object(obj: dict, key: str) -> Optional[dict]:
    value = obj.get(key)
    if value is not None and not isinstance(value, dict):
        raise BadRequest(f"{key} must be an object")
    return value


def _key_path(obj: dict) -> List[str]:
    value = obj.get("keyPath")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise BadRequest("keyPath must be a list of strings")
    return value


def _base64(obj: dict, key: str) -> Optional[bytes]:
    """A base64 string field as ASCII bytes, kept encoded; only characters of the alphabet pass, so
    the text can be spliced into an outgoing JSON string as is."""
    text = _string(obj, key)
    if text is None:
        return None
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise BadRequest(f"{key} is not base64") from None
    if raw.translate(None, _BASE64_ALPHABET):
        raise BadRequest(f"{key} is not base64")
    return raw


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


class GreengrassServices(rpc.Dispatcher):
    """State and operations of the local nucleus. Runs on the server loop thread, except the
    status readers (states, metrics) which take the status lock."""

    def __init__(self, thing_name: str, recorder: IotCoreRecorder) -> None:
        self.thing_name = thing_name
        self.config = ConfigStore()
        self.authorizer = Authorizer()
        self.iot_core = recorder
        self.status = threading.Condition()  # guards states and metrics for host threads
        self.states: Dict[str, str] = {}
        self.metrics: Dict[str, List[dict]] = {}
        self.state_listeners: List[Callable[[str, str], None]] = []
        self._tokens: Dict[str, str] = {}  # component -> SVCUID
        self._topics: SubscriptionTrie[_TopicSubscription] = SubscriptionTrie()
        self._topic_subscriptions: Dict[rpc.Stream, _TopicSubscription] = {}
        self._iot_subscriptions: Dict[rpc.Stream, str] = {}
        self._config_watchers: Dict[rpc.Stream, Tuple[str, KeyPath]] = {}
        self._passive_streams: Set[rpc.Stream] = set()
        self.validations = Validations()
        self._handlers: Dict[str, Callable[[rpc.Stream, dict], None]] = {
            NS + "PublishToTopic": self._publish_to_topic,
            NS + "SubscribeToTopic": self._subscribe_to_topic,
            NS + "PublishToIoTCore": self._publish_to_iot_core,
            NS + "SubscribeToIoTCore": self._subscribe_to_iot_core,
            NS + "GetConfiguration": self._get_configuration,
            NS + "UpdateConfiguration": self._update_configuration,
            NS + "SubscribeToConfigurationUpdate": self._subscribe_to_configuration_update,
            NS + "UpdateState": self._update_state,
            NS + "PutComponentMetric": self._put_component_metric,
            NS + "SubscribeToValidateConfigurationUpdates": self._subscribe_to_validate_configuration,
            NS + "SendConfigurationValidityReport": self._send_configuration_validity_report,
            # Accepted like the nucleus does; the local nucleus never deploys new versions: no events.
            NS + "SubscribeToComponentUpdates": self._subscribe_passively,
        }

    # -- components (host side, called on the loop thread) ----------------------------------
    def add_component(self, name: str, configuration: dict) -> str:
        token = self._tokens.get(name)
        if token is None:
            token = self._tokens[name] = secrets.token_urlsafe(32)
        changed = self.config.replace(name, configuration, _now_ms())
        self.authorizer.invalidate()
        self.configuration_changed(name, changed)
        return token

    def token(self, name: str) -> str:
        if name not in self._tokens:
            raise KeyError(f"component {name!r} is not registered with the local nucleus")
        return self._tokens[name]

    def merge_configuration(self, name: str, key_path: Sequence[str], value: object) -> None:
        """A deployment MERGE: always applied, fires configuration update events."""
        if not self.config.has_component(name):
            raise KeyError(f"component {name!r} is not registered with the local nucleus")
        if not isinstance(value, dict):
            # A non-object merges as the value of the last key, as a deployment's merge does.
            if not key_path:
                raise ValueError("a value that is not an object needs a non-empty key path")
            key_path, value = key_path[:-1], {key_path[-1]: value}
        changed, _ = self.config.merge(name, list(key_path), value, _now_ms(), force=True)
        self.configuration_changed(name, changed)

    def configuration_changed(self, component: str, changed: List[KeyPath]) -> None:
        if not changed:
            return
        self.authorizer.invalidate()
        for stream, (watched, key_path) in list(self._config_watchers.items()):
            if watched != component:
                continue
            depth = len(key_path)
            for path in changed:
                if path[:depth] == key_path or key_path[:len(path)] == path:
                    event = {"configurationUpdateEvent": {"componentName": component, "keyPath": list(path)}}
                    stream.send_event(_CONFIG_EVENT, _dumps(event))

    def inject_iot_core(self, topic: str, payload: bytes) -> None:
        """A message from the cloud on an MQTT topic, delivered to matching SubscribeToIoTCore streams."""
        event = b"".join([b'{"message":{"topicName":', _dumps(topic), b',"payload":"',
                          base64.b64encode(payload), b'"}}'])
        for stream, topic_filter in list(self._iot_subscriptions.items()):
            if mqtt_filter_matches(topic_filter, topic):
                stream.send_event(_IOT_CORE_EVENT, event)

    # -- rpc.Dispatcher -----------------------------------------------------------------------
    def authenticate(self, connect_payload: bytes) -> Optional[str]:
        try:
            message = json.loads(connect_payload.decode("utf-8"))
        except ValueError:
            return None
        token = message.get("authToken") if isinstance(message, dict) else None
        if not isinstance(token, str) or not token:
            return None
        presented = token.encode("utf-8")
        for component, known in self._tokens.items():
            if hmac.compare_digest(known.encode("ascii"), presented):
                return component
        return None

    def handle_request(self, stream: rpc.Stream, payload: memoryview) -> None:
        handler = self._handlers.get(stream.operation)
        if handler is None and stream.operation not in MODEL_OPERATIONS:
            body = ('{ "error": "Unsupported Operation", '
                    f'"message": "{stream.operation} is an unsupported operation." }}')
            stream.fail_raw(_UNSUPPORTED_HEADERS, body.encode("utf-8"))
            return
        try:
            request = _decode(payload)
            if handler is None:
                stream.fail(SERVICE_ERROR, f"Operation {stream.operation} is not supported by Greengrass")
                return
            handler(stream, request)
        except BadRequest as error:
            LOG.warning("%s from %s: %s", stream.operation, stream.component, error)
            if stream.open:
                stream.internal_error()
        except Exception as error:  # noqa: BLE001 - the nucleus maps unexpected failures to ServiceError
            LOG.exception("%s from %s failed", stream.operation, stream.component)
            if stream.open:
                stream.fail(SERVICE_ERROR, str(error))

    def subscription_counts(self) -> Dict[str, int]:
        return {"topic_subscriptions": len(self._topics),
                "iot_core_subscriptions": len(self._iot_subscriptions),
                "configuration_subscriptions": len(self._config_watchers)}

    def stream_closed(self, stream: rpc.Stream) -> None:
        subscription = self._topic_subscriptions.pop(stream, None)
        if subscription is not None:
            self._topics.remove(subscription.topic, subscription)
        self._iot_subscriptions.pop(stream, None)
        self._config_watchers.pop(stream, None)
        self._passive_streams.discard(stream)
        self.validations.forget(stream)

    # -- authorization -------------------------------------------------------------------------
    def _authorize(self, stream: rpc.Stream, service: str, resource: Optional[str],
                   mqtt_style: bool = False) -> None:
        try:
            self.authorizer.check(self.config.all_snapshots, service, stream.component, stream.operation,
                                  resource, mqtt_style)
        except AuthorizationError as error:
            LOG.info("unauthorized: %s", error)  # the first thing to look for when a recipe's policy is off
            raise

    # -- local pub/sub ------------------------------------------------------------------------
    def _publish_to_topic(self, stream: rpc.Stream, request: dict) -> None:
        topic = _string(request, "topic")
        message = _object(request, "publishMessage")
        event = self._subscription_event(topic or "", message) if message is not None else None
        try:
            self._authorize(stream, PUBSUB_SERVICE, topic)
        except AuthorizationError as error:
            stream.fail(UNAUTHORIZED_ERROR, str(error))
            return
        if event is None:
            stream.fail(SERVICE_ERROR, "publishMessage is required")
            return
        if topic is None:
            stream.fail(INVALID_ARGUMENTS_ERROR, "Publish topic must not be null")
            return
        if "+" in topic or "#" in topic or "*" in topic:
            stream.fail(INVALID_ARGUMENTS_ERROR, "Publish topic must not contain a wildcard.")
            return
        stream.respond(NS + "PublishToTopicResponse", b"{}", terminate=True)
        publisher = stream.component
        for subscription in self._topics.match(topic):
            if subscription.from_others and subscription.component == publisher:
                continue
            subscription.stream.send_event(_SUBSCRIPTION_EVENT, event)

    @staticmethod
    def _subscription_event(topic: str, message: dict) -> bytes:
        """SubscriptionResponseMessage JSON, built once per publish and shared by all subscribers.
        A binary message's base64 text is copied through, never decoded."""
        context = b'"context":{"topic":' + _dumps(topic) + b"}}"
        pieces = [b"{"]  # joined once at the end: a large payload is copied a single time
        json_message = _object(message, "jsonMessage")
        binary_message = _object(message, "binaryMessage")
        if json_message is not None:
            body = _object(json_message, "message")
            pieces.append(b'"jsonMessage":{')
            if body is not None:
                pieces += [b'"message":', _dumps(body), b","]
            pieces.append(context)
        if binary_message is not None:
            raw = _base64(binary_message, "message")
            pieces.append(b',"binaryMessage":{' if json_message is not None else b'"binaryMessage":{')
            if raw is not None:
                pieces += [b'"message":"', raw, b'",']
            pieces.append(context)
        pieces.append(b"}")
        return b"".join(pieces)

    def _subscribe_to_topic(self, stream: rpc.Stream, request: dict) -> None:
        topic = _string(request, "topic")
        mode = _string(request, "receiveMode")
        if mode not in (None, RECEIVE_ALL, RECEIVE_FROM_OTHERS):
            raise BadRequest(f"receiveMode must be {RECEIVE_ALL} or {RECEIVE_FROM_OTHERS}")
        try:
            self._authorize(stream, PUBSUB_SERVICE, topic)
        except AuthorizationError as error:
            stream.fail(UNAUTHORIZED_ERROR, str(error))
            return
        if not topic:
            stream.fail(INVALID_ARGUMENTS_ERROR, "Subscribe topic must not be empty")
            return
        # The nucleus's default: all messages on a plain topic, others' messages on a wildcard one.
        from_others = mode == RECEIVE_FROM_OTHERS if mode is not None else is_wildcard(topic)
        subscription = _TopicSubscription(stream, topic, from_others)
        self._topics.add(topic, subscription)
        self._topic_subscriptions[stream] = subscription
        stream.respond(NS + "SubscribeToTopicResponse", b"{}", terminate=False)

    # -- IoT Core -------------------------------------------------------------------------------
    def _iot_core_request(self, stream: rpc.Stream, topic: Optional[str]) -> bool:
        if topic is None:
            stream.fail(INVALID_ARGUMENTS_ERROR, "Topic is required")
            return False
        try:
            self._authorize(stream, MQTT_PROXY_SERVICE, topic, mqtt_style=True)
        except AuthorizationError:
            stream.fail(UNAUTHORIZED_ERROR, "Not Authorized")
            return False
        return True

    @staticmethod
    def _qos_problem(stream: rpc.Stream, qos: Optional[str]) -> bool:
        if qos is None:
            stream.fail(INVALID_ARGUMENTS_ERROR, "QoS is required")
            return True
        if qos not in ("0", "1"):
            stream.fail(INVALID_ARGUMENTS_ERROR, f"Invalid QoS value: {qos}")
            return True
        return False

    def _publish_to_iot_core(self, stream: rpc.Stream, request: dict) -> None:
        topic = _string(request, "topicName")
        qos = _string(request, "qos")
        encoded = _base64(request, "payload")
        try:
            payload = base64.b64decode(encoded, validate=True) if encoded is not None else None
        except ValueError:
            raise BadRequest("payload is not base64") from None
        if not self._iot_core_request(stream, topic):
            return
        assert topic is not None
        if payload is None:
            stream.fail(INVALID_ARGUMENTS_ERROR, "Payload is required")
            return
        if self._qos_problem(stream, qos):
            return
        problem = publish_problem(topic, payload)
        if problem is not None:
            stream.fail(SERVICE_ERROR, f"Publish to topic {topic} failed: {problem}")
            return
        self.iot_core.record(stream.component, topic, qos or "", payload)
        stream.respond(NS + "PublishToIoTCoreResponse", b"{}", terminate=True)
        # IoT Core sends the message back to the device when it subscribed to a matching filter.
        self.inject_iot_core(topic, payload)

    def _subscribe_to_iot_core(self, stream: rpc.Stream, request: dict) -> None:
        topic = _string(request, "topicName")
        qos = _string(request, "qos")
        if not self._iot_core_request(stream, topic) or self._qos_problem(stream, qos):
            return
        assert topic is not None
        if not is_valid_mqtt_filter(topic):
            stream.fail(SERVICE_ERROR, f"Subscribe to topic {topic} failed with error invalid topic filter")
            return
        self._iot_subscriptions[stream] = topic
        stream.respond(NS + "SubscribeToIoTCoreResponse", b"{}", terminate=False)

    # -- configuration --------------------------------------------------------------------------
    def _get_configuration(self, stream: rpc.Stream, request: dict) -> None:
        component = _string(request, "componentName")
        component = stream.component if component is None else component
        found, value = self.config.find(component, _key_path(request))
        if not found:
            stream.fail(RESOURCE_NOT_FOUND_ERROR, "Key not found")
            return
        stream.respond(NS + "GetConfigurationResponse", _dumps({"componentName": component, "value": value}),
                       terminate=True)

    def _update_configuration(self, stream: rpc.Stream, request: dict) -> None:
        key_path = _key_path(request)
        timestamp = request.get("timestamp")
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, (int, float))):
            raise BadRequest("timestamp must be a number")
        value = _object(request, "valueToMerge")
        if timestamp is None:
            stream.fail(INVALID_ARGUMENTS_ERROR, "Timestamp is required")
            return
        if value is None:
            stream.fail(INVALID_ARGUMENTS_ERROR, "ValueToMerge is required")
            return
        if (key_path and key_path[0] == "accessControl") or (not key_path and "accessControl" in value):
            stream.fail(INVALID_ARGUMENTS_ERROR,
                        "Config update is not allowed for following fields [accessControl]")
            return
        changed, accepted = self.config.merge(stream.component, key_path, value, int(round(timestamp * 1000)))
        self.configuration_changed(stream.component, changed)
        if not accepted:
            stream.fail(FAILED_UPDATE_CONDITION_ERROR,
                        "Proposed timestamp is older than the config's latest modified timestamp")
            return
        stream.respond(NS + "UpdateConfigurationResponse", b"{}", terminate=True)

    def _subscribe_to_configuration_update(self, stream: rpc.Stream, request: dict) -> None:
        component = _string(request, "componentName")
        component = stream.component if component is None else component
        key_path = _key_path(request)
        if not self.config.exists(component, key_path):
            stream.fail(RESOURCE_NOT_FOUND_ERROR, "Key not found")
            return
        self._config_watchers[stream] = (component, tuple(key_path))
        stream.respond(NS + "SubscribeToConfigurationUpdateResponse", b"{}", terminate=False)

    # -- lifecycle and metrics -----------------------------------------------------------------
    def _update_state(self, stream: rpc.Stream, request: dict) -> None:
        state = _string(request, "state")
        if state not in LIFECYCLE_STATES:
            raise BadRequest(f"state must be one of {LIFECYCLE_STATES}")
        # Listeners first, then the state for get_state/wait_for_state, then the answer: whoever
        # waited for a state finds every listener already told of it, and a component whose
        # UpdateState returned finds it visible.
        for listener in list(self.state_listeners):
            try:
                listener(stream.component, state)  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - a host callback must not break the server
                LOG.exception("state listener failed")
        with self.status:
            self.states[stream.component] = state  # type: ignore[assignment]
            self.status.notify_all()
        stream.respond(NS + "UpdateStateResponse", b"{}", terminate=True)

    def _put_component_metric(self, stream: rpc.Stream, request: dict) -> None:
        metrics = request.get("metrics")
        if metrics is not None and not (isinstance(metrics, list)
                                        and all(isinstance(metric, dict) for metric in metrics)):
            raise BadRequest("metrics must be a list of objects")
        try:
            # The nucleus only lets AWS components (names starting "aws.") emit component metrics.
            self._authorize(stream, COMPONENT_METRIC_SERVICE, "*")
            if not stream.component.startswith("aws."):
                raise AuthorizationError("")
        except AuthorizationError:
            stream.fail(UNAUTHORIZED_ERROR, f"Principal {stream.component} is not authorized to perform "
                                            f"{COMPONENT_METRIC_SERVICE}:{stream.operation} ")
            return
        if not metrics:
            stream.fail(INVALID_ARGUMENTS_ERROR,
                        "Null or Empty list of metrics found in PutComponentMetricRequest")
            return
        recorded = []
        for metric in metrics:
            name, unit, value = metric.get("name"), metric.get("unit"), metric.get("value")
            if (not isinstance(name, str) or not name or len(name.encode("utf-8")) > 32
                    or not isinstance(unit, str) or not unit
                    or isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                stream.fail(INVALID_ARGUMENTS_ERROR, "Invalid argument found in PutComponentMetricRequest")
                return
            if "".join(char for char in unit if char.isalnum()).lower() not in _METRIC_UNITS:
                stream.fail(INVALID_ARGUMENTS_ERROR,
                            "Invalid telemetry unit: No matching TelemetryUnit type found")
                return
            recorded.append({"name": name, "unit": unit, "value": value})
        with self.status:
            self.metrics.setdefault(stream.component, []).extend(recorded)
            self.status.notify_all()
        stream.respond(NS + "PutComponentMetricResponse", b"{}", terminate=True)

    # -- configuration validation (config_validation.py) ---------------------------------------
    def propose_configuration(self, name: str, key_path: Sequence[str], value: object,
                              deployment_id: str) -> int:
        """Send `name`'s validators the configuration this MERGE would give it; how many there are."""
        proposed = copy.deepcopy(self.config.snapshot(name))
        node = proposed
        for key in key_path:
            child = node.get(key) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        _merge_into(node, value)
        return self.validations.propose(name, proposed, deployment_id)

    def _subscribe_to_validate_configuration(self, stream: rpc.Stream, request: dict) -> None:
        self.validations.subscribe(stream)

    def _send_configuration_validity_report(self, stream: rpc.Stream, request: dict) -> None:
        problem = self.validations.report(stream, request)
        if problem is not None:
            stream.fail(INVALID_ARGUMENTS_ERROR, problem)
            return
        stream.respond(NS + "SendConfigurationValidityReportResponse", b"{}", terminate=True)

    def _subscribe_passively(self, stream: rpc.Stream, request: dict) -> None:
        self._passive_streams.add(stream)
        stream.respond(stream.operation + "Response", b"{}", terminate=False)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _merge_into(target: dict, changes: object) -> None:
    # Mappings merge recursively; anything else replaces (a deployment's MERGE).
    if not isinstance(changes, dict):
        return
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
