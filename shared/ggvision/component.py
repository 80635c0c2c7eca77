"""The run loop of every ggvision component: what a component's main.py calls.

Reads the configuration through IPC into the component's settings dataclass, builds and starts the
service, reports RUNNING, follows configuration updates (live settings are applied in place, others
rebuild the service in-process) and stops cleanly on SIGTERM. An invalid configuration is one clear
log line and UpdateState(ERRORED).
"""

import sys
import threading
from typing import Any, Callable, Optional, Type

from .config import ConfigError, changed_settings, parse_config
from .ipc import IpcClient
from .lifecycle import StopSignal
from .log import configure_logging, get_logger

try:  # Protocol is 3.8+, but keep the import cheap and explicit
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment]

_log = get_logger("ggvision.component")

# Several configuration events arrive for one deployment (one per changed key): apply them together.
_UPDATE_SETTLE_SECONDS = 0.3


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
    try:
        ipc = ipc or IpcClient.connect()
    except Exception as error:  # no nucleus: nothing to report to but the log
        log.error("cannot connect to the Greengrass nucleus IPC: %s", error)
        return 1

    config_changed = threading.Event()
    service: Optional[Service] = None
    try:
        config = _read_config(ipc, config_type)
        ipc.on_configuration_update(lambda _key_path: config_changed.set())
        service = build(config, ipc)
        service.start()
        ipc.update_state("RUNNING")
        log.info("%s running", name)
        while not stop.is_set():
            if not config_changed.wait(0.5):
                continue
            stop.wait(_UPDATE_SETTLE_SECONDS)
            config_changed.clear()
            if stop.is_set():
                break
            new_config = _read_config(ipc, config_type)
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
    except ConfigError as error:
        log.error("%s", error)
        _report_errored(ipc, log)
        return 1
    except ServiceError as error:
        log.error("%s", error)
        _report_errored(ipc, log)
        return 1
    except Exception:
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
