"""When background jobs are due, and the typed records of their runs.

Pure core: no Qt, no clock reads, no I/O. The Qt adapter
(``wg_desktop.ui.scheduler``) feeds in "now" and the last success and arms
timers from what ``next_run`` answers, so all the calendar arithmetic
(missed runs, DST gaps and folds) is testable without an event loop.

Every instant this module returns is tz-aware **UTC**. Aware datetimes that
share one ``ZoneInfo`` are subtracted and compared as naive wall-clock values
by Python, which is wrong across a DST change; UTC values are always exact.
Convert with ``.astimezone(tz)`` only for display.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Callable, Protocol, TypeAlias

_UTC = timezone.utc

# A day can be skipped entirely (Samoa, 2011-12-30), so a daily occurrence is
# searched over a few days rather than assumed to be "today or tomorrow".
_DAYS_SEARCHED = 10


@dataclass(frozen=True)
class Interval:
    """Every ``seconds`` of elapsed (absolute) time, whatever the wall clock says.

    A 6-hour backup stays 6 real hours apart across a DST change.
    """

    seconds: int

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int) or self.seconds <= 0:
            raise ValueError(f"Interval.seconds must be a positive int, got {self.seconds!r}")


@dataclass(frozen=True)
class DailyAt:
    """Once a day at a local wall-clock time (``DailyAt(0, 0)`` = local midnight)."""

    hour: int
    minute: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError(f"DailyAt needs 0<=hour<=23 and 0<=minute<=59, got {self.hour}:{self.minute}")


Schedule: TypeAlias = Interval | DailyAt


def next_run(now: datetime, last_success: datetime | None, schedule: Schedule, tz: tzinfo) -> datetime:
    """The instant (aware, UTC) at which the job should next run.

    ``now`` and ``last_success`` must be tz-aware (any zone). ``tz`` is the
    user's zone, used only by ``DailyAt``.

    * ``Interval``: ``last_success + interval``; never run -> ``now``.
    * ``DailyAt``: the first local occurrence of HH:MM strictly after
      ``last_success``; never run -> the first occurrence strictly after
      ``now`` (a midnight cleanup waits for midnight rather than running at
      first launch).
    * Anything already due (missed while the app was closed or the machine
      slept) -> ``now``: a missed job catches up once, never once per missed
      slot.
    * A ``last_success`` later than ``now`` (the wall clock was moved back)
      is treated as ``now``, so a job never waits more than one period.
    """
    _require_aware(now, "now")
    now_utc = now.astimezone(_UTC)
    if last_success is None:
        if isinstance(schedule, Interval):
            return now_utc
        if isinstance(schedule, DailyAt):
            return _first_occurrence_after(now_utc, schedule, tz)
        raise TypeError(f"unknown schedule {schedule!r}")

    _require_aware(last_success, "last_success")
    basis = min(last_success.astimezone(_UTC), now_utc)
    if isinstance(schedule, Interval):
        due = basis + timedelta(seconds=schedule.seconds)
    elif isinstance(schedule, DailyAt):
        due = _first_occurrence_after(basis, schedule, tz)
    else:
        raise TypeError(f"unknown schedule {schedule!r}")
    return now_utc if due <= now_utc else due


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a tz-aware datetime, got {value!r}")


def _first_occurrence_after(after_utc: datetime, at: DailyAt, tz: tzinfo) -> datetime:
    wall = time(at.hour, at.minute)
    start_day = after_utc.astimezone(tz).date()
    # Starting a day early covers a gap that pushes yesterday's slot past midnight.
    for offset in range(-1, _DAYS_SEARCHED):
        candidate = _occurrence_on(start_day + timedelta(days=offset), wall, tz)
        if candidate > after_utc:
            return candidate
    raise RuntimeError(f"no {wall} in {tz} within {_DAYS_SEARCHED} days after {after_utc}")


def _occurrence_on(day: date, wall: time, tz: tzinfo) -> datetime:
    """The UTC instant at which ``tz``'s wall clock shows ``wall`` on ``day``.

    Ambiguous (fall-back fold): the first of the two instants, so a daily job
    runs once. Nonexistent (spring-forward gap): the first valid instant after
    the gap, i.e. the transition itself, like cron does for skipped times.
    """
    naive = datetime.combine(day, wall)
    instants = {naive.replace(tzinfo=tz, fold=fold).astimezone(_UTC) for fold in (0, 1)}
    real = [u for u in instants if u.astimezone(tz).replace(tzinfo=None) == naive]
    if real:
        return min(real)
    # In a gap the two folds bracket the transition: the earlier one is still
    # before it (shows a wall time < naive), the later one is past it.
    # Transitions fall on whole seconds, so bisect over integer timestamps.
    lo, hi = int(min(instants).timestamp()), int(max(instants).timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, _UTC)


@dataclass(frozen=True)
class JobSpec:
    name: str
    schedule: Schedule
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("JobSpec.name must not be empty")


class JobOutcome(enum.StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"   # was due while the previous run was still going


@dataclass(frozen=True)
class JobRun:
    """One finished (or skipped) run; ``started_at``/``ended_at`` are aware."""

    job_name: str
    started_at: datetime
    ended_at: datetime
    outcome: JobOutcome
    message: str = ""


class JobRunStore(Protocol):
    """Where runs are kept; the scheduler derives due times from it.

    ``last_success`` must return the ``started_at`` of the most recent run
    whose outcome is SUCCESS (schedules are start-to-start, like cron), or
    None if the job never succeeded.
    """

    def last_success(self, job_name: str) -> datetime | None: ...

    def record(self, run: JobRun) -> None: ...


class MemoryJobRunStore:
    """In-memory ``JobRunStore`` for tests and for running without a database."""

    def __init__(self, runs: tuple[JobRun, ...] | list[JobRun] = ()) -> None:
        # A lock because a store may be read from a worker thread for a UI list.
        self._lock = threading.Lock()
        self._runs: list[JobRun] = list(runs)

    def last_success(self, job_name: str) -> datetime | None:
        with self._lock:
            starts = [r.started_at for r in self._runs
                      if r.job_name == job_name and r.outcome is JobOutcome.SUCCESS]
        return max(starts, default=None)

    def record(self, run: JobRun) -> None:
        with self._lock:
            self._runs.append(run)

    def runs(self, job_name: str | None = None) -> tuple[JobRun, ...]:
        with self._lock:
            return tuple(r for r in self._runs if job_name is None or r.job_name == job_name)


class JobCancelled(Exception):
    """Raised inside a job (via ``CancelToken.raise_if_cancelled``) to stop it.

    An ``Exception`` (not ``BaseException``) so the generic worker plumbing
    delivers it like any error; the scheduler turns it into a CANCELLED run.
    """


class CancelToken:
    """Thread-safe cancellation flag handed to a running job."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def event(self) -> threading.Event:
        """The underlying event, for APIs that wait on one (the HubSpot client)."""
        return self._event

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled("cancelled")

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` s, waking early on cancel; True if cancelled.

        Lets a job pause (rate-limit back-off) without ignoring a cancel.
        """
        return self._event.wait(timeout)


class ProgressReporter(Protocol):
    """``total`` is None when unknown. Callable from any thread."""

    def __call__(self, done: int, total: int | None, message: str) -> None: ...


# A job returns a short result message (or None) and may raise; JobCancelled
# means it honoured a cancel.
JobFn: TypeAlias = Callable[[CancelToken, ProgressReporter], "str | None"]
