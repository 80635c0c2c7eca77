"""GetConfiguration, UpdateConfiguration and SubscribeToConfigurationUpdate as the nucleus serves them."""

import time
from datetime import datetime, timedelta, timezone

import pytest
from awsiot.greengrasscoreipc.model import (
    FailedUpdateConditionCheckError,
    InvalidArgumentsError,
    ResourceNotFoundError,
)
from local_nucleus.configuration import ConfigStore
from nucleus_helpers import Inbox, eventually

pytestmark = pytest.mark.timeout(60)

DETECTOR = {"Threshold": 0.5, "Topics": {"Detections": "ggvision/detections/{CameraId}"},
            "Labels": ["a", "b"]}


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_get_whole_configuration_key_path_leaf_and_another_component(connect):
    client = connect("test.Detector", DETECTOR)
    connect("test.Camera", {"Fps": 5})

    assert client.get_configuration().value == DETECTOR
    assert client.get_configuration(key_path=["Topics"]).value == DETECTOR["Topics"]
    # A leaf comes back wrapped in its own name, as the nucleus does.
    assert client.get_configuration(key_path=["Threshold"]).value == {"Threshold": 0.5}
    assert client.get_configuration(key_path=["Labels"]).value == {"Labels": ["a", "b"]}
    other = client.get_configuration(component_name="test.Camera", key_path=["Fps"])
    assert (other.component_name, other.value) == ("test.Camera", {"Fps": 5})


@pytest.mark.parametrize("component, key_path", [(None, ["Missing"]), (None, ["Topics", "Nope"]),
                                                 ("test.Unknown", [])])
def test_missing_key_or_component_is_resource_not_found(connect, component, key_path):
    client = connect("test.Detector", DETECTOR)
    with pytest.raises(ResourceNotFoundError) as error:
        client.get_configuration(component_name=component, key_path=key_path)
    assert error.value.message == "Key not found"


def test_update_configuration_merges_into_own_configuration(nucleus, connect):
    client = connect("test.Detector", DETECTOR)

    client.update_configuration(key_path=["Topics"], value_to_merge={"Counts": "c/{iot:thingName}"},
                                timestamp=now())
    client.update_configuration(key_path=["New", "Deep"], value_to_merge={"x": 1}, timestamp=now())

    assert nucleus.get_configuration("test.Detector") == dict(
        DETECTOR, Topics={"Detections": "ggvision/detections/{CameraId}", "Counts": "c/{iot:thingName}"},
        New={"Deep": {"x": 1}})


def test_update_with_an_older_timestamp_fails_the_condition_check(connect):
    client = connect("test.Detector", DETECTOR)
    client.update_configuration(key_path=[], value_to_merge={"Threshold": 0.7}, timestamp=now())

    with pytest.raises(FailedUpdateConditionCheckError):
        client.update_configuration(key_path=[], value_to_merge={"Threshold": 0.1},
                                    timestamp=now() - timedelta(hours=1))
    assert client.get_configuration(key_path=["Threshold"]).value == {"Threshold": 0.7}


def test_access_control_cannot_be_updated_over_ipc(connect):
    client = connect("test.Detector", DETECTOR)
    with pytest.raises(InvalidArgumentsError):
        client.update_configuration(key_path=[], value_to_merge={"accessControl": {}}, timestamp=now())
    with pytest.raises(InvalidArgumentsError):
        client.update_configuration(key_path=["accessControl"], value_to_merge={"x": {}}, timestamp=now())


def test_configuration_update_events_under_the_key_path(nucleus, connect):
    detector = connect("test.Detector", DETECTOR)
    watcher = connect("test.Watcher", {})
    topics_events, all_events, others_events = Inbox(), Inbox(), Inbox()
    detector.subscribe_to_configuration_update(key_path=["Topics"], on_stream_event=topics_events)
    detector.subscribe_to_configuration_update(on_stream_event=all_events)
    watcher.subscribe_to_configuration_update(component_name="test.Detector", key_path=["Threshold"],
                                              on_stream_event=others_events)

    detector.update_configuration(key_path=[], value_to_merge={"Threshold": 0.9}, timestamp=now())
    nucleus.update_configuration("test.Detector", ["Topics"], {"Detections": "d/{CameraId}"})
    nucleus.update_configuration("test.Detector", [], {"Threshold": 0.9})  # unchanged: no event

    def paths(inbox: Inbox, count: int) -> list:
        return [(e.configuration_update_event.component_name, e.configuration_update_event.key_path)
                for e in inbox.wait_for(count)]

    assert paths(all_events, 2) == [("test.Detector", ["Threshold"]),
                                    ("test.Detector", ["Topics", "Detections"])]
    assert paths(topics_events, 1) == [("test.Detector", ["Topics", "Detections"])]
    assert paths(others_events, 1) == [("test.Detector", ["Threshold"])]
    detector.get_configuration()  # any late, wrong event would have arrived before this reply
    assert len(all_events.events) == 2 and len(topics_events.events) == 1


def test_subscribing_to_a_missing_key_is_resource_not_found(connect):
    client = connect("test.Detector", DETECTOR)
    with pytest.raises(ResourceNotFoundError):
        client.subscribe_to_configuration_update(key_path=["Missing"], on_stream_event=Inbox())


def test_re_adding_a_component_replaces_its_configuration_and_notifies(nucleus, connect):
    client = connect("test.Detector", DETECTOR)
    inbox = Inbox()
    client.subscribe_to_configuration_update(on_stream_event=inbox)

    token = nucleus.add_component("test.Detector", dict(DETECTOR, Threshold=0.25))

    assert token == nucleus.component_env("test.Detector")["SVCUID"]
    assert [e.configuration_update_event.key_path for e in inbox.wait_for(1)] == [["Threshold"]]
    assert eventually(lambda: client.get_configuration(key_path=["Threshold"]).value == {"Threshold": 0.25})


def test_config_store_keeps_newer_leaves_on_merge():
    store = ConfigStore()
    store.replace("c", {"a": 1, "b": {"c": 2}}, now_ms=1000)
    changed, accepted = store.merge("c", [], {"a": 5, "b": {"c": 2, "d": 3}}, timestamp_ms=2000)
    assert (sorted(changed), accepted) == ([("a",), ("b", "d")], True)

    changed, accepted = store.merge("c", [], {"a": 9}, timestamp_ms=1500)
    assert (changed, accepted) == ([], False)
    assert store.snapshot("c") == {"a": 5, "b": {"c": 2, "d": 3}}

    changed, _ = store.merge("c", ["b"], {"c": {"nested": True}}, timestamp_ms=int(time.time() * 1000))
    assert changed == [("b", "c"), ("b", "c", "nested")]
    assert store.find("c", ["b", "c", "nested"]) == (True, {"nested": True})
