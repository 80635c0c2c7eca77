"""The run loop of every ggvision component: what a component's main.py calls.

Reads the configuration through IPC into the component's settings dataclass, builds and starts the
service, reports RUNNING, follows configuration updates (live settings are applied in place, others
rebuild the service in-process) and stops cleanly on SIGTERM. An invalid configuration is one clear
log line and UpdateState(ERRORED).

A lost IPC connection (the nucleus stopped or was killed) stops the component: one log line with the
reason, the service stopped, exit status EXIT_IPC_LOST. There is no reconnect: a nucleus that comes
back starts its components afresh, and one that restarts (not stops) its components restarts a
component that exited non-zero; a component that stayed would run beside the new one.
"""

import logging
import os
import sys
import threading
from typing import Any, Callable, Optional, Type

from .config import ConfigError, changed_settings, parse_config
from .ipc import IpcClient, is_connection_error
from .lifecycle import StopSignal
from .log import configure_logging, get_logger

try:  # Protocol is 3.8+, but keep the import cheap and explicit
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment]

_log = get_logger("ggvision.component")

# Several configuration events arrive for one deployment (one per changed key): apply them together.
_UPDATE_SETTLE_SECONDS = 0.3
# Exit status after the IPC connection was lost; and how long the service then gets to stop before
# the process exits regardless (a thread stuck on the lost connection must not keep it alive).
EXIT_IPC_LOST = 3
_LOST_STOP_SECONDS = 10.0


class Service(Protocol):
    """What a component builds from its configuration."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def apply(self, config: Any) -> None:
        """Take a configuration whose changes are all `live` settings, without a rebuild."""


class ServiceError(RuntimeError):
    """A fault the service cannot ride out (e.g. a model that does not load): reported as ERRORED."""


def run_component(name: str, config_type: Type[Any], build: Callable[[Any, IpcClient], Service],
                  ipc: Optional[IpcClient] = None, stop: Optional[StopSignal] = None) -> int:
    """Run a component until SIGTERM; returns the process exit code."""
    configure_logging()
    log = get_logger(name)
    # Which environment the component runs in (on a device: ggvision.DLRRuntime's virtual environment).
    log.info("%s starting: Python %s at %s", name, sys.version.split()[0], sys.executable)
    stop = stop or StopSignal()
    # Only a process that runs one component (its main.py: no client or stop signal passed in) is
    # made to exit should its service not stop after a lost connection.
    owns_process = ipc is None and threading.current_thread() is threading.main_thread()
    try:
        ipc = ipc or IpcClient.connect()
    except Exception as error:  # no nucleus: nothing to report to but the log
        log.error("cannot connect to the Greengrass nucleus IPC: %s", error)
        return 1

    config_changed = threading.Event()
    wake = threading.Event()  # a configuration change or the lost connection
    lost = ipc.connection_lost

    def on_config_change(_key_path: Any) -> None:
        config_changed.set()
        wake.set()

    service: Optional[Service] = None
    ipc.on_connection_lost(wake.set)
    try:
        config = _read_config(ipc, config_type)
        ipc.on_configuration_update(on_config_change)
        # Deployments are checked before they apply: an invalid one fails, the running one stays.
        ipc.on_validate_configuration(lambda proposed: _problem(config_type, proposed, log))
        service = build(config, ipc)
        service.start()
        ipc.update_state("RUNNING")
        log.info("%s running", name)
        while not stop.is_set():
            if not wake.wait(0.5):
                continue
            if lost.is_set():
                return _connection_lost(name, ipc, log, owns_process)
            stop.wait(_UPDATE_SETTLE_SECONDS)
            wake.clear()
            if lost.is_set():
                return _connection_lost(name, ipc, log, owns_process)
            if stop.is_set() or not config_changed.is_set():
                continue
            config_changed.clear()
            try:
                new_config = _read_config(ipc, config_type)
            except ConfigError as error:
                # An update that was not validated first (a local change, a validation that timed
                # out): keep running on the last valid configuration, and say so.
                log.error("%s; keeping the last valid configuration", error)
                continue
            changes = changed_settings(config, new_config)
            if not changes:
                continue
            if all(changes.values()):
                log.info("applying configuration change of %s", ", ".join(sorted(changes)))
                service.apply(new_config)
            else:
                restart_keys = sorted(k for k, live in changes.items() if not live)
                log.info("restarting the service in-process to apply %s", ", ".join(restart_keys))
                service.stop()
                service = None
                service = build(new_config, ipc)
                service.start()
            config = new_config
        return 0
    except Exception as error:
        if lost.is_set() or is_connection_error(error):
            ipc.note_error(error)
            return _connection_lost(name, ipc, log, owns_process)
        if isinstance(error, (ConfigError, ServiceError)):
            log.error("%s", error)
        else:
            log.exception("%s failed", name)
        _report_errored(ipc, log)
        return 1
    finally:
        if service is not None:
            try:
                service.stop()
            except Exception:
                log.exception("error while stopping")
        ipc.close()
        log.info("%s stopped", name)


def _problem(config_type: Type[Any], proposed: Any, log: Any) -> Optional[str]:
    """None when a proposed configuration is valid, else the one line that says why not."""
    try:
        parse_config(config_type, proposed)
    except ConfigError as error:
        log.error("rejected a deployment's configuration: %s", error)
        return str(error)
    return None


def _connection_lost(name: str, ipc: IpcClient, log: Any, owns_process: bool) -> int:
    """One line; the caller's `finally` stops the service. When the run loop owns the process, a process
    still there _LOST_STOP_SECONDS later (a thread stuck on the lost connection) exits regardless."""
    log.error("%s lost its IPC connection to the Greengrass nucleus (%s): stopping, exit status %d",
              name, ipc.lost_reason or "connection closed", EXIT_IPC_LOST)
    if owns_process:
        timer = threading.Timer(_LOST_STOP_SECONDS, _force_exit, args=(name, log))
        timer.daemon = True
        timer.start()
    return EXIT_IPC_LOST


def _force_exit(name: str, log: Any) -> None:
    log.error("%s did not stop within %.0f s of losing its IPC connection: exiting now",
              name, _LOST_STOP_SECONDS)
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - exiting regardless
            pass
    os._exit(EXIT_IPC_LOST)


def _read_config(ipc: IpcClient, config_type: Type[Any]) -> Any:
    return parse_config(config_type, ipc.get_configuration())


def _report_errored(ipc: IpcClient, log: Any) -> None:
    try:
        ipc.update_state("ERRORED")
    except Exception as error:
        log.warning("could not report ERRORED: %s", error)


def main_exit(code: int) -> None:
    """Exit the process with `code` (a separate function so main.py stays one line)."""
    sys.exit(code)
