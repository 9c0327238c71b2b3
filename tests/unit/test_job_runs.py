"""The database-backed memory of the scheduler."""

from __future__ import annotations

import datetime as dt
import os

from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.services.job_runs import StoreJobRunStore
from wg_desktop.services.schedule import JobOutcome, JobRun
from wg_desktop.store.db import open_store

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)


def test_last_success_is_the_latest_successful_start_and_messages_are_redacted(data_dir):
    store = open_store(data_dir / "j.db", os.urandom(32))
    registry = SecretRegistry()
    registry.add("super-secret-token-1")
    runs = StoreJobRunStore(store, registry)
    assert runs.last_success("sync") is None
    for minutes, outcome in ((0, JobOutcome.SUCCESS), (10, JobOutcome.SUCCESS),
                             (20, JobOutcome.FAILED)):
        start = T0 + dt.timedelta(minutes=minutes)
        runs.record(JobRun("sync", start, start + dt.timedelta(seconds=3), outcome,
                           "failed with super-secret-token-1"))
    last = runs.last_success("sync")
    assert last == T0 + dt.timedelta(minutes=10) and last.tzinfo is not None
    assert runs.last_success("backup") is None
    recent = runs.recent()
    assert [r.outcome for r in recent] == [JobOutcome.FAILED, JobOutcome.SUCCESS,
                                           JobOutcome.SUCCESS]
    assert "super-secret-token-1" not in recent[0].message
    store.close()
