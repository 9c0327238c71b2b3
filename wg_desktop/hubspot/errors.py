"""Typed taxonomy of everything that can go wrong talking to HubSpot.

Every error carries a :class:`ErrorCategory`, the HTTP status (when there was a
response), HubSpot's ``correlationId`` (when the body had one — HubSpot support
asks for it, so ``str(err)`` always shows it) and a ``user_message`` written for
the admin rather than for a developer.
"""

from __future__ import annotations

import enum
from datetime import datetime


class ErrorCategory(enum.StrEnum):
    NETWORK = "network"
    TIMEOUT = "timeout"
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    CLIENT = "client"
    MALFORMED = "malformed"


# Failures that say "HubSpot (or the way to it) is not working" — the ones a
# circuit breaker counts and that are worth retrying.
TRANSIENT_CATEGORIES = frozenset({ErrorCategory.NETWORK, ErrorCategory.TIMEOUT,
                                  ErrorCategory.SERVER})


class HubSpotError(Exception):
    """Base of every error raised by ``wg_desktop.hubspot``."""

    category: ErrorCategory = ErrorCategory.CLIENT
    default_user_message = "HubSpot rejected the request."

    def __init__(self, message: str, *, status: int | None = None,
                 correlation_id: str | None = None, user_message: str | None = None,
                 endpoint: str | None = None, error_code: str | None = None,
                 category: ErrorCategory | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.correlation_id = correlation_id or None
        self.endpoint = endpoint
        # HubSpot's own code for the error: body "category" (VALIDATION_ERROR…),
        # or OAuth "status"/"error" (BAD_REFRESH_TOKEN, invalid_grant…).
        self.error_code = error_code
        if category is not None:
            self.category = category
        self.user_message = user_message or self.default_user_message

    def __str__(self) -> str:
        text = self.message
        if self.status is not None and f"{self.status}" not in text:
            text = f"{text} (HTTP {self.status})"
        if self.correlation_id:
            text = f"{text} (correlation id {self.correlation_id})"
        return text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, category={self.category.value!r}, "
                f"status={self.status!r}, correlation_id={self.correlation_id!r})")


class NetworkError(HubSpotError):
    """No usable answer: connection refused, reset, dropped mid-response, DNS…

    ``sent`` is False when the request certainly never reached HubSpot (the
    connection could not be opened), which makes a retry safe for any method.
    ``dropped`` is True when an established connection broke.
    """

    category = ErrorCategory.NETWORK
    default_user_message = "Could not reach HubSpot. Check your internet connection."

    def __init__(self, message: str, *, sent: bool = True, dropped: bool = False,
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.sent = sent
        self.dropped = dropped


class RequestTimeout(HubSpotError):
    category = ErrorCategory.TIMEOUT
    default_user_message = "HubSpot took too long to answer."

    def __init__(self, message: str, *, sent: bool = True, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.sent = sent


class AuthError(HubSpotError):
    category = ErrorCategory.AUTH
    default_user_message = "HubSpot did not accept the app's credentials."


class ReauthenticationNeeded(AuthError):
    default_user_message = ("The connection to this HubSpot portal has expired. "
                            "Please reconnect the portal.")


class PermissionDenied(HubSpotError):
    category = ErrorCategory.PERMISSION
    default_user_message = ("HubSpot refused access: the app lacks a scope or the portal's "
                            "plan does not include this feature.")


class NotFound(HubSpotError):
    category = ErrorCategory.NOT_FOUND
    default_user_message = "HubSpot could not find it (it may have been deleted)."


class ClientError(HubSpotError):
    category = ErrorCategory.CLIENT
    default_user_message = "HubSpot rejected the request."


class ConflictError(ClientError):
    """409: typically a stale ``revisionId`` on a flow update."""

    default_user_message = ("The workflow was changed in HubSpot meanwhile. Reload it and "
                            "try again.")


class ServerError(HubSpotError):
    category = ErrorCategory.SERVER
    default_user_message = "HubSpot is having problems right now. Try again later."

    def __init__(self, message: str, *, retry_after: float | None = None,
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class MalformedResponse(HubSpotError):
    category = ErrorCategory.MALFORMED
    default_user_message = "HubSpot sent an answer the app could not understand."


class UnparseableBody(MalformedResponse):
    """A 2xx answer whose body is not valid JSON (cut off by a proxy, garbled).

    Unlike a well-formed answer of the wrong shape, asking again may well get
    a sound one, so the retry policy treats it like a dropped connection for
    read-only calls."""


class RateLimitedError(HubSpotError):
    """429 from HubSpot, or a client-side budget that cannot be waited for."""

    category = ErrorCategory.RATE_LIMITED
    default_user_message = "HubSpot's API limit was reached; the request was slowed down."

    def __init__(self, message: str, *, policy_name: str | None = None,
                 retry_after: float | None = None, interval_ms: int | None = None,
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.policy_name = policy_name
        self.retry_after = retry_after
        self.interval_ms = interval_ms


class DailyLimitReached(RateLimitedError):
    """The daily budget (HubSpot's, or the app's own) is used up until ``until``."""

    def __init__(self, until: datetime, *, source: str = "hubspot", **kw: object) -> None:
        who = "HubSpot's daily API limit" if source == "hubspot" else "The app's daily API budget"
        when = until.strftime("%Y-%m-%d %H:%M %Z").strip()
        message = f"{who} for this portal is used up until {when}"
        kw.setdefault("policy_name", "DAILY")
        kw.setdefault("user_message", f"{who} for this portal is used up. Requests resume at "
                                      f"{when}; stored data is shown meanwhile.")
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.until = until
        self.source = source


class CircuitOpenError(HubSpotError):
    """Fail-fast answer while the portal's circuit breaker is open."""

    category = ErrorCategory.NETWORK
    default_user_message = "HubSpot is unavailable — showing stored data"

    def __init__(self, portal_key: str, retry_in: float, **kw: object) -> None:
        kw.setdefault("user_message", self.default_user_message)
        # The technical message only adds what the user message lacks: callers
        # show "<user message> (<message>)", which must not say it twice.
        super().__init__(f"circuit open for portal {portal_key}; next attempt in "
                         f"{max(0.0, retry_in):.0f} s", **kw)  # type: ignore[arg-type]
        self.portal_key = portal_key
        self.retry_in = retry_in


class RequestCancelled(HubSpotError):
    """The caller's cancel event was set while the request was waiting."""

    category = ErrorCategory.CLIENT
    default_user_message = "The request was cancelled."


class RateLimitWaitCancelled(RequestCancelled):
    default_user_message = "Cancelled while waiting for the API rate limit."
