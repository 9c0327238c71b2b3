"""Client-side rate limiter: the app's own budget plus what HubSpot's headers say.

One :class:`RateLimiter` per portal, shared by every thread that talks to it.

* Sliding windows (default 100/minute, 1,000/hour, 10,000/day, from settings):
  a request is admitted only if every window has room; otherwise the caller
  *waits* (cancellable through a ``threading.Event``, reported through
  ``on_wait(seconds, reason)``) instead of failing. A wait longer than
  ``max_wait`` (the daily window) fails with :class:`DailyLimitReached`.
* Interactive requests go first: waiters are served in (priority, arrival)
  order, so a waiting background sync yields to a user's click.
* Timestamps are persisted through a :class:`UsageStore`, so a restart does
  not reset the hourly and daily counts.
* HubSpot's ``X-HubSpot-RateLimit-*`` headers lower the budget further: when a
  server window's remaining count reaches zero, requests wait for the rest of
  that window; an exhausted server daily budget fails until the portal's
  midnight. ``pause()`` holds every request (used after a 429).
"""

from __future__ import annotations

import bisect
import enum
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol, Sequence

from wg_desktop.hubspot.clock import SYSTEM_CLOCK, Clock
from wg_desktop.hubspot.errors import DailyLimitReached, RateLimitedError, RateLimitWaitCancelled
from wg_desktop.hubspot.portal_time import PortalTimezone, next_portal_midnight

log = logging.getLogger("wg_desktop.hubspot.ratelimit")

OnWait = Callable[[float, str], None]


class Priority(enum.IntEnum):
    INTERACTIVE = 0
    BACKGROUND = 1


@dataclass(frozen=True)
class Window:
    name: str
    limit: int
    seconds: float

    def describe(self) -> str:
        return f"{self.limit} requests per {self.name}"


def windows_from_config(config: Any) -> tuple[Window, ...]:
    return (Window("minute", int(config.per_minute), 60.0),
            Window("hour", int(config.per_hour), 3600.0),
            Window("day", int(config.per_day), 86400.0))


class UsageStore(Protocol):
    """Where admitted-request timestamps (epoch seconds) persist across restarts."""

    def load(self, portal_key: str, since: float) -> list[float]: ...

    def append(self, portal_key: str, ts: float) -> None: ...


class InMemoryUsageStore:
    """Thread-safe in-process store (tests, CLI one-shots). Keeps ``retention`` seconds."""

    def __init__(self, retention: float = 2 * 86400.0) -> None:
        self._retention = retention
        self._data: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def load(self, portal_key: str, since: float) -> list[float]:
        with self._lock:
            stamps = self._data.get(portal_key, [])
            return stamps[bisect.bisect_left(stamps, since):]

    def append(self, portal_key: str, ts: float) -> None:
        with self._lock:
            stamps = self._data.setdefault(portal_key, [])
            bisect.insort(stamps, ts)
            if len(stamps) > 1024 and stamps[0] < ts - self._retention:
                del stamps[:bisect.bisect_left(stamps, ts - self._retention)]


# --------------------------------------------------------------------- headers

@dataclass(frozen=True)
class RateLimitHeaders:
    """HubSpot's ``X-HubSpot-RateLimit-*`` headers; ``None`` for any that is missing."""

    max: int | None = None
    remaining: int | None = None
    interval_ms: int | None = None
    secondly: int | None = None
    secondly_remaining: int | None = None
    daily: int | None = None
    daily_remaining: int | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.max, self.remaining, self.interval_ms, self.secondly,
                                       self.secondly_remaining, self.daily,
                                       self.daily_remaining))


_HEADER_FIELDS = {
    "x-hubspot-ratelimit-max": "max",
    "x-hubspot-ratelimit-remaining": "remaining",
    "x-hubspot-ratelimit-interval-milliseconds": "interval_ms",
    "x-hubspot-ratelimit-secondly": "secondly",
    "x-hubspot-ratelimit-secondly-remaining": "secondly_remaining",
    "x-hubspot-ratelimit-daily": "daily",
    "x-hubspot-ratelimit-daily-remaining": "daily_remaining",
}


def _int_or_none(raw: Any) -> int | None:
    try:
        value = int(float(str(raw).strip()))
    except (TypeError, ValueError, OverflowError):
        return None
    return value if value >= 0 else None


def parse_rate_limit_headers(headers: Mapping[str, str] | None) -> RateLimitHeaders:
    if not headers:
        return RateLimitHeaders()
    values: dict[str, int | None] = {}
    for key, raw in headers.items():
        name = _HEADER_FIELDS.get(key.lower())
        if name is not None:
            values[name] = _int_or_none(raw)
    if values.get("interval_ms") == 0:
        values["interval_ms"] = None
    return RateLimitHeaders(**values)


# ------------------------------------------------------------------- snapshots

@dataclass(frozen=True)
class WindowBudget:
    source: str            # "client" or "hubspot"
    name: str              # minute / hour / day, or burst / secondly / daily
    limit: int | None
    used: int | None
    remaining: int
    resets_in: float       # seconds until a slot frees (0 when there is room)
    window_seconds: float | None


@dataclass(frozen=True)
class BudgetSnapshot:
    portal_key: str
    client: tuple[WindowBudget, ...]
    server: tuple[WindowBudget, ...]   # only the windows HubSpot has told us about
    paused_for: float
    waiting_interactive: int
    waiting_background: int
    taken_at: float

    @property
    def remaining(self) -> int:
        """The smallest remaining count over every known window."""
        return min(w.remaining for w in self.client + self.server)

    def window(self, source: str, name: str) -> WindowBudget | None:
        for w in self.client + self.server:
            if w.source == source and w.name == name:
                return w
        return None


@dataclass(frozen=True)
class Permit:
    ts: float          # wall-clock admission time (what was persisted)
    seq: int           # admission number, used to relate later header observations
    waited: float      # seconds spent waiting for the budget
    priority: Priority


@dataclass
class _ServerWindow:
    name: str
    limit: int | None
    remaining: int
    seq: int               # admissions issued when the observed request was admitted
    observed: float        # wall time of the observation
    seconds: float | None  # window length; None = daily (resets at portal midnight)


class RateLimiter:
    """Thread-safe sliding-window limiter of one portal (see module docstring)."""

    def __init__(self, portal_key: str, windows: Sequence[Window], *,
                 store: UsageStore | None = None, clock: Clock | None = None,
                 max_wait: float | None = 3600.0,
                 portal_timezone: PortalTimezone | None = None) -> None:
        if not windows:
            raise ValueError("at least one window is needed")
        self.portal_key = portal_key
        self.windows = tuple(sorted(windows, key=lambda w: w.seconds))
        self._store = store if store is not None else InMemoryUsageStore()
        self._clock = clock or SYSTEM_CLOCK
        self._max_wait = max_wait
        self.portal_timezone = portal_timezone
        self._cond = threading.Condition(threading.RLock())
        self._stamps: list[deque[float]] = [deque() for _ in self.windows]
        self._queue: list[tuple[int, int]] = []   # sorted (priority, arrival)
        self._arrivals = itertools.count()
        self._issued = 0
        self._paused_until = 0.0
        self._pause_reason = ""
        self._server: dict[str, _ServerWindow] = {}
        self._load()

    @classmethod
    def from_config(cls, portal_key: str, config: Any, **kw: Any) -> "RateLimiter":
        kw.setdefault("max_wait", config.limit_max_wait)
        return cls(portal_key, windows_from_config(config), **kw)

    def _load(self) -> None:
        now = self._clock.time()
        longest = self.windows[-1].seconds
        try:
            stamps = sorted(self._store.load(self.portal_key, now - longest))
        except Exception:  # noqa: BLE001 - a broken store must not stop requests
            log.exception("Could not load the stored API usage of portal %s", self.portal_key)
            stamps = []
        for ts in stamps:
            for window, dq in zip(self.windows, self._stamps):
                if now - window.seconds < ts:
                    dq.append(ts)

    # ------------------------------------------------------------------ acquire

    def acquire(self, priority: Priority = Priority.INTERACTIVE,
                cancel_event: threading.Event | None = None,
                on_wait: OnWait | None = None) -> Permit:
        """Block until the request may be sent; return its :class:`Permit`.

        Raises :class:`RateLimitWaitCancelled` when ``cancel_event`` is set while
        waiting, :class:`DailyLimitReached` when a daily budget is used up.
        """
        priority = Priority(priority)
        me = (int(priority), next(self._arrivals))
        clock = self._clock
        started = clock.monotonic()
        last_reported: str | None = None
        waited = False
        with self._cond:
            bisect.insort(self._queue, me)
            try:
                while True:
                    if cancel_event is not None and cancel_event.is_set():
                        raise RateLimitWaitCancelled(
                            "Cancelled while waiting for the API rate limit")
                    now = clock.time()
                    wait, reason = self._blocked_for(now)
                    head = self._queue[0] == me
                    if head and wait <= 0:
                        permit = self._admit(now, priority,
                                             clock.monotonic() - started if waited else 0.0)
                        break
                    if not head and wait <= 0:
                        ahead = bisect.bisect_left(self._queue, me)
                        reason = f"queued behind {ahead} earlier request(s)"
                    if wait > 0 and reason != last_reported:
                        last_reported = reason
                        self._report(on_wait, wait, reason)
                    # the head waits for its slot; the others until the head moves
                    clock.wait(self._cond, wait if head else None)
                    waited = True
            finally:
                if me in self._queue:
                    self._queue.remove(me)
                self._cond.notify_all()
        try:
            self._store.append(self.portal_key, permit.ts)
        except Exception:  # noqa: BLE001
            log.exception("Could not persist API usage of portal %s", self.portal_key)
        return permit

    def _admit(self, now: float, priority: Priority, waited: float) -> Permit:
        for dq in self._stamps:
            dq.append(now)
        self._issued += 1
        self._queue.remove(self._queue[0])
        if waited > 0:
            log.debug("Portal %s: request admitted after waiting %.2f s for the rate limit",
                      self.portal_key, waited)
        return Permit(ts=now, seq=self._issued, waited=max(0.0, waited), priority=priority)

    def _report(self, on_wait: OnWait | None, wait: float, reason: str) -> None:
        # HubSpot's own limits are warnings; the app's budget doing its job is not
        level = logging.INFO if reason.startswith(("app budget", "queued")) else logging.WARNING
        log.log(level, "Portal %s: waiting %.1f s (%s)", self.portal_key, wait, reason)
        if on_wait is None:
            return
        try:
            on_wait(wait, reason)
        except Exception:  # noqa: BLE001 - a UI callback must not break the request
            log.exception("on_wait callback failed")

    def _prune(self, now: float) -> None:
        for window, dq in zip(self.windows, self._stamps):
            edge = now - window.seconds
            while dq and dq[0] <= edge:
                dq.popleft()

    def _blocked_for(self, now: float) -> tuple[float, str]:
        """Seconds until a request may go, and why (0 when it may go now).

        Raises DailyLimitReached for waits that are not worth waiting for."""
        self._prune(now)
        wait, reason = 0.0, ""
        for window, dq in zip(self.windows, self._stamps):
            if len(dq) >= window.limit:
                # the slot frees when enough old stamps leave the window
                frees_at = dq[len(dq) - window.limit] + window.seconds
                if frees_at - now > wait:
                    wait, reason = frees_at - now, f"app budget: {window.describe()}"
                if self._max_wait is not None and frees_at - now > self._max_wait:
                    until = datetime.fromtimestamp(frees_at, (self.portal_timezone
                                                              or PortalTimezone()).tzinfo())
                    if window.seconds >= 86400:
                        raise DailyLimitReached(until, source="app")
                    raise RateLimitedError(
                        f"The app's budget of {window.describe()} is used up until {until:%H:%M}",
                        retry_after=frees_at - now)
        if self._paused_until > now and self._paused_until - now > wait:
            wait, reason = self._paused_until - now, self._pause_reason
        for key in list(self._server):
            sw = self._server[key]
            left = sw.remaining - (self._issued - sw.seq)
            if sw.seconds is None:
                reset = next_portal_midnight(sw.observed, self.portal_timezone)
                if now >= reset.timestamp():
                    del self._server[key]
                elif left <= 0:
                    raise DailyLimitReached(reset, source="hubspot")
                continue
            ends = sw.observed + sw.seconds
            if now >= ends:
                del self._server[key]   # the window has rolled over: forget it
            elif left <= 0 and ends - now > wait:
                wait, reason = ends - now, f"HubSpot {sw.name} limit reached"
        return wait, reason

    # ---------------------------------------------------------- server feedback

    def observe(self, headers: Mapping[str, str] | RateLimitHeaders | None,
                permit: Permit | None = None) -> RateLimitHeaders:
        """Take HubSpot's rate-limit headers of a response into account.

        ``permit`` is the permit of the request that got the response: requests
        admitted after it are subtracted from the remaining counts it reports.
        """
        parsed = (headers if isinstance(headers, RateLimitHeaders)
                  else parse_rate_limit_headers(headers))
        if parsed.empty:
            return parsed
        with self._cond:
            seq = permit.seq if permit is not None else self._issued
            now = self._clock.time()
            if parsed.remaining is not None:
                interval = (parsed.interval_ms or 10_000) / 1000.0
                self._set_server("burst", parsed.max, parsed.remaining, seq, now, interval)
            if parsed.secondly_remaining is not None:
                self._set_server("secondly", parsed.secondly, parsed.secondly_remaining, seq,
                                 now, 1.0)
            if parsed.daily_remaining is not None:
                self._set_server("daily", parsed.daily, parsed.daily_remaining, seq, now, None)
            self._cond.notify_all()
        return parsed

    def _set_server(self, name: str, limit: int | None, remaining: int, seq: int, now: float,
                    seconds: float | None) -> None:
        current = self._server.get(name)
        if current is not None and current.seq > seq and (
                current.seconds is None or now < current.observed + current.seconds):
            return   # an answer to an older request: we already know better
        self._server[name] = _ServerWindow(name, limit, remaining, seq, now, seconds)

    def exhaust_daily(self) -> None:
        """HubSpot said (429, policy DAILY) that the portal's daily limit is used up."""
        with self._cond:
            self._server["daily"] = _ServerWindow("daily", None, 0, self._issued,
                                                  self._clock.time(), None)
            self._cond.notify_all()

    def pause(self, seconds: float, reason: str) -> None:
        """Hold every request of this portal for ``seconds`` (e.g. after a 429)."""
        if seconds <= 0:
            return
        with self._cond:
            until = self._clock.time() + seconds
            if until > self._paused_until:
                self._paused_until, self._pause_reason = until, reason
            self._cond.notify_all()

    # ---------------------------------------------------------------- snapshot

    def snapshot(self) -> BudgetSnapshot:
        with self._cond:
            now = self._clock.time()
            self._prune(now)
            client = []
            for window, dq in zip(self.windows, self._stamps):
                used = len(dq)
                resets = (dq[used - window.limit] + window.seconds - now
                          if used >= window.limit else 0.0)
                client.append(WindowBudget("client", window.name, window.limit, used,
                                           max(0, window.limit - used), max(0.0, resets),
                                           window.seconds))
            server = []
            for sw in self._server.values():
                if sw.seconds is None:
                    reset = next_portal_midnight(sw.observed, self.portal_timezone).timestamp()
                else:
                    reset = sw.observed + sw.seconds
                if now >= reset:
                    continue
                left = max(0, sw.remaining - (self._issued - sw.seq))
                server.append(WindowBudget("hubspot", sw.name, sw.limit,
                                           None if sw.limit is None else sw.limit - left, left,
                                           reset - now if left == 0 else 0.0, sw.seconds))
            waiting_i = sum(1 for p, _ in self._queue if p == Priority.INTERACTIVE)
            return BudgetSnapshot(self.portal_key, tuple(client), tuple(server),
                                  max(0.0, self._paused_until - now), waiting_i,
                                  len(self._queue) - waiting_i, now)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)
