"""Exponential backoff for reconnecting to a source: 1 s, 2 s, 4 s … capped, reset once frames flow."""

import random
from typing import Callable, Optional


class Backoff:
    """Delays that double from `initial` up to `maximum` seconds.

    `jitter` (0–1) shortens each delay by up to that fraction at random, so that many cameras behind
    one recorder that went down do not all knock again in the same instant. The cap is never exceeded.
    """

    def __init__(self, initial: float, maximum: float, factor: float = 2.0, jitter: float = 0.0,
                 rng: Optional[Callable[[], float]] = None) -> None:
        if initial <= 0 or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("backoff needs initial > 0, factor >= 1 and 0 <= jitter < 1")
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.random
        self._next = initial
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call grows the following one."""
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        self.attempts += 1
        if self.jitter:
            delay *= 1.0 - self.jitter * self._rng()
        return delay

    def reset(self) -> None:
        """The source works again: the next failure starts from `initial`."""
        self._next = self.initial
        self.attempts = 0
