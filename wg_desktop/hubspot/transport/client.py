"""``HubSpotClient``: the one way the app talks to HubSpot, for one portal.

Every request goes: cache (reads that ask for it) → retry policy, and per HTTP
send: circuit breaker check → rate-limiter permit → access token → send
(streamed, size-capped) → map the answer to data or a typed error → breaker
and limiter feedback. A 401 triggers exactly one token refresh (one refresh in
flight per portal; other threads that got a 401 for the same token reuse its
result) and one re-send; a second 401 raises :class:`ReauthenticationNeeded`
and sets :attr:`HubSpotClient.needs_reauth`. Each call leaves one
:class:`ApiCallRecord` and a redacted debug log line.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generic, Mapping, TypeVar

import httpx

from wg_desktop.hubspot.auth import TokenProvider
from wg_desktop.hubspot.breaker import CircuitBreaker, Outcome, outcome_for
from wg_desktop.hubspot.cache import CacheKind, ResponseCache
from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.clock import SYSTEM_CLOCK, Clock
from wg_desktop.hubspot import json_units
from wg_desktop.hubspot.endpoints import ApiFamily, AuthMode, EndpointTable, Route
from wg_desktop.hubspot.errors import (
    AuthError,
    ClientError,
    ConflictError,
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
    UnparseableBody,
)
from wg_desktop.hubspot.observability import (
    LOGGER_NAME,
    ApiCallRecord,
    CallRecorder,
    NullRecorder,
    redact_params,
)
from wg_desktop.hubspot.portal_time import PortalTimezone
from wg_desktop.hubspot.ratelimit import (
    OnWait,
    Permit,
    Priority,
    RateLimiter,
    UsageStore,
    parse_rate_limit_headers,
)
from wg_desktop.hubspot.retry import Attempt, RetryDecision, RetryPolicy

log = logging.getLogger(LOGGER_NAME)
T = TypeVar("T")

_STALE_OK = frozenset({ErrorCategory.NETWORK, ErrorCategory.TIMEOUT, ErrorCategory.SERVER,
                       ErrorCategory.RATE_LIMITED})
_MAX_MESSAGE = 300

WaitListener = Callable[[str, float, str], None]      # (portal_key, seconds, reason)
ReauthListener = Callable[[str], None]                # (portal_key)


@dataclass(frozen=True)
class ApiResponse:
    status: int
    data: Any                         # decoded JSON (None for an empty body)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    correlation_id: str | None = None
    from_cache: bool = False
    stale: bool = False               # served from the cache after a failure
    age: float = 0.0                  # seconds since the cached answer was fetched


@dataclass(frozen=True)
class Cached(Generic[T]):
    value: T
    from_cache: bool = False
    stale: bool = False
    age: float = 0.0


@dataclass
class _CallStats:
    sends: int = 0
    waited: float = 0.0
    status: int | None = None
    latency_ms: float = 0.0
    bytes: int = 0
    correlation_id: str | None = None


class HubSpotClient:
    """Client of one portal. Thread-safe; share one instance per portal."""

    def __init__(self, portal_key: str, config: ClientConfig,
                 token_provider: TokenProvider | None = None, *,
                 limiter: RateLimiter | None = None, usage_store: UsageStore | None = None,
                 breaker: CircuitBreaker | None = None, cache: ResponseCache | None = None,
                 recorder: CallRecorder | None = None, retry_policy: RetryPolicy | None = None,
                 endpoints: EndpointTable | None = None, clock: Clock | None = None,
                 transport: httpx.BaseTransport | None = None,
                 portal_timezone: PortalTimezone | None = None) -> None:
        self.portal_key = portal_key
        self.config = config
        self._tokens = token_provider
        self._clock = clock if clock is not None else SYSTEM_CLOCK
        self.endpoints = endpoints if endpoints is not None else EndpointTable.from_config(config)
        self.limiter = limiter if limiter is not None else RateLimiter.from_config(
            portal_key, config, store=usage_store, clock=self._clock)
        self.breaker = breaker if breaker is not None else CircuitBreaker.from_config(
            portal_key, config, self._clock)
        self.cache = cache if cache is not None else ResponseCache.from_config(config,
                                                                              clock=self._clock)
        self.recorder: CallRecorder = recorder if recorder is not None else NullRecorder()
        self.retry_policy = retry_policy if retry_policy is not None else RetryPolicy.from_config(
            config, clock=self._clock)
        self._timeout = httpx.Timeout(config.timeout, connect=config.connect_timeout,
                                      pool=config.retry_deadline)
        self._retry_timeout = httpx.Timeout(config.retry_timeout, connect=config.connect_timeout,
                                            pool=config.retry_deadline)
        self._http = httpx.Client(
            base_url=config.api_base,
            limits=httpx.Limits(max_connections=config.max_connections,
                                max_keepalive_connections=config.max_connections),
            timeout=self._timeout, transport=transport, follow_redirects=False,
            headers={"User-Agent": config.user_agent, "Accept": "application/json"})
        self._refresh_lock = threading.Lock()
        self._replacements: OrderedDict[str, str | BaseException] = OrderedDict()
        self._state_lock = threading.Lock()
        self._needs_reauth = False
        self._wait_listeners: list[WaitListener] = []
        self._reauth_listeners: list[ReauthListener] = []
        if portal_timezone is not None:
            self.portal_timezone = portal_timezone

    @classmethod
    def from_settings(cls, settings: Any, portal_key: str,
                      token_provider: TokenProvider | None = None, **deps: Any
                      ) -> "HubSpotClient":
        """Build a portal's client from :class:`wg_desktop.config.Settings`;
        ``deps`` are the keyword arguments of the constructor (usage_store,
        recorder, clock, …)."""
        return cls(portal_key, ClientConfig.from_settings(settings), token_provider, **deps)

    # ------------------------------------------------------------------ state

    @property
    def needs_reauth(self) -> bool:
        """True after HubSpot rejected a refreshed token: the admin must reconnect."""
        with self._state_lock:
            return self._needs_reauth

    def clear_reauth(self) -> None:
        """Call after the admin reconnected the portal."""
        with self._refresh_lock:
            self._replacements.clear()
        with self._state_lock:
            self._needs_reauth = False

    @property
    def portal_timezone(self) -> PortalTimezone | None:
        return self.limiter.portal_timezone

    @portal_timezone.setter
    def portal_timezone(self, tz: PortalTimezone | None) -> None:
        self.limiter.portal_timezone = tz

    @property
    def open_connections(self) -> int | None:
        """HTTP connections open in this client's pool (busy and idle keep-alive),
        for the health samples; None when a custom transport keeps no pool.
        httpx has no public pool statistics: its transport's httpcore pool is
        read, without a lock, as a snapshot."""
        pool = getattr(getattr(self._http, "_transport", None), "_pool", None)
        connections = getattr(pool, "connections", None)
        if connections is None:
            return None
        return sum(1 for c in list(connections) if not c.is_closed())

    def add_wait_listener(self, fn: WaitListener) -> None:
        self._wait_listeners.append(fn)

    def add_reauth_listener(self, fn: ReauthListener) -> None:
        self._reauth_listeners.append(fn)

    def route(self, name: str, **path_params: Any) -> Route:
        return self.endpoints.route(name, **path_params)

    def cache_prefix(self, family: ApiFamily | None = None) -> str:
        return f"{self.portal_key}|" + (f"{family}|" if family is not None else "")

    def cache_key(self, route: Route, params: Mapping[str, Any] | None = None,
                  body: Any = None) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        key = f"{self.cache_prefix(route.family)}{route.method} {route.path}?{query}"
        if body is not None:
            key += "#" + json.dumps(body, sort_keys=True, separators=(",", ":"))
        return key

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "HubSpotClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HubSpotClient(portal_key={self.portal_key!r}, api_base={self.config.api_base!r})"

    # ---------------------------------------------------------------- request

    def request(self, route: Route, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, form: Mapping[str, str] | None = None,
                idempotent: bool | None = None, priority: Priority = Priority.INTERACTIVE,
                cancel_event: threading.Event | None = None, on_wait: OnWait | None = None,
                cache: CacheKind | None = None, force_refresh: bool = False,
                allow_stale: bool = False) -> ApiResponse:
        """Send one API call (with retries) and return its decoded answer.

        ``idempotent`` overrides the endpoint's (POSTs are not retried after a
        possible send unless marked). ``cache`` caches a successful answer for
        that kind's TTL and serves it while fresh (``force_refresh`` skips the
        lookup). ``allow_stale`` returns the last good cached answer, flagged
        ``stale``, when HubSpot is unreachable or failing.
        """
        def send() -> ApiResponse:
            response = self._execute(route, params, json_body, form,
                                     route.idempotent if idempotent is None else idempotent,
                                     priority, cancel_event, on_wait)
            for family in route.spec.invalidates:
                self.cache.invalidate(self.cache_prefix(family))
            return response

        if cache is None:
            return send()
        got = self.cached_read(self.cache_key(route, params, json_body), cache, send,
                               force_refresh=force_refresh, allow_stale=allow_stale,
                               label=f"{route.method} {route.template}")
        if got.from_cache:
            return replace(got.value, from_cache=True, stale=got.stale, age=got.age)
        return got.value

    def cached_read(self, key: str, kind: CacheKind, loader: Callable[[], T], *,
                    force_refresh: bool = False, allow_stale: bool = False,
                    label: str = "read") -> "Cached[T]":
        """Serve ``key`` from the cache while fresh, else run ``loader`` and cache
        its result. With ``allow_stale``, a loader failing because HubSpot is
        unreachable, failing or rate limited yields the last good value instead."""
        if not force_refresh:
            hit = self.cache.get(key)
            if hit is not None:
                return Cached(hit.value, from_cache=True, stale=False, age=hit.age)
        try:
            value = loader()
        except HubSpotError as exc:
            if allow_stale and exc.category in _STALE_OK:
                stale = self.cache.stale_get(key)
                if stale is not None:
                    log.info("Portal %s: %s failed (%s); serving the answer cached %.0f s ago",
                             self.portal_key, label, exc.category, stale.age)
                    return Cached(stale.value, from_cache=True, stale=True, age=stale.age)
            raise
        self.cache.put(key, value, kind)
        return Cached(value)

    def _execute(self, route: Route, params: Mapping[str, Any] | None, json_body: Any,
                 form: Mapping[str, str] | None, idempotent: bool, priority: Priority,
                 cancel_event: threading.Event | None, on_wait: OnWait | None) -> ApiResponse:
        stats = _CallStats()
        started_wall = self._clock.time()
        started = self._clock.monotonic()
        notify = self._wait_notifier(on_wait)
        label = f"{route.method} {route.template}"

        def attempt(info: Attempt) -> ApiResponse:
            timeout = self._retry_timeout if info.use_retry_timeout else self._timeout
            return self._authenticated_send(route, params, json_body, form, timeout, priority,
                                            cancel_event, notify, stats)

        def sleep(seconds: float, decision: RetryDecision, error: BaseException) -> None:
            if seconds <= 0:
                return
            if decision.rate_limited:
                notify(seconds, f"HubSpot rate limit: {decision.reason}")
                stats.waited += seconds
            if not self._clock.sleep(seconds, cancel_event):
                cls = RateLimitWaitCancelled if decision.rate_limited else RequestCancelled
                raise cls(f"{label} cancelled while waiting to retry")

        try:
            # A caller that forbids replays (idempotent=False) is obeyed for reads too.
            response = self.retry_policy.call(attempt, idempotent=idempotent,
                                              read_only=route.read_only and idempotent,
                                              sleep=sleep, portal_timezone=self.portal_timezone,
                                              label=label)
        except HubSpotError as exc:
            if exc.endpoint is None:
                exc.endpoint = route.template
            if stats.sends:
                self._record(route, stats, exc.category, started_wall, started,
                             exc.correlation_id or stats.correlation_id)
                self._log_failure(route, exc, stats)
            raise
        self._record(route, stats, None, started_wall, started, response.correlation_id)
        return response

    # ------------------------------------------------------------------- auth

    def _authenticated_send(self, route: Route, params: Any, json_body: Any, form: Any,
                            timeout: httpx.Timeout, priority: Priority,
                            cancel_event: threading.Event | None, notify: OnWait,
                            stats: _CallStats) -> ApiResponse:
        if route.auth is not AuthMode.BEARER:
            return self._send(route, params, json_body, form, None, timeout, priority,
                              cancel_event, notify, stats)
        token = self._access_token()
        try:
            response = self._send(route, params, json_body, form, token, timeout, priority,
                                  cancel_event, notify, stats)
        except AuthError as first:
            if first.status != 401:
                raise
            log.info("Portal %s: HubSpot answered 401; refreshing the access token once",
                     self.portal_key)
            token = self._refreshed_token(token)
            try:
                response = self._send(route, params, json_body, form, token, timeout,
                                      priority, cancel_event, notify, stats)
            except AuthError as second:
                if second.status != 401:
                    raise
                self._mark_reauth()
                raise ReauthenticationNeeded(
                    "HubSpot rejected the refreshed access token", status=401,
                    correlation_id=second.correlation_id, endpoint=route.template,
                    error_code=second.error_code) from second
        with self._state_lock:
            self._needs_reauth = False
        return response

    def _access_token(self) -> str:
        if self._tokens is None:
            raise ReauthenticationNeeded(f"No token provider for portal {self.portal_key}")
        try:
            return self._tokens.access_token(self.portal_key)
        except ReauthenticationNeeded:
            self._mark_reauth()
            raise

    def _refreshed_token(self, rejected: str) -> str:
        """One refresh in flight per portal; a token rejected twice is refreshed once."""
        assert self._tokens is not None
        with self._refresh_lock:
            known = self._replacements.get(rejected)
            if isinstance(known, HubSpotError):
                raise ReauthenticationNeeded(known.message, user_message=known.user_message)
            if known is not None:
                return known
            try:
                new = self._tokens.refresh(self.portal_key, rejected)
            except ReauthenticationNeeded as exc:
                self._remember(rejected, exc)
                self._mark_reauth()
                raise
            self._remember(rejected, new)
            return new

    def _remember(self, rejected: str, result: str | BaseException) -> None:
        self._replacements[rejected] = result
        while len(self._replacements) > 8:
            self._replacements.popitem(last=False)

    def _mark_reauth(self) -> None:
        with self._state_lock:
            was = self._needs_reauth
            self._needs_reauth = True
        if not was:
            log.warning("Portal %s needs to be reconnected (re-authentication needed)",
                        self.portal_key)
            for fn in list(self._reauth_listeners):
                try:
                    fn(self.portal_key)
                except Exception:  # noqa: BLE001
                    log.exception("Re-authentication listener failed")

    # ------------------------------------------------------------------- send

    def _send(self, route: Route, params: Any, json_body: Any, form: Any, token: str | None,
              timeout: httpx.Timeout, priority: Priority, cancel_event: threading.Event | None,
              notify: OnWait, stats: _CallStats) -> ApiResponse:
        """One HTTP exchange, guarded by the breaker and the limiter."""
        probe = self.breaker.before_call()
        outcome = Outcome.ABANDONED   # unless something was sent
        try:
            permit = self.limiter.acquire(priority, cancel_event, notify)
            stats.waited += permit.waited
            try:
                outcome, response = self._exchange(route, params, json_body, form, token,
                                                   timeout, permit, stats)
            except HubSpotError as exc:
                outcome = outcome_for(exc.category)
                raise
            return response
        finally:
            self.breaker.record(outcome, probe)

    def _exchange(self, route: Route, params: Any, json_body: Any, form: Any,
                  token: str | None, timeout: httpx.Timeout, permit: Permit,
                  stats: _CallStats) -> tuple[Outcome, ApiResponse]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        stats.sends += 1
        stats.status = None
        stats.bytes = 0
        started = self._clock.monotonic()
        cap = self.config.max_response_bytes
        try:
            with self._http.stream(route.method, route.path, params=params, json=json_body,
                                   data=form, headers=headers, timeout=timeout) as raw:
                stats.status = raw.status_code
                body = self._read_capped(raw, cap, route, stats)
                response_headers = raw.headers
        except httpx.TimeoutException as exc:
            stats.latency_ms = (self._clock.monotonic() - started) * 1000
            sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
            raise RequestTimeout(f"{route.method} {route.template} timed out "
                                 f"({type(exc).__name__})", sent=sent,
                                 endpoint=route.template) from None
        except httpx.ConnectError as exc:
            stats.latency_ms = (self._clock.monotonic() - started) * 1000
            raise NetworkError(f"Could not connect to HubSpot ({_short(exc)})", sent=False,
                               endpoint=route.template) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            stats.latency_ms = (self._clock.monotonic() - started) * 1000
            raise NetworkError(f"Connection to HubSpot dropped during {route.method} "
                               f"{route.template} ({type(exc).__name__})", dropped=True,
                               endpoint=route.template) from None
        except httpx.TransportError as exc:
            stats.latency_ms = (self._clock.monotonic() - started) * 1000
            raise NetworkError(f"Network error talking to HubSpot ({type(exc).__name__}: "
                               f"{_short(exc)})", endpoint=route.template) from None
        stats.latency_ms = (self._clock.monotonic() - started) * 1000
        stats.bytes = len(body)
        limits = parse_rate_limit_headers(response_headers)
        self.limiter.observe(limits, permit)
        response = self._interpret(route, stats.status, response_headers, body, limits)
        stats.correlation_id = response.correlation_id
        if self.config.log_calls and log.isEnabledFor(logging.DEBUG):
            query = redact_params(params)
            log.debug("portal=%s %s %s%s -> %s in %.0f ms, %d bytes", self.portal_key,
                      route.method, route.template, "?" + query if query else "",
                      stats.status, stats.latency_ms, stats.bytes)
        return Outcome.SUCCESS, response

    @staticmethod
    def _read_capped(raw: httpx.Response, cap: int, route: Route, stats: _CallStats) -> bytes:
        declared = raw.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            stats.bytes = int(declared)
            raise MalformedResponse(f"HubSpot's response to {route.method} {route.template} is "
                                    f"too large ({int(declared)} bytes; limit {cap})",
                                    status=raw.status_code, endpoint=route.template,
                                    user_message="HubSpot's response was too large to process.")
        chunks: list[bytes] = []
        total = 0
        for chunk in raw.iter_bytes():
            total += len(chunk)
            if total > cap:
                stats.bytes = total
                raise MalformedResponse(f"HubSpot's response to {route.method} "
                                        f"{route.template} is too large (over {cap} bytes)",
                                        status=raw.status_code, endpoint=route.template,
                                        user_message="HubSpot's response was too large to "
                                                     "process.")
            chunks.append(chunk)
        return b"".join(chunks)

    def _interpret(self, route: Route, status: int, headers: httpx.Headers, body: bytes,
                   limits: Any) -> ApiResponse:
        data: Any = None
        decoded = True
        if body.strip():
            try:
                # A large answer decodes in pieces (see json_units), never in one GIL hold.
                data = json_units.loads(body, items_on_demand=route.spec.items_on_demand
                                        and 200 <= status < 300)
            except (ValueError, UnicodeDecodeError):
                decoded = False
        correlation_id = None
        if isinstance(data, dict):
            cid = data.get("correlationId")
            correlation_id = str(cid) if cid else None
        if 200 <= status < 300:
            if not decoded:
                raise UnparseableBody(f"HubSpot's response to {route.method} {route.template} "
                                      f"is not valid JSON", status=status,
                                      endpoint=route.template)
            return ApiResponse(status, data, dict(headers), correlation_id)
        raise self._error_for(route, status, headers, data if decoded else None,
                              correlation_id, limits)

    def _error_for(self, route: Route, status: int, headers: httpx.Headers, data: Any,
                   correlation_id: str | None, limits: Any) -> HubSpotError:
        body = data if isinstance(data, dict) else {}
        detail = str(body.get("message") or body.get("error_description") or "")[:_MAX_MESSAGE]
        code = body.get("category") or body.get("error") or (
            body.get("status") if body.get("status") not in (None, "error") else None)
        code = str(code) if code else None
        where = f"{route.method} {route.template}"
        message = f"HubSpot answered {status} to {where}" + (f": {detail}" if detail else "")
        kw: dict[str, Any] = dict(status=status, correlation_id=correlation_id,
                                  endpoint=route.template, error_code=code)
        if status == 401:
            return AuthError(message, **kw)
        if status == 403:
            return PermissionDenied(message, **kw)
        if status == 404:
            return NotFound(message, **kw)
        if status == 409:
            return ConflictError(message, **kw)
        if status == 429:
            policy = body.get("policyName")
            error = RateLimitedError(message, policy_name=str(policy) if policy else None,
                                     retry_after=_retry_after(headers, self._clock.time()),
                                     interval_ms=limits.interval_ms, **kw)
            # hold this portal's other requests too, not just the one that got the 429
            if (error.policy_name or "").upper() == "DAILY":
                self.limiter.exhaust_daily()
            else:
                wait = self.retry_policy.rate_limit_wait(error)
                self.limiter.pause(wait, f"HubSpot rate limit ({error.policy_name or '429'})")
            return error
        if status >= 500:
            return ServerError(message, retry_after=_retry_after(headers, self._clock.time()),
                               **kw)
        if 400 <= status < 500:
            return ClientError(message, **kw)
        return MalformedResponse(f"HubSpot answered {where} with unexpected status {status}",
                                 **kw)

    # ---------------------------------------------------------- observability

    def _wait_notifier(self, on_wait: OnWait | None) -> OnWait:
        listeners = list(self._wait_listeners)

        def notify(seconds: float, reason: str) -> None:
            if on_wait is not None:
                try:
                    on_wait(seconds, reason)
                except Exception:  # noqa: BLE001
                    log.exception("on_wait callback failed")
            for fn in listeners:
                try:
                    fn(self.portal_key, seconds, reason)
                except Exception:  # noqa: BLE001
                    log.exception("Wait listener failed")
        return notify

    def _record(self, route: Route, stats: _CallStats, error: ErrorCategory | None,
                started_wall: float, started: float, correlation_id: str | None) -> None:
        rec = ApiCallRecord(
            portal_key=self.portal_key, endpoint=route.template, method=route.method,
            status=stats.status, latency_ms=round(stats.latency_ms, 3), bytes=stats.bytes,
            error=error, retries=max(0, stats.sends - 1),
            waited_for_limit_ms=round(stats.waited * 1000, 3), timestamp=started_wall,
            total_ms=round((self._clock.monotonic() - started) * 1000, 3),
            correlation_id=correlation_id)
        try:
            self.recorder.record(rec)
        except Exception:  # noqa: BLE001 - metrics must never break a request
            log.exception("Call recorder failed")

    def _log_failure(self, route: Route, exc: HubSpotError, stats: _CallStats) -> None:
        if exc.category in (ErrorCategory.SERVER, ErrorCategory.NETWORK, ErrorCategory.TIMEOUT,
                            ErrorCategory.MALFORMED):
            level = logging.ERROR
        elif exc.category is ErrorCategory.RATE_LIMITED:
            level = logging.WARNING
        else:
            level = logging.INFO
        log.log(level, "portal=%s %s %s failed after %d attempt(s): %s", self.portal_key,
                route.method, route.template, stats.sends, exc)


def _short(exc: BaseException) -> str:
    return str(exc)[:_MAX_MESSAGE] or type(exc).__name__


def _retry_after(headers: httpx.Headers, now_epoch: float) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now_epoch
    if seconds != seconds:   # NaN
        return None
    return min(max(0.0, seconds), 86400.0)


__all__ = ["ApiResponse", "Cached", "HubSpotClient", "Priority"]
