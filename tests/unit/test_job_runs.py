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


def test_write_behind_store_answers_from_memory_and_writes_in_the_background(data_dir):
    from wg_desktop.services.job_runs import WriteBehindJobRunStore

    store = open_store(data_dir / "w.db", os.urandom(32))
    inner = StoreJobRunStore(store)
    inner.record(JobRun("sync", T0, T0, JobOutcome.SUCCESS))
    runs = WriteBehindJobRunStore(inner)
    assert runs.last_success("sync") == T0              # first read from the database
    later = T0 + dt.timedelta(hours=1)
    runs.record(JobRun("sync", later, later, JobOutcome.SUCCESS))
    runs.record(JobRun("sync", later + dt.timedelta(hours=1), later, JobOutcome.FAILED))
    assert runs.last_success("sync") == later            # from memory, at once
    runs.flush()
    assert inner.last_success("sync") == later           # and written
    assert len(inner.recent()) == 3
    runs.close()
    store.close()
