"""UpdateState and PutComponentMetric reach the host API; component environment for processes."""

import os
import threading

import pytest
from awsiot.greengrasscoreipc.model import (
    InvalidArgumentsError,
    Metric,
    MetricUnitType,
    ReportedLifecycleState,
    UnauthorizedError,
)
from nucleus_helpers import THING, acl

pytestmark = pytest.mark.timeout(60)



def metric_policy(component: str) -> dict:
    return {"accessControl": acl("aws.greengrass.ipc.componentmetric", f"{component}:metrics:1", ["*"],
                                 ("aws.greengrass#PutComponentMetric",))}


def test_update_state_is_visible_to_the_host(nucleus, connect):
    seen = []
    changed = threading.Event()
    nucleus.add_state_listener(lambda name, state: (seen.append((name, state)), changed.set()))
    client = connect("test.Stateful")
    assert nucleus.get_state("test.Stateful") is None

    client.update_state(state=ReportedLifecycleState.RUNNING)
    assert nucleus.get_state("test.Stateful") == "RUNNING"
    client.update_state(state=ReportedLifecycleState.ERRORED)

    assert nucleus.wait_for_state("test.Stateful", "ERRORED", timeout=10)
    assert seen == [("test.Stateful", "RUNNING"), ("test.Stateful", "ERRORED")]
    assert not nucleus.wait_for_state("test.Stateful", "RUNNING", timeout=0.01)


def test_component_metrics_are_recorded_in_order(nucleus, connect):
    client = connect("aws.test.Metrics", metric_policy("aws.test.Metrics"))

    client.put_component_metric(metrics=[Metric(name="FramesIn", unit=MetricUnitType.COUNT, value=3)])
    client.put_component_metric(metrics=[
        Metric(name="Latency", unit=MetricUnitType.SECONDS, value=0.25),
        Metric(name="Bytes", unit=MetricUnitType.BYTES_PER_SECOND, value=10)])

    assert nucleus.metrics("aws.test.Metrics") == [
        {"name": "FramesIn", "unit": "COUNT", "value": 3},
        {"name": "Latency", "unit": "SECONDS", "value": 0.25},
        {"name": "Bytes", "unit": "BYTES_PER_SECOND", "value": 10},
    ]


def test_component_metrics_follow_the_nucleus_rules(nucleus, connect):
    # The nucleus accepts PutComponentMetric only from components named "aws.*" with a
    # aws.greengrass.ipc.componentmetric policy (ComponentMetricIPCEventStreamAgent).
    not_aws = connect("ggvision.Metrics", metric_policy("ggvision.Metrics"))
    no_policy = connect("aws.test.NoPolicy")
    valid = connect("aws.test.Metrics", metric_policy("aws.test.Metrics"))
    metric = Metric(name="n", unit=MetricUnitType.COUNT, value=1)

    with pytest.raises(UnauthorizedError):
        not_aws.put_component_metric(metrics=[metric])
    with pytest.raises(UnauthorizedError):
        no_policy.put_component_metric(metrics=[metric])
    with pytest.raises(InvalidArgumentsError):
        valid.put_component_metric(metrics=[Metric(name="x" * 33, unit=MetricUnitType.COUNT, value=1)])
    with pytest.raises(InvalidArgumentsError):
        valid.put_component_metric(metrics=[Metric(name="n", unit=MetricUnitType.COUNT, value=-1)])
    assert nucleus.metrics("ggvision.Metrics") == nucleus.metrics("aws.test.Metrics") == []


def test_component_env_has_what_a_component_process_needs(nucleus):
    token = nucleus.add_component("test.Process", {"a": 1})
    env = nucleus.component_env("test.Process")
    assert env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"] == nucleus.socket_path
    assert env["SVCUID"] == token and len(token) >= 32
    assert env["AWS_IOT_THING_NAME"] == THING
    assert env["AWS_REGION"]
    with pytest.raises(KeyError):
        nucleus.component_env("test.Unregistered")


def test_stop_is_idempotent_and_removes_the_socket(nucleus):
    nucleus.stop()
    nucleus.stop()
    assert not os.path.exists(nucleus.socket_path)
