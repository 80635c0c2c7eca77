"""ggvision.ipc over the local nucleus with the real awsiotsdk client."""

import json
import threading
import time

import pytest
from ggvision.ipc import IOT_CORE_MAX_PAYLOAD, PayloadTooLarge
from harness import connect, local_nucleus, pubsub_policy


@pytest.fixture
def nucleus():
    with local_nucleus() as running:
        yield running


def test_json_and_binary_messages_arrive_with_their_topic(nucleus):
    sender = connect(nucleus, "test.Sender", pubsub_policy(publish=["t/a", "t/b"]))
    receiver = connect(nucleus, "test.Receiver", pubsub_policy(subscribe=["t/+"]))
    subscription = receiver.subscribe("t/+")
    sender.publish_json("t/a", {"n": 1})
    sender.publish_binary("t/b", b"\x00\x01binary")
    first, second = subscription.get(5), subscription.get(5)
    assert (first.topic, first.payload, first.binary) == ("t/a", {"n": 1}, None)
    assert (second.topic, second.payload, second.binary) == ("t/b", None, b"\x00\x01binary")
    sender.close()
    receiver.close()


def test_slow_consumer_drops_oldest_and_counts_without_blocking_ipc(nucleus):
    sender = connect(nucleus, "test.Sender", pubsub_policy(publish=["t/x"]))
    receiver = connect(nucleus, "test.Receiver", pubsub_policy(subscribe=["t/x", "t/other"]))
    subscription = receiver.subscribe("t/x", max_pending=3)
    for n in range(20):
        sender.publish_json("t/x", {"n": n})
    # The IPC connection still works for other calls while the queue is full.
    other = receiver.subscribe("t/other")
    deadline = time.monotonic() + 5
    while subscription.dropped < 17 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert subscription.dropped == 17
    assert [subscription.get(1).payload["n"] for _ in range(3)] == [17, 18, 19]
    other.close()
    sender.close()
    receiver.close()


def test_get_latest_skips_to_the_newest_message(nucleus):
    sender = connect(nucleus, "test.Sender", pubsub_policy(publish=["t/x"]))
    receiver = connect(nucleus, "test.Receiver", pubsub_policy(subscribe=["t/x"]))
    subscription = receiver.subscribe("t/x", max_pending=50)
    for n in range(10):
        sender.publish_json("t/x", {"n": n})
    deadline = time.monotonic() + 5
    while subscription.pending < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert subscription.get_latest(1).payload == {"n": 9}
    assert subscription.dropped == 9
    sender.close()
    receiver.close()


def test_wakeup_event_is_set_by_each_delivery(nucleus):
    sender = connect(nucleus, "test.Sender", pubsub_policy(publish=["t/x"]))
    receiver = connect(nucleus, "test.Receiver", pubsub_policy(subscribe=["t/x"]))
    wakeup = threading.Event()
    subscription = receiver.subscribe("t/x", wakeup=wakeup)
    sender.publish_json("t/x", {})
    assert wakeup.wait(5)
    assert subscription.get_nowait() is not None
    sender.close()
    receiver.close()


def test_iot_core_publish_is_recorded_and_oversized_payload_refused_before_sending(nucleus):
    client = connect(nucleus, "test.Counter", pubsub_policy(iot_publish=["ggvision/test-thing/counts"]))
    client.publish_iot_core("ggvision/test-thing/counts", {"count": 3})
    (recorded,) = nucleus.wait_for_iot_core("ggvision/test-thing/counts", timeout=5)
    assert json.loads(recorded.payload) == {"count": 3}
    with pytest.raises(PayloadTooLarge):
        client.publish_iot_core("ggvision/test-thing/counts", b"x" * IOT_CORE_MAX_PAYLOAD)
    client.publish_iot_core("ggvision/test-thing/counts", b"y" * (IOT_CORE_MAX_PAYLOAD - 1))
    assert len(nucleus.wait_for_iot_core("ggvision/test-thing/counts", timeout=5, count=2)) == 2
    client.close()


def test_state_metrics_and_configuration(nucleus):
    configuration = dict(pubsub_policy(metrics=True), Threshold=0.5, Nested={"A": 1})
    client = connect(nucleus, "test.Component", configuration)
    assert client.get_configuration(["Nested"]) == {"A": 1}
    # As the nucleus does: a leaf comes back keyed by its name.
    assert client.get_configuration(["Nested", "A"]) == {"A": 1}
    assert client.get_configuration(["Nested"]) == {"A": 1}
    changed = []
    seen = threading.Event()
    client.on_configuration_update(lambda key_path: (changed.append(key_path), seen.set()))
    nucleus.update_configuration("test.Component", [], {"Threshold": 0.7})
    assert seen.wait(5)
    assert client.get_configuration(["Threshold"]) == {"Threshold": 0.7}
    client.update_state("RUNNING")
    assert nucleus.wait_for_state("test.Component", "RUNNING", 5)
    client.close()


def test_component_metrics_are_sent_where_the_nucleus_takes_them_and_refusal_is_not_an_error(nucleus):
    # The nucleus takes PutComponentMetric only from aws.* components, with a componentmetric policy.
    aws_named = connect(nucleus, "aws.test.Metrics", pubsub_policy(metrics=True))
    assert aws_named.put_metrics({"Fps": 9.5, "Drops": 2})
    assert [m["name"] for m in nucleus.metrics("aws.test.Metrics")] == ["Fps", "Drops"]
    ours = connect(nucleus, "ggvision.Test", pubsub_policy(metrics=True))
    assert ours.put_metrics({"Fps": 1}) is False
    assert ours.put_metrics({"Fps": 1}) is False  # not retried: no call, no error
    assert nucleus.metrics("ggvision.Test") == []
    aws_named.close()
    ours.close()


def test_ipc_errors_are_described_with_their_reason():
    # The IPC client's errors keep their reason in .message; str() of them is empty.
    from awsiot.greengrasscoreipc.model import UnauthorizedError
    from ggvision.ipc import describe_error

    error = UnauthorizedError(message="Principal x is not authorized")
    assert describe_error(error) == "UnauthorizedError: Principal x is not authorized"
    assert describe_error(ValueError("bad\nvalue")) == "ValueError: bad value"
    assert describe_error(TimeoutError()) == "TimeoutError"
