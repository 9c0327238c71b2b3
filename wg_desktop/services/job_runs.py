"""Database-backed record of background job runs (the scheduler's memory).

The scheduler computes each job's next run from the last *successful* run
stored here, so a job missed while the app was closed runs once on start.
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from wg_desktop.security.redaction import SecretRegistry, redact
from wg_desktop.services.schedule import JobOutcome, JobRun
from wg_desktop.store.db import Store
from wg_desktop.store.models import JobRunRecord


class StoreJobRunStore:
    def __init__(self, store: Store, registry: SecretRegistry | None = None) -> None:
        self.store = store
        self.registry = registry

    def last_success(self, job_name: str) -> dt.datetime | None:
        row = (JobRunRecord.select(pw.fn.MAX(JobRunRecord.started_at).alias("last"))
               .where((JobRunRecord.job_name == job_name)
                      & (JobRunRecord.outcome == str(JobOutcome.SUCCESS))).scalar())
        if row is None or isinstance(row, dt.datetime):
            return row    # peewee converts MAX(field) through the field itself
        return JobRunRecord.started_at.python_value(row)

    def record(self, run: JobRun) -> None:
        with self.store.writing():
            JobRunRecord.create(job_name=run.job_name, started_at=run.started_at,
                                ended_at=run.ended_at, outcome=str(run.outcome),
                                message=redact(run.message or "", self.registry))

    def recent(self, limit: int = 200) -> list[JobRun]:
        rows = JobRunRecord.select().order_by(JobRunRecord.id.desc()).limit(limit)
        return [JobRun(job_name=r.job_name, started_at=r.started_at, ended_at=r.ended_at,
                       outcome=JobOutcome(r.outcome), message=r.message) for r in rows]
