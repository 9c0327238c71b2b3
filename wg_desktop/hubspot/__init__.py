"""The HubSpot boundary (no Qt): client, rate limiter, retry policy, circuit
breaker, cache, endpoint table and typed endpoint functions (``api``)."""

from wg_desktop.hubspot.auth import StaticTokenProvider, TokenProvider
from wg_desktop.hubspot.breaker import BreakerState, CircuitBreaker
from wg_desktop.hubspot.cache import CacheKind, ResponseCache
from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.endpoints import EndpointTable
from wg_desktop.hubspot.errors import (
    CircuitOpenError,
    DailyLimitReached,
    ErrorCategory,
    HubSpotError,
    RateLimitedError,
    RateLimitWaitCancelled,
    ReauthenticationNeeded,
)
from wg_desktop.hubspot.observability import ApiCallRecord, CallRecorder, InMemoryCallRecorder
from wg_desktop.hubspot.portal_time import PortalTimezone
from wg_desktop.hubspot.ratelimit import (
    InMemoryUsageStore,
    Priority,
    RateLimiter,
    UsageStore,
)
from wg_desktop.hubspot.retry import RetryPolicy
from wg_desktop.hubspot.transport.client import ApiResponse, HubSpotClient

__all__ = [
    "ApiCallRecord", "ApiResponse", "BreakerState", "CacheKind", "CallRecorder",
    "CircuitBreaker", "CircuitOpenError", "ClientConfig", "DailyLimitReached", "EndpointTable",
    "ErrorCategory", "HubSpotClient", "HubSpotError", "InMemoryCallRecorder",
    "InMemoryUsageStore", "PortalTimezone", "Priority", "RateLimitWaitCancelled",
    "RateLimitedError", "RateLimiter", "ReauthenticationNeeded", "ResponseCache", "RetryPolicy",
    "StaticTokenProvider", "TokenProvider", "UsageStore",
]
