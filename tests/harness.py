"""Test harness: a local nucleus per test and real IPC clients bound to registered components."""

import contextlib
import os
import shutil
import tempfile
from typing import Any, Dict, Iterator, List, Optional

from ggvision.ipc import IpcClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


def pubsub_policy(publish: List[str] = (), subscribe: List[str] = (),
                  iot_publish: List[str] = (), iot_subscribe: List[str] = (),
                  metrics: bool = False) -> Dict[str, Any]:
    """An accessControl block like a recipe's, for a test component."""
    pubsub: Dict[str, Any] = {}
    if publish:
        pubsub["test:pubsub:publish"] = {"operations": ["aws.greengrass#PublishToTopic"],
                                         "resources": list(publish)}
    if subscribe:
        pubsub["test:pubsub:subscribe"] = {"operations": ["aws.greengrass#SubscribeToTopic"],
                                           "resources": list(subscribe)}
    mqtt: Dict[str, Any] = {}
    if iot_publish:
        mqtt["test:mqtt:publish"] = {"operations": ["aws.greengrass#PublishToIoTCore"],
                                     "resources": list(iot_publish)}
    if iot_subscribe:
        mqtt["test:mqtt:subscribe"] = {"operations": ["aws.greengrass#SubscribeToIoTCore"],
                                       "resources": list(iot_subscribe)}
    control: Dict[str, Any] = {}
    if pubsub:
        control["aws.greengrass.ipc.pubsub"] = pubsub
    if mqtt:
        control["aws.greengrass.ipc.mqttproxy"] = mqtt
    if metrics:
        control["aws.greengrass.ipc.componentmetric"] = {
            "test:metrics": {"operations": ["aws.greengrass#PutComponentMetric"], "resources": ["*"]}}
    return {"accessControl": control}


@contextlib.contextmanager
def local_nucleus(thing_name: str = "test-thing") -> Iterator[Any]:
    """A started LocalNucleus on a short socket path (AF_UNIX paths are limited to 107 bytes)."""
    from local_nucleus.server import LocalNucleus

    folder = tempfile.mkdtemp(prefix="ggn")
    nucleus = LocalNucleus(os.path.join(folder, "ipc.sock"), os.path.join(folder, "iot-core.jsonl"),
                           thing_name=thing_name)
    nucleus.start()
    try:
        yield nucleus
    finally:
        nucleus.stop()
        shutil.rmtree(folder, ignore_errors=True)


def connect(nucleus: Any, name: str, configuration: Optional[Dict[str, Any]] = None) -> IpcClient:
    """Register `name` with `configuration` and connect a real IPC client as that component."""
    token = nucleus.add_component(name, _own_policy_ids(name, configuration or {}))
    client = IpcClient.connect(nucleus.socket_path, token)
    client.thing_name = nucleus.thing_name
    return client


def _own_policy_ids(name: str, configuration: Dict[str, Any]) -> Dict[str, Any]:
    # Policy ids must be unique across components: the nucleus refuses a whole service's policies
    # when two components share one. Recipes prefix them with the component name; so do we.
    control = configuration.get("accessControl")
    if not control:
        return configuration
    renamed = {service: {policy_id.replace("test:", name + ":", 1): policy
                         for policy_id, policy in policies.items()}
               for service, policies in control.items()}
    return dict(configuration, accessControl=renamed)
