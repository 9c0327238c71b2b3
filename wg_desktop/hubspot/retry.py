"""The one retry policy of the HubSpot client, built on tenacity.

=====================  ===================================================  ================
failure                wait before the next attempt                         methods retried
=====================  ===================================================  ================
dropped connection     none, once (a stale keep-alive connection); then     idempotent
                       exponential back-off
2xx, body not JSON     as a dropped connection (a proxy or server cut or    read-only
                       garbled it; the next answer may be whole)
connection refused     exponential back-off (nothing was sent)              all
timeout                exponential back-off; the next attempt uses the      idempotent (all
                       longer ``http.retry_timeout``                        for connect)
5xx                    ``Retry-After`` if sent, else exponential back-off   idempotent
429                    ``Retry-After``; else the window from                all (HubSpot
                       ``X-HubSpot-RateLimit-Interval-Milliseconds``; else  did not process
                       by ``policyName``: TEN_SECONDLY_ROLLING 10 s,        it)
                       SECONDLY 1 s; DAILY: no retry,
                       :class:`DailyLimitReached` until the portal's
                       midnight
anything else          not retried
=====================  ===================================================  ================

Attempts are bounded by ``http.max_attempts`` and the whole call by
``http.retry_deadline``: a retry whose wait would end past the deadline is not
made (the last error is raised). Back-off is exponential with jitter
(``backoff_base`` × 2ⁿ, capped at ``backoff_max``, randomised to 50–100 %).
Idempotent means GET, HEAD, PUT, DELETE and POSTs the caller marks idempotent
(e.g. ``flows/batch/read``). Read-only means GET, HEAD and the POSTs the
endpoint table marks read-only (``flows/batch/read``, token introspection): a
garbled answer to a write is not retried, because the write took effect and
its repeat would meet a changed resource (a stale ``revisionId``) or act twice.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import tenacity

from wg_desktop.hubspot.clock import SYSTEM_CLOCK, Clock
from wg_desktop.hubspot.errors import (
    DailyLimitReached,
    HubSpotError,
    NetworkError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
    UnparseableBody,
)
from wg_desktop.hubspot.portal_time import PortalTimezone, next_portal_midnight

log = logging.getLogger("wg_desktop.hubspot.retry")

T = TypeVar("T")

POLICY_WAITS = {"TEN_SECONDLY_ROLLING": 10.0, "TEN_SECONDLY": 10.0, "SECONDLY": 1.0}


@dataclass(frozen=True)
class Attempt:
    number: int                          # 1 for the first attempt
    use_retry_timeout: bool              # the previous attempt timed out
    previous_error: HubSpotError | None


@dataclass(frozen=True)
class RetryDecision:
    wait: float
    reason: str
    rate_limited: bool = False           # the wait is a rate-limit wait (429)
    immediate: bool = False              # the one at-once retry after a broken answer


# sleep(seconds, decision, error) — the client's is cancellable and reports waits
SleepFn = Callable[[float, RetryDecision, BaseException], None]


class RetryPolicy:
    def __init__(self, *, max_attempts: int = 5, deadline: float = 120.0,
                 backoff_base: float = 0.5, backoff_max: float = 30.0,
                 default_rate_limit_wait: float = 10.0, clock: Clock | None = None,
                 rng: random.Random | None = None) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.default_rate_limit_wait = default_rate_limit_wait
        self._clock = clock or SYSTEM_CLOCK
        self._rng = rng or random.Random()

    @classmethod
    def from_config(cls, config: Any, *, clock: Clock | None = None,
                    rng: random.Random | None = None) -> "RetryPolicy":
        return cls(max_attempts=int(config.max_attempts), deadline=float(config.retry_deadline),
                   backoff_base=float(config.backoff_base), backoff_max=float(config.backoff_max),
                   clock=clock, rng=rng)

    # ----------------------------------------------------------------- decisions

    def backoff(self, n: int) -> float:
        """Wait before the n-th back-off retry (n >= 1), with jitter."""
        step = min(self.backoff_max, self.backoff_base * (2 ** (n - 1)))
        return step / 2 + self._rng.uniform(0, step / 2)

    def rate_limit_wait(self, error: RateLimitedError) -> float:
        if error.retry_after is not None:
            return max(0.0, error.retry_after)
        if error.interval_ms:
            # We cannot know where HubSpot's rolling window started: waiting
            # one whole interval is the only wait sure to be enough.
            return error.interval_ms / 1000.0
        return POLICY_WAITS.get((error.policy_name or "").upper(), self.default_rate_limit_wait)

    def decide(self, error: BaseException, *, idempotent: bool, backoffs_done: int,
               immediate_used: bool, read_only: bool = False) -> RetryDecision | None:
        """Whether (and after how long) to retry after ``error``; None = give up."""
        if isinstance(error, DailyLimitReached):
            return None
        if isinstance(error, RateLimitedError):
            if (error.policy_name or "").upper() == "DAILY":
                return None
            return RetryDecision(self.rate_limit_wait(error),
                                 f"rate limited ({error.policy_name or 'no policy named'})",
                                 rate_limited=True)
        if isinstance(error, NetworkError):
            if error.sent and not idempotent:
                return None
            if error.dropped and not immediate_used:
                return RetryDecision(0.0, "connection dropped: retrying at once", immediate=True)
            return RetryDecision(self.backoff(backoffs_done + 1), "network failure")
        if isinstance(error, UnparseableBody):
            if not read_only:
                return None
            if not immediate_used:
                return RetryDecision(0.0, "unparseable answer: retrying at once", immediate=True)
            return RetryDecision(self.backoff(backoffs_done + 1), "unparseable answer")
        if isinstance(error, RequestTimeout):
            if error.sent and not idempotent:
                return None
            return RetryDecision(self.backoff(backoffs_done + 1), "timeout")
        if isinstance(error, ServerError):
            if not idempotent:
                return None
            if error.retry_after is not None:
                return RetryDecision(max(0.0, error.retry_after), "server error (Retry-After)")
            return RetryDecision(self.backoff(backoffs_done + 1), "server error")
        return None

    def daily_limit_error(self, error: RateLimitedError,
                          portal_timezone: PortalTimezone | None) -> DailyLimitReached:
        until = next_portal_midnight(self._clock.time(), portal_timezone)
        daily = DailyLimitReached(until, source="hubspot", status=error.status,
                                  correlation_id=error.correlation_id, endpoint=error.endpoint,
                                  error_code=error.error_code)
        return daily

    # ---------------------------------------------------------------------- run

    def call(self, fn: Callable[[Attempt], T], *, idempotent: bool, read_only: bool = False,
             sleep: SleepFn | None = None, portal_timezone: PortalTimezone | None = None,
             label: str = "request") -> T:
        """Run ``fn`` with retries; ``fn`` gets the :class:`Attempt` it is."""
        clock = self._clock
        started = clock.monotonic()
        state: dict[str, Any] = {"prev": None, "decision": None, "backoffs": 0,
                                 "immediate": False, "number": 0}

        def attempt() -> T:
            state["number"] += 1
            prev = state["prev"]
            info = Attempt(state["number"], isinstance(prev, RequestTimeout), prev)
            try:
                return fn(info)
            except RateLimitedError as exc:
                if ((exc.policy_name or "").upper() == "DAILY"
                        and not isinstance(exc, DailyLimitReached)):
                    raise self.daily_limit_error(exc, portal_timezone) from exc
                raise

        def should_retry(rs: tenacity.RetryCallState) -> bool:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            if exc is None:
                return False
            decision = self.decide(exc, idempotent=idempotent, backoffs_done=state["backoffs"],
                                   immediate_used=state["immediate"], read_only=read_only)
            state["decision"] = decision
            return decision is not None

        def wait(rs: tenacity.RetryCallState) -> float:
            decision = state["decision"]
            return decision.wait if decision is not None else 0.0

        def stop(rs: tenacity.RetryCallState) -> bool:
            if rs.attempt_number >= self.max_attempts:
                return True
            return clock.monotonic() - started + rs.upcoming_sleep > self.deadline

        def before_sleep(rs: tenacity.RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome is not None else None
            decision: RetryDecision = state["decision"]
            state["prev"] = exc
            if decision.immediate:
                state["immediate"] = True
            elif not decision.rate_limited and not decision.reason.endswith("(Retry-After)"):
                state["backoffs"] += 1
            log.warning("%s failed (%s: %s); retrying in %.1f s (attempt %d of %d)", label,
                        decision.reason, exc, decision.wait, rs.attempt_number + 1,
                        self.max_attempts)

        def do_sleep(seconds: float) -> None:
            if sleep is not None:
                sleep(seconds, state["decision"], state["prev"])
            elif seconds > 0:
                clock.sleep(seconds)

        retrying = tenacity.Retrying(retry=should_retry, wait=wait, stop=stop,
                                     before_sleep=before_sleep, sleep=do_sleep, reraise=True)
        return retrying(attempt)
