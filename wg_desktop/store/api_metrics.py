"""Database-backed persistence for the HubSpot client: the rate-limit budget's
admitted-request times (so a restart does not reset the hourly and daily
windows) and one row per API call for the health monitor."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from wg_desktop.store.db import Store
from wg_desktop.store.models import ApiCall, RateLimitUsage


class StoreUsageStore:
    """Implements ``wg_desktop.hubspot.ratelimit.UsageStore``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, portal_key: str, since: float) -> list[float]:
        with self.store.session():
            rows = (RateLimitUsage.select(RateLimitUsage.ts)
                    .where((RateLimitUsage.portal_key == portal_key)
                           & (RateLimitUsage.ts >= since))
                    .order_by(RateLimitUsage.ts).tuples())
            return [ts for (ts,) in rows]

    def append(self, portal_key: str, ts: float) -> None:
        with self.store.session(), self.store.writing():
            RateLimitUsage.insert(portal_key=portal_key, ts=ts).execute()


class ApiCallFacts(Protocol):
    """What one API call record must carry to be stored. The HubSpot client's
    ``ApiCallRecord`` has this shape; the store does not import the network
    layer to know it."""

    timestamp: float
    portal_key: str
    method: str
    endpoint: str
    status: int | None
    latency_ms: float
    bytes: int
    error: object | None          # an error category; stored as its text
    retries: int
    waited_for_limit_ms: float


class StoreCallRecorder:
    """Implements ``wg_desktop.hubspot.observability.CallRecorder``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, rec: ApiCallFacts) -> None:
        with self.store.session(), self.store.writing():
            ApiCall.insert(
                timestamp=dt.datetime.fromtimestamp(rec.timestamp, dt.timezone.utc),
                portal_key=rec.portal_key, method=rec.method, endpoint=rec.endpoint,
                status=rec.status, latency_ms=rec.latency_ms, bytes=rec.bytes,
                error_category=None if rec.error is None else str(rec.error),
                retries=rec.retries, waited_ms=rec.waited_for_limit_ms).execute()
