"""JobScheduler: timers, recording, overlap, failure, cancel, catch-up, wake."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QCoreApplication, QThread, QThreadPool

from wg_desktop.services.schedule import (
    CancelToken,
    DailyAt,
    Interval,
    JobOutcome,
    JobRun,
    JobSpec,
    MemoryJobRunStore,
)
from wg_desktop.ui.jobs import SynchronousPool
from wg_desktop.ui.scheduler import INT32_MAX_MS, JobScheduler, timer_delay_ms

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)     # 15:00 in Berlin
WAIT_MS = 10_000    # generous: a loaded 2-core CI box


class FakeClock:
    """Wall clock the test moves by hand; read only on the GUI thread."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Recorder:
    """Every scheduler signal, in order, with whether it came on the GUI thread."""

    def __init__(self, scheduler: JobScheduler) -> None:
        self.events: list[tuple] = []
        self.off_gui_thread = 0
        for signal_name in ("started", "progress", "finished", "failed", "cancelled", "skipped"):
            getattr(scheduler, signal_name).connect(
                lambda *args, _n=signal_name: self._on(_n, *args))

    def _on(self, name: str, *args) -> None:
        if QThread.currentThread() != QCoreApplication.instance().thread():
            self.off_gui_thread += 1
        self.events.append((name, *args))

    def kinds(self, job: str | None = None) -> list[str]:
        return [e[0] for e in self.events if job is None or e[1] == job]

    def count(self, kind: str) -> int:
        return self.kinds().count(kind)


@pytest.fixture
def gates():
    made: list[threading.Event] = []

    def make() -> threading.Event:
        made.append(threading.Event())
        return made[-1]

    yield make
    for gate in made:
        gate.set()


@pytest.fixture
def make_scheduler(qtbot, gates):
    made: list[JobScheduler] = []

    def make(store: MemoryJobRunStore, **kwargs) -> JobScheduler:
        kwargs.setdefault("tz", BERLIN)
        scheduler = JobScheduler(store, **kwargs)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.stop(wait_ms=WAIT_MS)
        scheduler.deleteLater()


def ok_job(message: str = "ok"):
    calls: list[int] = []

    def job(cancel: CancelToken, progress) -> str:
        calls.append(threading.get_ident())
        return message

    job.calls = calls  # type: ignore[attr-defined]
    return job


def outcomes(store: MemoryJobRunStore, name: str) -> list[JobOutcome]:
    return [r.outcome for r in store.runs(name)]


# ---------------------------------------------------------------- basics


def test_never_run_interval_job_runs_at_start_and_is_recorded(qtbot, make_scheduler) -> None:
    store, clock = MemoryJobRunStore(), FakeClock()
    scheduler = make_scheduler(store, now=clock)
    rec = Recorder(scheduler)
    job = ok_job("12 workflows backed up")
    scheduler.register(JobSpec("backup", Interval(300), "Back up"), job)
    assert store.runs() == ()
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    assert store.runs("backup") == (
        JobRun("backup", T0, T0, JobOutcome.SUCCESS, "12 workflows backed up"),)
    assert rec.kinds() == ["started", "finished"]
    assert rec.events[-1] == ("finished", "backup", "12 workflows backed up")
    assert rec.off_gui_thread == 0
    assert job.calls[0] != threading.get_ident()     # ran on a pool thread
    assert scheduler.next_due("backup") == T0 + timedelta(minutes=5)
    assert not scheduler.is_running("backup")


def test_interval_job_repeats_on_the_real_timer(qtbot, make_scheduler) -> None:
    store = MemoryJobRunStore()
    scheduler = make_scheduler(store)        # real clock and real QTimers
    scheduler.register(JobSpec("tick", Interval(1)), ok_job())
    scheduler.start()
    qtbot.waitUntil(lambda: outcomes(store, "tick").count(JobOutcome.SUCCESS) >= 2, timeout=WAIT_MS)
    first, second = store.runs("tick")[:2]
    # Never early: the second run starts a full interval after the first.
    assert second.started_at - first.started_at >= timedelta(seconds=1)


def test_synchronous_pool_runs_and_records(qtbot, make_scheduler) -> None:
    store, clock = MemoryJobRunStore(), FakeClock()
    scheduler = make_scheduler(store, now=clock, pool=SynchronousPool())
    job = ok_job()
    scheduler.register(JobSpec("sync", Interval(60)), job)
    scheduler.start()
    qtbot.waitUntil(lambda: len(store.runs("sync")) == 1, timeout=WAIT_MS)
    assert outcomes(store, "sync") == [JobOutcome.SUCCESS]
    assert job.calls == [threading.get_ident()]


def test_register_twice_and_unknown_names_are_errors(make_scheduler) -> None:
    scheduler = make_scheduler(MemoryJobRunStore(), now=FakeClock())
    scheduler.register(JobSpec("a", Interval(60)), ok_job())
    with pytest.raises(ValueError):
        scheduler.register(JobSpec("a", Interval(30)), ok_job())
    for call in (scheduler.run_now, scheduler.cancel, scheduler.next_due, scheduler.is_running):
        with pytest.raises(KeyError):
            call("nope")
    assert [s.name for s in scheduler.specs()] == ["a"]


def test_timer_delay_is_clamped_to_int32_and_never_early() -> None:
    assert timer_delay_ms(T0 + timedelta(days=40), T0) == INT32_MAX_MS
    assert timer_delay_ms(T0 - timedelta(hours=1), T0) == 0
    assert timer_delay_ms(T0 + timedelta(microseconds=1500), T0) == 2
    assert timer_delay_ms(T0 + timedelta(seconds=10), T0, max_ms=50) == 50
    # Different zones, same instants: exact despite Berlin's DST.
    assert timer_delay_ms(datetime(2024, 3, 31, 3, tzinfo=BERLIN), datetime(2024, 3, 31, 1, tzinfo=BERLIN)) \
        == 3_600_000


# ---------------------------------------------------------------- overlap


def test_slow_job_is_not_overlapped_and_the_slot_is_recorded_as_skipped(qtbot, make_scheduler, gates) -> None:
    store = MemoryJobRunStore()
    scheduler = make_scheduler(store)        # real clock: Interval(1) comes due while the job runs
    rec = Recorder(scheduler)
    gate = gates()
    lock = threading.Lock()
    active, most_active, calls = [0], [0], [0]

    def slow(cancel: CancelToken, progress) -> str:
        with lock:
            calls[0] += 1
            active[0] += 1
            most_active[0] = max(most_active[0], active[0])
        try:
            gate.wait(WAIT_MS / 1000)
        finally:
            with lock:
                active[0] -= 1
        return "slow done"

    scheduler.register(JobSpec("slow", Interval(1)), slow)
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("skipped") >= 1, timeout=WAIT_MS)
    assert scheduler.is_running("slow")
    assert calls[0] == 1
    assert scheduler.run_now("slow") is False     # manual runs don't overlap either
    gate.set()
    qtbot.waitUntil(lambda: rec.count("finished") >= 1, timeout=WAIT_MS)
    scheduler.stop(wait_ms=WAIT_MS)

    assert most_active[0] == 1
    runs = store.runs("slow")
    first_success = next(r for r in runs if r.outcome is JobOutcome.SUCCESS)
    skips = [r for r in runs if r.outcome is JobOutcome.SKIPPED]
    assert skips, runs
    assert runs[0].outcome is JobOutcome.SKIPPED       # recorded while the slow run was going
    assert all(first_success.started_at <= s.started_at <= first_success.ended_at
               for s in skips if s.started_at <= first_success.ended_at)
    assert "still in progress" in skips[0].message


def test_skipped_slot_with_a_driven_clock(qtbot, make_scheduler, gates) -> None:
    store, clock = MemoryJobRunStore(), FakeClock()
    scheduler = make_scheduler(store, now=clock)
    rec = Recorder(scheduler)
    gate = gates()
    scheduler.register(JobSpec("slow", Interval(60)), lambda c, p: gate.wait(WAIT_MS / 1000) and "done")
    scheduler.start()
    qtbot.waitUntil(lambda: scheduler.is_running("slow"), timeout=WAIT_MS)
    assert scheduler.next_due("slow") == T0 + timedelta(seconds=60)
    clock.advance(seconds=61)
    scheduler.rearm()                         # as the heartbeat would after a clock jump
    qtbot.waitUntil(lambda: rec.count("skipped") == 1, timeout=WAIT_MS)
    assert store.runs("slow") == (JobRun("slow", T0 + timedelta(seconds=61), T0 + timedelta(seconds=61),
                                         JobOutcome.SKIPPED, "previous run still in progress"),)
    # The skipped slot is consumed, not retried in a loop.
    assert scheduler.next_due("slow") == T0 + timedelta(seconds=121)
    gate.set()
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    assert outcomes(store, "slow") == [JobOutcome.SKIPPED, JobOutcome.SUCCESS]
    assert store.runs("slow")[1].started_at == T0
    assert scheduler.next_due("slow") == T0 + timedelta(seconds=121)
    assert rec.count("started") == 1


# ---------------------------------------------------------------- failure


def test_failing_job_emits_failed_is_recorded_and_does_not_hot_loop(qtbot, make_scheduler) -> None:
    yesterday = T0 - timedelta(days=1)    # so the failure is a catch-up run
    store = MemoryJobRunStore([JobRun("broken", yesterday, yesterday, JobOutcome.SUCCESS)])
    scheduler = make_scheduler(store, now=FakeClock())
    rec = Recorder(scheduler)

    def broken(cancel: CancelToken, progress) -> str:
        raise RuntimeError("HubSpot said no")

    scheduler.register(JobSpec("broken", Interval(300)), broken)
    scheduler.register(JobSpec("fine", Interval(300)), ok_job())
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("failed") == 1 and rec.count("finished") == 1, timeout=WAIT_MS)
    assert ("failed", "broken", "RuntimeError: HubSpot said no") in rec.events
    qtbot.wait(100)                          # room for a (wrong) immediate retry
    _, run = store.runs("broken")
    assert run.outcome is JobOutcome.FAILED and run.message == "RuntimeError: HubSpot said no"
    # Retried at the next slot, not immediately.
    assert scheduler.next_due("broken") == T0 + timedelta(minutes=5)
    assert not scheduler.is_running("broken")
    # The scheduler keeps working after a failure.
    assert scheduler.run_now("broken") is True
    qtbot.waitUntil(lambda: rec.count("failed") == 2, timeout=WAIT_MS)
    assert outcomes(store, "fine") == [JobOutcome.SUCCESS]


def test_a_store_that_raises_does_not_stop_the_scheduler(qtbot, make_scheduler) -> None:
    class BrokenStore(MemoryJobRunStore):
        def record(self, run: JobRun) -> None:
            raise OSError("disk full")

    scheduler = make_scheduler(BrokenStore(), now=FakeClock())
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("j", Interval(300)), ok_job())
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    assert scheduler.next_due("j") == T0 + timedelta(minutes=5)


# ---------------------------------------------------------------- cancel / progress


def long_job(cancel: CancelToken, progress) -> str:
    for i in range(10_000):
        cancel.raise_if_cancelled()
        progress(i, None, f"step {i}")
        cancel.wait(0.01)
    return "ran to the end without being cancelled"


def test_cancel_stops_a_long_job(qtbot, make_scheduler) -> None:
    store, clock = MemoryJobRunStore(), FakeClock()
    scheduler = make_scheduler(store, now=clock)
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("long", Interval(3600)), long_job)
    assert scheduler.cancel("long") is False          # nothing running yet
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("progress") >= 1, timeout=WAIT_MS)
    clock.advance(seconds=7)
    assert scheduler.cancel("long") is True
    qtbot.waitUntil(lambda: rec.count("cancelled") == 1, timeout=WAIT_MS)
    run, = store.runs("long")
    assert (run.outcome, run.started_at, run.ended_at) == (
        JobOutcome.CANCELLED, T0, T0 + timedelta(seconds=7))
    assert not scheduler.is_running("long")
    assert rec.count("finished") == 0 and rec.count("failed") == 0
    assert scheduler.next_due("long") == T0 + timedelta(hours=1)


def test_progress_arrives_on_the_gui_thread_before_finished(qtbot, make_scheduler, gates) -> None:
    store = MemoryJobRunStore()
    scheduler = make_scheduler(store, now=FakeClock())
    rec = Recorder(scheduler)
    gate = gates()

    def job(cancel: CancelToken, progress) -> str:
        progress(1, 3, "first page")
        gate.wait(WAIT_MS / 1000)
        progress(2, None, "second page")
        return "ok"

    scheduler.register(JobSpec("p", Interval(300)), job)
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("progress") == 1, timeout=WAIT_MS)
    assert rec.events[-1] == ("progress", "p", 1, 3, "first page")
    gate.set()
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    kinds = rec.kinds()
    assert kinds[0] == "started" and kinds[-1] == "finished"
    progress_events = [e for e in rec.events if e[0] == "progress"]
    assert progress_events[-1] == ("progress", "p", 2, -1, "second page")   # -1: total unknown
    assert rec.off_gui_thread == 0


# ---------------------------------------------------------------- catch-up / wake


def test_missed_interval_runs_once_on_start(qtbot, make_scheduler) -> None:
    before = JobRun("backup", T0 - timedelta(hours=3), T0 - timedelta(hours=3), JobOutcome.SUCCESS)
    store, clock = MemoryJobRunStore([before]), FakeClock()
    scheduler = make_scheduler(store, now=clock)
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("backup", Interval(300)), ok_job())
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    qtbot.wait(200)                          # room for a (wrong) second catch-up run
    assert store.runs("backup")[1:] == (JobRun("backup", T0, T0, JobOutcome.SUCCESS, "ok"),)
    assert scheduler.next_due("backup") == T0 + timedelta(minutes=5)


def test_missed_midnights_run_once_then_wait_for_next_midnight(qtbot, make_scheduler) -> None:
    three_days_ago = datetime(2024, 4, 28, 0, 0, tzinfo=BERLIN).astimezone(UTC)
    store = MemoryJobRunStore([JobRun("cleanup", three_days_ago, three_days_ago, JobOutcome.SUCCESS)])
    scheduler = make_scheduler(store, now=FakeClock())
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("cleanup", DailyAt(0, 0)), ok_job())
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    qtbot.wait(200)
    assert outcomes(store, "cleanup") == [JobOutcome.SUCCESS, JobOutcome.SUCCESS]
    assert scheduler.next_due("cleanup") == datetime(2024, 5, 2, 0, 0, tzinfo=BERLIN)


def test_never_run_daily_job_waits_for_its_slot(qtbot, make_scheduler) -> None:
    store, clock = MemoryJobRunStore(), FakeClock()
    scheduler = make_scheduler(store, now=clock, max_timer_ms=20)
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("cleanup", DailyAt(0, 0)), ok_job())
    midnight = datetime(2024, 5, 2, 0, 0, tzinfo=BERLIN)
    assert scheduler.next_due("cleanup") == midnight
    scheduler.start()
    qtbot.wait(150)                          # several 20 ms chunks expire: none may run it
    assert rec.events == [] and store.runs() == ()
    clock.now = midnight.astimezone(UTC)     # the next chunk sees it due
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    assert store.runs("cleanup")[0].started_at == midnight
    assert scheduler.next_due("cleanup") == datetime(2024, 5, 3, 0, 0, tzinfo=BERLIN)


def test_long_waits_are_armed_in_chunks_and_never_run_early(qtbot, make_scheduler) -> None:
    last = JobRun("b", T0 - timedelta(seconds=10), T0 - timedelta(seconds=10), JobOutcome.SUCCESS)
    store, clock = MemoryJobRunStore([last]), FakeClock()
    scheduler = make_scheduler(store, now=clock, max_timer_ms=20)
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("b", Interval(300)), ok_job())
    scheduler.start()
    qtbot.wait(150)
    clock.advance(seconds=289)
    qtbot.wait(100)
    assert rec.events == []                  # one second still to go
    clock.advance(seconds=1)
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    assert store.runs("b")[1].started_at == T0 + timedelta(seconds=290)


def test_wake_from_sleep_rearms_and_runs_once(qtbot, make_scheduler) -> None:
    last = JobRun("b", T0 - timedelta(seconds=10), T0 - timedelta(seconds=10), JobOutcome.SUCCESS)
    store, clock = MemoryJobRunStore([last]), FakeClock()
    mono = [0.0]    # suspended machine: the monotonic clock does not advance
    scheduler = make_scheduler(store, now=clock, monotonic=lambda: mono[0], heartbeat_ms=20)
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("b", Interval(300)), ok_job())
    scheduler.start()
    assert scheduler.next_due("b") == T0 + timedelta(seconds=290)
    qtbot.wait(100)                          # heartbeats without a jump change nothing
    assert rec.events == []
    clock.advance(hours=3)                   # slept 3 hours; the job's QTimer still has ~290 s to go
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    qtbot.wait(200)
    assert store.runs("b")[1:] == (JobRun("b", T0 + timedelta(hours=3), T0 + timedelta(hours=3),
                                          JobOutcome.SUCCESS, "ok"),)
    assert scheduler.next_due("b") == T0 + timedelta(hours=3, seconds=300)


def test_never_run_daily_job_slept_through_its_slot_runs_on_wake(qtbot, make_scheduler) -> None:
    store, clock = MemoryJobRunStore(), FakeClock()
    scheduler = make_scheduler(store, now=clock, monotonic=lambda: 0.0, heartbeat_ms=20)
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("cleanup", DailyAt(0, 0)), ok_job())
    scheduler.start()
    clock.advance(hours=10)                  # 15:00 -> 01:00, asleep over midnight
    qtbot.waitUntil(lambda: rec.count("finished") == 1, timeout=WAIT_MS)
    assert store.runs("cleanup")[0].started_at == T0 + timedelta(hours=10)
    assert scheduler.next_due("cleanup") == datetime(2024, 5, 3, 0, 0, tzinfo=BERLIN)


def test_naive_last_success_from_a_store_is_read_as_utc(qtbot, make_scheduler) -> None:
    class NaiveStore(MemoryJobRunStore):
        def last_success(self, job_name: str) -> datetime | None:
            return (T0 - timedelta(seconds=100)).replace(tzinfo=None)

    scheduler = make_scheduler(NaiveStore(), now=FakeClock())
    scheduler.register(JobSpec("j", Interval(300)), ok_job())
    scheduler.start()
    assert scheduler.next_due("j") == T0 + timedelta(seconds=200)


def test_a_pool_that_refuses_work_gives_a_failed_run(qtbot, make_scheduler) -> None:
    class ClosedPool:
        def start(self, fn, /, priority: int = 0) -> None:
            raise RuntimeError("pool is shut down")

        def waitForDone(self, msecs: int = -1, /) -> bool:  # noqa: N802
            return True

    store = MemoryJobRunStore()
    scheduler = make_scheduler(store, now=FakeClock(), pool=ClosedPool())
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("j", Interval(300)), ok_job())
    scheduler.start()
    qtbot.waitUntil(lambda: rec.count("failed") == 1, timeout=WAIT_MS)
    run, = store.runs("j")
    assert run.outcome is JobOutcome.FAILED and "pool is shut down" in run.message
    assert not scheduler.is_running("j")
    assert scheduler.next_due("j") == T0 + timedelta(minutes=5)


# ---------------------------------------------------------------- stop


def test_stop_cancels_running_jobs_and_records_them(qtbot, make_scheduler) -> None:
    store, clock = MemoryJobRunStore(), FakeClock()
    scheduler = make_scheduler(store, now=clock)
    rec = Recorder(scheduler)
    scheduler.register(JobSpec("long", Interval(60)), long_job)
    scheduler.start()
    qtbot.waitUntil(lambda: scheduler.is_running("long") and rec.count("progress") >= 1, timeout=WAIT_MS)
    scheduler.stop(wait_ms=WAIT_MS)
    # Recorded synchronously by stop(), with the job's real (cancelled) outcome.
    assert outcomes(store, "long") == [JobOutcome.CANCELLED]
    assert "abandoned" not in store.runs("long")[0].message
    assert rec.count("cancelled") == 1
    assert not scheduler.is_running("long")
    clock.advance(hours=1)
    qtbot.wait(100)
    assert len(store.runs()) == 1            # no timer left armed


def test_stop_abandons_a_job_that_ignores_cancel(qtbot, make_scheduler, gates) -> None:
    store = MemoryJobRunStore()
    pool = QThreadPool()
    scheduler = make_scheduler(store, now=FakeClock(), pool=pool)
    gate = gates()
    scheduler.register(JobSpec("stubborn", Interval(60)), lambda c, p: gate.wait(WAIT_MS / 1000) and "late")
    scheduler.start()
    qtbot.waitUntil(lambda: scheduler.is_running("stubborn"), timeout=WAIT_MS)
    scheduler.stop(wait_ms=0)
    run, = store.runs("stubborn")
    assert run.outcome is JobOutcome.CANCELLED and "abandoned" in run.message
    gate.set()
    assert pool.waitForDone(WAIT_MS)
    qtbot.wait(100)
    assert len(store.runs()) == 1            # the late result is dropped
