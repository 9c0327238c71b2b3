import dataclasses

import pytest

from wg_desktop.config import BY_KEY, Settings
from wg_desktop.hubspot.client_config import ClientConfig


def test_defaults_equal_the_settings_registry():
    cfg = ClientConfig.from_settings(Settings())
    assert cfg == ClientConfig()
    assert (cfg.per_minute, cfg.per_hour, cfg.per_day) == (100, 1000, 10_000)
    assert cfg.api_base == BY_KEY["hubspot.api_base"].default
    assert cfg.max_connections == 10 and cfg.connect_timeout == 10.0 and cfg.timeout == 30.0
    assert (cfg.cache_api_ttl, cfg.cache_portal_info_ttl, cfg.cache_workflow_list_ttl) == (
        300, 3600, 600)


def test_from_settings_reads_every_key():
    file_values = {"ratelimit.per_minute": 7, "ratelimit.per_hour": 70, "ratelimit.per_day": 700,
                   "http.timeout": 3.5, "http.retry_timeout": 9.0, "http.max_attempts": 2,
                   "http.retry_deadline": 12.0, "breaker.failure_threshold": 3,
                   "breaker.cooldown": 5.0, "cache.api_ttl": 1, "cache.portal_info_ttl": 2,
                   "cache.workflow_list_ttl": 3, "hubspot.flows_api_version": "2026-09-beta",
                   "hubspot.oauth_api_version": "2026-03", "hubspot.account_api_version": "2026-03",
                   "http.connect_timeout": 1.0, "http.max_connections": 4,
                   "token.refresh_buffer": 120}
    cfg = ClientConfig.from_settings(Settings(file_values=file_values,
                                              environ={"HUBSPOT_API_BASE": "http://127.0.0.1:9/"}))
    assert cfg.api_base == "http://127.0.0.1:9"
    assert (cfg.per_minute, cfg.per_hour, cfg.per_day) == (7, 70, 700)
    assert (cfg.timeout, cfg.retry_timeout, cfg.max_attempts, cfg.retry_deadline) == (
        3.5, 9.0, 2, 12.0)
    assert (cfg.breaker_failure_threshold, cfg.breaker_cooldown) == (3, 5.0)
    assert (cfg.cache_api_ttl, cfg.cache_portal_info_ttl, cfg.cache_workflow_list_ttl) == (1, 2, 3)
    assert (cfg.flows_api_version, cfg.oauth_api_version, cfg.account_api_version) == (
        "2026-09-beta", "2026-03", "2026-03")
    assert (cfg.connect_timeout, cfg.max_connections, cfg.token_refresh_buffer) == (1.0, 4, 120)


def test_every_mapped_key_exists_and_config_is_frozen():
    cfg = ClientConfig()
    fields = {f.name for f in dataclasses.fields(ClientConfig)}
    for name, key in cfg.setting_keys().items():
        assert name in fields and key in BY_KEY
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.per_minute = 5  # type: ignore[misc]


def test_invalid_values_are_refused():
    with pytest.raises(ValueError):
        ClientConfig(api_base="ftp://x")
    with pytest.raises(ValueError):
        ClientConfig(per_minute=0)
