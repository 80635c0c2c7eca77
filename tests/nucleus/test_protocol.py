"""Event-stream RPC behaviour: connect, ping, malformed frames, unsupported operations, slow readers."""

import json
import os
import struct
import zlib

import awsiot.greengrasscoreipc
import pytest
from awsiot import eventstreamrpc
from awsiot.greengrasscoreipc import model
from awsiot.greengrasscoreipc.model import BinaryMessage, JsonMessage, PublishMessage, ServiceError
from local_nucleus import eventstream as es
from nucleus_helpers import Inbox, eventually, prelude, pubsub

pytestmark = pytest.mark.timeout(60)

JSON_HEADERS = [(":content-type", es.HeaderType.STRING, "application/json")]


def request_headers(operation: str) -> list:
    return [("operation", es.HeaderType.STRING, f"aws.greengrass#{operation}"),
            ("service-model-type", es.HeaderType.STRING, f"aws.greengrass#{operation}Request"), *JSON_HEADERS]


def test_component_token_connects_and_unknown_token_is_refused(nucleus, raw_client):
    token = nucleus.add_component("test.Known")
    accepted = raw_client().connect(token)
    assert (accepted[":message-type"], accepted[":message-flags"]) == (es.MessageType.CONNECT_ACK,
                                                                      es.FLAG_CONNECTION_ACCEPTED)

    refused_client = raw_client()
    refused = refused_client.connect("not-a-token")
    assert (refused[":message-type"], refused[":message-flags"]) == (es.MessageType.CONNECT_ACK, 0)
    assert refused_client.closed_by_server()


def test_real_client_with_a_wrong_token_is_refused(nucleus):
    with pytest.raises(eventstreamrpc.AccessDeniedError):
        awsiot.greengrasscoreipc.connect(ipc_socket=nucleus.socket_path, authtoken="wrong-token")


def test_nothing_is_accepted_before_connect(nucleus, raw_client):
    client = raw_client()
    client.send(es.MessageType.APPLICATION_MESSAGE, 0, 1, request_headers("GetConfiguration"), b"{}")

    headers, payload = client.receive()
    assert headers[":message-type"] == es.MessageType.PROTOCOL_ERROR
    assert b"A CONNECT message must be received" in payload
    assert client.closed_by_server()


def test_ping_is_answered_with_its_headers_and_payload(nucleus, raw_client):
    client = raw_client()
    client.connect(nucleus.add_component("test.Pinger"))

    client.send(es.MessageType.PING, 0, 0, [("x-echo", es.HeaderType.STRING, "hi")], b"ping-payload")

    headers, payload = client.receive()
    assert (headers[":message-type"], headers["x-echo"], payload) == (es.MessageType.PING_RESPONSE, "hi",
                                                                     b"ping-payload")


def test_stream_ids_must_increase_by_one(nucleus, raw_client):
    client = raw_client()
    client.connect(nucleus.add_component("test.Streams"))
    client.send(es.MessageType.APPLICATION_MESSAGE, 0, 2, request_headers("GetConfiguration"), b"{}")

    headers, payload = client.receive()
    assert headers[":message-type"] == es.MessageType.PROTOCOL_ERROR
    assert b"incremented by more than 1" in payload
    assert client.closed_by_server()


def valid_frame() -> bytes:
    rpc_headers = [(":message-type", es.HeaderType.INT32, 0), (":message-flags", es.HeaderType.INT32, 0),
                   (":stream-id", es.HeaderType.INT32, 1)]
    headers = es.encode_headers(rpc_headers + request_headers("GetConfiguration"))
    return b"".join(es.frame(headers, b"{}"))


def bad_prelude_crc() -> bytes:
    frame = bytearray(valid_frame())
    frame[8] ^= 0xFF
    return bytes(frame)


def bad_message_crc() -> bytes:
    frame = bytearray(valid_frame())
    frame[-1] ^= 0xFF
    return bytes(frame)


def absurd_length() -> bytes:
    return prelude(17 * 1024 * 1024, 0) + b"\x00" * 64


def too_short() -> bytes:
    return prelude(8, 0)


def bad_header_type() -> bytes:
    headers = b"\x01x\x2a"  # name "x", value type 42
    body = prelude(12 + len(headers) + 4, len(headers)) + headers
    return body + struct.pack(">I", zlib.crc32(body))


def garbage() -> bytes:
    return os.urandom(4096)


@pytest.mark.parametrize("malformed", [bad_prelude_crc, bad_message_crc, absurd_length, too_short,
                                       bad_header_type, garbage])
def test_malformed_frame_closes_only_that_connection(nucleus, connect, raw_client, malformed):
    good = connect("test.Good", pubsub("test.Good:1", "*"))
    inbox = Inbox()
    good.subscribe_to_topic(topic="still/working", on_stream_event=inbox)
    bad = raw_client()
    bad.connect(nucleus.add_component("test.Bad"))

    bad.sock.sendall(malformed())

    assert bad.closed_by_server()
    good.publish_to_topic(topic="still/working", publish_message=PublishMessage(
        json_message=JsonMessage(message={"ok": True})))
    assert [e.json_message.message for e in inbox.wait_for(1)] == [{"ok": True}]
    assert eventually(lambda: nucleus.stats()["connections"] == 1)


def test_operation_without_provider_answers_the_nucleus_service_error(connect):
    client = connect("test.Secrets")
    with pytest.raises(ServiceError) as error:
        client.get_secret_value(secret_id="db-password")
    assert error.value.message == "Operation aws.greengrass#GetSecretValue is not supported by Greengrass"
    client.get_configuration()  # the connection is still usable


class _NoSuchOperation(eventstreamrpc.ClientOperation):
    @classmethod
    def _model_name(cls):
        return "aws.greengrass#NoSuchOperation"

    @classmethod
    def _request_type(cls):
        return model.GetConfigurationRequest

    @classmethod
    def _response_type(cls):
        return model.GetConfigurationResponse


def test_operation_outside_the_model_gets_the_unmodeled_unsupported_error(nucleus, connect, raw_client):
    client = connect("test.Unknown")
    operation = client.client._new_operation(_NoSuchOperation)
    operation._activate(model.GetConfigurationRequest())
    # Not a modeled error (no service-model-type): the Python client only sees the stream close.
    with pytest.raises(eventstreamrpc.StreamClosedError):
        operation._get_response().result(10)
    client.get_configuration()

    raw = raw_client()
    raw.connect(nucleus.component_env("test.Unknown")["SVCUID"])
    raw.send(es.MessageType.APPLICATION_MESSAGE, 0, 1, [
        ("operation", es.HeaderType.STRING, "aws.greengrass#NoSuchOperation")] + JSON_HEADERS, b"{}")
    headers, payload = raw.receive()
    assert (headers[":message-type"], headers[":message-flags"]) == (es.MessageType.APPLICATION_ERROR,
                                                                    es.FLAG_TERMINATE_STREAM)
    assert "service-model-type" not in headers
    assert payload == (b'{ "error": "Unsupported Operation", "message": "aws.greengrass#NoSuchOperation is '
                       b'an unsupported operation." }')


def test_request_that_does_not_deserialize_gets_internal_server_error(nucleus, raw_client):
    raw = raw_client()
    raw.connect(nucleus.add_component("test.Sloppy"))
    raw.send(es.MessageType.APPLICATION_MESSAGE, 0, 1, request_headers("PublishToTopic"), b"not json")

    headers, payload = raw.receive()
    assert (headers[":message-type"], headers[":content-type"], payload) == (
        es.MessageType.APPLICATION_ERROR, "text/plain", b"InternalServerError")
    raw.send(es.MessageType.APPLICATION_MESSAGE, 0, 2, request_headers("GetConfiguration"), b"{}")
    headers, payload = raw.receive()
    assert json.loads(payload) == {"componentName": "test.Sloppy", "value": {}}


def test_subscriber_that_does_not_read_blocks_neither_publishers_nor_memory(nucleus, connect, raw_client):
    default_cap = nucleus.max_pending_output
    nucleus.max_pending_output = 1024 * 1024  # read when a connection opens: only this one gets it
    stalled = raw_client()
    stalled.connect(nucleus.add_component("test.Stalled", pubsub("test.Stalled:1", "*")))
    nucleus.max_pending_output = default_cap
    stalled.send(es.MessageType.APPLICATION_MESSAGE, 0, 1, request_headers("SubscribeToTopic"),
                 b'{"topic": "flood"}')
    assert stalled.receive()[0]["service-model-type"] == "aws.greengrass#SubscribeToTopicResponse"
    reader = connect("test.Reader", pubsub("test.Reader:1", "*"))
    inbox = Inbox()
    reader.subscribe_to_topic(topic="flood", on_stream_event=inbox)
    publisher = connect("test.Flooder", pubsub("test.Flooder:1", "*"))
    blob = os.urandom(512 * 1024)

    for _ in range(40):  # 20 MiB for a subscriber that reads nothing
        publisher.publish_to_topic(topic="flood", publish_message=PublishMessage(
            binary_message=BinaryMessage(message=blob)))

    assert len(inbox.wait_for(40)) == 40
    assert all(event.binary_message.message == blob for event in inbox.events)
    assert nucleus.stats()["dropped_events"] >= 20
