"""Injectable time: wall clock, monotonic clock, sleeping and condition waits.

Production code uses :class:`SystemClock`; tests hand in a fake so that rate
limits, back-offs and cool-downs run in virtual time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


# Longest real-time slice of one condition wait.
WAIT_SLICE = 0.1


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock seconds since the epoch (persisted timestamps use this)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (durations, deadlines)."""

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        """Sleep; return False if ``cancel_event`` was set (early or before)."""

    def wait(self, condition: threading.Condition, timeout: float | None) -> None:
        """Wait on ``condition`` (its lock held by the caller) for at most ``timeout``
        seconds of this clock's time (None: until notified). May return early:
        callers re-check their state in a loop."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        if cancel_event is None:
            if seconds > 0:
                time.sleep(seconds)
            return True
        if cancel_event.is_set():
            return False
        return not cancel_event.wait(max(0.0, seconds))

    def wait(self, condition: threading.Condition, timeout: float | None) -> None:
        # Short slices, so a caller's cancel event is noticed within WAIT_SLICE.
        condition.wait(WAIT_SLICE if timeout is None else min(max(0.0, timeout), WAIT_SLICE))


SYSTEM_CLOCK = SystemClock()
