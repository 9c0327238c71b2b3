import pytest

from wg_desktop.hubspot.breaker import BreakerState, CircuitBreaker, Outcome, outcome_for
from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.errors import CircuitOpenError, ErrorCategory

from .fakes import FakeClock

CLOSED, OPEN, HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


@pytest.fixture
def setup():
    clock = FakeClock()
    breaker = CircuitBreaker("p1", failure_threshold=3, cooldown=30.0, clock=clock)
    changes = []
    breaker.add_listener(lambda key, old, new: changes.append((key, old, new)))
    return clock, breaker, changes


def fail(breaker, n=1):
    for _ in range(n):
        probe = breaker.before_call()
        breaker.record(Outcome.FAILURE, probe)


def test_from_config():
    breaker = CircuitBreaker.from_config("p", ClientConfig(breaker_failure_threshold=2,
                                                           breaker_cooldown=7.0))
    assert (breaker.failure_threshold, breaker.cooldown) == (2, 7.0)


def test_closed_open_half_open_closed(setup):
    clock, breaker, changes = setup
    fail(breaker, 2)
    assert breaker.state is CLOSED and breaker.consecutive_failures == 2
    fail(breaker)
    assert breaker.state is OPEN
    with pytest.raises(CircuitOpenError) as info:
        breaker.before_call()
    assert info.value.retry_in == pytest.approx(30.0)
    assert breaker.retry_in() == pytest.approx(30.0)
    clock.advance(29.9)
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.advance(0.2)
    assert breaker.state is HALF
    probe = breaker.before_call()
    assert probe is True
    with pytest.raises(CircuitOpenError):      # one probe at a time
        breaker.before_call()
    breaker.record(Outcome.SUCCESS, probe)
    assert breaker.state is CLOSED and breaker.consecutive_failures == 0
    assert breaker.before_call() is False
    assert changes == [("p1", CLOSED, OPEN), ("p1", OPEN, HALF), ("p1", HALF, CLOSED)]


def test_failed_probe_opens_again_for_a_new_cooldown(setup):
    clock, breaker, changes = setup
    fail(breaker, 3)
    clock.advance(30)
    probe = breaker.before_call()
    breaker.record(Outcome.FAILURE, probe)
    assert breaker.state is OPEN
    clock.advance(29)
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.advance(1)
    assert breaker.state is HALF
    assert changes[-2:] == [("p1", HALF, OPEN), ("p1", OPEN, HALF)]


def test_abandoned_probe_lets_another_probe_go(setup):
    clock, breaker, _ = setup
    fail(breaker, 3)
    clock.advance(30)
    probe = breaker.before_call()
    breaker.record(Outcome.ABANDONED, probe)
    assert breaker.state is HALF
    assert breaker.before_call() is True


def test_client_errors_do_not_count_and_break_the_streak(setup):
    _, breaker, _ = setup
    fail(breaker, 2)
    breaker.record(outcome_for(ErrorCategory.NOT_FOUND))
    fail(breaker, 2)
    assert breaker.state is CLOSED


@pytest.mark.parametrize("category, outcome", [
    (None, Outcome.SUCCESS), (ErrorCategory.SERVER, Outcome.FAILURE),
    (ErrorCategory.TIMEOUT, Outcome.FAILURE), (ErrorCategory.NETWORK, Outcome.FAILURE),
    (ErrorCategory.CLIENT, Outcome.SUCCESS), (ErrorCategory.AUTH, Outcome.SUCCESS),
    (ErrorCategory.RATE_LIMITED, Outcome.SUCCESS), (ErrorCategory.NOT_FOUND, Outcome.SUCCESS),
    (ErrorCategory.PERMISSION, Outcome.SUCCESS), (ErrorCategory.MALFORMED, Outcome.ABANDONED),
])
def test_outcome_for_categories(category, outcome):
    assert outcome_for(category) is outcome


def test_a_failing_listener_does_not_break_the_breaker(setup):
    _, breaker, changes = setup
    breaker.add_listener(lambda *a: 1 / 0)
    fail(breaker, 3)
    assert breaker.state is OPEN and changes[-1][2] is OPEN


def test_reset_closes(setup):
    _, breaker, changes = setup
    fail(breaker, 3)
    breaker.reset()
    assert breaker.state is CLOSED and changes[-1] == ("p1", OPEN, CLOSED)
