"""Configuration validation before a deployment applies it, as the nucleus does it: components that
`SubscribeToValidateConfigurationUpdates` get the configuration a deployment would give them
(`ValidateConfigurationUpdateEvents`), and answer with `SendConfigurationValidityReport` (ACCEPTED or
REJECTED, with a message). A REJECTED report, or none before the deployment's timeout, fails the
deployment and the running configuration stays.

The loop-thread side (streams, events, reports) lives here; LocalNucleus.deploy_configuration waits for
the reports on the host thread.
"""

import json
import threading
from typing import Dict, List, Optional, Tuple

from . import rpc

NS = "aws.greengrass#"
EVENT = rpc.model_headers(NS + "ValidateConfigurationUpdateEvents")
ACCEPTED, REJECTED = "ACCEPTED", "REJECTED"


class Validations:
    """Which streams validate which component, and the reports received per deployment."""

    def __init__(self) -> None:
        self.reports = threading.Condition()  # guards `_reports` for the host thread
        self._reports: Dict[str, Tuple[str, str, str]] = {}  # deployment id -> (component, status, msg)
        self._streams: Dict[rpc.Stream, str] = {}

    # -- loop thread
    def subscribe(self, stream: rpc.Stream) -> None:
        self._streams[stream] = stream.component
        stream.respond(NS + "SubscribeToValidateConfigurationUpdatesResponse", b"{}", terminate=False)

    def forget(self, stream: rpc.Stream) -> None:
        self._streams.pop(stream, None)

    def propose(self, component: str, configuration: dict, deployment_id: str) -> int:
        """Send the proposed configuration to the component's validators; how many there are."""
        streams = [stream for stream, owner in self._streams.items() if owner == component and stream.open]
        event = json.dumps({"validateConfigurationUpdateEvent": {
            "configuration": configuration, "deploymentId": deployment_id}}).encode("utf-8")
        for stream in streams:
            stream.send_event(EVENT, event)
        return len(streams)

    def report(self, stream: rpc.Stream, request: dict) -> Optional[str]:
        """Record a SendConfigurationValidityReport; an error text for InvalidArgumentsError, or None."""
        report = request.get("configurationValidityReport")
        if not isinstance(report, dict):
            return "configurationValidityReport is required"
        status, deployment = report.get("status"), report.get("deploymentId")
        if status not in (ACCEPTED, REJECTED) or not isinstance(deployment, str) or not deployment:
            return "configurationValidityReport needs a status (ACCEPTED or REJECTED) and a deploymentId"
        message = report.get("message") if isinstance(report.get("message"), str) else ""
        with self.reports:
            self._reports[deployment] = (stream.component, status, message)
            self.reports.notify_all()
        return None

    # -- host thread
    def wait(self, deployment_id: str, timeout: float) -> Optional[Tuple[str, str, str]]:
        """The report for a deployment, or None when none came within `timeout` seconds."""
        with self.reports:
            self.reports.wait_for(lambda: deployment_id in self._reports, timeout)
            return self._reports.pop(deployment_id, None)

    def validators(self) -> List[str]:
        return sorted(set(self._streams.values()))
