"""Health reports: targets judged from synthetic samples (met, missed, not
measured), an empty period, the CSV/JSON round trip, the HTML's targets table
and embedded charts, and the aggregated chart series."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json

import pytest

from tests.support.health_samples import seed_samples  # noqa: F401 - also imported from here
from wg_desktop.services.reports import (Metric, PeriodError, ReportFormat, TargetStatus,
                                         build_report, dashboard, parse_period, render_text,
                                         series_and_totals, to_csv, to_html, to_json)
from wg_desktop.store.backup_models import BackupRecord, BackupStatus
from wg_desktop.store.health_models import AlertRecord
from wg_desktop.store.models import ApiCall

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)
PNG = base64.b64decode(  # a 1x1 PNG: the core embeds whatever bytes the UI rendered
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _period(text="24h"):
    return parse_period(text, NOW)


def _targets(report):
    return {t.key: t for t in report.targets}


def test_parse_period():
    assert _period("7d").length == dt.timedelta(days=7)
    assert _period("90m").length == dt.timedelta(minutes=90)
    assert _period(" 24H ").label == "24h"
    for bad in ("", "7", "0d", "week", "60d"):
        with pytest.raises(PeriodError):
            parse_period(bad, NOW)


def test_targets_met_from_good_samples(ctx):
    seed_samples(ctx.store, refresh=lambda p, i: (1, 0) if i % 12 == 0 else (0, 0))
    with ctx.store.writing():
        BackupRecord.create(created_at=NOW - dt.timedelta(hours=3), status=BackupStatus.VERIFIED)
    targets = _targets(build_report(ctx.audit, _period(), now=NOW))
    for key in ("uptime", "avg_response", "error_rate", "token_refresh", "backup_success",
                "recovery_time"):
        assert targets[key].status is TargetStatus.MET, targets[key]
    assert targets["uptime"].value == pytest.approx(100.0)
    assert targets["avg_response"].value == pytest.approx(400.0)
    assert "no outage" in targets["recovery_time"].measured
    # Nothing measures it: the report must not claim it.
    assert targets["data_consistency"].status is TargetStatus.NOT_MEASURED


def test_targets_missed(ctx):
    # One check in 100 down, 2 % of calls failing, 6 s responses, a failed
    # refresh, a failed backup, a 15-minute outage.
    down = {100, 101, 102}
    seed_samples(ctx.store, status=lambda p, i: "unhealthy" if i in down else "healthy",
                 failed=lambda p, i: 1 if i % 2 else 0, avg_ms=6_000.0,
                 refresh=lambda p, i: (0, 1) if i == 5 else ((1, 0) if i == 6 else (0, 0)))
    with ctx.store.writing():
        BackupRecord.create(created_at=NOW - dt.timedelta(hours=2), status=BackupStatus.VERIFIED)
        BackupRecord.create(created_at=NOW - dt.timedelta(hours=1), status=BackupStatus.FAILED)
    report = build_report(ctx.audit, _period(), now=NOW)
    targets = _targets(report)
    for key in ("uptime", "avg_response", "error_rate", "token_refresh", "backup_success",
                "recovery_time"):
        assert targets[key].status is TargetStatus.MISSED, targets[key]
    assert targets["uptime"].value == pytest.approx(100 * (288 - 3) / 288)
    assert targets["error_rate"].value == pytest.approx(100 * 144 / (288 * 20))
    assert targets["token_refresh"].value == pytest.approx(50.0)
    assert targets["backup_success"].value == pytest.approx(50.0)
    assert targets["recovery_time"].value == pytest.approx(15.0)
    assert [(o.portal_key, o.duration) for o in report.outages] == [
        ("1001", dt.timedelta(minutes=15))]


def test_not_measured_without_refreshes_or_backups(ctx):
    seed_samples(ctx.store)
    targets = _targets(build_report(ctx.audit, _period(), now=NOW))
    assert targets["token_refresh"].status is TargetStatus.NOT_MEASURED
    assert targets["backup_success"].status is TargetStatus.NOT_MEASURED
    assert "no backup ran" in targets["backup_success"].measured


def test_an_empty_period_is_a_report_that_says_so(ctx):
    seed_samples(ctx.store, now=NOW - dt.timedelta(days=3))
    report = build_report(ctx.audit, _period("24h"), now=NOW)
    assert not report.has_samples
    assert all(t.status is TargetStatus.NOT_MEASURED for t in report.targets)
    page = to_html(report)
    assert "No health checks were recorded in this period" in page
    assert json.loads(to_json(report))["has_samples"] is False


def test_portal_filter_and_still_down(ctx):
    keys = seed_samples(ctx.store, portals=2,
                        status=lambda p, i: "unhealthy" if p == 1 and i > 280 else "healthy")
    only_first = build_report(ctx.audit, _period(), [keys[0]], now=NOW)
    assert [t.portal_key for t in only_first.by_portal] == [keys[0]]
    assert _targets(only_first)["recovery_time"].status is TargetStatus.MET
    second = build_report(ctx.audit, _period(), [keys[1]], now=NOW)
    recovery = _targets(second)["recovery_time"]
    assert recovery.status is TargetStatus.MISSED and "still down" in recovery.measured


def test_json_round_trip(ctx):
    seed_samples(ctx.store, portals=2, failed=lambda p, i: i % 3)
    report = build_report(ctx.audit, _period(), now=NOW)
    data = json.loads(to_json(report))
    assert data == json.loads(json.dumps(report.to_dict(), default=str))
    assert data["totals"]["calls"] == report.totals.calls == 2 * 288 * 20
    assert data["totals"]["failed"] == report.totals.failed
    assert [t["status"] for t in data["targets"]] == [str(t.status) for t in report.targets]
    assert {p["key"] for p in data["portals"]} == {"1001", "1002"}


def test_csv_round_trip(ctx):
    seed_samples(ctx.store, portals=2, failed=lambda p, i: i % 3)
    with ctx.store.writing():
        for n in range(4):
            ApiCall.create(timestamp=NOW - dt.timedelta(minutes=n + 1), portal_key="1001",
                           method="GET", endpoint="/automation/v4/flows", latency_ms=100.0)
    report = build_report(ctx.audit, _period(), now=NOW)
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    targets = {r["metric"]: r for r in rows if r["section"] == "target"}
    for t in report.targets:
        row = targets[t.key]
        assert row["status"] == str(t.status)
        assert (float(row["value"]) if row["value"] else None) == pytest.approx(t.value)
    per_portal = {(r["portal"], r["metric"]): r["value"] for r in rows if r["section"] == "portal"}
    for t in report.by_portal:
        assert int(per_portal[(t.portal_key, "calls")]) == t.calls
        assert float(per_portal[(t.portal_key, "error_rate")]) == pytest.approx(t.error_rate)
    endpoint = [r for r in rows if r["section"] == "endpoint"]
    assert endpoint[0]["metric"] == "GET /automation/v4/flows" and endpoint[0]["value"] == "4"


def test_html_has_targets_table_and_embedded_charts(ctx):
    seed_samples(ctx.store)
    with ctx.store.writing():
        AlertRecord.create(key="error_rate:1001", rule="error_rate", severity="warning",
                           portal_key="1001", title="Portal 1001: 9% of API calls failed",
                           first_seen=NOW - dt.timedelta(hours=2),
                           last_seen=NOW - dt.timedelta(hours=1))
        AlertRecord.create(key="old:1001", rule="error_rate", severity="warning",
                           portal_key="1001", title="long ago",
                           first_seen=NOW - dt.timedelta(days=5),
                           last_seen=NOW - dt.timedelta(days=5),
                           resolved_at=NOW - dt.timedelta(days=5))
    report = build_report(ctx.audit, _period(), now=NOW)
    page = render_text(report, ReportFormat.HTML,
                       {str(Metric.RESPONSE_TIME): PNG, str(Metric.ERROR_RATE): PNG})
    assert "<h2>Reliability targets</h2>" in page
    for name in ("Uptime", "Average response time", "Error rate", "Token refresh success",
                 "Backup success", "Data consistency", "Recovery time"):
        assert f"<td>{name}</td>" in page
    assert page.count('src="data:image/png;base64,' + base64.b64encode(PNG).decode()) == 2
    assert "9% of API calls failed" in page and "long ago" not in page
    assert "Portal 1" in page


def test_workflow_changes_and_syncs_from_the_audit_log(ctx):
    seed_samples(ctx.store)
    ctx.audit.record("sync", portal_hub_id=1001, details={"summary": "2 changed"})
    ctx.audit.record("sync", portal_hub_id=1001, outcome="info",
                     details={"workflow": "Welcome", "flow_id": "7", "change": "changed"})
    period = parse_period("1h")        # the audit entries carry the real clock
    report = build_report(ctx.audit, period)
    assert [e.details for e in report.syncs] == ['{"summary": "2 changed"}']
    assert len(report.workflow_changes) == 1 and "Welcome" in report.workflow_changes[0].details
    assert "Welcome" in to_html(report)


def test_chart_series_are_bucketed_per_portal(ctx):
    keys = seed_samples(ctx.store, portals=2, failed=lambda p, i: 2 if p == 0 else 0)
    series, _ = series_and_totals(None, NOW - dt.timedelta(hours=24), NOW, points=24)
    assert series.bucket_s == 3600
    lines = {line.portal_key: line for line in series.lines[Metric.ERROR_RATE]}
    assert set(lines) == set(keys)
    assert 24 <= len(lines["1001"].xs) <= 25
    assert set(lines["1001"].ys) == {10.0} and set(lines["1002"].ys) == {0.0}
    rpm = series.lines[Metric.REQUESTS_PER_MINUTE][0]
    # 12 samples of 20 calls per hour -> 4 requests a minute (full buckets).
    assert sorted(rpm.ys)[len(rpm.ys) // 2] == pytest.approx(4.0)
    assert all(y == 900 for line in series.lines[Metric.RATE_REMAINING] for y in line.ys)


def test_dashboard_tiles(ctx):
    seed_samples(ctx.store, portals=3, status=lambda p, i: "degraded" if p == 2 else "healthy")
    board = dashboard(parse_period("24h", NOW))
    assert [t.portal.name for t in board.tiles] == ["Portal 1", "Portal 2", "Portal 3"]
    assert board.tiles[2].status == "degraded" and board.tiles[0].uptime == 1.0
    assert board.tiles[0].rate_remaining == 900
    assert board.series.points() > 0
