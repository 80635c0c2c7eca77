"""PublishToIoTCore is recorded (and logged); SubscribeToIoTCore receives injected messages."""

import base64
import json

import pytest
from awsiot.greengrasscoreipc.model import QOS, InvalidArgumentsError, ServiceError
from local_nucleus import IotCoreMessage
from nucleus_helpers import Inbox, acl

pytestmark = pytest.mark.timeout(60)

MQTT = "aws.greengrass.ipc.mqttproxy"


def mqtt_component(name: str, *resources: str) -> dict:
    return {"accessControl": acl(MQTT, name + ":mqttproxy:1", list(resources))}


def test_publish_to_iot_core_is_recorded_and_logged(nucleus, connect, tmp_path):
    client = connect("test.Counts", mqtt_component("test.Counts", "*"))

    client.publish_to_iot_core(topic_name="ggvision/test-thing/counts", qos=QOS.AT_LEAST_ONCE,
                               payload=json.dumps({"person": 2}).encode())
    client.publish_to_iot_core(topic_name="ggvision/test-thing/raw", qos=QOS.AT_MOST_ONCE,
                               payload=b"\xff\x00")

    messages = nucleus.iot_core_messages()
    assert [(m.component, m.topic, m.qos, m.payload) for m in messages] == [
        ("test.Counts", "ggvision/test-thing/counts", "1", b'{"person": 2}'),
        ("test.Counts", "ggvision/test-thing/raw", "0", b"\xff\x00"),
    ]
    assert all(isinstance(m, IotCoreMessage) and m.ts > 0 for m in messages)
    lines = [json.loads(line) for line in (tmp_path / "iot.jsonl").read_text().splitlines()]
    assert [(line["component"], line["topic"], line["qos"], line["payload"]) for line in lines] == [
        ("test.Counts", "ggvision/test-thing/counts", "1", {"person": 2}),
        ("test.Counts", "ggvision/test-thing/raw", "0", {"base64": base64.b64encode(b"\xff\x00").decode()}),
    ]
    assert lines[0]["ts"] == messages[0].ts


def test_wait_for_iot_core_returns_matching_messages(nucleus, connect):
    client = connect("test.Counts", mqtt_component("test.Counts", "*"))
    for topic in ("a/counts", "b/features", "c/counts"):
        client.publish_to_iot_core(topic_name=topic, qos=QOS.AT_LEAST_ONCE, payload=b"{}")

    found = nucleus.wait_for_iot_core("+/counts", timeout=10, count=2)
    assert [m.topic for m in found] == ["a/counts", "c/counts"]
    assert nucleus.wait_for_iot_core("nothing/#", timeout=0.05) == []


def test_subscribe_to_iot_core_gets_injected_messages_on_matching_topics(nucleus, connect):
    client = connect("test.Commands", mqtt_component("test.Commands", "ggvision/test-thing/commands/#"))
    inbox = Inbox()
    client.subscribe_to_iot_core(topic_name="ggvision/test-thing/commands/#", qos=QOS.AT_LEAST_ONCE,
                                 on_stream_event=inbox)

    nucleus.inject_iot_core_message("ggvision/other-thing/commands/stop", b"ignored")
    nucleus.inject_iot_core_message("ggvision/test-thing/commands/stop", b'{"now": true}')

    (event,) = inbox.wait_for(1)
    assert event.message.topic_name == "ggvision/test-thing/commands/stop"
    assert event.message.payload == b'{"now": true}'


def test_iot_core_echoes_a_publish_to_matching_subscriptions(connect):
    client = connect("test.Loop", mqtt_component("test.Loop", "loop/#"))
    inbox = Inbox()
    client.subscribe_to_iot_core(topic_name="loop/+", qos=QOS.AT_MOST_ONCE, on_stream_event=inbox)

    client.publish_to_iot_core(topic_name="loop/1", qos=QOS.AT_MOST_ONCE, payload=b"round trip")

    assert [e.message.payload for e in inbox.wait_for(1)] == [b"round trip"]


def test_iot_core_limits_of_the_nucleus_mqtt_client(nucleus, connect):
    client = connect("test.Big", mqtt_component("test.Big", "*"))

    with pytest.raises(ServiceError) as too_big:
        client.publish_to_iot_core(topic_name="big", qos=QOS.AT_LEAST_ONCE, payload=b"x" * (128 * 1024))
    with pytest.raises(ServiceError):
        client.publish_to_iot_core(topic_name="a/b/c/d/e/f/g/h/i", qos=QOS.AT_LEAST_ONCE, payload=b"{}")
    with pytest.raises(InvalidArgumentsError) as no_qos:
        client.publish_to_iot_core(topic_name="t", payload=b"{}")

    assert "exceeds the configured limit of 131072 bytes" in too_big.value.message
    assert no_qos.value.message == "QoS is required"
    client.publish_to_iot_core(topic_name="fits", qos=QOS.AT_LEAST_ONCE, payload=b"x" * (128 * 1024 - 1))
    assert [m.topic for m in nucleus.iot_core_messages()] == ["fits"]
