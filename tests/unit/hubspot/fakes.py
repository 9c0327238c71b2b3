"""Test doubles for the HubSpot client: a virtual clock and token providers."""

from __future__ import annotations

import threading
import time
import weakref

from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.errors import ReauthenticationNeeded

API = "https://api.test"          # never a real HubSpot host in tests

START = 1_700_000_000.0           # 2023-11-14 22:13:20 UTC


class FakeClock:
    """Virtual time.

    auto_advance=True: sleeping or waiting for N seconds advances time by N at
    once (fast, single-threaded scenarios and hammer tests).
    auto_advance=False: waiters block (in short real slices) until the test
    calls :meth:`advance`, which wakes every waiter — for ordering tests.
    """

    def __init__(self, start: float = START, auto_advance: bool = True) -> None:
        self._start = start
        self._now = start
        self._lock = threading.Lock()
        self.auto_advance = auto_advance
        self.sleeps: list[float] = []
        self._conds: "weakref.WeakSet[threading.Condition]" = weakref.WeakSet()

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now - self._start + 1000.0

    def _move(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move time on and wake every waiter (call with no lock held)."""
        self._move(seconds)
        for cond in list(self._conds):
            with cond:
                cond.notify_all()

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        if cancel_event is not None and cancel_event.is_set():
            return False
        self.sleeps.append(seconds)
        self._move(seconds)
        return True

    def wait(self, condition: threading.Condition, timeout: float | None) -> None:
        self._conds.add(condition)
        if self.auto_advance and timeout is not None:
            self._move(timeout)
            condition.wait(0.0005)   # let other threads in
        else:
            condition.wait(0.01)


class CountingRefresher:
    """Token provider whose refresh hands out token-2, token-3, … and counts calls."""

    def __init__(self, first: str = "token-1", delay: float = 0.0,
                 fail_with_reauth: bool = False) -> None:
        self.current = first
        self.refreshes: list[str] = []
        self.delay = delay
        self.fail_with_reauth = fail_with_reauth
        self._lock = threading.Lock()

    def access_token(self, portal_key: str) -> str:
        with self._lock:
            return self.current

    def refresh(self, portal_key: str, rejected_token: str) -> str:
        if self.delay:
            time.sleep(self.delay)   # real time: lets concurrent 401s pile up
        with self._lock:
            self.refreshes.append(rejected_token)
            if self.fail_with_reauth:
                raise ReauthenticationNeeded("refresh token revoked")
            self.current = f"token-{len(self.refreshes) + 1}"
            return self.current


def config(**overrides) -> ClientConfig:
    values = dict(api_base=API, max_attempts=5, retry_deadline=600.0, timeout=30.0,
                  retry_timeout=60.0,
                  # most tests speak the v1 OAuth shapes; modern ones say so explicitly
                  oauth_api_version="v1")
    values.update(overrides)
    return ClientConfig(**values)


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)
