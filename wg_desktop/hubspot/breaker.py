"""Circuit breaker of one portal.

CLOSED: requests flow; consecutive failures (server errors, timeouts, network
failures — not 4xx answers, which prove HubSpot is up) are counted, and reaching
``failure_threshold`` opens the circuit.
OPEN: requests fail fast with :class:`CircuitOpenError` until ``cooldown``
seconds have passed.
HALF_OPEN: one probe request at a time is let through; its success closes the
circuit, its failure opens it again for another cool-down.

Every state change is published to listeners ``fn(portal_key, old, new)``
(the health monitor and the UI), called outside the breaker's lock.
"""

from __future__ import annotations

import enum
import logging
import threading
from typing import Callable

from wg_desktop.hubspot.clock import SYSTEM_CLOCK, Clock
from wg_desktop.hubspot.errors import TRANSIENT_CATEGORIES, CircuitOpenError, ErrorCategory

log = logging.getLogger("wg_desktop.hubspot.breaker")


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(enum.StrEnum):
    SUCCESS = "success"      # HubSpot answered (2xx, or any 4xx)
    FAILURE = "failure"      # server error, timeout, network failure
    ABANDONED = "abandoned"  # nothing learned (cancelled before sending, malformed…)


def outcome_for(category: ErrorCategory | None) -> Outcome:
    """How an error category counts for the breaker."""
    if category is None:
        return Outcome.SUCCESS
    if category in TRANSIENT_CATEGORIES:
        return Outcome.FAILURE
    if category is ErrorCategory.MALFORMED:
        return Outcome.ABANDONED
    return Outcome.SUCCESS


BreakerListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    def __init__(self, portal_key: str, failure_threshold: int = 5, cooldown: float = 60.0,
                 clock: Clock | None = None) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.portal_key = portal_key
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._listeners: list[BreakerListener] = []

    @classmethod
    def from_config(cls, portal_key: str, config: object, clock: Clock | None = None
                    ) -> "CircuitBreaker":
        return cls(portal_key, int(config.breaker_failure_threshold),  # type: ignore[attr-defined]
                   float(config.breaker_cooldown), clock)  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- listeners

    def add_listener(self, fn: BreakerListener) -> None:
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: BreakerListener) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _publish(self, change: tuple[BreakerState, BreakerState] | None) -> None:
        if change is None:
            return
        old, new = change
        level = logging.WARNING if new is BreakerState.OPEN else logging.INFO
        log.log(level, "Portal %s: circuit breaker %s -> %s", self.portal_key, old, new)
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(self.portal_key, old, new)
            except Exception:  # noqa: BLE001 - a listener must not break requests
                log.exception("Circuit breaker listener failed")

    def _set(self, new: BreakerState) -> tuple[BreakerState, BreakerState] | None:
        old = self._state
        if old is new:
            return None
        self._state = new
        return old, new

    # -------------------------------------------------------------------- state

    def _tick(self) -> tuple[BreakerState, BreakerState] | None:
        """OPEN -> HALF_OPEN once the cool-down is over (lock held)."""
        if (self._state is BreakerState.OPEN
                and self._clock.monotonic() - self._opened_at >= self.cooldown):
            self._probe_in_flight = False
            return self._set(BreakerState.HALF_OPEN)
        return None

    @property
    def state(self) -> BreakerState:
        with self._lock:
            change = self._tick()
            state = self._state
        self._publish(change)
        return state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def retry_in(self) -> float:
        with self._lock:
            if self._state is not BreakerState.OPEN:
                return 0.0
            return max(0.0, self.cooldown - (self._clock.monotonic() - self._opened_at))

    def before_call(self) -> bool:
        """Ask to send a request. Returns True when it is the half-open probe
        (then :meth:`record` must be called with ``probe=True``).

        Raises :class:`CircuitOpenError` while open, or while a probe is in flight.
        """
        with self._lock:
            change = self._tick()
            state = self._state
            probe = False
            error = None
            if state is BreakerState.OPEN:
                error = CircuitOpenError(
                    self.portal_key,
                    self.cooldown - (self._clock.monotonic() - self._opened_at))
            elif state is BreakerState.HALF_OPEN:
                if self._probe_in_flight:
                    error = CircuitOpenError(self.portal_key, 0.0)
                else:
                    self._probe_in_flight = probe = True
        self._publish(change)
        if error is not None:
            raise error
        return probe

    def record(self, outcome: Outcome, probe: bool = False) -> None:
        with self._lock:
            if probe:
                self._probe_in_flight = False
            change = None
            if outcome is Outcome.SUCCESS:
                self._failures = 0
                if self._state is BreakerState.HALF_OPEN and probe:
                    change = self._set(BreakerState.CLOSED)
            elif outcome is Outcome.FAILURE:
                self._failures += 1
                if self._state is BreakerState.HALF_OPEN and probe:
                    self._opened_at = self._clock.monotonic()
                    change = self._set(BreakerState.OPEN)
                elif (self._state is BreakerState.CLOSED
                      and self._failures >= self.failure_threshold):
                    self._opened_at = self._clock.monotonic()
                    change = self._set(BreakerState.OPEN)
        self._publish(change)

    def reset(self) -> None:
        """Close the circuit (e.g. the admin pressed "retry now")."""
        with self._lock:
            self._failures = 0
            self._probe_in_flight = False
            change = self._set(BreakerState.CLOSED)
        self._publish(change)
