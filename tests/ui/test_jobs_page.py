"""The Background jobs page follows the scheduler: a run that starts, ends or
is skipped shows up without a manual refresh."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import QThreadPool

from tests.ui.test_scheduler import T0, UTC, WAIT_MS, FakeClock
from wg_desktop.services.schedule import Interval, JobRun, JobSpec, MemoryJobRunStore
from wg_desktop.ui.jobs import SynchronousPool, run_off_gui_thread
from wg_desktop.ui.pages.jobs_page import JobsPage
from wg_desktop.ui.scheduler import JobScheduler

HOLD_S = 60         # the gated job outlasts every wait (the fixture opens the gate)


class RecentRuns(MemoryJobRunStore):
    """The part of the job-run log the page reads: newest first."""

    def recent(self, limit: int = 200) -> list[JobRun]:
        return list(reversed(self.runs()))[:limit]


@pytest.fixture
def gate():
    gate = threading.Event()
    yield gate
    gate.set()          # no worker is left hanging


@pytest.fixture
def scheduler(qtbot):
    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    made: list[JobScheduler] = []

    def make(store: MemoryJobRunStore, clock: FakeClock) -> JobScheduler:
        made.append(JobScheduler(store, now=clock, tz=UTC, pool=pool))
        return made[-1]

    yield make
    for each in made:
        each.stop(wait_ms=WAIT_MS)
        each.deleteLater()
    pool.waitForDone(WAIT_MS)


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def test_a_skipped_run_shows_in_recent_runs_without_a_refresh(qtbot, scheduler, gate):
    store, clock = RecentRuns(), FakeClock()
    jobs = scheduler(store, clock)
    jobs.register(JobSpec("slow", Interval(60), description="Slow job"),
                  lambda cancel, progress: gate.wait(HOLD_S) and "done")
    page = JobsPage(jobs, store, lambda fn, **kw: run_off_gui_thread(
        fn, pool=SynchronousPool(), **kw))
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    jobs.start()            # never run: due now, and it keeps running until the gate opens
    qtbot.waitUntil(lambda: [r[3] for r in page.jobs_model.rows] == ["running"],
                    timeout=WAIT_MS)
    assert page.jobs_model.rows[0][2] == _when(T0 + timedelta(seconds=60))
    assert page.runs_model.rows == []

    clock.advance(seconds=61)
    jobs.rearm()            # the next slot falls while the run is still going

    def skip_listed() -> None:
        assert page.runs_model.rows, "the skipped run is not in Recent runs"

    qtbot.waitUntil(skip_listed, timeout=WAIT_MS)
    assert jobs.is_running("slow")
    [(started, job, outcome, duration, message)] = page.runs_model.rows
    assert (job, outcome, message) == ("slow", "skipped", "previous run still in progress")
    assert started == (T0 + timedelta(seconds=61)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert duration == "0.0 s"
    # The slot is consumed: the page shows the one after it, and the run still going.
    assert page.jobs_model.rows[0][2:] == (_when(T0 + timedelta(seconds=121)), "running")

    gate.set()
    qtbot.waitUntil(lambda: [r[2] for r in page.runs_model.rows] == ["success", "skipped"],
                    timeout=WAIT_MS)
    assert page.runs_model.rows[0][4] == "done"
    assert page.jobs_model.rows[0][3] == "idle"
