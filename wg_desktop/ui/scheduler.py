"""QTimer adapter that runs background jobs when ``next_run`` says they are due.

All decisions about *when* live in the pure ``services.schedule.next_run``;
this class only arms timers, runs jobs off the GUI thread (through
``ui.jobs.run_off_gui_thread``), records runs and emits signals.

Threading contract: every public method, every signal emission and every
``JobRunStore`` call (``last_success`` and ``record``) happens on the thread
that owns the scheduler (the GUI thread). Only the job callable and its
``progress`` reporter run on worker threads.

Schedules are start-to-start: the basis for the next due time is the start
of the latest successful run (from the store) or of the latest attempt made
in this session (failed, cancelled, skipped), whichever is later. So a
failing job retries at its next slot instead of in a hot loop, and a slot
that falls while the previous run is still going is recorded as SKIPPED.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from functools import partial
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QThreadPool, QTimer, QTimeZone, Signal, Slot

from wg_desktop.services.schedule import (
    CancelToken,
    JobCancelled,
    JobFn,
    JobOutcome,
    JobRun,
    JobRunStore,
    JobSpec,
    next_run,
)
from wg_desktop.ui.jobs import TaskHandle, WorkPool, run_off_gui_thread

log = logging.getLogger(__name__)

# QTimer takes a signed 32-bit millisecond count (~24.8 days); longer waits
# are armed in chunks and re-checked when each chunk expires.
INT32_MAX_MS = 2**31 - 1

_UTC = timezone.utc


def timer_delay_ms(due: datetime, now: datetime, max_ms: int = INT32_MAX_MS) -> int:
    """Milliseconds to arm a QTimer for ``due``, clamped to ``[0, max_ms]``.

    Rounded up so the timer does not fire before ``due``; if it still does
    (timer slack), the scheduler re-arms for the remainder.
    """
    seconds = (due.astimezone(_UTC) - now.astimezone(_UTC)).total_seconds()
    return max(0, min(math.ceil(seconds * 1000), max_ms))


def system_timezone() -> tzinfo:
    """The OS time zone as a DST-aware ``ZoneInfo``.

    Qt reports an IANA id on every platform (it maps Windows zone names).
    ``datetime.now().astimezone().tzinfo`` would be a fixed offset that puts
    ``DailyAt`` jobs an hour off after the next DST change, so it is only the
    fallback when the zone database lacks the id.
    """
    tz_id = bytes(QTimeZone.systemTimeZoneId().data()).decode("ascii", "replace")
    try:
        return ZoneInfo(tz_id)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r not in the zone database; daily jobs ignore DST", tz_id)
        fallback = datetime.now().astimezone().tzinfo
        assert fallback is not None
        return fallback


def _utc_now() -> datetime:
    return datetime.now(_UTC)


class _Run:
    """One in-flight run of a job. Progress is written by the worker thread."""

    def __init__(self, started_at: datetime) -> None:
        self.started_at = started_at
        self.token = CancelToken()
        self.handle: TaskHandle | None = None
        self._lock = threading.Lock()
        self._latest: tuple[int, int, str] | None = None

    def post_progress(self, done: int, total: int, message: str) -> bool:
        """Store the latest progress; True if no delivery is pending yet.

        Coalescing keeps a job that reports thousands of times a second from
        flooding the GUI event queue: only the latest value is delivered.
        """
        with self._lock:
            first = self._latest is None
            self._latest = (done, total, message)
        return first

    def take_progress(self) -> tuple[int, int, str] | None:
        with self._lock:
            latest, self._latest = self._latest, None
        return latest


@dataclass(eq=False)
class _Job:
    """Per-job mutable state, owned by one scheduler (GUI thread only)."""

    spec: JobSpec
    fn: JobFn
    timer: QTimer
    due: datetime | None = None
    last_attempt: datetime | None = None
    run: _Run | None = None


class JobScheduler(QObject):
    """Arms one single-shot QTimer per job and runs jobs on a thread pool.

    Extra signal beyond the run lifecycle: ``skipped(name)`` when a slot fell
    while the previous run was still going (a SKIPPED run is recorded).
    """

    started = Signal(str)
    progress = Signal(str, int, int, str)   # name, done, total (-1 = unknown), message
    finished = Signal(str, str)             # name, result message
    failed = Signal(str, str)               # name, error message
    cancelled = Signal(str)
    skipped = Signal(str)

    # Worker -> GUI thread hop for progress (queued; see __init__).
    _progress_posted = Signal(str, object)

    def __init__(
        self,
        store: JobRunStore,
        *,
        now: Callable[[], datetime] = _utc_now,
        tz: tzinfo | None = None,
        pool: WorkPool | None = None,
        monotonic: Callable[[], float] | None = None,
        heartbeat_ms: int = 60_000,
        jump_tolerance_s: float = 5.0,
        max_timer_ms: int = INT32_MAX_MS,
        parent: QObject | None = None,
    ) -> None:
        """``now`` must return aware datetimes. ``pool`` defaults to a private
        ``QThreadPool`` so ``stop()`` waits only for jobs, not for unrelated
        work on the global pool. ``monotonic`` (seconds) defaults to Qt's own
        timer clock, which is what the QTimers drift against during sleep.
        """
        super().__init__(parent)
        self._store = store
        self.store = store      # read-only use by the composition root (closing it)
        self._now = now
        self._tz = tz if tz is not None else system_timezone()
        if pool is None:
            own_pool = QThreadPool(self)
            own_pool.setMaxThreadCount(4)
            pool = own_pool
        self._pool: WorkPool = pool
        if monotonic is None:
            elapsed = QElapsedTimer()
            elapsed.start()
            monotonic = lambda: elapsed.nsecsElapsed() / 1e9  # noqa: E731
        self._monotonic = monotonic
        self._jump_tolerance_s = jump_tolerance_s
        self._max_timer_ms = max(1, min(max_timer_ms, INT32_MAX_MS))
        self._jobs: dict[str, _Job] = {}
        self._active = False
        self._last_beat: tuple[datetime, float] | None = None

        # Wake-from-sleep: single-shot QTimers on Linux/macOS count monotonic
        # time, which stops during suspend, so a timer armed before a 3 h
        # sleep would fire 3 h late. The heartbeat notices wall time running
        # ahead of monotonic time and re-arms everything.
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(max(1, heartbeat_ms))
        self._heartbeat.timeout.connect(self._on_heartbeat)

        # Explicitly queued: the reporter emits from worker threads, and the
        # public progress signal must only ever be emitted on the GUI thread.
        self._progress_posted.connect(self._deliver_progress, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ API

    def register(self, spec: JobSpec, fn: JobFn) -> None:
        """Add a job; armed at once if the scheduler is already started."""
        if spec.name in self._jobs:
            raise ValueError(f"job {spec.name!r} is already registered")
        timer = QTimer(self)
        timer.setSingleShot(True)
        # Coarse timers may be 5% off: 18 minutes on a 6-hour wait.
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(partial(self._on_timer, spec.name))
        job = _Job(spec=spec, fn=fn, timer=timer)
        self._jobs[spec.name] = job
        if self._active:
            self._arm(job, self._compute_due(job, self._now()))

    def start(self) -> None:
        """Arm every job from the store's last successes (missed runs run once, now)."""
        if self._active:
            return
        self._active = True
        now = self._now()
        self._last_beat = (now, self._monotonic())
        self._heartbeat.start()
        for job in self._jobs.values():
            self._arm(job, self._compute_due(job, now))

    def is_active(self) -> bool:
        """Started and not stopped since: its timers are armed."""
        return self._active

    def stop(self, wait_ms: int = 3000) -> None:
        """Stop timers, cancel running jobs and wait up to ``wait_ms`` for them.

        Runs that end within the wait are recorded with their real outcome; a
        job still running afterwards (it ignores its CancelToken) is recorded
        as CANCELLED and its eventual result is dropped.
        """
        self._active = False
        self._heartbeat.stop()
        self._last_beat = None
        running: list[tuple[_Job, _Run]] = []
        for job in self._jobs.values():
            job.timer.stop()
            job.due = None
            if job.run is not None:
                job.run.token.cancel()
                running.append((job, job.run))
        if running:
            self._pool.waitForDone(max(0, wait_ms))
        for job, run in running:
            assert run.handle is not None
            if run.handle.flush():
                continue   # delivered through the normal path, so already recorded
            run.handle.discard()
            self._finish(job, run, JobOutcome.CANCELLED,
                         "still running when the scheduler stopped; abandoned")

    def run_now(self, name: str) -> bool:
        """Run a job immediately; False if it is already running."""
        job = self._job(name)
        if job.run is not None:
            return False
        self._launch(job, self._now())
        return True

    def cancel(self, name: str) -> bool:
        """Ask a running job to stop (it must check its CancelToken); False if idle."""
        job = self._job(name)
        if job.run is None:
            return False
        job.run.token.cancel()
        return True

    def rearm(self) -> None:
        """Recompute every due time and re-arm the timers.

        Called by the heartbeat on a wall-clock jump; the composition root may
        also call it on an OS resume or time-zone-change notification.
        """
        if not self._active:
            return
        now = self._now()
        self._last_beat = (now, self._monotonic())
        for job in self._jobs.values():
            self._arm(job, self._compute_due(job, now))

    def next_due(self, name: str) -> datetime:
        """When the job is next due (aware, UTC); computed on demand before ``start``."""
        job = self._job(name)
        if job.due is not None:
            return job.due
        return self._compute_due(job, self._now())

    def is_running(self, name: str) -> bool:
        return self._job(name).run is not None

    def specs(self) -> tuple[JobSpec, ...]:
        return tuple(job.spec for job in self._jobs.values())

    # -------------------------------------------------------------- timing

    def _job(self, name: str) -> _Job:
        try:
            return self._jobs[name]
        except KeyError:
            raise KeyError(f"no job named {name!r}") from None

    def _basis(self, job: _Job) -> datetime | None:
        try:
            success = self._store.last_success(job.spec.name)
        except Exception:  # noqa: BLE001 - a broken store must not stop the scheduler
            log.exception("could not read the last success of job %s", job.spec.name)
            success = None
        if success is not None and success.tzinfo is None:
            # Contract says aware; a naive value is most likely UTC from a DB.
            log.error("store returned a naive last success for %s; assuming UTC", job.spec.name)
            success = success.replace(tzinfo=_UTC)
        candidates = [t for t in (success, job.last_attempt) if t is not None]
        return max(candidates, key=lambda t: t.astimezone(_UTC), default=None)

    def _compute_due(self, job: _Job, now: datetime) -> datetime:
        basis = self._basis(job)
        if basis is None and job.due is not None:
            # Never run: next_run answers "next slot after now", which would
            # slide forward on every re-arm and skip a slot slept through.
            return job.due
        return next_run(now, basis, job.spec.schedule, self._tz)

    def _next_slot(self, job: _Job, now: datetime) -> datetime:
        """The slot after ``now``, as if a run had started now."""
        return next_run(now, now, job.spec.schedule, self._tz)

    def _arm(self, job: _Job, due: datetime) -> None:
        if not self._active:
            return
        job.due = due
        self._start_timer(job, self._now())

    def _start_timer(self, job: _Job, now: datetime) -> None:
        assert job.due is not None
        job.timer.start(timer_delay_ms(job.due, now, self._max_timer_ms))

    @Slot()
    def _on_heartbeat(self) -> None:
        wall, mono = self._now(), self._monotonic()
        previous, self._last_beat = self._last_beat, (wall, mono)
        if previous is None:
            return
        drift = (wall - previous[0]).total_seconds() - (mono - previous[1])
        if abs(drift) > self._jump_tolerance_s:
            log.info("wall clock jumped by %.0f s (sleep or clock change); re-arming jobs", drift)
            self.rearm()

    def _on_timer(self, name: str) -> None:
        job = self._jobs.get(name)
        if job is None or not self._active or job.due is None:
            return
        now = self._now()
        if now < job.due:
            # Fired early (timer slack) or a chunk of a long wait ended.
            self._start_timer(job, now)
            return
        if job.run is not None:
            job.last_attempt = now   # this slot is consumed, not retried
            self._record(JobRun(name, now, now, JobOutcome.SKIPPED,
                                "previous run still in progress"))
            self._arm(job, self._next_slot(job, now))
            self.skipped.emit(name)
            return
        self._launch(job, now)

    # -------------------------------------------------------------- runs

    def _launch(self, job: _Job, now: datetime) -> None:
        name = job.spec.name
        run = _Run(started_at=now)
        job.run = run
        job.last_attempt = now
        fn = job.fn

        def report(done: int, total: int | None, message: str = "") -> None:
            # Worker thread: hand over through the queued signal only.
            if run.post_progress(int(done), -1 if total is None else int(total), str(message)):
                try:
                    self._progress_posted.emit(name, run)
                except RuntimeError:
                    pass   # scheduler already destroyed at shutdown

        def work() -> str | None:
            run.token.raise_if_cancelled()   # cancelled while queued in the pool
            return fn(run.token, report)

        try:
            run.handle = run_off_gui_thread(
                work,
                on_result=partial(self._on_result, job, run),
                on_error=partial(self._on_error, job, run),
                pool=self._pool,
            )
        except Exception as exc:  # noqa: BLE001 - e.g. a pool already shut down
            log.exception("could not start job %s", name)
            self._finish(job, run, JobOutcome.FAILED, f"could not start: {exc}")
            return
        # Armed for the following slot while running: if it comes before the
        # run ends, it is recorded as skipped rather than overlapping.
        self._arm(job, self._next_slot(job, now))
        self.started.emit(name)

    @Slot(str, object)
    def _deliver_progress(self, name: str, run: object) -> None:
        assert isinstance(run, _Run)
        latest = run.take_progress()
        job = self._jobs.get(name)
        if latest is None or job is None or job.run is not run:
            return   # progress of a run that has already ended
        self.progress.emit(name, *latest)

    def _on_result(self, job: _Job, run: _Run, result: object) -> None:
        message = "" if result is None else str(result)
        self._finish(job, run, JobOutcome.SUCCESS, message)

    def _on_error(self, job: _Job, run: _Run, error: BaseException) -> None:
        if isinstance(error, JobCancelled):
            self._finish(job, run, JobOutcome.CANCELLED, str(error) or "cancelled")
            return
        log.error("job %s failed", job.spec.name, exc_info=error)
        text = str(error)
        message = f"{type(error).__name__}: {text}" if text else type(error).__name__
        self._finish(job, run, JobOutcome.FAILED, message)

    def _finish(self, job: _Job, run: _Run, outcome: JobOutcome, message: str) -> None:
        if job.run is not run:
            return
        name = job.spec.name
        ended = self._now()
        job.run = None
        self._record(JobRun(name, run.started_at, ended, outcome, message))
        # Re-armed before emitting so listeners see the new next_due().
        self._arm(job, self._compute_due(job, ended))
        if outcome is JobOutcome.SUCCESS:
            self.finished.emit(name, message)
        elif outcome is JobOutcome.CANCELLED:
            self.cancelled.emit(name)
        else:
            self.failed.emit(name, message)

    def _record(self, run: JobRun) -> None:
        try:
            self._store.record(run)
        except Exception:  # noqa: BLE001 - losing a history row beats crashing the app
            log.exception("could not record run of job %s", run.job_name)
