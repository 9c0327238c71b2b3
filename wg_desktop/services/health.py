"""Health of each portal's HubSpot connection: periodic samples and the
queries the dashboard and reports read.

A health check of one portal runs the "test connection" call, then sums up
the API calls the app recorded since the previous sample (every real call,
not only the check's) and stores one :class:`HealthSample`. The verdict is a
pure function of those figures and the thresholds in the settings
(:func:`classify`), so it is tested table-driven without a network.

For a private-app portal the check also reads HubSpot's own count of the
day's private-app calls (HubSpot keeps none for OAuth apps), stored in the
sample beside the client's figures.

A portal that needs a reconnect is not called at all: its sample is
"unhealthy, paused" and says why, until the admin reconnects it.

Uptime is the share of samples in a period whose status was healthy or
degraded (a slow connection is still up); every sample stands for one check
interval, so counting samples weighs each interval equally.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import math
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

import peewee as pw

from wg_desktop.config import Settings
from wg_desktop.hubspot import api
from wg_desktop.hubspot.breaker import BreakerState
from wg_desktop.hubspot.errors import HubSpotError
from wg_desktop.hubspot.ratelimit import Priority
from wg_desktop.services.audit import AuditAction
from wg_desktop.services.status import budget_use
from wg_desktop.store.db import Store
from wg_desktop.store.health_models import PortalHealthSample
from wg_desktop.store.models import (ApiCall, AuditEvent, Outcome, Portal, PortalStatus,
                                     Workflow, utcnow)

log = logging.getLogger(__name__)

PRIVATE_APP = "private_app"       # Portal.auth_kind of a private-app connection


class HealthStatus(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


_RANK = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}
UP_STATUSES = (HealthStatus.HEALTHY, HealthStatus.DEGRADED)


@dataclass(frozen=True)
class HealthThresholds:
    """The ``alerts.*`` settings that decide a verdict, in the units used here."""

    response_warning_ms: float = 5_000.0
    response_degraded_ms: float = 10_000.0
    failures_critical: int = 3
    error_rate_warning: float = 0.05
    rate_remaining_info: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> "HealthThresholds":
        return cls(float(settings.get("alerts.response_time_warning")) * 1000,
                   float(settings.get("alerts.response_time_degraded")) * 1000,
                   int(settings.get("alerts.connection_failures_critical")),
                   float(settings.get("alerts.error_rate_warning")),
                   int(settings.get("alerts.rate_limit_remaining_info")))


@dataclass(frozen=True)
class HealthFigures:
    """What one check measured, before any verdict."""

    paused: bool = False                  # reconnect needed: nothing was called
    pause_reason: str = ""
    check_ok: bool | None = None          # the test-connection call; None when paused
    check_ms: float | None = None
    consecutive_failures: int = 0         # failed checks in a row, this one included
    breaker_state: str = BreakerState.CLOSED
    calls: int = 0                        # API calls recorded since the previous sample
    failed_calls: int = 0
    avg_response_ms: float | None = None
    client_remaining: int | None = None   # the client's own budget: hourly and daily windows
    hubspot_remaining: int | None = None  # HubSpot's headers (daily window), when seen
    refreshes_ok: int = 0                 # token refreshes since the previous sample
    refreshes_failed: int = 0
    last_refresh_ok: bool | None = None   # the portal's most recent refresh (None: never)
    last_sync: dt.datetime | None = None
    # HubSpot's own count of today's private-app calls (private-app portals only;
    # HubSpot keeps none for OAuth apps): calls, daily limit, next reset.
    hubspot_usage: int | None = None
    hubspot_usage_limit: int | None = None
    hubspot_usage_resets_at: dt.datetime | None = None
    # HTTP connections open in the portal client's pool when sampled (busy and
    # idle keep-alive); None when paused or when the client keeps no pool.
    active_connections: int | None = None

    @property
    def error_rate(self) -> float | None:
        return self.failed_calls / self.calls if self.calls else None

    @property
    def rate_remaining(self) -> int | None:
        """The tighter of the client's and HubSpot's remaining counts."""
        known = [r for r in (self.client_remaining, self.hubspot_remaining) if r is not None]
        return min(known) if known else None


@dataclass(frozen=True)
class Verdict:
    status: HealthStatus
    reasons: tuple[str, ...]


def classify(f: HealthFigures, t: HealthThresholds) -> Verdict:
    """The status of one sample and every finding behind it (pure)."""
    findings: list[tuple[HealthStatus, str]] = []
    if f.paused:
        findings.append((HealthStatus.UNHEALTHY,
                         f"health checks paused: {f.pause_reason or 'the portal needs a reconnect'}"))
    if f.consecutive_failures > t.failures_critical:
        findings.append((HealthStatus.UNHEALTHY,
                         f"{f.consecutive_failures} connection tests failed in a row"))
    elif f.check_ok is False and not f.paused:
        findings.append((HealthStatus.DEGRADED, "the connection test failed"
                         + (f" ({f.consecutive_failures} in a row)"
                            if f.consecutive_failures > 1 else "")))
    if f.breaker_state == BreakerState.OPEN:
        findings.append((HealthStatus.UNHEALTHY,
                         "the circuit breaker is open: HubSpot calls fail fast for now"))
    avg = f.avg_response_ms
    if avg is not None and avg > t.response_degraded_ms:
        findings.append((HealthStatus.DEGRADED,
                         f"average response {avg / 1000:.1f} s (degraded above "
                         f"{t.response_degraded_ms / 1000:g} s)"))
    elif avg is not None and avg > t.response_warning_ms:
        # Slow but not yet degraded: the status stays, the finding (and an alert) warns.
        findings.append((HealthStatus.HEALTHY,
                         f"slow: average response {avg / 1000:.1f} s (target below "
                         f"{t.response_warning_ms / 1000:g} s)"))
    rate = f.error_rate
    if rate is not None and rate > t.error_rate_warning:
        findings.append((HealthStatus.DEGRADED,
                         f"{rate:.0%} of {f.calls} API calls failed"))
    status = max((s for s, _ in findings), key=_RANK.__getitem__, default=HealthStatus.HEALTHY)
    return Verdict(status, tuple(text for _, text in findings))


@dataclass(frozen=True)
class HealthSample:
    portal_key: str
    timestamp: dt.datetime
    status: HealthStatus
    reasons: tuple[str, ...]
    figures: HealthFigures
    id: int | None = None

    @property
    def is_up(self) -> bool:
        return self.status in UP_STATUSES

    def to_dict(self) -> dict[str, Any]:
        figures = asdict(self.figures)
        figures["error_rate"] = self.figures.error_rate
        figures["rate_remaining"] = self.figures.rate_remaining
        for name in ("last_sync", "hubspot_usage_resets_at"):
            value = getattr(self.figures, name)
            figures[name] = value.isoformat() if value else None
        return {"id": self.id, "portal": self.portal_key,
                "timestamp": self.timestamp.isoformat(), "status": str(self.status),
                "reasons": list(self.reasons), **figures}


def _sample_from_row(row: PortalHealthSample) -> HealthSample:
    figures = HealthFigures(
        paused=row.paused, pause_reason=row.reason if row.paused else "",
        check_ok=row.check_ok, check_ms=row.check_ms,
        consecutive_failures=row.consecutive_failures, breaker_state=row.breaker_state,
        calls=row.calls, failed_calls=row.failed_calls, avg_response_ms=row.avg_response_ms,
        client_remaining=row.client_remaining, hubspot_remaining=row.hubspot_remaining,
        refreshes_ok=row.refreshes_ok, refreshes_failed=row.refreshes_failed,
        last_refresh_ok=row.last_refresh_ok, last_sync=row.last_sync,
        hubspot_usage=row.hubspot_usage, hubspot_usage_limit=row.hubspot_usage_limit,
        hubspot_usage_resets_at=row.hubspot_usage_resets_at,
        active_connections=row.active_connections)
    reasons = tuple(line for line in row.reason.split("\n") if line)
    return HealthSample(row.portal_key, row.timestamp, HealthStatus(row.status), reasons,
                        figures, row.id)


# -- aggregated queries over the API call records -------------------------------------

@dataclass(frozen=True)
class CallTotals:
    calls: int
    failed: int
    avg_latency_ms: float | None


@dataclass(frozen=True)
class EndpointUsage:
    method: str
    endpoint: str                # path template
    calls: int
    failed: int
    avg_latency_ms: float


@dataclass(frozen=True)
class RequestTypeLatency:
    method: str
    endpoint: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class ErrorTypeRate:
    error_type: str              # ErrorCategory value
    count: int
    rate: float                  # share of all calls in the period


@dataclass(frozen=True)
class Uptime:
    samples: int
    up: int

    @property
    def ratio(self) -> float | None:
        return self.up / self.samples if self.samples else None


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _calls_where(portal_key: str | None, since: dt.datetime, until: dt.datetime | None):
    cond = ApiCall.timestamp > since
    if until is not None:
        cond &= ApiCall.timestamp <= until
    if portal_key is not None:
        cond &= ApiCall.portal_key == portal_key
    return cond


def call_totals(portal_key: str | None, since: dt.datetime,
                until: dt.datetime | None = None) -> CallTotals:
    calls, failed, avg = (ApiCall.select(
        pw.fn.COUNT(ApiCall.id),
        pw.fn.SUM(pw.Case(None, [(ApiCall.error_category.is_null(False), 1)], 0)),
        pw.fn.AVG(ApiCall.latency_ms))
        .where(_calls_where(portal_key, since, until)).tuples().get())
    return CallTotals(int(calls or 0), int(failed or 0), None if avg is None else float(avg))


def endpoint_usage(portal_key: str | None, since: dt.datetime,
                   until: dt.datetime | None = None) -> list[EndpointUsage]:
    """Calls per endpoint (path template and method), busiest first."""
    rows = (ApiCall.select(ApiCall.method, ApiCall.endpoint, pw.fn.COUNT(ApiCall.id),
                           pw.fn.SUM(pw.Case(None, [(ApiCall.error_category.is_null(False), 1)],
                                             0)),
                           pw.fn.AVG(ApiCall.latency_ms))
            .where(_calls_where(portal_key, since, until))
            .group_by(ApiCall.method, ApiCall.endpoint)
            .order_by(pw.fn.COUNT(ApiCall.id).desc(), ApiCall.endpoint).tuples())
    return [EndpointUsage(m, e, int(n), int(f or 0), float(a or 0)) for m, e, n, f, a in rows]


def latency_by_request_type(portal_key: str | None, since: dt.datetime,
                            until: dt.datetime | None = None) -> list[RequestTypeLatency]:
    """Response-time percentiles per request type (method + path template)."""
    groups: dict[tuple[str, str], list[float]] = {}
    rows = (ApiCall.select(ApiCall.method, ApiCall.endpoint, ApiCall.latency_ms)
            .where(_calls_where(portal_key, since, until)).tuples())
    for method, endpoint, latency in rows:
        groups.setdefault((method, endpoint), []).append(float(latency or 0))
    result = []
    for (method, endpoint), values in sorted(groups.items()):
        values.sort()
        result.append(RequestTypeLatency(method, endpoint, len(values), percentile(values, 50),
                                         percentile(values, 95), percentile(values, 99),
                                         values[-1]))
    return result


def errors_by_type(portal_key: str | None, since: dt.datetime,
                   until: dt.datetime | None = None) -> list[ErrorTypeRate]:
    """Failed calls per error category, with their share of all calls."""
    total = call_totals(portal_key, since, until).calls
    rows = (ApiCall.select(ApiCall.error_category, pw.fn.COUNT(ApiCall.id))
            .where(_calls_where(portal_key, since, until)
                   & ApiCall.error_category.is_null(False))
            .group_by(ApiCall.error_category)
            .order_by(pw.fn.COUNT(ApiCall.id).desc()).tuples())
    return [ErrorTypeRate(category, int(n), int(n) / total if total else 0.0)
            for category, n in rows]


# -- samples ----------------------------------------------------------------------------

def _samples_where(portal_key: str | None, since: dt.datetime | None,
                   until: dt.datetime | None):
    cond = pw.Value(True)
    if portal_key is not None:
        cond &= PortalHealthSample.portal_key == portal_key
    if since is not None:
        cond &= PortalHealthSample.timestamp >= since
    if until is not None:
        cond &= PortalHealthSample.timestamp <= until
    return cond


def samples(portal_key: str | None, since: dt.datetime | None = None,
            until: dt.datetime | None = None, limit: int | None = None) -> list[HealthSample]:
    """Samples oldest first; with ``limit``, the newest ``limit`` of them."""
    query = (PortalHealthSample.select().where(_samples_where(portal_key, since, until))
             .order_by(PortalHealthSample.timestamp.desc(), PortalHealthSample.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return [_sample_from_row(row) for row in reversed(list(query))]


def latest_sample(portal_key: str) -> HealthSample | None:
    found = samples(portal_key, limit=1)
    return found[0] if found else None


def uptime(portal_key: str | None, since: dt.datetime,
           until: dt.datetime | None = None) -> Uptime:
    """Samples and up samples in the period (see the module docstring)."""
    cond = _samples_where(portal_key, since, until)
    total = PortalHealthSample.select().where(cond).count()
    up = (PortalHealthSample.select()
          .where(cond & PortalHealthSample.status.in_([str(s) for s in UP_STATUSES])).count())
    return Uptime(total, up)


@dataclass(frozen=True)
class DailyCounts:
    """Today's calls of one portal as the app counts them (its own rolling
    24-hour budget) and, for a private-app portal, as HubSpot counts them
    (the latest sample's reading, while HubSpot's day has not reset since)."""

    portal_key: str
    client_used: int
    client_limit: int
    hubspot_used: int | None = None
    hubspot_limit: int | None = None
    hubspot_resets_at: dt.datetime | None = None


def daily_counts(settings: Settings, portal_keys: Iterable[str],
                 now: dt.datetime | None = None) -> dict[str, DailyCounts]:
    now = now or utcnow()
    result = {}
    for key in portal_keys:
        budget = budget_use(settings, key, now.timestamp())
        row = (PortalHealthSample.select(PortalHealthSample.hubspot_usage,
                                         PortalHealthSample.hubspot_usage_limit,
                                         PortalHealthSample.hubspot_usage_resets_at)
               .where((PortalHealthSample.portal_key == key)
                      & PortalHealthSample.hubspot_usage.is_null(False))
               .order_by(PortalHealthSample.timestamp.desc(), PortalHealthSample.id.desc())
               .first())
        # A reading from before HubSpot's midnight counts a day that is over.
        current = row is not None and (row.hubspot_usage_resets_at is None
                                       or row.hubspot_usage_resets_at > now)
        result[key] = DailyCounts(
            key, budget.used_day, budget.limit_day,
            row.hubspot_usage if current else None,
            row.hubspot_usage_limit if current else None,
            row.hubspot_usage_resets_at if current else None)
    return result


# -- the monitor -----------------------------------------------------------------------

SampleListener = Callable[[HealthSample], None]


class HealthMonitor:
    """Runs health checks and stores their samples.

    ``connection`` is the ConnectionService (test_connection), ``clients``
    the PortalClients (breaker and budget of each portal's client).
    Listeners (the alert service) get every new sample; one failing listener
    does not keep the others from theirs.
    """

    def __init__(self, store: Store, settings: Settings, connection: Any, clients: Any, *,
                 now: Callable[[], dt.datetime] = utcnow) -> None:
        self.store = store
        self.settings = settings
        self.connection = connection
        self.clients = clients
        self.now = now
        self._listeners: list[SampleListener] = []
        # One check per portal at a time: the CLI's "check now" and the
        # scheduled job may meet, and two samples would count the same calls.
        self._lock = threading.Lock()

    def on_sample(self, listener: SampleListener) -> None:
        self._listeners.append(listener)

    @property
    def thresholds(self) -> HealthThresholds:
        return HealthThresholds.from_settings(self.settings)

    @property
    def interval(self) -> int:
        return int(self.settings.get("schedule.health_check_interval"))

    def monitored_portals(self) -> list[Portal]:
        """Connected portals and those waiting for a reconnect (sampled as paused)."""
        return list(Portal.select()
                    .where(Portal.status.in_([PortalStatus.CONNECTED,
                                              PortalStatus.RECONNECT_NEEDED]))
                    .order_by(Portal.name))

    def check_all(self) -> list[HealthSample]:
        results = []
        for portal in self.monitored_portals():
            try:
                results.append(self.check(portal.hub_id))
            except Exception:
                # One portal's broken check must not stop the others'.
                log.exception("the health check of portal %s failed", portal.hub_id)
        return results

    def check(self, hub_id: int) -> HealthSample:
        with self._lock:
            sample = self._check(hub_id)
        for listener in self._listeners:
            try:
                listener(sample)
            except Exception:
                log.exception("a health sample listener failed")
        return sample

    def _check(self, hub_id: int) -> HealthSample:
        key = str(hub_id)
        portal = Portal.get(Portal.hub_id == hub_id)
        previous = latest_sample(key)
        started = self.now()
        since = (previous.timestamp if previous is not None
                 else started - dt.timedelta(seconds=self.interval))
        prior_failures = previous.figures.consecutive_failures if previous else 0
        if portal.status == PortalStatus.RECONNECT_NEEDED:
            # No call: HubSpot would only refuse the token again.
            paused, reason = True, "the portal needs a reconnect (HubSpot no longer accepts " \
                                   "its token); reconnect it to resume"
            check_ok, check_ms, failures = None, None, prior_failures
        else:
            test = self.connection.test_connection(hub_id)
            check_ok, check_ms = test.ok, test.response_ms
            failures = 0 if test.ok else prior_failures + 1
            paused = test.state == PortalStatus.RECONNECT_NEEDED
            reason = test.message if paused else ""
        breaker_state, client_remaining, hubspot_remaining, connections = \
            self._client_state(key, paused)
        # Only after a good connection test: a failing connection would just
        # add a second failed call to the records.
        usage = (self._private_app_usage(key)
                 if portal.auth_kind == PRIVATE_APP and check_ok else None)
        now = self.now()
        totals = call_totals(key, since, now)
        refreshes_ok, refreshes_failed, last_refresh_ok = _refreshes(hub_id, since)
        figures = HealthFigures(
            paused=paused, pause_reason=reason, check_ok=check_ok, check_ms=check_ms,
            consecutive_failures=failures, breaker_state=breaker_state, calls=totals.calls,
            failed_calls=totals.failed, avg_response_ms=totals.avg_latency_ms,
            client_remaining=client_remaining, hubspot_remaining=hubspot_remaining,
            refreshes_ok=refreshes_ok, refreshes_failed=refreshes_failed,
            last_refresh_ok=last_refresh_ok, last_sync=_last_sync(portal),
            hubspot_usage=usage.current_usage if usage else None,
            hubspot_usage_limit=usage.usage_limit if usage else None,
            hubspot_usage_resets_at=usage.resets_at if usage else None,
            active_connections=connections)
        verdict = classify(figures, self.thresholds)
        with self.store.writing():
            row = PortalHealthSample.create(
                timestamp=now, portal_key=key, status=str(verdict.status),
                reason="\n".join(verdict.reasons), paused=paused, check_ok=check_ok,
                check_ms=check_ms, consecutive_failures=failures,
                breaker_state=str(breaker_state), calls=totals.calls,
                failed_calls=totals.failed, error_rate=figures.error_rate,
                avg_response_ms=totals.avg_latency_ms, client_remaining=client_remaining,
                hubspot_remaining=hubspot_remaining, refreshes_ok=refreshes_ok,
                refreshes_failed=refreshes_failed, last_refresh_ok=last_refresh_ok,
                last_sync=figures.last_sync, hubspot_usage=figures.hubspot_usage,
                hubspot_usage_limit=figures.hubspot_usage_limit,
                hubspot_usage_resets_at=figures.hubspot_usage_resets_at,
                active_connections=connections)
        return HealthSample(key, now, verdict.status, verdict.reasons, figures, row.id)

    def _private_app_usage(self, key: str) -> api.PrivateAppUsage | None:
        """HubSpot's daily count, or None when it cannot be read now: the
        sample's own figures stand without it, and the failed call is
        already in the call records the next sample counts."""
        try:
            return api.private_app_usage(self.clients.client(key), priority=Priority.BACKGROUND)
        except HubSpotError as exc:
            log.warning("portal %s: HubSpot's daily usage could not be read: %s", key, exc)
            return None

    def _client_state(self, key: str, paused: bool
                      ) -> tuple[str, int | None, int | None, int | None]:
        """Breaker state, the client's and HubSpot's remaining budget, and the
        open connections of the client's pool."""
        if paused:
            # The stored budget only: building a client for a dead token is pointless.
            return "", budget_use(self.settings, key).remaining, None, None
        client = self.clients.client(key)
        snapshot = client.limiter.snapshot()
        client_left = min((w.remaining for w in snapshot.client if _long(w)), default=None)
        hubspot_left = min((w.remaining for w in snapshot.server if _long(w)), default=None)
        return (str(client.breaker.state), client_left, hubspot_left,
                getattr(client, "open_connections", None))


LONG_WINDOW_S = 3600


def _long(window: Any) -> bool:
    """Hourly and daily windows only. A minute, ten-second or per-second
    window refills within moments (the limiter just waits), and with limits
    of 10-100 its remaining count sits below any useful alert threshold."""
    return window.window_seconds is None or window.window_seconds >= LONG_WINDOW_S


def _refreshes(hub_id: int, since: dt.datetime) -> tuple[int, int, bool | None]:
    base = ((AuditEvent.action == str(AuditAction.TOKEN_REFRESH))
            & (AuditEvent.portal_hub_id == hub_id))
    recent = AuditEvent.select().where(base & (AuditEvent.timestamp > since))
    ok = recent.where(AuditEvent.outcome == str(Outcome.SUCCESS)).count()
    failed = recent.where(AuditEvent.outcome == str(Outcome.FAILURE)).count()
    last = (AuditEvent.select(AuditEvent.outcome).where(base)
            .order_by(AuditEvent.id.desc()).first())
    return ok, failed, None if last is None else last.outcome == str(Outcome.SUCCESS)


def _last_sync(portal: Portal) -> dt.datetime | None:
    value = (Workflow.select(pw.fn.MAX(Workflow.last_synced_at))
             .where(Workflow.portal == portal).scalar())
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def check_summary(results: Iterable[HealthSample]) -> str:
    """One line for the job log: 'Portal 123 healthy, Portal 456 unhealthy (…)'."""
    parts = []
    for sample in results:
        text = f"{sample.portal_key} {sample.status}"
        if sample.status is not HealthStatus.HEALTHY and sample.reasons:
            text += f" ({sample.reasons[0]})"
        parts.append(text)
    return "; ".join(parts) or "No connected portal"
