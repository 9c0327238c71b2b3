"""The active-connections metric (migration 10, the client's pool, the sample,
the tile and the report) and the dashboard's one-scan query: its per-portal
totals equal the separate totals query's, sample for sample."""

from __future__ import annotations

import datetime as dt
import os

import httpx
import pytest

from tests.unit.test_health import _FakeClient, _Scripted
from tests.support.health_samples import older_health_store, seed_samples
from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.transport.client import HubSpotClient
from wg_desktop.services.health import HealthMonitor, latest_sample
from wg_desktop.services.reports import (build_report, explicit_period, series_and_totals,
                                         tiles, known_portals, to_csv, to_html, totals_by_portal)
from wg_desktop.store.db import LATEST_VERSION, open_store
from wg_desktop.store.health_models import MIGRATION_10_COLUMNS
from wg_desktop.store.models import Portal

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


def test_migration_10_adds_the_column_and_the_period_indexes(data_dir):
    path, key = data_dir / "old.db", os.urandom(32)
    older_health_store(path, key, 9, MIGRATION_10_COLUMNS,
                       timestamp="2026-11-28T12:00:00.000000+00:00", calls=3)
    store = open_store(path, key)
    try:
        assert store.schema_version() == LATEST_VERSION >= 10
        columns = {c.name for c in store.db.get_columns("portal_health_sample")}
        assert "active_connections" in columns
        indexes = {name for _, name, *_ in store.db.execute_sql(
            "SELECT type, name FROM sqlite_master WHERE type = 'index'").fetchall()}
        assert {"portal_health_sample_period", "api_call_period"} <= indexes
        assert latest_sample("1").figures.active_connections is None        # kept, unknown
        assert latest_sample("1").figures.calls == 3
    finally:
        store.close()


def test_the_client_counts_the_open_connections_of_its_own_pool():
    config = ClientConfig.from_settings(_settings())
    mocked = HubSpotClient("1", config, transport=httpx.MockTransport(lambda r: None))
    assert mocked.open_connections is None           # a custom transport keeps no pool
    pooled = HubSpotClient("1", config)
    assert pooled.open_connections == 0              # nothing opened yet
    mocked.close()
    pooled.close()


def _settings():
    from wg_desktop.config import Settings
    return Settings.load(None, {})


class _PooledClient(_FakeClient):
    open_connections = 3


class _PooledScripted(_Scripted):
    def client(self, key):
        return _PooledClient()


def test_each_sample_records_the_open_connections(ctx):
    Portal.create(hub_id=7, name="P")
    clock = iter(NOW + dt.timedelta(minutes=5 * i) for i in range(5))
    monitor = HealthMonitor(ctx.store, ctx.settings, _PooledScripted([True]),
                            _PooledScripted([]), now=lambda: next(clock))
    sample = monitor.check(7)
    assert sample.figures.active_connections == 3
    assert sample.to_dict()["active_connections"] == 3               # health --json
    assert latest_sample("7").figures.active_connections == 3        # stored, read back
    [tile] = tiles(known_portals(["7"]), {})
    assert tile.active_connections == 3


def test_the_report_shows_the_most_open_connections_per_portal(ctx):
    seed_samples(ctx.store, portals=2, days=1, now=NOW)
    with ctx.store.writing():
        ctx.store.db.execute_sql("UPDATE portal_health_sample SET active_connections = id % 7 "
                                 "WHERE portal_key = '1001'")
    report = build_report(ctx.audit, explicit_period(NOW - dt.timedelta(days=1), NOW))
    by_key = {t.portal_key: t for t in report.by_portal}
    assert by_key["1001"].max_connections == 6 and by_key["1002"].max_connections is None
    assert report.totals.max_connections == 6
    assert "portal,1001,max_active_connections,6," in to_csv(report)
    page = to_html(report)
    assert "<th>Most open connections</th>" in page


@pytest.mark.parametrize("days, points", [(1, 120), (7, 120), (30, 120), (0.5, 7)])
def test_one_scan_totals_equal_the_totals_query(ctx, days, points):
    seed_samples(ctx.store, portals=3, days=days, now=NOW,
                 status=lambda p, i: "unhealthy" if i % 17 == 0 else "healthy",
                 failed=lambda p, i: (i + p) % 4, refresh=lambda p, i: (i % 3 == 0, i % 11 == 0),
                 remaining=lambda p, i: 900 - (i * 7 + p) % 800)
    since, until = NOW - dt.timedelta(days=days, minutes=-7), NOW - dt.timedelta(minutes=3)
    _, merged = series_and_totals(None, since, until, points)
    assert merged == totals_by_portal(None, since, until)
    _, one = series_and_totals(["1002"], since, until, points)
    assert one == totals_by_portal(["1002"], since, until)
