"""accessControl is enforced exactly as the Greengrass nucleus does it."""

import json

import pytest
from awsiot.greengrasscoreipc.model import (
    QOS,
    JsonMessage,
    PublishMessage,
    UnauthorizedError,
)
from local_nucleus.authorization import AuthorizationError, Authorizer, compile_resource
from nucleus_helpers import Inbox, acl, pubsub

pytestmark = pytest.mark.timeout(60)

PUBSUB = "aws.greengrass.ipc.pubsub"
MQTT = "aws.greengrass.ipc.mqttproxy"
PUBLISH = "aws.greengrass#PublishToTopic"
SUBSCRIBE = "aws.greengrass#SubscribeToTopic"
IOT_PUBLISH = "aws.greengrass#PublishToIoTCore"


def allowed(resource_pattern: str, resource: str, mqtt_style: bool = False) -> bool:
    pattern = compile_resource(resource_pattern, mqtt_style)
    return pattern is not None and pattern.fullmatch(resource) is not None


@pytest.mark.parametrize("pattern, resource, expected", [
    ("test/topic", "test/topic", True),
    ("test/topic", "test/topic/x", False),
    ("*", "anything/at/all", True),
    ("factory/1/devices/Thermostat*/status", "factory/1/devices/Thermostat42/status", True),
    ("factory/1/devices/Thermostat*/status", "factory/1/devices/Sensor42/status", False),
    ("a/*", "a/b/c", True),  # "*" also crosses "/"
    ("test/topic/#", "test/topic/#", True),  # pub/sub: MQTT wildcards are literal characters
    ("test/topic/#", "test/topic/filter", False),
    ("test/+/x", "test/a/x", False),
    ("lit${*}eral", "lit*eral", True),
    ("lit${*}eral", "litXeral", False),
    ("q${?}", "q?", True),
    ("${$}{name}", "${name}", True),
    # Recipe variables are the launcher's business (and only with interpolateComponentConfiguration):
    # the authorizer takes an uninterpolated variable as the literal text, as the nucleus does.
    ("devices/{iot:thingName}/out", "devices/test-thing/out", False),
    ("devices/{iot:thingName}/out", "devices/{iot:thingName}/out", True),
])
def test_local_pubsub_resource_matching(pattern, resource, expected):
    assert allowed(pattern, resource) is expected


@pytest.mark.parametrize("pattern, resource, expected", [
    ("test/topic/#", "test/topic/filter", True),
    ("test/topic/#", "test/topic/#", True),
    ("test/topic/#", "test/topic", True),  # "#" includes the parent level, as in MQTT
    ("test/topic/#", "test/other", False),
    ("test/+/x", "test/a/x", True),
    ("test/+/x", "test/+/x", True),
    ("test/+/x", "test/a/b/x", False),
    ("+", "single", True),
    ("+", "two/levels", False),
    ("#", "any/thing", True),
    ("a+b/c", "a+b/c", True),  # not a whole level: literal
    ("a+b/c", "aXb/c", False),
    ("ggvision/{iot:thingName}/counts", "ggvision/test-thing/counts", False),
    ("ggvision/*/counts", "ggvision/test-thing/counts", True),
])
def test_iot_core_resources_are_mqtt_filters(pattern, resource, expected):
    assert allowed(pattern, resource, mqtt_style=True) is expected


@pytest.mark.parametrize("pattern", ["what?", "bad${x}", "${*", ""])
def test_invalid_resources_grant_nothing(pattern):
    assert compile_resource(pattern, False) is None


def check(configurations: dict, component: str, operation: str, resource: str, service: str = PUBSUB) -> bool:
    try:
        Authorizer().check(lambda: configurations, service, component, operation, resource,
                                mqtt_style=service == MQTT)
        return True
    except AuthorizationError:
        return False


def test_policy_grants_only_its_operations_and_its_own_component():
    configurations = {
        "a": pubsub("a:1", "t", operations=(PUBLISH,)),
        "b": {},
    }
    assert check(configurations, "a", PUBLISH, "t")
    assert not check(configurations, "a", SUBSCRIBE, "t")
    assert not check(configurations, "b", PUBLISH, "t")


def test_star_operation_grants_every_operation_of_the_service():
    configurations = {"a": pubsub("a:1", "t")}
    assert check(configurations, "a", PUBLISH, "t") and check(configurations, "a", SUBSCRIBE, "t")
    assert not check(configurations, "a", IOT_PUBLISH, "t", service=MQTT)


def test_policy_property_names_are_case_insensitive():
    policy = {"Operations": [PUBLISH], "RESOURCES": ["t"], "PolicyDescription": "mixed case"}
    configurations = {"a": {"accessControl": {PUBSUB: {"a:1": policy}}}}
    assert check(configurations, "a", PUBLISH, "t")


def test_access_control_given_as_a_json_string_is_parsed():
    text = json.dumps({PUBSUB: {"a:1": {"operations": ["*"], "resources": ["t"]}}})
    configurations = {"a": {"accessControl": text}}
    assert check(configurations, "a", PUBLISH, "t")


def test_duplicate_policy_ids_across_components_disable_the_whole_service():
    configurations = {"a": pubsub("shared:1", "t"), "b": pubsub("shared:1", "u")}
    assert not check(configurations, "a", PUBLISH, "t")
    assert not check(configurations, "b", PUBLISH, "u")


def test_malformed_access_control_grants_nothing():
    configurations = {"a": {"accessControl": {PUBSUB: {"a:1": {"operations": PUBLISH, "resources": ["t"]}}}}}
    assert not check(configurations, "a", PUBLISH, "t")


def test_unauthorized_publish_and_subscribe_fail_and_the_connection_keeps_working(connect):
    client = connect("test.Limited", pubsub("test.Limited:1", "allowed/topic"))
    message = PublishMessage(json_message=JsonMessage(message={"x": 1}))

    with pytest.raises(UnauthorizedError) as publish_error:
        client.publish_to_topic(topic="forbidden/topic", publish_message=message)
    with pytest.raises(UnauthorizedError):
        client.subscribe_to_topic(topic="forbidden/topic", on_stream_event=Inbox())

    assert publish_error.value.message == (
        "Principal test.Limited is not authorized to perform "
        "aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource forbidden/topic")
    inbox = Inbox()
    client.subscribe_to_topic(topic="allowed/topic", on_stream_event=inbox)
    client.publish_to_topic(topic="allowed/topic", publish_message=message)
    assert len(inbox.wait_for(1)) == 1


def test_component_without_access_control_is_refused(connect):
    client = connect("test.Nothing", {})
    with pytest.raises(UnauthorizedError):
        client.publish_to_topic(topic="t",
                                publish_message=PublishMessage(json_message=JsonMessage(message={})))


def test_star_in_resources_and_uninterpolated_thing_name_through_the_client(connect):
    # A default nucleus does not interpolate configurations: {iot:thingName} grants nothing useful.
    client = connect("test.Star", pubsub("test.Star:1", "cams/*/frames", "devices/{iot:thingName}/in"))
    message = PublishMessage(json_message=JsonMessage(message={}))

    client.publish_to_topic(topic="cams/front/frames", publish_message=message)
    with pytest.raises(UnauthorizedError):
        client.publish_to_topic(topic="cams/front/audio", publish_message=message)
    with pytest.raises(UnauthorizedError):
        client.publish_to_topic(topic="devices/test-thing/in", publish_message=message)


def test_mqtt_wildcard_resources_for_iot_core(connect):
    client = connect("test.Mqtt", {"accessControl": acl(MQTT, "test.Mqtt:1", ["ggvision/test-thing/#"])})

    client.publish_to_iot_core(topic_name="ggvision/test-thing/counts", qos=QOS.AT_LEAST_ONCE, payload=b"{}")
    client.subscribe_to_iot_core(topic_name="ggvision/test-thing/#", qos=QOS.AT_MOST_ONCE,
                                 on_stream_event=Inbox())
    with pytest.raises(UnauthorizedError) as error:
        client.publish_to_iot_core(topic_name="ggvision/other/counts", qos=QOS.AT_LEAST_ONCE, payload=b"{}")
    assert error.value.message == "Not Authorized"
    with pytest.raises(UnauthorizedError):
        client.subscribe_to_iot_core(topic_name="ggvision/#", qos=QOS.AT_MOST_ONCE, on_stream_event=Inbox())


def test_policies_are_reread_when_configuration_changes(nucleus, connect):
    client = connect("test.Changing", pubsub("test.Changing:1", "before"))
    message = PublishMessage(json_message=JsonMessage(message={}))
    client.publish_to_topic(topic="before", publish_message=message)

    nucleus.update_configuration("test.Changing", ["accessControl", PUBSUB, "test.Changing:1"],
                                 {"resources": ["after"]})

    client.publish_to_topic(topic="after", publish_message=message)
    with pytest.raises(UnauthorizedError):
        client.publish_to_topic(topic="before", publish_message=message)
