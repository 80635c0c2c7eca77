"""Clean stops: SIGTERM (what the nucleus sends) and SIGINT set one event that loops wait on."""

import signal
import threading
from typing import Optional


class StopSignal:
    """Set by SIGTERM/SIGINT (or `set()`); `wait(timeout)` returns True once stopping."""

    def __init__(self, install_handlers: bool = True) -> None:
        self._event = threading.Event()
        if install_handlers and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._event.set()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._event.wait(timeout)
