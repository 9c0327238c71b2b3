"""Health data for tests and benchmarks: synthetic check samples written
straight to SQLite, and a store of an older schema holding one sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterable

from wg_desktop.store.db import open_store
from wg_desktop.store.models import Portal

# Where the samples end by default: the fixed "now" of the report tests.
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)


def seed_samples(store, portals: int = 1, days: float = 1, every_min: int = 5, *,
                 now: dt.datetime = NOW, status=lambda p, i: "healthy", calls: int = 20,
                 failed=lambda p, i: 0, avg_ms: float = 400.0, refresh=lambda p, i: (0, 0),
                 remaining=lambda p, i: 900) -> list[str]:
    """``days`` of samples every ``every_min`` minutes for ``portals`` portals
    (hub ids 1001...), ending at ``now``; returns the portal keys."""
    keys = []
    rows = []
    count = int(days * 24 * 60 / every_min)
    with store.writing():
        for p in range(portals):
            hub_id = 1001 + p
            Portal.get_or_create(hub_id=hub_id, defaults={"name": f"Portal {p + 1}"})
            keys.append(str(hub_id))
            for i in range(count):
                ok, bad = refresh(p, i)
                f = failed(p, i)
                when = now - dt.timedelta(minutes=every_min * (count - 1 - i))
                rows.append((when.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
                             str(hub_id), status(p, i), "", calls, f,
                             f / calls if calls else None, avg_ms if calls else None,
                             remaining(p, i), ok, bad))
        # Straight to SQLite: a month of samples for several portals through
        # the ORM would take seconds per test.
        store.db.connection().executemany(
            "INSERT INTO portal_health_sample (timestamp, portal_key, status, reason, calls, "
            "failed_calls, error_rate, avg_response_ms, client_remaining, refreshes_ok, "
            "refreshes_failed, check_ok, paused, consecutive_failures, breaker_state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, 0, '')", rows)
    return keys


def older_health_store(path: Path, key: bytes, version: int, dropped: Iterable[str], *,
                       timestamp: str, calls: int = 0) -> None:
    """A store of schema ``version`` whose health-sample table has the shape
    that version really had (``dropped``: the columns a later migration adds,
    which migration 7 creates from today's model), holding one healthy sample
    of portal key '1' taken at ``timestamp``; closed, for a migration to open."""
    old = open_store(path, key, target_version=version)
    try:
        for name in dropped:
            old.db.execute_sql(f"ALTER TABLE portal_health_sample DROP COLUMN {name}")
        old.db.execute_sql(
            "INSERT INTO portal_health_sample (timestamp, portal_key, status, reason, paused, "
            "consecutive_failures, breaker_state, calls, failed_calls, refreshes_ok, "
            "refreshes_failed) VALUES (?, '1', 'healthy', '', 0, 0, '', ?, 0, 0, 0)",
            (timestamp, calls))
    finally:
        old.close()
