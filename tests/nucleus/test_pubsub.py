"""Local publish/subscribe through the local nucleus, with the real awsiotsdk client."""

import os

import pytest
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    InvalidArgumentsError,
    JsonMessage,
    PublishMessage,
    ReceiveMode,
)
from local_nucleus import eventstream as es
from nucleus_helpers import Inbox, eventually, pubsub

pytestmark = pytest.mark.timeout(60)


def json_message(body: dict) -> PublishMessage:
    return PublishMessage(json_message=JsonMessage(message=body))


def test_json_message_reaches_subscriber_with_its_topic(connect):
    subscriber = connect("test.Sub", pubsub("test.Sub:1", "*"))
    publisher = connect("test.Pub", pubsub("test.Pub:1", "*"))
    inbox = Inbox()
    subscriber.subscribe_to_topic(topic="ggvision/detections/cam1", on_stream_event=inbox)

    publisher.publish_to_topic(topic="ggvision/detections/cam1",
                               publish_message=json_message({"schema": "x/1", "n": [1, 2.5, "é"]}))

    (event,) = inbox.wait_for(1)
    assert event.json_message.message == {"schema": "x/1", "n": [1, 2.5, "é"]}
    assert event.json_message.context.topic == "ggvision/detections/cam1"
    assert event.binary_message is None


def test_four_megabyte_binary_message_round_trips_intact(connect):
    subscriber = connect("test.Sub", pubsub("test.Sub:1", "*"))
    publisher = connect("test.Pub", pubsub("test.Pub:1", "*"))
    inbox = Inbox()
    subscriber.subscribe_to_topic(topic="frames/big", on_stream_event=inbox)
    blob = os.urandom(4 * 1024 * 1024)

    publisher.publish_to_topic(topic="frames/big", publish_message=PublishMessage(
        binary_message=BinaryMessage(message=blob)))

    (event,) = inbox.wait_for(1)
    assert event.binary_message.message == blob
    assert event.binary_message.context.topic == "frames/big"


def test_single_and_multi_level_wildcards_match_like_the_nucleus(connect):
    subscriber = connect("test.Sub", pubsub("test.Sub:1", "*"))
    publisher = connect("test.Pub", pubsub("test.Pub:1", "*"))
    plus, pound = Inbox(), Inbox()
    subscriber.subscribe_to_topic(topic="cams/+/frames", on_stream_event=plus)
    subscriber.subscribe_to_topic(topic="cams/#", on_stream_event=pound)

    for topic in ("cams/a/frames", "cams/a/b/frames", "cams", "other/a/frames", "cams/b/frames"):
        publisher.publish_to_topic(topic=topic, publish_message=json_message({"t": topic}))

    assert [e.json_message.context.topic for e in plus.wait_for(2)] == ["cams/a/frames", "cams/b/frames"]
    # The nucleus trie does not let "cams/#" match the bare parent "cams" on local pub/sub.
    assert [e.json_message.context.topic for e in pound.wait_for(3)] == [
        "cams/a/frames", "cams/a/b/frames", "cams/b/frames"]


def test_wildcard_subscription_skips_own_messages_unless_receive_all(connect):
    component = connect("test.Self", pubsub("test.Self:1", "*"))
    other = connect("test.Other", pubsub("test.Other:1", "*"))
    default_mode, receive_all = Inbox(), Inbox()
    component.subscribe_to_topic(topic="t/+", on_stream_event=default_mode)
    component.subscribe_to_topic(topic="t/#", receive_mode=ReceiveMode.RECEIVE_ALL_MESSAGES,
                                 on_stream_event=receive_all)

    component.publish_to_topic(topic="t/own", publish_message=json_message({"from": "self"}))
    other.publish_to_topic(topic="t/other", publish_message=json_message({"from": "other"}))

    # Events for one subscriber arrive in order, so "other" arriving proves "self" was not sent.
    assert [e.json_message.message["from"] for e in default_mode.wait_for(1)] == ["other"]
    assert [e.json_message.message["from"] for e in receive_all.wait_for(2)] == ["self", "other"]


def test_plain_topic_subscription_gets_own_messages_unless_from_others(connect):
    component = connect("test.Self", pubsub("test.Self:1", "*"))
    other = connect("test.Other", pubsub("test.Other:1", "*"))
    default_mode, from_others = Inbox(), Inbox()
    component.subscribe_to_topic(topic="plain", on_stream_event=default_mode)
    component.subscribe_to_topic(topic="plain", receive_mode=ReceiveMode.RECEIVE_MESSAGES_FROM_OTHERS,
                                 on_stream_event=from_others)

    component.publish_to_topic(topic="plain", publish_message=json_message({"from": "self"}))
    other.publish_to_topic(topic="plain", publish_message=json_message({"from": "other"}))

    assert [e.json_message.message["from"] for e in default_mode.wait_for(2)] == ["self", "other"]
    assert [e.json_message.message["from"] for e in from_others.wait_for(1)] == ["other"]


@pytest.mark.parametrize("topic", ["a/+", "a/#", "a*b"])
def test_publish_topic_with_wildcard_characters_is_invalid(connect, topic):
    publisher = connect("test.Pub", pubsub("test.Pub:1", "*"))
    with pytest.raises(InvalidArgumentsError):
        publisher.publish_to_topic(topic=topic, publish_message=json_message({}))


def test_publishing_without_subscribers_succeeds(connect):
    publisher = connect("test.Pub", pubsub("test.Pub:1", "*"))
    publisher.publish_to_topic(topic="nobody/listens", publish_message=json_message({"x": 1}))


def test_closing_a_subscription_stream_stops_delivery_on_the_server(nucleus, connect):
    subscriber = connect("test.Sub", pubsub("test.Sub:1", "*"))
    publisher = connect("test.Pub", pubsub("test.Pub:1", "*"))
    closed, kept = Inbox(), Inbox()
    _, operation = subscriber.subscribe_to_topic(topic="s/1", on_stream_event=closed)
    subscriber.subscribe_to_topic(topic="s/1", on_stream_event=kept)
    publisher.publish_to_topic(topic="s/1", publish_message=json_message({"n": 1}))
    closed.wait_for(1)
    assert nucleus.stats()["topic_subscriptions"] == 2

    operation.close().result(10)
    subscriber.get_configuration()  # a round trip on the same connection: the close was processed
    publisher.publish_to_topic(topic="s/1", publish_message=json_message({"n": 2}))

    assert [e.json_message.message["n"] for e in kept.wait_for(2)] == [1, 2]
    assert [e.json_message.message["n"] for e in closed.events] == [1]
    assert nucleus.stats()["topic_subscriptions"] == 1


def test_closing_the_connection_removes_its_subscriptions(nucleus, connect):
    subscriber = connect("test.Sub", pubsub("test.Sub:1", "*"))
    subscriber.subscribe_to_topic(topic="x", on_stream_event=Inbox())
    subscriber.subscribe_to_topic(topic="y/#", on_stream_event=Inbox())
    assert nucleus.stats()["topic_subscriptions"] == 2

    subscriber.close().result(10)

    assert eventually(lambda: nucleus.stats()["connections"] == 0)
    assert nucleus.stats() == {"topic_subscriptions": 0, "iot_core_subscriptions": 0,
                               "configuration_subscriptions": 0, "connections": 0, "dropped_events": 0}


def test_server_sends_nothing_on_a_stream_the_client_terminated(nucleus, raw_client):
    token = nucleus.add_component("test.Raw", pubsub("test.Raw:1", "*"))
    client = raw_client()
    client.connect(token)
    subscribe = b'{"topic": "raw/t"}'
    client.send(es.MessageType.APPLICATION_MESSAGE, 0, 1, [
        ("operation", es.HeaderType.STRING, "aws.greengrass#SubscribeToTopic"),
        ("service-model-type", es.HeaderType.STRING, "aws.greengrass#SubscribeToTopicRequest"),
        (":content-type", es.HeaderType.STRING, "application/json")], subscribe)
    response, _ = client.receive()
    assert response["service-model-type"] == "aws.greengrass#SubscribeToTopicResponse"
    assert response[":message-flags"] == 0  # a streaming response keeps the stream open

    client.send(es.MessageType.APPLICATION_MESSAGE, es.FLAG_TERMINATE_STREAM, 1)
    publish = b'{"topic": "raw/t", "publishMessage": {"jsonMessage": {"message": {"k": 1}}}}'
    client.send(es.MessageType.APPLICATION_MESSAGE, 0, 2, [
        ("operation", es.HeaderType.STRING, "aws.greengrass#PublishToTopic"),
        ("service-model-type", es.HeaderType.STRING, "aws.greengrass#PublishToTopicRequest"),
        (":content-type", es.HeaderType.STRING, "application/json")], publish)

    client.send(es.MessageType.APPLICATION_MESSAGE, 0, 3, [
        ("operation", es.HeaderType.STRING, "aws.greengrass#GetConfiguration"),
        ("service-model-type", es.HeaderType.STRING, "aws.greengrass#GetConfigurationRequest"),
        (":content-type", es.HeaderType.STRING, "application/json")], b"{}")

    # Anything sent on stream 1 after the publish would arrive before the stream 3 reply.
    replies = [client.receive()[0] for _ in range(2)]
    assert [(r[":stream-id"], r["service-model-type"]) for r in replies] == [
        (2, "aws.greengrass#PublishToTopicResponse"), (3, "aws.greengrass#GetConfigurationResponse")]
    assert nucleus.stats()["topic_subscriptions"] == 0
