"""HubSpot-style rate limits: a true rolling burst window per app per portal,
an optional daily limit (reset at midnight in the portal's time zone), the
``X-HubSpot-RateLimit-*`` headers and the 429 bodies."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Hashable
from zoneinfo import ZoneInfo

from wg_desktop.demo.wire import Response, correlation_id, json_response

TEN_SECONDLY_ROLLING = "TEN_SECONDLY_ROLLING"
DAILY = "DAILY"


@dataclass(frozen=True)
class RateDecision:
    admitted: bool
    headers: list[tuple[str, str]]
    policy: str | None = None          # which limit refused the request
    retry_after_s: float = 0.0


class _Bucket:
    __slots__ = ("window", "second", "day", "day_count")

    def __init__(self) -> None:
        self.window: deque[float] = deque()   # admitted times in the burst window
        self.second: deque[float] = deque()   # admitted times in the last second
        self.day = ""
        self.day_count = 0


class RateLimiter:
    """Thread-safe. ``check`` admits (and counts) a request or refuses it;
    refused requests are not counted against the window."""

    def __init__(self, burst_limit: int, window_s: float, daily_limit: int | None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.burst_limit = burst_limit
        self.window_s = window_s
        self.daily_limit = daily_limit
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._buckets: dict[Hashable, _Bucket] = {}
        self._violations = 0
        self._secondly_max = max(1, math.ceil(burst_limit / window_s))

    @property
    def violations(self) -> int:
        with self._lock:
            return self._violations

    def check(self, key: Hashable, *, time_zone: str, daily_limit: int | None,
              daily_headers: bool) -> RateDecision:
        """``daily_limit`` is the limit that applies to this caller (None =
        none); ``daily_headers`` says whether to send the Daily headers
        (HubSpot sends them for private apps, not for OAuth calls)."""
        today = dt.datetime.fromtimestamp(self._wall(), ZoneInfo(time_zone)).date().isoformat() \
            if (daily_limit is not None or daily_headers) else ""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket()
            window, second = bucket.window, bucket.second
            edge = now - self.window_s
            while window and window[0] <= edge:
                window.popleft()
            while second and second[0] <= now - 1.0:
                second.popleft()
            if bucket.day != today:
                bucket.day, bucket.day_count = today, 0

            policy: str | None = None
            retry_after = 0.0
            if daily_limit is not None and bucket.day_count >= daily_limit:
                policy = DAILY
                retry_after = _seconds_to_midnight(self._wall(), time_zone)
            elif len(window) >= self.burst_limit:
                policy = TEN_SECONDLY_ROLLING
                retry_after = max(0.001, window[0] + self.window_s - now)
            else:
                window.append(now)
                second.append(now)
                bucket.day_count += 1
            if policy is not None:
                self._violations += 1

            headers = [
                ("X-HubSpot-RateLimit-Max", str(self.burst_limit)),
                ("X-HubSpot-RateLimit-Remaining", str(max(0, self.burst_limit - len(window)))),
                ("X-HubSpot-RateLimit-Interval-Milliseconds", str(int(round(self.window_s * 1000)))),
                ("X-HubSpot-RateLimit-Secondly", str(self._secondly_max)),
                ("X-HubSpot-RateLimit-Secondly-Remaining", str(max(0, self._secondly_max - len(second)))),
            ]
            if daily_headers and daily_limit is not None:
                headers.append(("X-HubSpot-RateLimit-Daily", str(daily_limit)))
                headers.append(("X-HubSpot-RateLimit-Daily-Remaining",
                                str(max(0, daily_limit - bucket.day_count))))
        return RateDecision(admitted=policy is None, headers=headers, policy=policy,
                            retry_after_s=retry_after)


def _seconds_to_midnight(wall: float, time_zone: str) -> float:
    tz = ZoneInfo(time_zone)
    now = dt.datetime.fromtimestamp(wall, tz)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0, 0), tz)
    return max(1.0, (midnight - now).total_seconds())


def too_many_requests(decision: RateDecision, *, group: str, send_retry_after: bool) -> Response:
    """HubSpot's 429 bodies (see examples/error-429-*.json)."""
    cid = correlation_id()
    if decision.policy == DAILY:
        body = {"status": "error", "message": "You have reached your daily limit.",
                "errorType": "RATE_LIMIT", "correlationId": cid, "policyName": DAILY,
                "requestId": correlation_id()}
    else:
        body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT", "correlationId": cid, "policyName": TEN_SECONDLY_ROLLING,
                "groupName": group}
    headers = list(decision.headers) + [("X-HubSpot-Correlation-Id", cid)]
    if send_retry_after:
        headers.append(("Retry-After", str(max(1, math.ceil(decision.retry_after_s)))))
    return json_response(429, body, headers)
