"""IPC authorization from each component's ``accessControl`` configuration, as the nucleus does it.

Rules (AWS IoT Greengrass v2 Developer Guide, "Authorize components to perform IPC operations",
https://docs.aws.amazon.com/greengrass/v2/developerguide/interprocess-communication.html
#ipc-authorization-policies, and the "Authorization" sections of ipc-publish-subscribe.html and
ipc-iot-core-mqtt.html), checked against aws-greengrass-nucleus ``AuthorizationHandler``,
``AuthorizationPolicyParser`` and ``WildcardTrie``:

* ``accessControl`` maps an IPC service (``aws.greengrass.ipc.pubsub``, ...) to policies keyed by a
  policy ID; a policy grants its ``operations`` (or ``*``) on its ``resources`` to the component
  that declares it. Policy property names are read case-insensitively. Policy IDs must be unique
  among ALL components for a service: with a duplicate the nucleus loads none of that service's
  policies, so everything on it is refused.
* ``*`` in a resource matches any combination of characters, ``/`` included (nucleus >= 2.6.0);
  ``${*}``, ``${?}``, ``${$}`` are the literal ``*``, ``?``, ``$``; an unescaped ``?`` or any other
  ``${...}`` makes that resource invalid (ignored).
* Local pub/sub resources treat ``+`` and ``#`` literally: a grant on ``test/topic/#`` lets a
  component subscribe to ``test/topic/#`` but not to ``test/topic/filter``.
* IoT Core MQTT (``aws.greengrass.ipc.mqttproxy``) resources are MQTT filters: ``+`` / ``#`` used
  as whole levels match like in MQTT (``test/topic/#`` grants ``test/topic``, ``test/topic/x``,
  ``test/topic/#``); elsewhere they are literal characters.
* ``{iot:thingName}`` in a resource is NOT special here: the nucleus replaces recipe variables in a
  configuration (accessControl included) only when ``interpolateComponentConfiguration`` is true
  (nucleus >= 2.6.0, default false), before any policy is read. On a default core the resource is the
  literal text and grants nothing useful; the launcher interpolates only when told to, as the nucleus.
"""

import json
import logging
import re
from functools import lru_cache
from typing import Callable, Dict, FrozenSet, List, Mapping, NamedTuple, Optional, Pattern

LOG = logging.getLogger(__name__)

PUBSUB_SERVICE = "aws.greengrass.ipc.pubsub"
MQTT_PROXY_SERVICE = "aws.greengrass.ipc.mqttproxy"
COMPONENT_METRIC_SERVICE = "aws.greengrass.ipc.componentmetric"
ANY = "*"

# Operations each IPC service registers with the nucleus's AuthorizationHandler.
REGISTERED_OPERATIONS = {
    PUBSUB_SERVICE: frozenset({"aws.greengrass#PublishToTopic", "aws.greengrass#SubscribeToTopic", ANY}),
    MQTT_PROXY_SERVICE: frozenset(
        {"aws.greengrass#PublishToIoTCore", "aws.greengrass#SubscribeToIoTCore", ANY}),
    COMPONENT_METRIC_SERVICE: frozenset({"aws.greengrass#PutComponentMetric", ANY}),
}


class AuthorizationError(Exception):
    """The component has no policy allowing this operation on this resource."""


class Policy(NamedTuple):
    policy_id: str
    component: str
    operations: FrozenSet[str]
    resources: Optional[List[str]]  # None: the policy lists no resources


class _Grant(NamedTuple):
    operations: FrozenSet[str]
    patterns: List[Pattern]


def _property(policy: Mapping, name: str) -> object:
    # Jackson with ACCEPT_CASE_INSENSITIVE_PROPERTIES, as the nucleus parses policies.
    for key, value in policy.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def parse_access_control(component: str, access_control: object) -> Dict[str, List[Policy]]:
    """Policies per IPC service declared by one component; a malformed block yields none at all."""
    if access_control is None:
        return {}
    if isinstance(access_control, str):
        try:
            access_control = json.loads(access_control)
        except ValueError:
            LOG.error("accessControl of %s is not valid JSON; it grants nothing", component)
            return {}
    if not isinstance(access_control, dict):
        LOG.error("accessControl of %s must be an object; it grants nothing", component)
        return {}
    parsed: Dict[str, List[Policy]] = {}
    for service, policies in access_control.items():
        if not isinstance(policies, dict):
            LOG.error("accessControl.%s of %s must map policy IDs to policies; it grants nothing",
                      service, component)
            return {}
        service_policies = []
        for policy_id, policy in policies.items():
            if not isinstance(policy, dict):
                LOG.error("policy %s of %s is not an object; accessControl grants nothing",
                          policy_id, component)
                return {}
            operations = _property(policy, "operations")
            resources = _property(policy, "resources")
            if operations is not None and not _is_string_list(operations) or (
                    resources is not None and not _is_string_list(resources)):
                LOG.error("policy %s of %s: operations and resources must be lists of strings; "
                          "accessControl grants nothing", policy_id, component)
                return {}
            if not operations:
                LOG.error("policy %s of %s has no operations; it is ignored", policy_id, component)
                continue
            service_policies.append(Policy(str(policy_id), component, frozenset(operations),  # type: ignore
                                           list(resources) if resources else None))  # type: ignore
        parsed[str(service)] = service_policies
    return parsed


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}


@lru_cache(maxsize=4096)
def compile_resource(resource: str, mqtt_style: bool) -> Optional[Pattern]:
    """Regular expression for a policy resource, or None when the nucleus would reject it."""
    if resource == "":
        return None
    text = resource
    parts: List[str] = []
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        if text.startswith("${", i):
            literal = _ESCAPES.get(text[i:i + 4])
            if literal is None:
                LOG.error("resource %r has an invalid escape sequence (use ${*}, ${?} or ${$}); ignored",
                          resource)
                return None
            parts.append(re.escape(literal))
            i += 4
            continue
        if char == "?":
            LOG.error("resource %r contains '?', which is not a wildcard (use ${?}); ignored", resource)
            return None
        at_level_start = i == 0 or text[i - 1] == "/"
        at_level_end = i == length - 1 or text[i + 1] == "/"
        if char == "*":
            parts.append(".*")
        elif mqtt_style and char == "+" and at_level_start and at_level_end:
            parts.append("[^/]*")
        elif mqtt_style and char == "#" and at_level_start and i == length - 1:
            if i == 0:
                parts.append(".*")
            else:
                parts[-1] = ""  # the "/" before "#": "a/#" also grants "a"
                parts.append("(?:/.*)?")
        else:
            parts.append(re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


class Authorizer:
    """Evaluates requests against the current policies of all components."""

    def __init__(self) -> None:
        self._grants: Dict[str, Dict[str, List[_Grant]]] = {}

    def invalidate(self) -> None:
        """Configuration changed: policies are rebuilt on the next check."""
        self._grants.clear()

    def check(self, configurations: Callable[[], Mapping[str, Mapping]], service: str, component: str,
              operation: str, resource: Optional[str], mqtt_style: bool = False) -> None:
        """Raise AuthorizationError unless a policy of component allows operation on resource.

        configurations() gives every component's configuration; it is read again after invalidate().
        """
        if operation not in REGISTERED_OPERATIONS.get(service, frozenset()):
            raise AuthorizationError(f"Component {service} not registered for operation {operation}")
        grants = self._grants.get(service)
        if grants is None:
            grants = self._grants[service] = self._build(configurations(), service, mqtt_style)
        for grant in grants.get(component, ()):
            if operation not in grant.operations and ANY not in grant.operations:
                continue
            # The nucleus matches a missing resource against any policy for the operation.
            if resource is None or any(pattern.fullmatch(resource) for pattern in grant.patterns):
                return
        raise AuthorizationError(f"Principal {component} is not authorized to perform "
                                 f"{service}:{operation} on resource {resource}")

    def _build(self, configurations: Mapping[str, Mapping], service: str,
               mqtt_style: bool) -> Dict[str, List[_Grant]]:
        policies: List[Policy] = []
        for component, configuration in configurations.items():
            declared = parse_access_control(component, configuration.get("accessControl"))
            policies.extend(declared.get(service, ()))
        seen: Dict[str, str] = {}
        for policy in policies:
            if policy.policy_id in seen:
                LOG.error("policy ID %r is used by both %s and %s for %s; like the nucleus, none of the "
                          "%s policies are loaded (policy IDs must be unique among all components)",
                          policy.policy_id, seen[policy.policy_id], policy.component, service, service)
                return {}
            seen[policy.policy_id] = policy.component
        grants: Dict[str, List[_Grant]] = {}
        for policy in policies:
            patterns = [pattern for pattern in (compile_resource(resource, mqtt_style)
                                                for resource in policy.resources or ())
                        if pattern is not None]
            grants.setdefault(policy.component, []).append(_Grant(policy.operations, patterns))
        return grants
