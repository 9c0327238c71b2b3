"""The samples' hourly rollup (migration 11): the charts' sums read from it
equal the sums over the raw samples, whoever wrote, changed or purged them;
an old store is back-filled when it is migrated."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from wg_desktop.services import health_rollup, reports
from wg_desktop.services.health import UP_STATUSES
from wg_desktop.services.reports import bucket_seconds, series_and_totals
from wg_desktop.store.db import LATEST_VERSION, open_store
from wg_desktop.store.health_models import (SAMPLE_HOURLY_BACKFILL, UP_STATUS_SQL,
                                            PortalHealthSample)
from wg_desktop.store.models import Portal

# Deliberately not on an hour: the periods end in a partial hour.
NOW = dt.datetime(2026, 11, 28, 12, 37, 11, 250_000, tzinfo=dt.timezone.utc)
STATUSES = ("healthy", "degraded", "unhealthy")


def _rows(portals: int, days: float, now: dt.datetime) -> list[tuple]:
    """Irregular samples (7 min 13 s apart, so hours hold 8 or 9) with every
    figure varying, NULLs included: calls 0 leave no response time, a budget
    known to the client, HubSpot, both or neither, connections now and then."""
    rows = []
    step = dt.timedelta(minutes=7, seconds=13)
    count = int(dt.timedelta(days=days) / step)
    for p in range(portals):
        for i in range(count):
            when = now - step * (count - 1 - i) - dt.timedelta(seconds=p * 17)
            calls = (i * 7 + p) % 23
            client = None if i % 5 == 0 else 900 - (i * 13) % 700
            hubspot = None if i % 3 else 500_000 - i * 37 % 400
            rows.append((when.isoformat(timespec="microseconds"), str(1001 + p),
                         STATUSES[(i // 11 + p) % 3 if i % 4 == 0 else 0], calls,
                         (i + p) % 3 if calls else 0,
                         None if calls == 0 else 180.0 + (i * 37 % 1000) / 7,
                         client, hubspot, i % 6 == 0, i % 29 == 0,
                         None if i % 4 else i % 9))
    return rows


def _insert(store, rows) -> None:
    with store.writing():
        for p in {r[1] for r in rows}:
            Portal.get_or_create(hub_id=int(p), defaults={"name": f"Portal {p}"})
        store.db.connection().executemany(
            "INSERT INTO portal_health_sample (timestamp, portal_key, status, reason, calls, "
            "failed_calls, avg_response_ms, client_remaining, hubspot_remaining, refreshes_ok, "
            "refreshes_failed, active_connections, check_ok, paused, consecutive_failures, "
            "breaker_state) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, 0, '')", rows)


def _rollup_reads(monkeypatch) -> list[tuple]:
    """The reads of the hourly rollup (its arguments) made from now on."""
    reads: list[tuple] = []
    real = health_rollup._rollup_rows
    monkeypatch.setattr(health_rollup, "_rollup_rows",
                        lambda *args: reads.append(args) or real(*args))
    return reads


def _raw_only(monkeypatch):
    """The same query with the rollup bypassed: every bucket from raw samples."""
    monkeypatch.setattr(reports, "bucket_rows",
                        lambda raw, keys, since, until, bucket: list(raw(since, until)))


def _assert_same(got, want) -> None:
    (series, totals), (raw_series, raw_totals) = got, want
    assert series.bucket_s == raw_series.bucket_s
    assert set(series.lines) == set(raw_series.lines)
    for metric, lines in raw_series.lines.items():
        assert [line.portal_key for line in series.lines[metric]] == \
            [line.portal_key for line in lines]
        for line, raw_line in zip(series.lines[metric], lines):
            assert line.xs == raw_line.xs, metric
            # Floats are added in another order: equal up to rounding.
            assert line.ys == pytest.approx(raw_line.ys, rel=1e-12, abs=1e-9), metric
    assert set(totals) == set(raw_totals)
    for key, raw_total in raw_totals.items():
        total = totals[key]
        assert total.response_sum_ms == pytest.approx(raw_total.response_sum_ms, rel=1e-12)
        assert _exact(total) == _exact(raw_total)


def _exact(t) -> tuple:
    return (t.portal_key, t.samples, t.up, t.calls, t.failed, t.timed_calls, t.refreshes_ok,
            t.refreshes_failed, t.min_remaining, t.max_connections)


@pytest.mark.parametrize("length, keys", [
    (dt.timedelta(days=30), None),                       # the 30-day chart: 6 h buckets
    (dt.timedelta(days=30), ["1002", "1003"]),           # some portals only
    (dt.timedelta(days=5), None),                        # 1 h buckets
    (dt.timedelta(days=10, minutes=37, seconds=11.25), None),     # starts on a whole hour
])
def test_rollup_sums_equal_the_raw_samples_sums(ctx, monkeypatch, length, keys):
    _insert(ctx.store, _rows(portals=3, days=33, now=NOW))
    since, until = NOW - length, NOW
    reads = _rollup_reads(monkeypatch)
    got = series_and_totals(keys, since, until)
    assert len(reads) == 1                  # the whole hours came from the rollup
    _raw_only(monkeypatch)
    want = series_and_totals(keys, since, until)
    assert sum(t.samples for t in want[1].values()) > 1_000
    _assert_same(got, want)


def test_short_buckets_read_the_raw_samples(ctx, monkeypatch):
    _insert(ctx.store, _rows(portals=2, days=8, now=NOW))
    reads = _rollup_reads(monkeypatch)
    # 24 h: 12-minute buckets do not hold whole hours; 7 d: 84 minutes neither.
    for length in (dt.timedelta(hours=24), dt.timedelta(days=7)):
        assert bucket_seconds(length) % 3600
        _, totals = series_and_totals(None, NOW - length, NOW)
        assert sum(t.samples for t in totals.values()) > 0
    # A period inside one hour has no whole hour to read, whatever its buckets.
    assert health_rollup.whole_hours(NOW - dt.timedelta(minutes=30), NOW) is None
    assert health_rollup.bucket_rows(lambda since, until: [], None,
                                     NOW - dt.timedelta(minutes=30), NOW, 3600) == []
    assert reads == []


def _rollup(store) -> list[tuple]:
    return store.db.execute_sql(
        "SELECT portal_key, hour, samples, up, calls, failed, timed_calls, "
        "ROUND(response_sum_ms, 6), refreshes_ok, refreshes_failed, min_remaining, "
        "max_connections FROM health_sample_hourly ORDER BY portal_key, hour").fetchall()


def _fresh(store) -> list[tuple]:
    """The rollup recomputed from the samples now stored (migration 11's fill)."""
    select = SAMPLE_HOURLY_BACKFILL[SAMPLE_HOURLY_BACKFILL.index("SELECT"):]
    return [(*r[:7], None if r[7] is None else round(r[7], 6), *r[8:]) for r in
            store.db.execute_sql(f"SELECT * FROM ({select}) ORDER BY 1, 2").fetchall()]


def test_the_triggers_keep_the_rollup_through_inserts_updates_and_deletes(ctx):
    _insert(ctx.store, _rows(portals=2, days=3, now=NOW))
    with ctx.store.writing():                        # the ORM, as the health monitor writes
        PortalHealthSample.create(timestamp=NOW, portal_key="1001", status="degraded",
                                  calls=4, failed_calls=1, avg_response_ms=250.5,
                                  client_remaining=3, active_connections=12)
    rollup = _rollup(ctx.store)
    assert rollup == _fresh(ctx.store)
    assert len(rollup) > 100
    newest = [r for r in rollup if r[0] == "1001"][-1]
    assert newest[10] == 3 and newest[11] == 12      # the tightest budget, most connections
    with ctx.store.writing():
        ctx.store.db.execute_sql("UPDATE portal_health_sample SET active_connections = 40, "
                                 "status = 'unhealthy' WHERE id % 10 = 0")
        ctx.store.db.execute_sql("UPDATE portal_health_sample SET timestamp = ? WHERE id = 5",
                                 (NOW.isoformat(timespec="microseconds"),))
        ctx.store.db.execute_sql("UPDATE portal_health_sample SET epoch = NULL WHERE id = 5")
        ctx.store.db.execute_sql("UPDATE portal_health_sample SET epoch = "
                                 f"{int(NOW.timestamp())} WHERE id = 5")
        ctx.store.db.execute_sql("DELETE FROM portal_health_sample WHERE id % 7 = 0")
    assert _rollup(ctx.store) == _fresh(ctx.store)


def test_retention_purges_the_rollup_with_the_samples(ctx):
    _insert(ctx.store, _rows(portals=2, days=33, now=NOW))
    removed = ctx.retention.run(now=NOW)
    assert removed["health check samples"] > 0
    cutoff = NOW - dt.timedelta(days=int(ctx.settings.get("retention.health_days")))
    oldest_hour = ctx.store.db.execute_sql(
        "SELECT MIN(hour) FROM health_sample_hourly").fetchone()[0]
    assert oldest_hour == int(cutoff.timestamp()) // 3600      # the cut hour, re-summed
    assert _rollup(ctx.store) == _fresh(ctx.store)


def test_migration_11_fills_the_rollup_of_an_old_store(data_dir):
    path, key = data_dir / "old.db", os.urandom(32)
    old = open_store(path, key, target_version=10)
    _insert(old, _rows(portals=2, days=2, now=NOW))
    assert not old.db.table_exists("health_sample_hourly")
    old.close()
    store = open_store(path, key)
    try:
        assert store.schema_version() == LATEST_VERSION >= 11
        rollup = _rollup(store)
        assert len(rollup) >= 2 * 48 and rollup == _fresh(store)
        assert sum(r[2] for r in rollup) == PortalHealthSample.select().count()
        _insert(store, _rows(portals=1, days=1, now=NOW + dt.timedelta(days=1)))  # triggers on
        assert _rollup(store) == _fresh(store)
    finally:
        store.close()


def test_the_rollups_up_statuses_are_the_health_services():
    assert UP_STATUS_SQL == "(" + ", ".join(f"'{s}'" for s in UP_STATUSES) + ")"


def test_a_salvage_rebuilds_the_rollup_from_the_samples_it_saved(ctx, tmp_path):
    from wg_desktop.store.doctor import salvage

    _insert(ctx.store, _rows(portals=2, days=2, now=NOW))
    with ctx.store.writing():   # a rollup that no longer matches its samples (damage, a bug)
        ctx.store.db.execute_sql("UPDATE health_sample_hourly SET calls = calls + 1000")
    assert _rollup(ctx.store) != _fresh(ctx.store)
    ctx.store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    report = salvage(ctx.store.path, ctx.store.key, tmp_path / "salvaged.db")
    assert report.check_ok, report.check_problem
    saved = open_store(tmp_path / "salvaged.db", ctx.store.key, as_default=False)
    try:
        with saved.session():
            assert _rollup(saved) == _fresh(saved)
            assert len(_rollup(saved)) > 40
    finally:
        saved.close()
