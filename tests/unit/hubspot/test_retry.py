import random
from datetime import datetime, timezone

import pytest

from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.errors import (
    AuthError,
    ClientError,
    DailyLimitReached,
    MalformedResponse,
    NetworkError,
    NotFound,
    RateLimitedError,
    RequestTimeout,
    ServerError,
    UnparseableBody,
)
from wg_desktop.hubspot.portal_time import PortalTimezone
from wg_desktop.hubspot.retry import RetryPolicy

from .fakes import FakeClock


def policy(clock=None, **kw):
    kw.setdefault("max_attempts", 5)
    kw.setdefault("deadline", 600.0)
    return RetryPolicy(clock=clock or FakeClock(), rng=random.Random(1), **kw)


def decide(p, err, idempotent=True, backoffs=0, immediate=False, read_only=False):
    return p.decide(err, idempotent=idempotent, backoffs_done=backoffs, immediate_used=immediate,
                    read_only=read_only)


def test_from_config_uses_attempts_and_deadline():
    p = RetryPolicy.from_config(ClientConfig(max_attempts=3, retry_deadline=9.0))
    assert (p.max_attempts, p.deadline) == (3, 9.0)


@pytest.mark.parametrize("err, wait", [
    (RateLimitedError("x", retry_after=3.0, policy_name="TEN_SECONDLY_ROLLING",
                      interval_ms=10_000), 3.0),
    (RateLimitedError("x", interval_ms=2500, policy_name="TEN_SECONDLY_ROLLING"), 2.5),
    (RateLimitedError("x", policy_name="TEN_SECONDLY_ROLLING"), 10.0),
    (RateLimitedError("x", policy_name="SECONDLY"), 1.0),
    (RateLimitedError("x"), 10.0),
])
def test_rate_limit_waits_in_order_of_evidence(err, wait):
    d = decide(policy(), err, idempotent=False)     # a 429 was not processed: any method
    assert d is not None and d.rate_limited and d.wait == wait


def test_daily_is_not_retried():
    assert decide(policy(), RateLimitedError("x", policy_name="DAILY")) is None
    assert decide(policy(), DailyLimitReached(datetime.now(timezone.utc))) is None


def test_backoff_grows_exponentially_with_jitter():
    p = policy(backoff_base=1.0, backoff_max=8.0)
    for n, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        waits = {round(p.backoff(n), 6) for _ in range(20)}
        assert all(step / 2 <= w <= step for w in waits)
        assert len(waits) > 1                       # jittered


def test_server_errors_and_timeouts_back_off_only_when_idempotent():
    p = policy(backoff_base=1.0)
    assert 0.5 <= decide(p, ServerError("x")).wait <= 1.0
    assert 1.0 <= decide(p, ServerError("x"), backoffs=1).wait <= 2.0
    assert decide(p, ServerError("x"), idempotent=False) is None
    assert decide(p, ServerError("x", retry_after=7.0)).wait == 7.0
    assert decide(p, RequestTimeout("x")) is not None
    assert decide(p, RequestTimeout("x"), idempotent=False) is None
    assert decide(p, RequestTimeout("x", sent=False), idempotent=False) is not None


def test_dropped_connection_retried_at_once_then_backed_off():
    p = policy()
    dropped = NetworkError("x", dropped=True)
    assert decide(p, dropped).wait == 0.0
    assert decide(p, dropped, immediate=True).wait > 0
    assert decide(p, dropped, idempotent=False) is None
    refused = NetworkError("x", sent=False)
    assert decide(p, refused, idempotent=False).wait > 0     # nothing was sent


def test_unparseable_2xx_body_of_a_read_is_retried_like_a_dropped_connection():
    p = policy(backoff_base=1.0)
    garbled = UnparseableBody("x", status=200)
    first = decide(p, garbled, read_only=True)
    assert first.wait == 0.0 and first.immediate
    later = decide(p, garbled, read_only=True, immediate=True, backoffs=1)
    assert 1.0 <= later.wait <= 2.0 and not later.immediate
    # a write took effect: its garbled answer is reported, never replayed
    assert decide(p, garbled, read_only=False) is None
    # a well-formed answer of the wrong shape (or too large) will not improve
    assert decide(p, MalformedResponse("x", status=200), read_only=True) is None


def test_call_gives_drops_and_unparseable_bodies_one_at_once_retry_and_one_budget():
    clock = FakeClock()
    p = policy(clock, max_attempts=4, backoff_base=1.0)
    errors = [NetworkError("x", dropped=True), UnparseableBody("x"), UnparseableBody("x"),
              UnparseableBody("x")]

    def fn(attempt):
        raise errors[attempt.number - 1]

    with pytest.raises(UnparseableBody):
        p.call(fn, idempotent=True, read_only=True)
    assert len(clock.sleeps) == 2                       # the drop's retry was the at-once one
    assert 0.5 <= clock.sleeps[0] <= 1.0 and 1.0 <= clock.sleeps[1] <= 2.0

    clock.sleeps.clear()
    calls = []

    def write(attempt):
        calls.append(attempt.number)
        raise UnparseableBody("x")

    with pytest.raises(UnparseableBody):
        p.call(write, idempotent=True)                  # a PUT: idempotent, not read-only
    assert calls == [1] and clock.sleeps == []


@pytest.mark.parametrize("err", [AuthError("x", status=401), NotFound("x"), ClientError("x"),
                                 MalformedResponse("x"), ValueError("bug")])
def test_other_errors_are_not_retried(err):
    assert decide(policy(), err) is None


def test_call_retries_until_success_and_passes_attempt_info():
    clock = FakeClock()
    p = policy(clock, backoff_base=1.0)
    seen = []

    def fn(attempt):
        seen.append(attempt)
        if attempt.number == 1:
            raise RequestTimeout("slow")
        if attempt.number == 2:
            raise ServerError("502")
        return "ok"

    assert p.call(fn, idempotent=True) == "ok"
    assert [a.number for a in seen] == [1, 2, 3]
    assert [a.use_retry_timeout for a in seen] == [False, True, False]
    assert isinstance(seen[2].previous_error, ServerError)
    assert len(clock.sleeps) == 2
    assert 0.5 <= clock.sleeps[0] <= 1.0 and 1.0 <= clock.sleeps[1] <= 2.0


def test_attempts_are_bounded():
    clock = FakeClock()
    p = policy(clock, max_attempts=3)
    calls = []

    def fn(attempt):
        calls.append(attempt.number)
        raise ServerError("down", status=503)

    with pytest.raises(ServerError):
        p.call(fn, idempotent=True)
    assert calls == [1, 2, 3] and len(clock.sleeps) == 2


def test_total_deadline_stops_retries_that_would_end_too_late():
    clock = FakeClock()
    p = policy(clock, deadline=15.0)
    calls = []

    def fn(attempt):
        calls.append(attempt.number)
        raise RateLimitedError("429", policy_name="TEN_SECONDLY_ROLLING")

    with pytest.raises(RateLimitedError):
        p.call(fn, idempotent=True)
    assert calls == [1, 2] and clock.sleeps == [10.0]


def test_daily_429_becomes_daily_limit_reached_until_portal_midnight():
    clock = FakeClock()   # 2023-11-14 22:13:20 UTC = 2023-11-15 07:13:20 in Tokyo
    p = policy(clock)
    calls = []

    def fn(attempt):
        calls.append(1)
        raise RateLimitedError("429", policy_name="DAILY", status=429, correlation_id="c-1")

    with pytest.raises(DailyLimitReached) as info:
        p.call(fn, idempotent=True, portal_timezone=PortalTimezone("Asia/Tokyo"))
    assert calls == [1] and clock.sleeps == []
    until = info.value.until
    assert until.isoformat() == "2023-11-16T00:00:00+09:00"
    assert info.value.correlation_id == "c-1"
    with pytest.raises(DailyLimitReached) as utc:
        p.call(fn, idempotent=True)
    assert utc.value.until == datetime(2023, 11, 15, tzinfo=timezone.utc)
    offset_only = PortalTimezone.from_offset_text(None, "-05:00")
    with pytest.raises(DailyLimitReached) as est:
        p.call(fn, idempotent=True, portal_timezone=offset_only)
    assert est.value.until.isoformat() == "2023-11-15T00:00:00-05:00"


def test_custom_sleep_gets_the_decision():
    p = policy()
    got = []
    attempts = iter([RateLimitedError("x", retry_after=2.0), None])

    def fn(attempt):
        err = next(attempts)
        if err:
            raise err
        return 1

    p.call(fn, idempotent=True, sleep=lambda s, d, e: got.append((s, d.rate_limited, type(e))))
    assert got == [(2.0, True, RateLimitedError)]
