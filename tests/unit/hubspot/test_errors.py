from datetime import datetime, timezone

import pytest

from wg_desktop.hubspot.errors import (
    AuthError,
    CircuitOpenError,
    ClientError,
    ConflictError,
    DailyLimitReached,
    ErrorCategory,
    HubSpotError,
    MalformedResponse,
    NetworkError,
    NotFound,
    PermissionDenied,
    RateLimitedError,
    RateLimitWaitCancelled,
    ReauthenticationNeeded,
    RequestCancelled,
    RequestTimeout,
    ServerError,
)


@pytest.mark.parametrize("cls, category", [
    (NetworkError, ErrorCategory.NETWORK), (RequestTimeout, ErrorCategory.TIMEOUT),
    (AuthError, ErrorCategory.AUTH), (ReauthenticationNeeded, ErrorCategory.AUTH),
    (PermissionDenied, ErrorCategory.PERMISSION), (NotFound, ErrorCategory.NOT_FOUND),
    (RateLimitedError, ErrorCategory.RATE_LIMITED), (ServerError, ErrorCategory.SERVER),
    (ClientError, ErrorCategory.CLIENT), (ConflictError, ErrorCategory.CLIENT),
    (MalformedResponse, ErrorCategory.MALFORMED),
])
def test_every_error_has_its_category(cls, category):
    err = cls("boom")
    assert isinstance(err, HubSpotError)
    assert err.category is category
    assert err.user_message


def test_categories_are_the_documented_strings():
    assert {c.value for c in ErrorCategory} == {
        "network", "timeout", "auth", "permission", "not_found", "rate_limited", "server",
        "client", "malformed"}


def test_correlation_id_is_shown_in_str():
    err = ServerError("HubSpot answered 502", status=502, correlation_id="abc-123")
    assert str(err) == "HubSpot answered 502 (correlation id abc-123)"
    assert err.correlation_id == "abc-123"
    assert "correlation id" not in str(ServerError("x", status=500))
    assert "(HTTP 500)" in str(ServerError("x", status=500))


def test_rate_limited_carries_policy_and_retry_after():
    err = RateLimitedError("slow down", policy_name="SECONDLY", retry_after=1.5, status=429)
    assert (err.policy_name, err.retry_after, err.status) == ("SECONDLY", 1.5, 429)


def test_daily_limit_says_until_when():
    until = datetime(2026, 5, 2, 0, 0, tzinfo=timezone.utc)
    err = DailyLimitReached(until)
    assert isinstance(err, RateLimitedError)
    assert err.until == until and err.policy_name == "DAILY"
    assert "2026-05-02 00:00" in str(err) and "2026-05-02 00:00" in err.user_message


def test_circuit_open_and_cancel_messages():
    err = CircuitOpenError("portal-1", 42.0)
    assert err.user_message == "HubSpot is unavailable — showing stored data"
    assert err.retry_in == 42.0
    assert isinstance(RateLimitWaitCancelled("x"), RequestCancelled)


def test_an_open_circuit_is_not_announced_twice_when_shown_with_its_detail():
    from wg_desktop.hubspot.errors import CircuitOpenError

    err = CircuitOpenError("42", 12.0)
    shown = f"{err.user_message} ({err})"
    assert shown.count("HubSpot is unavailable") == 1
    assert "next attempt in 12 s" in shown
