"""Database-backed record of background job runs (the scheduler's memory).

The scheduler computes each job's next run from the last *successful* run
stored here, so a job missed while the app was closed runs once on start.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import peewee as pw

from wg_desktop.security.redaction import SecretRegistry, redact
from wg_desktop.services.schedule import JobOutcome, JobRun
from wg_desktop.store.db import Store
from wg_desktop.store.models import JobRunRecord

log = logging.getLogger(__name__)


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


class WriteBehindJobRunStore:
    """The scheduler calls its store on the GUI thread. This wrapper answers
    ``last_success`` from memory after the first read and writes each run on
    its own Python thread, so a sync holding the database's write lock never
    freezes the window."""

    def __init__(self, inner: StoreJobRunStore) -> None:
        self.inner = inner
        self._last: dict[str, dt.datetime | None] = {}
        self._lock = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-runs")

    def last_success(self, job_name: str) -> dt.datetime | None:
        with self._lock:
            if job_name in self._last:
                return self._last[job_name]
        value = self.inner.last_success(job_name)
        with self._lock:
            return self._last.setdefault(job_name, value)

    def record(self, run: JobRun) -> None:
        if run.outcome is JobOutcome.SUCCESS:
            with self._lock:
                known = self._last.get(run.job_name)
                if known is None or run.started_at > known:
                    self._last[run.job_name] = run.started_at
        self._writer.submit(self._write, run)

    def _write(self, run: JobRun) -> None:
        try:
            # In a session: this long-lived thread keeps no connection open
            # between writes (a restore in the window needs every one closed).
            with self.inner.store.session():
                self.inner.record(run)
        except Exception:  # a lost run record must not take the scheduler down
            log.exception("could not record the run of job %s", run.job_name)

    def recent(self, limit: int = 200) -> list[JobRun]:
        """Off the GUI thread: includes every run recorded so far."""
        self.flush()
        return self.inner.recent(limit)

    def flush(self) -> None:
        """Wait for pending writes (on shutdown, and in tests)."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        self._writer.shutdown(wait=True)
