"""next_run and the job-run records: pure, no Qt, no real clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from wg_desktop.services.schedule import (
    CancelToken,
    DailyAt,
    Interval,
    JobCancelled,
    JobOutcome,
    JobRun,
    JobSpec,
    MemoryJobRunStore,
    Schedule,
    next_run,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(tz: tzinfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, *, fold: int = 0) -> datetime:
    """A local wall-clock time as an aware UTC instant (fold=1: second of two)."""
    return datetime(y, mo, d, h, mi, tzinfo=tz, fold=fold).astimezone(UTC)


@dataclass(frozen=True)
class Case:
    id: str
    schedule: Schedule
    tz: tzinfo
    now: datetime
    last_success: datetime | None
    expected: datetime


NOW = at(BERLIN, 2024, 5, 1, 15, 0)

CASES = [
    # --- Interval ---------------------------------------------------------
    Case("interval never run -> now", Interval(300), BERLIN, NOW, None, NOW),
    Case("interval normal -> last + 5 min", Interval(300), BERLIN,
         NOW, NOW - timedelta(minutes=2), NOW + timedelta(minutes=3)),
    Case("interval exactly due -> now", Interval(300), BERLIN,
         NOW, NOW - timedelta(minutes=5), NOW),
    Case("interval slept 3 h with 5-min interval -> once, now", Interval(300), BERLIN,
         NOW, NOW - timedelta(hours=3), NOW),
    Case("hourly normal", Interval(3600), BERLIN,
         NOW, NOW - timedelta(minutes=59, seconds=59), NOW + timedelta(seconds=1)),
    Case("interval last success in the future (clock moved back) -> waits one interval",
         Interval(300), BERLIN, NOW, NOW + timedelta(days=1), NOW + timedelta(minutes=5)),
    # 6-hour backups count real elapsed hours, not wall-clock hours.
    Case("6 h across Berlin spring-forward = 7 wall hours", Interval(6 * 3600), BERLIN,
         at(BERLIN, 2024, 3, 31, 1), at(BERLIN, 2024, 3, 31, 0), at(BERLIN, 2024, 3, 31, 7)),
    Case("6 h across Berlin fall-back = 5 wall hours", Interval(6 * 3600), BERLIN,
         at(BERLIN, 2024, 10, 27, 1), at(BERLIN, 2024, 10, 27, 0), at(BERLIN, 2024, 10, 27, 5)),
    Case("6 h across New York spring-forward", Interval(6 * 3600), NEW_YORK,
         at(NEW_YORK, 2024, 3, 10, 1), at(NEW_YORK, 2024, 3, 9, 23), at(NEW_YORK, 2024, 3, 10, 6)),
    Case("6 h slept across DST -> now", Interval(6 * 3600), BERLIN,
         at(BERLIN, 2024, 3, 31, 12), at(BERLIN, 2024, 3, 31, 0), at(BERLIN, 2024, 3, 31, 12)),
    # --- DailyAt midnight ---------------------------------------------------
    Case("daily midnight normal -> next midnight", DailyAt(0, 0), BERLIN,
         NOW, at(BERLIN, 2024, 5, 1, 0), at(BERLIN, 2024, 5, 2, 0)),
    Case("daily caught up yesterday morning, last midnight missed -> now", DailyAt(0, 0), BERLIN,
         NOW, at(BERLIN, 2024, 4, 30, 9), NOW),
    Case("daily caught up this morning -> tonight", DailyAt(0, 0), BERLIN,
         NOW, at(BERLIN, 2024, 5, 1, 9), at(BERLIN, 2024, 5, 2, 0)),
    Case("daily missed several midnights -> once, now", DailyAt(0, 0), BERLIN,
         NOW, at(BERLIN, 2024, 4, 27, 0), NOW),
    Case("daily due exactly now -> now", DailyAt(0, 0), BERLIN,
         at(BERLIN, 2024, 5, 2, 0), at(BERLIN, 2024, 5, 1, 0), at(BERLIN, 2024, 5, 2, 0)),
    Case("daily never run at 15:00 -> tonight, not at first launch", DailyAt(0, 0), BERLIN,
         NOW, None, at(BERLIN, 2024, 5, 2, 0)),
    Case("daily never run at exactly midnight -> the next one", DailyAt(0, 0), BERLIN,
         at(BERLIN, 2024, 5, 1, 0), None, at(BERLIN, 2024, 5, 2, 0)),
    Case("daily never run early morning -> later today", DailyAt(9, 15), BERLIN,
         at(BERLIN, 2024, 5, 1, 8), None, at(BERLIN, 2024, 5, 1, 9, 15)),
    Case("daily is local: New York midnight is 04:00 UTC in summer", DailyAt(0, 0), NEW_YORK,
         datetime(2024, 5, 1, 12, tzinfo=UTC), datetime(2024, 5, 1, 4, tzinfo=UTC),
         datetime(2024, 5, 2, 4, tzinfo=UTC)),
    Case("daily last success in the future (clock moved back) -> next slot after now",
         DailyAt(0, 0), BERLIN, NOW, at(BERLIN, 2024, 5, 3, 0), at(BERLIN, 2024, 5, 2, 0)),
    # --- DST: spring-forward gap -> first valid instant after the gap ----------
    Case("Berlin 02:30 on spring-forward day -> 03:00 CEST", DailyAt(2, 30), BERLIN,
         at(BERLIN, 2024, 3, 30, 12), at(BERLIN, 2024, 3, 30, 2, 30),
         datetime(2024, 3, 31, 1, 0, tzinfo=UTC)),
    Case("Berlin day after spring-forward -> 02:30 again", DailyAt(2, 30), BERLIN,
         at(BERLIN, 2024, 3, 31, 12), datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
         at(BERLIN, 2024, 4, 1, 2, 30)),
    Case("Berlin midnight across spring-forward is 23 h later", DailyAt(0, 0), BERLIN,
         at(BERLIN, 2024, 3, 31, 12), at(BERLIN, 2024, 3, 31, 0), at(BERLIN, 2024, 4, 1, 0)),
    Case("New York 02:30 on spring-forward day -> 03:00 EDT", DailyAt(2, 30), NEW_YORK,
         at(NEW_YORK, 2024, 3, 9, 12), at(NEW_YORK, 2024, 3, 9, 2, 30),
         datetime(2024, 3, 10, 7, 0, tzinfo=UTC)),
    Case("New York 02:00 (gap start) -> 03:00 EDT", DailyAt(2, 0), NEW_YORK,
         at(NEW_YORK, 2024, 3, 9, 12), at(NEW_YORK, 2024, 3, 9, 2),
         datetime(2024, 3, 10, 7, 0, tzinfo=UTC)),
    Case("New York 03:00 (gap end) is a normal time", DailyAt(3, 0), NEW_YORK,
         at(NEW_YORK, 2024, 3, 9, 12), at(NEW_YORK, 2024, 3, 9, 3),
         datetime(2024, 3, 10, 7, 0, tzinfo=UTC)),
    Case("Berlin gap slot slept through -> now", DailyAt(2, 30), BERLIN,
         at(BERLIN, 2024, 3, 31, 9), at(BERLIN, 2024, 3, 30, 2, 30), at(BERLIN, 2024, 3, 31, 9)),
    # --- DST: fall-back fold -> first occurrence, once -------------------------
    Case("Berlin 02:30 on fall-back day -> first (CEST) occurrence", DailyAt(2, 30), BERLIN,
         at(BERLIN, 2024, 10, 26, 12), at(BERLIN, 2024, 10, 26, 2, 30),
         datetime(2024, 10, 27, 0, 30, tzinfo=UTC)),
    Case("Berlin fall-back: ran at first 02:30, second 02:30 does not run again",
         DailyAt(2, 30), BERLIN,
         at(BERLIN, 2024, 10, 27, 2, 30, fold=1), at(BERLIN, 2024, 10, 27, 2, 30, fold=0),
         at(BERLIN, 2024, 10, 28, 2, 30)),
    Case("New York 01:30 on fall-back day -> 01:30 EDT", DailyAt(1, 30), NEW_YORK,
         at(NEW_YORK, 2024, 11, 2, 12), at(NEW_YORK, 2024, 11, 2, 1, 30),
         datetime(2024, 11, 3, 5, 30, tzinfo=UTC)),
    Case("New York fall-back: ran at 01:30 EDT, not again at 01:45 EST", DailyAt(1, 30), NEW_YORK,
         at(NEW_YORK, 2024, 11, 3, 1, 45, fold=1), datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
         at(NEW_YORK, 2024, 11, 4, 1, 30)),
    Case("Berlin midnight across fall-back is 25 h later", DailyAt(0, 0), BERLIN,
         at(BERLIN, 2024, 10, 27, 12), at(BERLIN, 2024, 10, 27, 0), at(BERLIN, 2024, 10, 28, 0)),
    # Samoa skipped 2011-12-30 entirely: the slot moves to the end of the gap.
    Case("a skipped calendar day still yields one run", DailyAt(10, 0), ZoneInfo("Pacific/Apia"),
         datetime(2011, 12, 29, 22, tzinfo=UTC), datetime(2011, 12, 29, 20, tzinfo=UTC),
         datetime(2011, 12, 30, 10, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_next_run(case: Case) -> None:
    result = next_run(case.now, case.last_success, case.schedule, case.tz)
    assert result == case.expected, (
        f"got {result.astimezone(case.tz)}, want {case.expected.astimezone(case.tz)}")
    assert result.utcoffset() == timedelta(0)


def test_inputs_in_any_zone_give_the_same_instant() -> None:
    last_local = at(BERLIN, 2024, 3, 31, 0).astimezone(BERLIN)
    now_local = at(BERLIN, 2024, 3, 31, 1).astimezone(BERLIN)
    # Same-zone aware arithmetic in Python is naive wall-clock arithmetic; the
    # result must still be 6 real hours later.
    result = next_run(now_local, last_local, Interval(6 * 3600), BERLIN)
    assert result - last_local.astimezone(UTC) == timedelta(hours=6)
    assert result.astimezone(BERLIN).hour == 7


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError):
        next_run(datetime(2024, 5, 1), None, Interval(60), BERLIN)
    with pytest.raises(ValueError):
        next_run(NOW, datetime(2024, 5, 1), Interval(60), BERLIN)


@pytest.mark.parametrize("make", [lambda: Interval(0), lambda: Interval(-5), lambda: Interval(True),
                                  lambda: DailyAt(24, 0), lambda: DailyAt(0, 60), lambda: DailyAt(-1, 0)])
def test_invalid_schedules_are_rejected(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_unknown_schedule_type_is_rejected() -> None:
    with pytest.raises(TypeError):
        next_run(NOW, NOW, "hourly", BERLIN)  # type: ignore[arg-type]


def test_specs_and_runs_are_frozen() -> None:
    spec = JobSpec("backup", Interval(6 * 3600), "Back up workflows")
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
    run = JobRun("backup", NOW, NOW, JobOutcome.SUCCESS, "12 workflows")
    with pytest.raises(AttributeError):
        run.outcome = JobOutcome.FAILED  # type: ignore[misc]
    assert [o.value for o in JobOutcome] == ["success", "failed", "cancelled", "skipped"]


def test_memory_store_last_success_is_latest_successful_start() -> None:
    store = MemoryJobRunStore()
    assert store.last_success("backup") is None
    t = NOW
    store.record(JobRun("backup", t, t + timedelta(seconds=5), JobOutcome.SUCCESS))
    store.record(JobRun("backup", t + timedelta(hours=2), t + timedelta(hours=2), JobOutcome.FAILED, "x"))
    store.record(JobRun("backup", t + timedelta(hours=3), t + timedelta(hours=3), JobOutcome.SKIPPED))
    store.record(JobRun("cleanup", t + timedelta(hours=4), t + timedelta(hours=4), JobOutcome.SUCCESS))
    store.record(JobRun("backup", t - timedelta(hours=1), t - timedelta(hours=1), JobOutcome.SUCCESS))
    assert store.last_success("backup") == t
    assert store.last_success("cleanup") == t + timedelta(hours=4)
    assert len(store.runs("backup")) == 4
    assert len(store.runs()) == 5


def test_cancel_token_across_threads() -> None:
    token = CancelToken()
    assert not token.cancelled
    token.raise_if_cancelled()   # no-op while not cancelled
    assert token.wait(0) is False

    started = threading.Event()
    seen: list[bool] = []

    def worker() -> None:
        started.set()
        seen.append(token.wait(30))   # wakes on cancel, not after 30 s

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(10)
    token.cancel()
    thread.join(10)
    assert not thread.is_alive()
    assert seen == [True]
    assert token.cancelled
    with pytest.raises(JobCancelled):
        token.raise_if_cancelled()
