"""Migration 9 (HubSpot's usage columns and the samples' integer epoch) and
the "calls today" figures the Health page tiles show."""

from __future__ import annotations

import datetime as dt
import os

from tests.support.health_samples import older_health_store
from wg_desktop.services.health import daily_counts
from wg_desktop.store.db import LATEST_VERSION, open_store
from wg_desktop.store.health_models import MIGRATION_9_COLUMNS, PortalHealthSample

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


def _epochs(db):
    return db.execute_sql("SELECT timestamp, epoch FROM portal_health_sample ORDER BY id").fetchall()


def test_migration_9_adds_the_columns_and_backfills_the_epoch(data_dir):
    path, key = data_dir / "old.db", os.urandom(32)
    older_health_store(path, key, 8, MIGRATION_9_COLUMNS,
                       timestamp="2026-11-28T12:00:00.500000+00:00")

    store = open_store(path, key)
    try:
        assert store.schema_version() == LATEST_VERSION >= 9
        columns = {c.name for c in store.db.get_columns("portal_health_sample")}
        assert set(MIGRATION_9_COLUMNS) <= columns
        assert _epochs(store.db) == [("2026-11-28T12:00:00.500000+00:00", int(NOW.timestamp()))]
    finally:
        store.close()


def test_every_writer_gets_the_epoch_from_the_trigger(ctx):
    when = NOW - dt.timedelta(days=3, seconds=7)
    PortalHealthSample.create(timestamp=when, portal_key="1", status="healthy")
    with ctx.store.writing():
        ctx.store.db.connection().execute(
            "INSERT INTO portal_health_sample (timestamp, portal_key, status, reason, paused, "
            "consecutive_failures, breaker_state, calls, failed_calls, refreshes_ok, "
            "refreshes_failed) VALUES (?, '2', 'healthy', '', 0, 0, '', 0, 0, 0, 0)",
            (NOW.isoformat(timespec="microseconds"),))
    assert [e for _, e in _epochs(ctx.store.db)] == [int(when.timestamp()), int(NOW.timestamp())]
    assert [s.epoch for s in PortalHealthSample.select().order_by(PortalHealthSample.id)] \
        == [int(when.timestamp()), int(NOW.timestamp())]


def _reading(key, at, used, resets_at):
    PortalHealthSample.create(timestamp=at, portal_key=key, status="healthy",
                              hubspot_usage=used, hubspot_usage_limit=625_000,
                              hubspot_usage_resets_at=resets_at)


def test_calls_today_show_hubspots_latest_reading_until_its_day_resets(ctx):
    midnight = NOW.replace(hour=0) + dt.timedelta(days=1)
    _reading("7", NOW - dt.timedelta(minutes=10), 1_000, midnight)
    _reading("7", NOW - dt.timedelta(minutes=5), 1_234, midnight)
    # A newer sample without a reading (the check failed) keeps the last reading.
    PortalHealthSample.create(timestamp=NOW, portal_key="7", status="degraded")
    counts = daily_counts(ctx.settings, ["7", "8"], now=NOW)
    assert (counts["7"].hubspot_used, counts["7"].hubspot_limit,
            counts["7"].hubspot_resets_at) == (1_234, 625_000, midnight)
    assert counts["7"].client_limit == int(ctx.settings.get("ratelimit.per_day"))
    # No reading at all (an OAuth portal): no HubSpot figure, the app's count only.
    assert counts["8"].hubspot_used is None and counts["8"].client_used == 0

    after_reset = daily_counts(ctx.settings, ["7"], now=midnight + dt.timedelta(minutes=1))
    assert after_reset["7"].hubspot_used is None and after_reset["7"].hubspot_limit is None
