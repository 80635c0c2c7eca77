"""LocalNucleus: the Greengrass IPC server on a Unix socket, driven by the host (launcher, tests).

One asyncio loop on one daemon thread owns all IPC state; host-side calls that touch it are run on
that loop and waited for, so components and the host never race. Lifecycle states, metrics and IoT
Core messages are also readable under their own locks for the wait_* helpers.
"""

import asyncio
import concurrent.futures
import copy
import logging
import os
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Set

from .iot_core import IotCoreMessage, IotCoreRecorder
from .rpc import HANDSHAKE_TIMEOUT, MAX_UNAUTHENTICATED, HandshakeGate, RpcConnection
from .services import GreengrassServices

LOG = logging.getLogger(__name__)

SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"
# Unsent output allowed per connection before its events are dropped and its requests paused.
MAX_PENDING_OUTPUT = 64 * 1024 * 1024
# Errors the event loop reports (e.g. accept() failing when out of file descriptors, which asyncio
# reports with a traceback on every attempt) are logged at most once per this many seconds each.
_LOOP_ERROR_LOG_INTERVAL = 5.0


# The deployment's configurationValidationPolicy.timeoutInSeconds default.
VALIDATION_TIMEOUT = 30.0


class DeploymentFailed(RuntimeError):
    """A deployment the nucleus would fail: a component rejected its configuration, or did not answer."""


class LocalNucleus:
    """A stand-in Greengrass nucleus for development and tests (never deployed)."""

    def __init__(self, socket_path: str, iot_log_path: Optional[str] = None,
                 thing_name: str = "ggvision-local") -> None:
        self.socket_path = socket_path
        self.thing_name = thing_name
        self.max_pending_output = MAX_PENDING_OUTPUT
        # Connections that have not completed CONNECT: seconds each may take, how many may wait at
        # once (read when the nucleus starts).
        self.handshake_timeout = HANDSHAKE_TIMEOUT
        self.max_unauthenticated = MAX_UNAUTHENTICATED
        self._gate: Optional[HandshakeGate] = None
        self._loop_errors: Dict[str, List[float]] = {}  # message -> [next log time, suppressed count]
        self._recorder = IotCoreRecorder(iot_log_path)
        self._services = GreengrassServices(thing_name, self._recorder)
        self._connections: Set[RpcConnection] = set()
        self._dropped = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping: Optional[asyncio.Event] = None
        self._lifecycle = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Bind the socket and serve on a background daemon thread; returns once listening."""
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError("the local nucleus is already running")
            if os.path.exists(self.socket_path):
                os.unlink(self.socket_path)  # a stale socket from an earlier run
            started: concurrent.futures.Future = concurrent.futures.Future()
            self._thread = threading.Thread(target=self._run, args=(started,), name="local-nucleus",
                                            daemon=True)
            self._thread.start()
            try:
                started.result(timeout=30)
            except BaseException:
                self._thread.join(timeout=5)
                self._thread = None
                raise

    def stop(self) -> None:
        """Close every connection and remove the socket file. Safe to call more than once."""
        with self._lifecycle:
            thread, loop = self._thread, self._loop
            if thread is not None and loop is not None and self._stopping is not None:
                loop.call_soon_threadsafe(self._stopping.set)
                thread.join(timeout=10)
            self._thread = None
            self._loop = None
            self._recorder.close()
            if os.path.exists(self.socket_path):
                try:
                    os.unlink(self.socket_path)
                except OSError:
                    pass

    def __enter__(self) -> "LocalNucleus":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, started: concurrent.futures.Future) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(started))
        except BaseException as error:  # noqa: BLE001 - reported to start() when it happens early
            if not started.done():
                started.set_exception(error)
            else:
                LOG.exception("local nucleus server loop failed")
        finally:
            loop.close()

    async def _serve(self, started: concurrent.futures.Future) -> None:
        self._stopping = asyncio.Event()
        self._gate = HandshakeGate(self.handshake_timeout, self.max_unauthenticated)
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(self._new_connection, path=self.socket_path)
        os.chmod(self.socket_path, 0o660)
        started.set_result(None)
        LOG.info("local nucleus listening on %s", self.socket_path)
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for connection in list(self._connections):
                connection.abort()
            await asyncio.sleep(0)  # let connection_lost run so subscriptions are dropped
            await server.wait_closed()

    def _new_connection(self) -> RpcConnection:
        return RpcConnection(self._services, self._connections, self.max_pending_output, self._count_drop,
                             self._gate)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: Dict[str, Any]) -> None:
        """The loop's error report, throttled per message: one line (with its traceback) per few seconds."""
        message = str(context.get("message", "event loop error"))
        now = time.monotonic()
        entry = self._loop_errors.setdefault(message, [0.0, 0])
        if now < entry[0]:
            entry[1] += 1
            return
        suppressed, entry[0], entry[1] = int(entry[1]), now + _LOOP_ERROR_LOG_INTERVAL, 0
        if suppressed:
            context = dict(context, message=f"{message} (and {suppressed} more times since last logged)")
        loop.default_exception_handler(context)

    def _count_drop(self) -> None:
        self._dropped += 1

    def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run function on the server loop (directly when not serving) and return its result."""
        loop = self._loop
        if loop is None or not loop.is_running() or self._thread is threading.current_thread():
            return function(*args)
        result: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(function(*args))
            except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread
                result.set_exception(error)

        loop.call_soon_threadsafe(run)
        return result.result(timeout=30)

    # -- components and configuration -----------------------------------------------------------
    def add_component(self, name: str, configuration: Optional[dict] = None) -> str:
        """Register a component with its merged configuration; returns its SVCUID. Adding an existing
        name replaces its configuration (and keeps its token)."""
        if not isinstance(name, str) or not name:
            raise ValueError("a component needs a non-empty name")
        if configuration is not None and not isinstance(configuration, dict):
            raise ValueError("a component configuration must be a dict")
        return self._call(self._services.add_component, name, copy.deepcopy(configuration or {}))

    def component_env(self, name: str) -> Dict[str, str]:
        """Environment a component process needs to reach this nucleus, as the nucleus sets it."""
        token = self._call(self._services.token, name)
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        return {
            SOCKET_ENV: self.socket_path,
            "SVCUID": token,
            "AWS_IOT_THING_NAME": self.thing_name,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def get_configuration(self, name: str) -> dict:
        """A deep copy of the component's configuration."""
        def snapshot() -> dict:
            if not self._services.config.has_component(name):
                raise KeyError(f"component {name!r} is not registered with the local nucleus")
            return self._services.config.snapshot(name)

        return self._call(snapshot)

    def update_configuration(self, name: str, key_path: List[str], value_to_merge: Any) -> None:
        """A MERGE of value_to_merge at key_path, applied at once (no validation); fires
        SubscribeToConfigurationUpdate events. A deployment is deploy_configuration."""
        self._call(self._services.merge_configuration, name, list(key_path), copy.deepcopy(value_to_merge))

    def deploy_configuration(self, name: str, key_path: List[str], value_to_merge: Any,
                             timeout: float = VALIDATION_TIMEOUT) -> None:
        """A deployment's MERGE as the nucleus applies it: the component's validators (if it
        subscribed to SubscribeToValidateConfigurationUpdates) see the configuration first; a REJECTED
        report, or none within `timeout` seconds, raises DeploymentFailed and nothing changes."""
        deployment_id = uuid.uuid4().hex
        validators = self._call(self._services.propose_configuration, name, list(key_path),
                                copy.deepcopy(value_to_merge), deployment_id)
        if validators:
            report = self._services.validations.wait(deployment_id, timeout)
            if report is None:
                raise DeploymentFailed(f"{name} sent no configuration validity report within {timeout:g} s")
            _, status, message = report
            if status != "ACCEPTED":
                raise DeploymentFailed(f"{name} rejected the configuration: {message}")
        self.update_configuration(name, key_path, value_to_merge)

    # -- lifecycle states and metrics -----------------------------------------------------------
    def get_state(self, name: str) -> Optional[str]:
        """The component's last UpdateState (RUNNING / ERRORED), None if it never reported one."""
        with self._services.status:
            return self._services.states.get(name)

    def wait_for_state(self, name: str, state: str, timeout: float) -> bool:
        with self._services.status:
            return self._services.status.wait_for(lambda: self._services.states.get(name) == state, timeout)

    def add_state_listener(self, callback: Callable[[str, str], None]) -> None:
        """callback(component, state) on every UpdateState; it runs on the server thread: keep it short."""
        self._call(self._services.state_listeners.append, callback)

    def metrics(self, name: str) -> List[dict]:
        """PutComponentMetric metrics of the component ({name, unit, value}), in order."""
        with self._services.status:
            return copy.deepcopy(self._services.metrics.get(name, []))

    # -- IoT Core ---------------------------------------------------------------------------------
    def iot_core_messages(self) -> List[IotCoreMessage]:
        return self._recorder.messages()

    def wait_for_iot_core(self, topic_filter: str, timeout: float, count: int = 1) -> List[IotCoreMessage]:
        """Messages published to IoT Core on topics matching the MQTT filter, once at least count
        were (all of them so far); fewer if timeout seconds pass first."""
        return self._recorder.wait_for(topic_filter, timeout, count)

    def inject_iot_core_message(self, topic: str, payload: bytes) -> None:
        """A message arriving from IoT Core: delivered to matching SubscribeToIoTCore subscriptions."""
        self._call(self._services.inject_iot_core, topic, bytes(payload))

    # -- diagnostics -------------------------------------------------------------------------------
    def stats(self) -> Dict[str, int]:
        """Open connections and subscriptions, and events dropped because a subscriber had more than
        max_pending_output bytes unread."""
        def collect() -> Dict[str, int]:
            counts = self._services.subscription_counts()
            counts.update(connections=len(self._connections), dropped_events=self._dropped)
            return counts

        return self._call(collect)

    def handshake_stats(self) -> Dict[str, Any]:
        """Connections open that have not completed CONNECT (`awaiting_connect`), and those dropped
        before completing it, by reason (`dropped`: timed out, over the limit, refused...)."""
        def collect() -> Dict[str, Any]:
            gate = self._gate
            return {"awaiting_connect": gate.pending if gate else 0,
                    "dropped": dict(gate.dropped) if gate else {}}

        return self._call(collect)
