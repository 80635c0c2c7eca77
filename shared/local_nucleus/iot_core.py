"""The stand-in for AWS IoT Core: recorded publishes, the JSON-lines log, and publish validation."""

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import IO, List, Optional

from .topics import mqtt_filter_matches

# aws-greengrass-nucleus MqttClient: default maxMessageSizeInBytes (the IoT Core payload quota),
# MAX_NUMBER_OF_FORWARD_SLASHES and MAX_LENGTH_OF_TOPIC.
MAX_PAYLOAD_BYTES = 128 * 1024
MAX_FORWARD_SLASHES = 7
MAX_TOPIC_BYTES = 256
_BASIC_INGEST_PREFIX = "$aws/rules/"


@dataclass
class IotCoreMessage:
    component: str
    topic: str
    qos: str
    payload: bytes
    ts: float


def publish_problem(topic: str, payload: bytes) -> Optional[str]:
    """Why the nucleus's MQTT client would refuse this publish, or None when it is acceptable."""
    if len(payload) >= MAX_PAYLOAD_BYTES:
        return (f"The publishing message size {len(payload)} bytes exceeds the configured limit of "
                f"{MAX_PAYLOAD_BYTES} bytes")
    if "#" in topic or "+" in topic:
        return "The topic of publish request should not contain wildcard characters of '#' or '+'"
    checked = topic
    if checked.lower().startswith(_BASIC_INGEST_PREFIX) and checked.count("/") >= 3:
        checked = checked.split("/", 3)[3]  # Basic Ingest: $aws/rules/<rule>/ is not counted
    if checked.count("/") > MAX_FORWARD_SLASHES:
        return f"The topic of request must have no more than {MAX_FORWARD_SLASHES} forward slashes (/)"
    if len(checked.encode("utf-8")) > MAX_TOPIC_BYTES:
        return (f"The topic size of request must be no larger than {MAX_TOPIC_BYTES} bytes of UTF-8 "
                "encoded characters")
    return None


def log_record(message: IotCoreMessage) -> dict:
    """One line of the IoT Core log: the payload as JSON when it is UTF-8 JSON, else base64."""
    try:
        payload: object = json.loads(message.payload.decode("utf-8"))
    except ValueError:
        payload = {"base64": base64.b64encode(message.payload).decode("ascii")}
    return {"ts": message.ts, "component": message.component, "topic": message.topic, "qos": message.qos,
            "payload": payload}


class IotCoreRecorder:
    """Everything components published to IoT Core, in order; thread-safe for host-side readers."""

    def __init__(self, log_path: Optional[str] = None) -> None:
        self._log_path = log_path
        self._log: Optional[IO[str]] = None
        self._messages: List[IotCoreMessage] = []
        self._changed = threading.Condition()

    def record(self, component: str, topic: str, qos: str, payload: bytes) -> IotCoreMessage:
        message = IotCoreMessage(component, topic, qos, payload, time.time())
        with self._changed:
            self._messages.append(message)
            if self._log_path is not None:
                if self._log is None:
                    self._log = open(self._log_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._log.write(json.dumps(log_record(message), separators=(",", ":")) + "\n")
                self._log.flush()
            self._changed.notify_all()
        return message

    def messages(self) -> List[IotCoreMessage]:
        with self._changed:
            return list(self._messages)

    def wait_for(self, topic_filter: str, timeout: float, count: int = 1) -> List[IotCoreMessage]:
        """Recorded messages on topics matching the MQTT filter, once there are at least count
        (or whatever matched when timeout seconds have passed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in self._messages if mqtt_filter_matches(topic_filter, m.topic)]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    def close(self) -> None:
        with self._changed:
            if self._log is not None:
                self._log.close()
                self._log = None
