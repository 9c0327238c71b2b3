"""A setting exists only with a reader: each registry entry names the module that
reads it, and that module must actually mention it. Settings that nothing in a
single-user desktop app can honour were retired; old files holding them load."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

import wg_desktop
from wg_desktop.config import (BY_KEY, ENCRYPT_TOKENS_ENV, FEATURES, REGISTRY, RETIRED,
                               FeatureOff, Settings, SettingError)
from wg_desktop.services.settings_service import DEMO_IN_USE, effective

PACKAGE = Path(wg_desktop.__file__).parent


def module_source(module: str) -> str:
    """The source of a module found by name, without importing it (some readers
    are Qt modules, and this is a core test)."""
    assert module.startswith("wg_desktop."), module
    relative = Path(*module.split(".")[1:])
    for candidate in (PACKAGE / relative.with_suffix(".py"), PACKAGE / relative / "__init__.py"):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise AssertionError(f"consumer module {module} does not exist")


def read_in(source: str, key: str) -> bool:
    """A feature flag is read as feature_enabled("name") or page feature="name";
    any other setting by its full key."""
    if key.startswith("features."):
        return f'"{key.removeprefix("features.")}"' in source or f'"{key}"' in source
    return f'"{key}"' in source


@pytest.mark.parametrize("setting", REGISTRY, ids=[s.key for s in REGISTRY])
def test_every_setting_names_a_consumer_that_reads_it(setting):
    assert setting.consumer, f"{setting.key} names no consumer"
    assert setting.consumer != "wg_desktop.config", "the registry is not a reader"
    assert read_in(module_source(setting.consumer), setting.key), (
        f"{setting.consumer} does not read {setting.key}: wire a reader or remove the setting")


def test_the_consumer_check_fails_for_a_setting_nobody_reads():
    # The check above must be able to fail: a key that appears in no module.
    assert not read_in(module_source("wg_desktop.services.health"), "alerts.no_such_threshold")
    assert not read_in(module_source("wg_desktop.ui.app"), "features.team_collaboration")
    with pytest.raises(AssertionError):
        module_source("wg_desktop.services.nothing_here")


def test_retired_settings_are_gone_and_nothing_reads_them():
    assert set(RETIRED) == {"security.encrypt_tokens", "limits.users_per_portal",
                            "limits.api_keys", "features.team_collaboration"}
    assert not set(RETIRED) & set(BY_KEY)
    assert "team_collaboration" not in FEATURES
    pattern = re.compile("|".join(re.escape(k) for k in RETIRED) + "|team_collaboration")
    readers = [p for p in PACKAGE.rglob("*.py")
               if p.name != "config.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert readers == []


def test_an_old_settings_file_with_retired_keys_loads_and_drops_them(tmp_path, caplog):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"limits.users_per_portal": 5, "limits.api_keys": 2,
                                "security.encrypt_tokens": True,
                                "features.team_collaboration": False,
                                "ratelimit.per_minute": 50}))
    with caplog.at_level(logging.INFO, logger="wg_desktop.config"):
        settings = Settings.load(path, {})
    assert settings.get("ratelimit.per_minute") == 50
    assert "limits.users_per_portal" in caplog.text and "no longer exists" in caplog.text
    settings.updated({"ratelimit.per_hour": 500})
    # The next save leaves them out: the file holds only settings that exist.
    assert json.loads(path.read_text()) == {"ratelimit.per_minute": 50,
                                            "ratelimit.per_hour": 500}


def test_a_mistyped_key_is_still_an_error(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"limits.api_key": 2}))
    with pytest.raises(SettingError, match="unknown setting"):
        Settings.load(path, {})


@pytest.mark.parametrize("value", ["false", "0", "no", "2"])
def test_asking_for_no_encryption_is_refused_not_ignored(value):
    with pytest.raises(SettingError) as info:
        Settings.load(None, {ENCRYPT_TOKENS_ENV: value})
    assert ENCRYPT_TOKENS_ENV in str(info.value) and "always encrypted" in str(info.value)


@pytest.mark.parametrize("value", ["true", "1", "yes", ""])
def test_asking_for_encryption_is_what_happens(value):
    Settings.load(None, {ENCRYPT_TOKENS_ENV: value})


def test_require_feature_names_the_flag_and_how_to_turn_it_on(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings.load(path, {})
    settings.require_feature("version_history")     # on: no error
    settings.updated({"features.version_history": False})
    with pytest.raises(FeatureOff) as info:
        settings.require_feature("version_history")
    message = str(info.value)
    assert "features.version_history" in message
    assert "settings set features.version_history true" in message
    env_off = Settings.load(None, {"WG_FEATURES_VERSION_HISTORY": "false"})
    with pytest.raises(FeatureOff, match="unset WG_FEATURES_VERSION_HISTORY"):
        env_off.require_feature("version_history")


@pytest.mark.parametrize("environ,expected", [
    ({}, (True, DEMO_IN_USE)),                                   # nothing configured
    ({"HUBSPOT_MOCK_MODE": "true"}, (True, "environment")),
    ({"HUBSPOT_MOCK_MODE": "false"}, (False, "environment")),     # explicitly off
    ({"HUBSPOT_CLIENT_ID": "abc"}, (False, "default")),          # a HubSpot app is set up
    ({"HUBSPOT_API_BASE": "https://api.example"}, (False, "default")),
])
def test_mock_mode_shows_what_is_in_force(environ, expected):
    state = effective(Settings.load(None, environ), "hubspot.mock_mode")
    assert (state.value, state.source) == expected


def test_effective_is_the_resolved_value_for_other_settings():
    state = effective(Settings.load(None, {"WG_RATELIMIT_PER_MINUTE": "42"}),
                      "ratelimit.per_minute")
    assert (state.value, state.source) == (42, "environment")
