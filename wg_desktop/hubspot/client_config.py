"""The HubSpot client's configuration, read once from :mod:`wg_desktop.config`.

Defaults come from the settings registry itself (no number is repeated here),
so ``ClientConfig()`` equals the configuration of an untouched installation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from wg_desktop.config import BY_KEY


def _default(key: str) -> Any:
    return BY_KEY[key].default


class SettingsLike(Protocol):
    def get(self, key: str) -> Any: ...


# dataclass field -> settings key
_SETTING_KEYS: dict[str, str] = {
    "api_base": "hubspot.api_base",
    "flows_api_version": "hubspot.flows_api_version",
    "oauth_api_version": "hubspot.oauth_api_version",
    "account_api_version": "hubspot.account_api_version",
    "per_minute": "ratelimit.per_minute",
    "per_hour": "ratelimit.per_hour",
    "per_day": "ratelimit.per_day",
    "max_connections": "http.max_connections",
    "connect_timeout": "http.connect_timeout",
    "timeout": "http.timeout",
    "retry_timeout": "http.retry_timeout",
    "max_attempts": "http.max_attempts",
    "retry_deadline": "http.retry_deadline",
    "breaker_failure_threshold": "breaker.failure_threshold",
    "breaker_cooldown": "breaker.cooldown",
    "cache_api_ttl": "cache.api_ttl",
    "cache_portal_info_ttl": "cache.portal_info_ttl",
    "cache_workflow_list_ttl": "cache.workflow_list_ttl",
    "token_refresh_buffer": "token.refresh_buffer",
    "log_calls": "logging.detailed",
}

MB = 1024 * 1024


@dataclass(frozen=True)
class ClientConfig:
    api_base: str = _default("hubspot.api_base")
    flows_api_version: str = _default("hubspot.flows_api_version")
    oauth_api_version: str = _default("hubspot.oauth_api_version")
    account_api_version: str = _default("hubspot.account_api_version")
    # client-side budget (sliding windows)
    per_minute: int = _default("ratelimit.per_minute")
    per_hour: int = _default("ratelimit.per_hour")
    per_day: int = _default("ratelimit.per_day")
    # transport
    max_connections: int = _default("http.max_connections")
    connect_timeout: float = _default("http.connect_timeout")
    timeout: float = _default("http.timeout")
    retry_timeout: float = _default("http.retry_timeout")
    max_attempts: int = _default("http.max_attempts")
    retry_deadline: float = _default("http.retry_deadline")
    # circuit breaker
    breaker_failure_threshold: int = _default("breaker.failure_threshold")
    breaker_cooldown: float = _default("breaker.cooldown")
    # cache TTLs (s)
    cache_api_ttl: float = _default("cache.api_ttl")
    cache_portal_info_ttl: float = _default("cache.portal_info_ttl")
    cache_workflow_list_ttl: float = _default("cache.workflow_list_ttl")
    token_refresh_buffer: int = _default("token.refresh_buffer")
    log_calls: bool = _default("logging.detailed")
    # not user settings
    max_response_bytes: int = 25 * MB
    backoff_base: float = 0.5          # first back-off step (s), doubled per retry
    backoff_max: float = 30.0          # cap of one back-off step (s)
    limit_max_wait: float = 3600.0     # a client-budget wait longer than this fails instead
    user_agent: str = "WorkflowGuardDesktop/0.1 (+httpx)"

    @classmethod
    def from_settings(cls, settings: SettingsLike, **overrides: Any) -> "ClientConfig":
        values: dict[str, Any] = {name: settings.get(key) for name, key in _SETTING_KEYS.items()}
        values.update(overrides)
        return cls(**values)

    def __post_init__(self) -> None:
        if not self.api_base.startswith(("http://", "https://")):
            raise ValueError(f"api_base must be an http(s) URL, got {self.api_base!r}")
        object.__setattr__(self, "api_base", self.api_base.rstrip("/"))
        for name in ("per_minute", "per_hour", "per_day", "max_connections", "max_attempts",
                     "breaker_failure_threshold", "max_response_bytes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("connect_timeout", "timeout", "retry_timeout", "retry_deadline"):
            if float(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive")

    def setting_keys(self) -> dict[str, str]:
        """Field name -> settings key, for the fields backed by a setting."""
        return dict(_SETTING_KEYS)

