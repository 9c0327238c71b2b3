"""Health reports and the dashboard's data: aggregated queries, the verdict
against the reliability targets, and the report as HTML, CSV and JSON.

No Qt here. Charts are drawn by the UI layer (``wg_desktop.ui.report_render``)
from the aggregated :class:`ChartSeries` this module returns, and handed back
to :func:`to_html` as PNG bytes, which the HTML embeds as data URIs so the
file stands alone (mail it, archive it, print it).

Targets are judged only on what the app measures. A target with no data in
the period (no token refresh happened, no backup ran) is "not measured", and
so is data consistency, which nothing measures yet: a report that says
"met" without a measurement would be the one thing an auditor cannot use.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import enum
import html
import io
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import peewee as pw

from wg_desktop.constants import APP_DISPLAY_NAME
from wg_desktop.services.audit import AuditAction, AuditEntry, AuditLog, AuditQuery
from wg_desktop.services.health import UP_STATUSES, EndpointUsage, endpoint_usage, latest_sample
from wg_desktop.services.health_rollup import bucket_rows
from wg_desktop.store.backup_models import BackupRecord, BackupStatus
from wg_desktop.store.health_models import AlertRecord, PortalHealthSample
from wg_desktop.store.models import Portal, utcnow

# -- periods -------------------------------------------------------------------------------

PERIODS: dict[str, dt.timedelta] = {"1h": dt.timedelta(hours=1), "24h": dt.timedelta(hours=24),
                                    "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}
_PERIOD = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# Health metrics are kept 30 days; a longer period would only report the gap.
MAX_PERIOD = dt.timedelta(days=31)


class PeriodError(ValueError):
    """A period the user typed that means nothing."""


@dataclass(frozen=True)
class Period:
    since: dt.datetime
    until: dt.datetime
    label: str

    @property
    def length(self) -> dt.timedelta:
        return self.until - self.since


def parse_period(text: str, now: dt.datetime | None = None) -> Period:
    """'7d', '24h', '90m', '2w' -> the period ending now."""
    now = now or utcnow()
    match = _PERIOD.match(text or "")
    if not match or int(match.group(1)) <= 0:
        raise PeriodError(f"'{text}' is not a period: use 1h, 24h, 7d, 30d (or e.g. 12h, 3d)")
    length = dt.timedelta(**{_UNIT[match.group(2).lower()]: int(match.group(1))})
    if length > MAX_PERIOD:
        raise PeriodError(f"'{text}' is longer than the 30 days health metrics are kept")
    return Period(now - length, now, text.strip().lower())


def explicit_period(since: dt.datetime, until: dt.datetime) -> Period:
    if until <= since:
        raise PeriodError("the period ends before it starts")
    return Period(since, until, f"{since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC")


def bucket_seconds(length: dt.timedelta, points: int = 120) -> int:
    """Bucket width for a chart of about ``points`` points, rounded to a whole
    minute (a 5-minute check interval makes finer buckets mostly empty)."""
    raw = max(60, int(length.total_seconds() // points))
    return raw - raw % 60 or 60


# -- aggregated sample queries -------------------------------------------------------------

def _portal_cond(portal_keys: Sequence[str] | None, since: dt.datetime, until: dt.datetime):
    cond = (PortalHealthSample.timestamp >= since) & (PortalHealthSample.timestamp <= until)
    if portal_keys is not None:
        cond &= PortalHealthSample.portal_key.in_(list(portal_keys))
    return cond


# Bucketing happens in the query, on the integer epoch column a trigger fills
# for every sample (migration 9): parsing 43,200 ISO timestamps with strftime
# took half of a 30-day refresh.
_EPOCH = PortalHealthSample.epoch
# The tighter of the client's and HubSpot's counts of one sample (a scalar
# two-argument MIN; the aggregates wrap it in another MIN).
_REMAINING = pw.fn.MIN(pw.fn.COALESCE(PortalHealthSample.client_remaining,
                                      PortalHealthSample.hubspot_remaining),
                       pw.fn.COALESCE(PortalHealthSample.hubspot_remaining,
                                      PortalHealthSample.client_remaining))
_TIMED_CALLS = pw.Case(None, [(PortalHealthSample.avg_response_ms.is_null(False),
                               PortalHealthSample.calls)], 0)
_UP = pw.Case(None, [(PortalHealthSample.status.in_([str(s) for s in UP_STATUSES]), 1)], 0)


@dataclass(frozen=True)
class Totals:
    """Sums over a period's samples for one portal (or all, portal None)."""

    portal_key: str | None
    samples: int
    up: int
    calls: int
    failed: int
    timed_calls: int             # calls of samples that carry an average response
    response_sum_ms: float       # sum of avg_response_ms * calls
    refreshes_ok: int
    refreshes_failed: int
    min_remaining: int | None
    max_connections: int | None = None    # most HTTP connections open at one check

    @property
    def uptime(self) -> float | None:
        return self.up / self.samples if self.samples else None

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.calls if self.calls else None

    @property
    def avg_response_ms(self) -> float | None:
        return self.response_sum_ms / self.timed_calls if self.timed_calls else None

    @property
    def refresh_success(self) -> float | None:
        total = self.refreshes_ok + self.refreshes_failed
        return self.refreshes_ok / total if total else None


# The sums behind a Totals, in its field order (samples .. max_connections).
def _sums() -> tuple[Any, ...]:
    s = PortalHealthSample
    return (pw.fn.COUNT(s.id), pw.fn.SUM(_UP), pw.fn.SUM(s.calls), pw.fn.SUM(s.failed_calls),
            pw.fn.SUM(_TIMED_CALLS), pw.fn.SUM(s.avg_response_ms * s.calls),
            pw.fn.SUM(s.refreshes_ok), pw.fn.SUM(s.refreshes_failed), pw.fn.MIN(_REMAINING),
            pw.fn.MAX(s.active_connections))


def _totals(key: str | None, row: Sequence[Any]) -> Totals:
    n, up, calls, failed, timed, rsum, rok, rfail, remaining, connections = row
    return Totals(key, int(n or 0), int(up or 0), int(calls or 0), int(failed or 0),
                  int(timed or 0), float(rsum or 0), int(rok or 0), int(rfail or 0),
                  None if remaining is None else int(remaining),
                  None if connections is None else int(connections))


def totals_by_portal(portal_keys: Sequence[str] | None, since: dt.datetime,
                     until: dt.datetime) -> dict[str, Totals]:
    """One grouped query: each portal's sums over the period. Not used by the
    pages or reports (``series_and_totals`` gets these from its chart query);
    kept as the independent query the tests check those totals against."""
    rows = (PortalHealthSample.select(*_sums(), PortalHealthSample.portal_key)
            .where(_portal_cond(portal_keys, since, until))
            .group_by(PortalHealthSample.portal_key).tuples())
    return {row[-1]: _totals(row[-1], row[:-1]) for row in rows}


def overall_totals(by_portal: Mapping[str, Totals] | Iterable[Totals],
                   key: str | None = None) -> Totals:
    """The sums of several Totals (portals, or one portal's time buckets)."""
    items = list(by_portal.values() if isinstance(by_portal, Mapping) else by_portal)
    remaining = [t.min_remaining for t in items if t.min_remaining is not None]
    connections = [t.max_connections for t in items if t.max_connections is not None]
    return Totals(key, sum(t.samples for t in items), sum(t.up for t in items),
                  sum(t.calls for t in items), sum(t.failed for t in items),
                  sum(t.timed_calls for t in items), sum(t.response_sum_ms for t in items),
                  sum(t.refreshes_ok for t in items), sum(t.refreshes_failed for t in items),
                  min(remaining) if remaining else None,
                  max(connections) if connections else None)


class Metric(enum.StrEnum):
    RESPONSE_TIME = "response_time"
    ERROR_RATE = "error_rate"
    REQUESTS_PER_MINUTE = "requests_per_minute"
    RATE_REMAINING = "rate_remaining"
    TOKEN_REFRESH = "token_refresh"


METRIC_TITLES = {Metric.RESPONSE_TIME: ("Average response time", "ms"),
                 Metric.ERROR_RATE: ("Error rate", "%"),
                 Metric.REQUESTS_PER_MINUTE: ("Requests per minute", "req/min"),
                 Metric.RATE_REMAINING: ("Rate budget remaining", "requests"),
                 Metric.TOKEN_REFRESH: ("Failed token refreshes", "count")}


@dataclass(frozen=True)
class Line:
    """One portal's points of one metric: x in epoch seconds (bucket start)."""

    portal_key: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class ChartSeries:
    bucket_s: int
    since: dt.datetime
    until: dt.datetime
    lines: Mapping[Metric, tuple[Line, ...]]

    def points(self) -> int:
        return sum(len(line.xs) for lines in self.lines.values() for line in lines)


def series_and_totals(portal_keys: Sequence[str] | None, since: dt.datetime,
                      until: dt.datetime, points: int = 120
                      ) -> tuple[ChartSeries, dict[str, Totals]]:
    """The charts' lines and each portal's totals from one grouped query
    (portal x time bucket): the buckets partition the period's samples, so
    their sums are the period's. A second full scan for the totals cost a
    30-day dashboard a third of its time. The scan is answered from the
    covering index of migration 10; whole hours of a chart with whole-hour
    buckets come from the hourly rollup of migration 11 (health_rollup)."""
    bucket = bucket_seconds(until - since, points)
    s = PortalHealthSample
    slot = (_EPOCH / bucket).alias("slot")

    def raw(start: dt.datetime, end: dt.datetime) -> Any:
        return (s.select(s.portal_key, slot, *_sums())
                .where(_portal_cond(portal_keys, start, end))
                .group_by(s.portal_key, pw.SQL("slot"))
                .order_by(s.portal_key, pw.SQL("slot")).tuples())

    rows = bucket_rows(raw, portal_keys, since, until, bucket)
    acc: dict[Metric, dict[str, tuple[list[float], list[float]]]] = {m: {} for m in Metric}
    buckets: dict[str, list[Totals]] = {}

    def add(metric: Metric, key: str, x: float, y: float | None) -> None:
        if y is not None:
            xs, ys = acc[metric].setdefault(key, ([], []))
            xs.append(x)
            ys.append(y)

    minutes = bucket / 60
    for key, slot_no, *sums in rows:
        t = _totals(key, sums)
        buckets.setdefault(key, []).append(t)
        if slot_no is None:
            continue                  # no epoch (never, with the trigger): counted, not drawn
        x = float(int(slot_no) * bucket)
        add(Metric.RESPONSE_TIME, key, x, t.avg_response_ms)
        add(Metric.ERROR_RATE, key, x, None if t.error_rate is None else 100.0 * t.error_rate)
        add(Metric.REQUESTS_PER_MINUTE, key, x, t.calls / minutes)
        add(Metric.RATE_REMAINING, key, x,
            None if t.min_remaining is None else float(t.min_remaining))
        add(Metric.TOKEN_REFRESH, key, x, float(t.refreshes_failed))
    lines = {m: tuple(Line(k, tuple(xs), tuple(ys)) for k, (xs, ys) in sorted(by_key.items()))
             for m, by_key in acc.items()}
    totals = {key: overall_totals(parts, key) for key, parts in buckets.items()}
    return ChartSeries(bucket, since, until, lines), totals


# -- portals and tiles ---------------------------------------------------------------------

@dataclass(frozen=True)
class PortalRef:
    key: str                     # str(hub_id), as the samples name it
    name: str


def known_portals(portal_keys: Sequence[str] | None = None) -> list[PortalRef]:
    """Portals in the store, plus any that only the samples still name (a
    portal disconnected since keeps its history in the report)."""
    named = {str(p.hub_id): p.name or str(p.hub_id) for p in Portal.select(Portal.hub_id,
                                                                          Portal.name)}
    sampled = [k for (k,) in PortalHealthSample.select(PortalHealthSample.portal_key)
               .distinct().tuples()]
    keys = sorted(set(named) | set(sampled), key=lambda k: (named.get(k, k).lower(), k))
    if portal_keys is not None:
        keys = [k for k in keys if k in set(portal_keys)]
    return [PortalRef(k, named.get(k, k)) for k in keys]


def resolve_portal(text: str) -> PortalRef:
    """A portal by hub id or (case-insensitive) name."""
    wanted = text.strip()
    for ref in known_portals():
        if ref.key == wanted or ref.name.lower() == wanted.lower():
            return ref
    raise LookupError(f"no portal '{text}' (give its hub id or name; see 'wg-desktop portals')")


@dataclass(frozen=True)
class Tile:
    """One portal's status at a glance (the dashboard's tiles)."""

    portal: PortalRef
    status: str | None           # latest sample's status; None: never checked
    reasons: tuple[str, ...]
    checked_at: dt.datetime | None
    uptime: float | None         # over the selected period
    avg_response_ms: float | None
    error_rate: float | None
    rate_remaining: int | None   # latest sample's
    last_sync: dt.datetime | None
    active_connections: int | None = None    # latest sample's open HTTP connections


def tiles(portals: Sequence[PortalRef], totals: Mapping[str, Totals]) -> list[Tile]:
    result = []
    for ref in portals:
        latest = latest_sample(ref.key)
        t = totals.get(ref.key)
        result.append(Tile(
            ref, str(latest.status) if latest else None, latest.reasons if latest else (),
            latest.timestamp if latest else None, t.uptime if t else None,
            t.avg_response_ms if t else None, t.error_rate if t else None,
            latest.figures.rate_remaining if latest else None,
            latest.figures.last_sync if latest else None,
            latest.figures.active_connections if latest else None))
    return result


@dataclass(frozen=True)
class Dashboard:
    """Everything the Health page shows for one period, read in one go."""

    period: Period
    tiles: tuple[Tile, ...]
    series: ChartSeries
    endpoints: tuple[EndpointUsage, ...]


def dashboard(period: Period, portal_keys: Sequence[str] | None = None,
              points: int = 120) -> Dashboard:
    portals = known_portals(portal_keys)
    keys = None if portal_keys is None else list(portal_keys)
    series, totals = series_and_totals(keys, period.since, period.until, points)
    usage = _endpoint_usage(keys, period)
    return Dashboard(period, tuple(tiles(portals, totals)), series, tuple(usage))


def _endpoint_usage(portal_keys: Sequence[str] | None, period: Period) -> list[EndpointUsage]:
    if portal_keys is None:
        return endpoint_usage(None, period.since, period.until)
    merged: dict[tuple[str, str], list[float]] = {}
    for key in portal_keys:
        for u in endpoint_usage(key, period.since, period.until):
            calls, failed, lat_sum = merged.setdefault((u.method, u.endpoint), [0, 0, 0.0])
            merged[(u.method, u.endpoint)] = [calls + u.calls, failed + u.failed,
                                              lat_sum + u.avg_latency_ms * u.calls]
    rows = [EndpointUsage(m, e, int(c), int(f), s / c if c else 0.0)
            for (m, e), (c, f, s) in merged.items()]
    return sorted(rows, key=lambda u: (-u.calls, u.endpoint))


# -- targets -------------------------------------------------------------------------------

class TargetStatus(enum.StrEnum):
    MET = "met"
    MISSED = "missed"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class TargetResult:
    key: str
    name: str
    target: str                  # as the requirements state it
    value: float | None          # the measured value in the target's unit (None: not measured)
    measured: str                # the value as text, or why there is none
    status: TargetStatus


UPTIME_TARGET = 0.999
RESPONSE_TARGET_MS = 5_000.0
ERROR_RATE_TARGET = 0.01
REFRESH_TARGET = 0.99
RECOVERY_TARGET = dt.timedelta(minutes=5)


def _judge(value: float | None, ok: bool) -> TargetStatus:
    if value is None:
        return TargetStatus.NOT_MEASURED
    return TargetStatus.MET if ok else TargetStatus.MISSED


@dataclass(frozen=True)
class Outage:
    """Consecutive down samples of one portal: from the first down sample to
    the next up one (``ended`` None: still down at the end of the period)."""

    portal_key: str
    started: dt.datetime
    ended: dt.datetime | None
    reason: str

    @property
    def duration(self) -> dt.timedelta | None:
        return None if self.ended is None else self.ended - self.started


def outages(portal_keys: Sequence[str] | None, since: dt.datetime,
            until: dt.datetime) -> list[Outage]:
    s = PortalHealthSample
    up = {str(x) for x in UP_STATUSES}
    rows = (s.select(s.portal_key, s.timestamp, s.status, s.reason)
            .where(_portal_cond(portal_keys, since, until))
            .order_by(s.portal_key, s.timestamp, s.id).tuples())
    found: list[Outage] = []
    open_: dict[str, tuple[dt.datetime, str]] = {}
    for key, when, status, reason in rows:
        when = s.timestamp.python_value(when) if isinstance(when, str) else when
        if status in up:
            if key in open_:
                started, why = open_.pop(key)
                found.append(Outage(key, started, when, why))
        elif key not in open_:
            open_[key] = (when, (reason or "").split("\n")[0])
    found.extend(Outage(k, started, None, why) for k, (started, why) in open_.items())
    return sorted(found, key=lambda o: o.started)


def backup_history(since: dt.datetime, until: dt.datetime) -> list[BackupRecord]:
    return list(BackupRecord.select()
                .where((BackupRecord.created_at >= since) & (BackupRecord.created_at <= until))
                .order_by(BackupRecord.created_at.desc()))


def judge_targets(total: Totals, backups: Sequence[BackupRecord],
                  incidents: Sequence[Outage]) -> list[TargetResult]:
    up = total.uptime
    avg = total.avg_response_ms
    err = total.error_rate
    refresh = total.refresh_success
    ok_backups = sum(1 for b in backups if b.status == BackupStatus.VERIFIED)
    backup_rate = ok_backups / len(backups) if backups else None
    ended = [o.duration for o in incidents if o.duration is not None]
    still_down = [o for o in incidents if o.ended is None]
    results = [
        TargetResult("uptime", "Uptime", "≥ 99.9 %", None if up is None else up * 100,
                     f"{up:.3%} of {total.samples} health checks up" if up is not None
                     else "no health checks in the period", _judge(up, (up or 0) >= UPTIME_TARGET)),
        TargetResult("avg_response", "Average response time", "< 5 s", avg,
                     f"{avg / 1000:.2f} s over {total.timed_calls} calls" if avg is not None
                     else "no API calls in the period",
                     _judge(avg, (avg or 0) < RESPONSE_TARGET_MS)),
        TargetResult("error_rate", "Error rate", "< 1 %", None if err is None else err * 100,
                     f"{err:.2%} ({total.failed} of {total.calls} calls failed)"
                     if err is not None else "no API calls in the period",
                     _judge(err, (err or 0) < ERROR_RATE_TARGET)),
        TargetResult("token_refresh", "Token refresh success", "> 99 %",
                     None if refresh is None else refresh * 100,
                     f"{refresh:.1%} of {total.refreshes_ok + total.refreshes_failed} refreshes"
                     if refresh is not None else "no token refresh in the period",
                     _judge(refresh, (refresh or 0) > REFRESH_TARGET)),
        TargetResult("backup_success", "Backup success", "100 %",
                     None if backup_rate is None else backup_rate * 100,
                     f"{ok_backups} of {len(backups)} backups verified"
                     if backups else "no backup ran in the period",
                     _judge(backup_rate, backup_rate == 1.0)),
        # Nothing in the app compares the local history with HubSpot's
        # workflows yet, so there is no number to put here.
        TargetResult("data_consistency", "Data consistency", "100 %", None,
                     "not measured by this version", TargetStatus.NOT_MEASURED),
    ]
    if not total.samples:
        recovery = TargetResult("recovery_time", "Recovery time", "< 5 min", None,
                                "no health checks in the period", TargetStatus.NOT_MEASURED)
    elif still_down:
        recovery = TargetResult("recovery_time", "Recovery time", "< 5 min", None,
                                f"{len(still_down)} portal(s) still down at the period's end",
                                TargetStatus.MISSED)
    else:
        worst = max(ended, default=dt.timedelta(0))
        recovery = TargetResult(
            "recovery_time", "Recovery time", "< 5 min", worst.total_seconds() / 60,
            f"longest outage {_duration(worst)} ({len(ended)} outage(s), measured by the "
            "health checks)" if ended else "no outage in the period",
            TargetStatus.MET if worst < RECOVERY_TARGET else TargetStatus.MISSED)
    results.append(recovery)
    return results


def _duration(d: dt.timedelta) -> str:
    minutes = d.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


# -- the report ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AlertRow:
    id: int
    severity: str
    portal_key: str | None
    title: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    count: int
    resolved_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


@dataclass(frozen=True)
class BackupRow:
    created_at: dt.datetime
    status: str
    trigger: str
    size: int
    message: str


@dataclass(frozen=True)
class HealthReport:
    generated_at: dt.datetime
    period: Period
    portals: tuple[PortalRef, ...]
    totals: Totals
    by_portal: tuple[Totals, ...]
    targets: tuple[TargetResult, ...]
    outages: tuple[Outage, ...]
    alerts: tuple[AlertRow, ...]
    endpoints: tuple[EndpointUsage, ...]
    syncs: tuple[AuditEntry, ...]
    workflow_changes: tuple[AuditEntry, ...]
    backups: tuple[BackupRow, ...]
    series: ChartSeries | None = field(default=None, compare=False)

    @property
    def has_samples(self) -> bool:
        return self.totals.samples > 0

    def portal_name(self, key: str | None) -> str:
        if key is None:
            return "all portals"
        return next((p.name for p in self.portals if p.key == key), key)

    def to_dict(self) -> dict[str, Any]:
        def iso(v: dt.datetime | None) -> str | None:
            return v.isoformat() if v else None

        def totals(t: Totals) -> dict[str, Any]:
            return {**asdict(t), "uptime": t.uptime, "error_rate": t.error_rate,
                    "avg_response_ms": t.avg_response_ms, "refresh_success": t.refresh_success}

        return {
            "generated_at": iso(self.generated_at),
            "period": {"label": self.period.label, "since": iso(self.period.since),
                       "until": iso(self.period.until)},
            "portals": [asdict(p) for p in self.portals],
            "has_samples": self.has_samples,
            "targets": [{**asdict(t), "status": str(t.status)} for t in self.targets],
            "totals": totals(self.totals),
            "by_portal": [totals(t) for t in self.by_portal],
            "outages": [{"portal": o.portal_key, "started": iso(o.started),
                         "ended": iso(o.ended), "reason": o.reason,
                         "minutes": None if o.duration is None
                         else o.duration.total_seconds() / 60} for o in self.outages],
            "alerts": [{**asdict(a), "first_seen": iso(a.first_seen),
                        "last_seen": iso(a.last_seen), "resolved_at": iso(a.resolved_at),
                        "acknowledged_at": iso(a.acknowledged_at)} for a in self.alerts],
            "endpoints": [asdict(u) for u in self.endpoints],
            "syncs": [_audit_dict(e) for e in self.syncs],
            "workflow_changes": [_audit_dict(e) for e in self.workflow_changes],
            "backups": [{**asdict(b), "created_at": iso(b.created_at)} for b in self.backups],
        }


def _audit_dict(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "timestamp": e.timestamp.isoformat(), "action": e.action,
            "portal": e.portal_hub_id, "outcome": e.outcome, "details": e.details}


AUDIT_ROWS_LIMIT = 500          # a report is read by people; the full trail is in the audit log


def _is_change(entry: AuditEntry) -> bool:
    """Sync writes one entry per changed workflow (details name the change)."""
    try:
        details = json.loads(entry.details or "{}")
    except ValueError:
        return False
    return isinstance(details, dict) and "change" in details


def build_report(audit: AuditLog, period: Period, portal_keys: Sequence[str] | None = None,
                 *, now: dt.datetime | None = None, points: int = 120) -> HealthReport:
    """The report's data for the period and portals (None: every portal)."""
    keys = None if portal_keys is None else list(portal_keys)
    portals = known_portals(keys)
    series, by_portal = series_and_totals(keys, period.since, period.until, points)
    total = overall_totals(by_portal)
    incidents = outages(keys, period.since, period.until)
    backup_rows = backup_history(period.since, period.until)
    alerts = _alerts_in(keys, period)
    audits: list[AuditEntry] = []
    hub_ids: list[int | None] = ([None] if keys is None
                                 else [int(k) for k in keys if k.isdigit()])
    for action in (AuditAction.SYNC, AuditAction.RESTORE):
        for hub_id in hub_ids:
            audits += audit.entries(AuditQuery(action=str(action), portal_hub_id=hub_id,
                                               since=period.since, until=period.until,
                                               limit=AUDIT_ROWS_LIMIT * 4))
    audits.sort(key=lambda e: (e.timestamp, e.id), reverse=True)
    changes = [e for e in audits if e.action == AuditAction.RESTORE or _is_change(e)]
    syncs = [e for e in audits if e.action == AuditAction.SYNC and not _is_change(e)]
    return HealthReport(
        now or utcnow(), period, tuple(portals), total,
        tuple(by_portal[p.key] for p in portals if p.key in by_portal),
        tuple(judge_targets(total, backup_rows, incidents)), tuple(incidents), tuple(alerts),
        tuple(_endpoint_usage(keys, period)), tuple(syncs[:AUDIT_ROWS_LIMIT]),
        tuple(changes[:AUDIT_ROWS_LIMIT]),
        tuple(BackupRow(b.created_at, b.status, b.trigger, b.size, b.message)
              for b in backup_rows),
        series)


def _alerts_in(portal_keys: Sequence[str] | None, period: Period) -> list[AlertRow]:
    """Alerts alive at any time in the period: raised before its end, last
    seen (or resolved) after its start."""
    a = AlertRecord
    cond = (a.first_seen <= period.until) & ((a.last_seen >= period.since)
                                             | (a.resolved_at >= period.since)
                                             | a.resolved_at.is_null())
    if portal_keys is not None:
        cond &= a.portal_key.in_(list(portal_keys))
    rows = a.select().where(cond).order_by(a.first_seen.desc(), a.id.desc())
    return [AlertRow(r.id, r.severity, r.portal_key, r.title, r.first_seen, r.last_seen,
                     r.count, r.resolved_at, r.acknowledged_at) for r in rows]


# -- output formats ------------------------------------------------------------------------

CSV_COLUMNS = ("section", "portal", "metric", "value", "target", "status", "detail")


def to_json(report: HealthReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str, ensure_ascii=False)


def to_csv(report: HealthReport) -> str:
    """The metrics as one long table: the targets, each portal's figures and
    the calls per endpoint (a spreadsheet pivots it as it likes)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def num(v: float | int | None) -> str:
        return "" if v is None else repr(float(v)) if isinstance(v, float) else str(v)

    for t in report.targets:
        writer.writerow(("target", "all", t.key, num(t.value), t.target, str(t.status),
                         t.measured))
    for t in report.by_portal:
        for metric, value in (("samples", t.samples), ("uptime", t.uptime),
                              ("calls", t.calls), ("failed_calls", t.failed),
                              ("error_rate", t.error_rate),
                              ("avg_response_ms", t.avg_response_ms),
                              ("refreshes_ok", t.refreshes_ok),
                              ("refreshes_failed", t.refreshes_failed),
                              ("min_rate_remaining", t.min_remaining),
                              ("max_active_connections", t.max_connections)):
            writer.writerow(("portal", t.portal_key, metric, num(value), "", "", ""))
    for u in report.endpoints:
        writer.writerow(("endpoint", "all" if len(report.portals) != 1
                         else report.portals[0].key, f"{u.method} {u.endpoint}",
                         num(u.calls), "", "", f"failed {u.failed}, avg "
                         f"{u.avg_latency_ms:.0f} ms"))
    return out.getvalue()


CHART_ORDER = (Metric.RESPONSE_TIME, Metric.ERROR_RATE, Metric.REQUESTS_PER_MINUTE,
               Metric.RATE_REMAINING, Metric.TOKEN_REFRESH)

_CSS = """
body { font-family: sans-serif; font-size: 10pt; color: #222; }
h1 { font-size: 18pt; margin-bottom: 0; } h2 { font-size: 13pt; margin-top: 18px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
.met { color: #1b7a2f; font-weight: bold; } .missed { color: #b3261e; font-weight: bold; }
.not-measured { color: #6b6b6b; font-style: italic; }
.note { color: #555; }
"""


def _t(v: dt.datetime | None) -> str:
    return "—" if v is None else v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    rows = list(rows)
    if not rows:
        return f'<p class="note">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table cellspacing="0" cellpadding="3" border="1"><tr>{head}</tr>{body}</table>'


def _pct(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}%}"


def to_html(report: HealthReport, charts: Mapping[str, bytes] | None = None,
            chart_width: int = 640) -> str:
    """A self-contained HTML report; ``charts`` maps a :class:`Metric` value
    to PNG bytes (rendered by the UI layer) embedded as data URIs."""
    e = html.escape
    charts = charts or {}
    portals = ", ".join(f"{e(p.name)} ({e(p.key)})" for p in report.portals) or "none"
    parts = [f"<html><head><meta charset='utf-8'><title>{e(APP_DISPLAY_NAME)} health report"
             f"</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(APP_DISPLAY_NAME)} — health report</h1>",
             f"<p>Period: <b>{e(report.period.label)}</b> ({_t(report.period.since)} to "
             f"{_t(report.period.until)})<br>Portals: {portals}<br>"
             f"Generated {_t(report.generated_at)}</p>"]
    if not report.has_samples:
        parts.append('<p class="missed">No health checks were recorded in this period, so '
                     "uptime, response times and error rates cannot be reported. Health "
                     "checks run every few minutes while the app is open with a connected "
                     "portal (or run <code>wg-desktop health</code>).</p>")
    parts.append("<h2>Reliability targets</h2>")
    parts.append(_table(("Target", "Goal", "Measured", "Result"), (
        (e(t.name), e(t.target), e(t.measured),
         f'<span class="{str(t.status).replace(" ", "-")}">{e(str(t.status))}</span>')
        for t in report.targets), "No targets."))
    if report.by_portal:
        parts.append("<h2>Per portal</h2>")
        parts.append(_table(
            ("Portal", "Checks", "Uptime", "Calls", "Error rate", "Avg response",
             "Lowest budget left", "Most open connections"),
            ((e(report.portal_name(t.portal_key)), str(t.samples), _pct(t.uptime, 3),
              str(t.calls), _pct(t.error_rate),
              "—" if t.avg_response_ms is None else f"{t.avg_response_ms:.0f} ms",
              "—" if t.min_remaining is None else str(t.min_remaining),
              "—" if t.max_connections is None else str(t.max_connections))
             for t in report.by_portal), ""))
    shown = [m for m in CHART_ORDER if str(m) in charts]
    if shown:
        parts.append("<h2>Charts</h2>")
        for metric in shown:
            title, unit = METRIC_TITLES[metric]
            data = base64.b64encode(charts[str(metric)]).decode("ascii")
            parts.append(f"<p><b>{e(title)}</b> ({e(unit)})<br>"
                         f'<img src="data:image/png;base64,{data}" width="{chart_width}" '
                         f'alt="{e(title)}"></p>')
    parts.append("<h2>Incidents (outages seen by the health checks)</h2>")
    parts.append(_table(("Portal", "Down from", "Up again", "Duration", "First reason"), (
        (e(report.portal_name(o.portal_key)), _t(o.started),
         _t(o.ended) if o.ended else "still down",
         _duration(o.duration) if o.duration is not None else "—", e(o.reason))
        for o in report.outages), "No outage in the period."))
    parts.append("<h2>Alerts</h2>")
    parts.append(_table(("Severity", "Portal", "Alert", "First seen", "Last seen", "Count",
                         "State"), (
        (e(a.severity), e(report.portal_name(a.portal_key) if a.portal_key else "—"),
         e(a.title), _t(a.first_seen), _t(a.last_seen), str(a.count),
         "resolved " + _t(a.resolved_at) if a.resolved_at else
         ("acknowledged" if a.acknowledged_at else "open"))
        for a in report.alerts), "No alert in the period."))
    parts.append("<h2>API usage per endpoint</h2>")
    parts.append(_table(("Method", "Endpoint", "Calls", "Failed", "Avg response"), (
        (e(u.method), e(u.endpoint), str(u.calls), str(u.failed), f"{u.avg_latency_ms:.0f} ms")
        for u in report.endpoints), "No API call recorded in the period."))
    parts.append("<h2>Sync history</h2>")
    parts.append(_table(("Time", "Portal", "Outcome", "Details"), (
        (_t(s.timestamp), e(str(s.portal_hub_id or "—")), e(s.outcome), e(s.details[:300]))
        for s in report.syncs), "No sync in the period."))
    parts.append("<h2>Workflow changes</h2>")
    parts.append(_table(("Time", "Portal", "What", "Details"), (
        (_t(c.timestamp), e(str(c.portal_hub_id or "—")), e(c.action), e(c.details[:300]))
        for c in report.workflow_changes), "No workflow change recorded in the period."))
    parts.append("<h2>Backups</h2>")
    parts.append(_table(("Time", "Result", "Trigger", "Size", "Message"), (
        (_t(b.created_at), e(b.status), e(b.trigger), f"{b.size / 1_048_576:.1f} MB",
         e(b.message)) for b in report.backups), "No backup ran in the period."))
    parts.append("</body></html>")
    return "\n".join(parts)


class ReportFormat(enum.StrEnum):
    PDF = "pdf"
    HTML = "html"
    CSV = "csv"
    JSON = "json"


def render_text(report: HealthReport, fmt: ReportFormat,
                charts: Mapping[str, bytes] | None = None) -> str:
    """The text formats (the PDF is drawn by the UI layer from :func:`to_html`)."""
    if fmt is ReportFormat.HTML:
        return to_html(report, charts)
    if fmt is ReportFormat.CSV:
        return to_csv(report)
    if fmt is ReportFormat.JSON:
        return to_json(report)
    raise ValueError(f"{fmt} is not a text format")
