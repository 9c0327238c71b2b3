"""Health verdicts (table-driven), the aggregated queries over call records
and samples, and the paused sample of a portal that needs a reconnect."""

from __future__ import annotations

import datetime as dt

import pytest

from wg_desktop.services.connection import ConnectionTest
from wg_desktop.services.health import (HealthFigures, HealthMonitor, HealthStatus,
                                        HealthThresholds, call_totals, classify, endpoint_usage,
                                        errors_by_type, latency_by_request_type, latest_sample,
                                        percentile, samples, uptime)
from wg_desktop.store.health_models import PortalHealthSample
from wg_desktop.store.models import ApiCall, AuditEvent, Portal, PortalStatus

T = HealthThresholds()            # the defaults: 5 s warn, 10 s degraded, > 3 failures, 5 %
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)

CASES = [
    # (figures, expected status, a word each reason list must contain)
    (HealthFigures(check_ok=True, calls=10, avg_response_ms=300), HealthStatus.HEALTHY, None),
    (HealthFigures(check_ok=True, calls=10, avg_response_ms=5_001), HealthStatus.HEALTHY, "slow"),
    (HealthFigures(check_ok=True, calls=10, avg_response_ms=5_000), HealthStatus.HEALTHY, None),
    (HealthFigures(check_ok=True, calls=10, avg_response_ms=10_001), HealthStatus.DEGRADED,
     "degraded above 10 s"),
    (HealthFigures(check_ok=False, consecutive_failures=1), HealthStatus.DEGRADED,
     "connection test failed"),
    (HealthFigures(check_ok=False, consecutive_failures=3), HealthStatus.DEGRADED, "3 in a row"),
    (HealthFigures(check_ok=False, consecutive_failures=4), HealthStatus.UNHEALTHY,
     "4 connection tests failed"),
    (HealthFigures(check_ok=True, breaker_state="open"), HealthStatus.UNHEALTHY,
     "circuit breaker"),
    (HealthFigures(check_ok=True, breaker_state="half_open"), HealthStatus.HEALTHY, None),
    (HealthFigures(check_ok=True, calls=100, failed_calls=6), HealthStatus.DEGRADED,
     "6% of 100"),
    (HealthFigures(check_ok=True, calls=100, failed_calls=5), HealthStatus.HEALTHY, None),
    (HealthFigures(paused=True, pause_reason="token revoked"), HealthStatus.UNHEALTHY,
     "paused: token revoked"),
    # the worst finding wins
    (HealthFigures(check_ok=False, consecutive_failures=5, avg_response_ms=12_000),
     HealthStatus.UNHEALTHY, "average response 12.0 s"),
]


@pytest.mark.parametrize("figures, status, word", CASES)
def test_classify(figures, status, word):
    verdict = classify(figures, T)
    assert verdict.status is status
    if word is None:
        assert verdict.reasons == ()
    else:
        assert any(word in r for r in verdict.reasons), verdict.reasons


def test_thresholds_come_from_the_settings(ctx):
    ctx.settings.updated({"alerts.response_time_warning": 2, "alerts.response_time_degraded": 4,
                          "alerts.connection_failures_critical": 1,
                          "alerts.error_rate_warning": 0.5,
                          "alerts.rate_limit_remaining_info": 7})
    t = HealthThresholds.from_settings(ctx.settings)
    assert t == HealthThresholds(2000, 4000, 1, 0.5, 7)
    assert classify(HealthFigures(check_ok=False, consecutive_failures=2), t).status \
        is HealthStatus.UNHEALTHY
    assert classify(HealthFigures(check_ok=True, calls=1, avg_response_ms=4_500), t).status \
        is HealthStatus.DEGRADED


@pytest.mark.parametrize("values, p, expected", [
    ([1.0], 50, 1.0), ([1.0], 99, 1.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([1.0, 2.0, 3.0, 4.0], 95, 4.0),
    (list(map(float, range(1, 101))), 95, 95.0), (list(map(float, range(1, 101))), 99, 99.0),
])
def test_percentile_nearest_rank(values, p, expected):
    assert percentile(values, p) == expected


def _call(ts, endpoint="/crm/v3/x", method="GET", latency=100.0, error=None, portal="1"):
    ApiCall.create(timestamp=ts, portal_key=portal, method=method, endpoint=endpoint,
                   status=None if error else 200, latency_ms=latency, error_category=error)


def test_queries_over_call_records(ctx):
    t0 = NOW - dt.timedelta(minutes=10)
    for i in range(10):
        _call(t0 + dt.timedelta(seconds=i), latency=100.0 * (i + 1))
    _call(t0, endpoint="/automation/v4/flows/{flowId}", latency=50, error="server_error")
    _call(t0, endpoint="/automation/v4/flows/{flowId}", latency=70, error="timeout")
    _call(t0, endpoint="/automation/v4/flows/{flowId}", latency=30, error="timeout")
    _call(t0, portal="2")                                  # another portal: not counted
    _call(NOW - dt.timedelta(hours=2))                     # before the period: not counted
    since = NOW - dt.timedelta(hours=1)

    totals = call_totals("1", since, NOW)
    assert (totals.calls, totals.failed) == (13, 3)

    usage = endpoint_usage("1", since, NOW)
    assert [(u.endpoint, u.calls, u.failed) for u in usage] == [
        ("/crm/v3/x", 10, 0), ("/automation/v4/flows/{flowId}", 3, 3)]
    assert usage[0].avg_latency_ms == pytest.approx(550.0)

    latency = {r.endpoint: r for r in latency_by_request_type("1", since, NOW)}
    assert (latency["/crm/v3/x"].p50_ms, latency["/crm/v3/x"].p95_ms,
            latency["/crm/v3/x"].max_ms) == (500.0, 1000.0, 1000.0)

    errors = errors_by_type("1", since, NOW)
    assert [(e.error_type, e.count) for e in errors] == [("timeout", 2), ("server_error", 1)]
    assert errors[0].rate == pytest.approx(2 / 13)
    assert call_totals(None, since, NOW).calls == 14      # every portal


def _sample(ts, status, portal="1"):
    PortalHealthSample.create(timestamp=ts, portal_key=portal, status=status)


def test_uptime_and_samples_from_stored_samples(ctx):
    for i, status in enumerate(["healthy", "healthy", "degraded", "unhealthy", "healthy"]):
        _sample(NOW - dt.timedelta(minutes=5 * (5 - i)), status)
    _sample(NOW, "unhealthy", portal="2")
    up = uptime("1", NOW - dt.timedelta(hours=1), NOW)
    assert (up.samples, up.up, up.ratio) == (5, 4, 0.8)
    assert uptime("1", NOW + dt.timedelta(minutes=1)).ratio is None     # no samples: unknown
    assert [s.status for s in samples("1", limit=2)] == ["unhealthy", "healthy"]
    assert latest_sample("1").status is HealthStatus.HEALTHY
    assert latest_sample("3") is None


class _NoCalls:
    def test_connection(self, hub_id):
        raise AssertionError("a portal that needs a reconnect must not be called")

    def client(self, key):
        raise AssertionError("no client for a paused portal")


def test_a_portal_that_needs_a_reconnect_is_sampled_as_paused_without_a_call(ctx):
    Portal.create(hub_id=42, name="Paused", status=PortalStatus.RECONNECT_NEEDED)
    Portal.create(hub_id=43, name="Gone", status=PortalStatus.DISCONNECTED)
    AuditEvent.create(action="token_refresh", portal_hub_id=42, outcome="failure")
    monitor = HealthMonitor(ctx.store, ctx.settings, _NoCalls(), _NoCalls(), now=lambda: NOW)
    seen = []
    monitor.on_sample(seen.append)
    results = monitor.check_all()
    assert [r.portal_key for r in results] == ["42"] == [s.portal_key for s in seen]
    sample = results[0]
    assert sample.status is HealthStatus.UNHEALTHY and sample.figures.paused
    assert "reconnect" in sample.reasons[0] and sample.figures.check_ok is None
    assert sample.figures.last_refresh_ok is False
    stored = latest_sample("42")
    assert stored.figures.paused and stored.reasons == sample.reasons


class _FakeBreaker:
    state = "closed"


class _FakeLimiter:
    def snapshot(self):
        from wg_desktop.hubspot.ratelimit import BudgetSnapshot, WindowBudget
        # The minute and ten-second windows refill at once: not counted.
        return BudgetSnapshot("7", (WindowBudget("client", "minute", 100, 99, 1, 0, 60),
                                    WindowBudget("client", "day", 10_000, 9_940, 60, 0, 86_400)),
                              (WindowBudget("hubspot", "burst", 100, 95, 5, 0, 10),
                               WindowBudget("hubspot", "daily", 1000, 980, 20, 0, None)),
                              0, 0, 0, 0)


class _FakeClient:
    breaker = _FakeBreaker()
    limiter = _FakeLimiter()


class _Scripted:
    """test_connection answers from a script; the monitor's own logic is real."""

    def __init__(self, answers):
        self.answers = list(answers)

    def test_connection(self, hub_id):
        return ConnectionTest(hub_id, self.answers.pop(0), 120.0, "scripted")

    def client(self, key):
        return _FakeClient()


def test_consecutive_failures_count_across_samples_and_reset_on_success(ctx):
    Portal.create(hub_id=7, name="P")
    clock = iter(NOW + dt.timedelta(minutes=5 * i) for i in range(20))
    scripted = _Scripted([False, False, False, False, True])
    monitor = HealthMonitor(ctx.store, ctx.settings, scripted, scripted, now=lambda: next(clock))
    statuses = []
    for _ in range(5):
        sample = monitor.check(7)
        statuses.append((sample.status, sample.figures.consecutive_failures))
    assert statuses == [(HealthStatus.DEGRADED, 1), (HealthStatus.DEGRADED, 2),
                        (HealthStatus.DEGRADED, 3), (HealthStatus.UNHEALTHY, 4),
                        (HealthStatus.HEALTHY, 0)]
    last = latest_sample("7").figures
    assert (last.client_remaining, last.hubspot_remaining, last.rate_remaining) == (60, 20, 20)


def test_retention_removes_old_samples_and_resolved_alerts_only(ctx):
    from wg_desktop.store.health_models import AlertRecord
    now = dt.datetime.now(dt.timezone.utc)
    old = now - dt.timedelta(days=31)
    _sample(old, "healthy")
    _sample(now, "healthy")
    AlertRecord.create(key="a", rule="error_rate", severity="warning", title="old resolved",
                       first_seen=old, last_seen=old, resolved_at=old)
    AlertRecord.create(key="b", rule="error_rate", severity="warning", title="old open",
                       first_seen=old, last_seen=old)
    removed = ctx.retention.run(now)
    assert removed["health check samples"] == 1 and removed["alert history"] == 1
    assert PortalHealthSample.select().count() == 1
    assert [a.title for a in AlertRecord.select()] == ["old open"]
