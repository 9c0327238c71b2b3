"""Settings registry: precedence, parsing, validation, persistence, requirement defaults."""

from __future__ import annotations

import json
import stat

import pytest

from wg_desktop.config import (BY_KEY, FEATURES, REGISTRY, Kind, Setting, SettingError,
                               Settings, Source, parse_value)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_settings(path, values: dict) -> None:
    path.write_text(json.dumps(values), encoding="utf-8")


@pytest.fixture
def settings_file(tmp_path):
    return tmp_path / "settings.json"


# -- precedence: environment > settings file > default ---------------------------------

# (key, env var, file value, expected from file, env value, expected from env, default)
PRECEDENCE = [
    ("ratelimit.per_minute", "WG_RATELIMIT_PER_MINUTE", 50, 50, "70", 70, 100),
    ("http.timeout", "WG_HTTP_TIMEOUT", 12.5, 12.5, "45", 45.0, 30.0),
    ("hubspot.mock_mode", "HUBSPOT_MOCK_MODE", True, True, "false", False, False),
    ("logging.detailed", "HUBSPOT_DETAILED_LOGGING", False, False, "yes", True, True),
    ("logging.level", "HUBSPOT_LOG_LEVEL", "warning", "warning", "DEBUG", "debug", "info"),
    ("hubspot.client_id", "HUBSPOT_CLIENT_ID", "file-client", "file-client", "env-client",
     "env-client", ""),
    ("hubspot.redirect_uri", "HUBSPOT_REDIRECT_URI", "http://localhost:8080/cb",
     "http://localhost:8080/cb", "https://example.com/cb", "https://example.com/cb", ""),
    ("notify.webhook_urls", "WG_NOTIFY_WEBHOOK_URLS", ["https://a.example"],
     ("https://a.example",), '["https://b.example", "https://c.example"]',
     ("https://b.example", "https://c.example"), ()),
    ("schedule.retention_time", "WG_SCHEDULE_RETENTION_TIME", "03:30", "03:30", "04:15",
     "04:15", "00:00"),
]


@pytest.mark.parametrize("key,env_var,file_value,from_file,env_value,from_env,default",
                         PRECEDENCE, ids=[row[0] for row in PRECEDENCE])
def test_precedence_env_over_file_over_default(settings_file, key, env_var, file_value,
                                               from_file, env_value, from_env, default):
    assert BY_KEY[key].env_var == env_var

    only_default = Settings.load(settings_file, {})
    assert only_default.get(key) == default
    assert only_default.source(key) is Source.DEFAULT

    _write_settings(settings_file, {key: file_value})
    with_file = Settings.load(settings_file, {})
    assert with_file.get(key) == from_file
    assert with_file[key] == from_file
    assert with_file.source(key) is Source.FILE
    assert not with_file.overridden_by_env(key)

    with_env = Settings.load(settings_file, {env_var: env_value})
    assert with_env.get(key) == from_env
    assert with_env.source(key) is Source.ENV
    assert with_env.overridden_by_env(key)


def test_empty_environment_variable_counts_as_unset(settings_file):
    _write_settings(settings_file, {"ratelimit.per_hour": 500})
    settings = Settings.load(settings_file, {"WG_RATELIMIT_PER_HOUR": ""})
    assert settings.get("ratelimit.per_hour") == 500
    assert settings.source("ratelimit.per_hour") is Source.FILE


def test_missing_settings_file_and_no_path_give_defaults(tmp_path):
    for settings in (Settings.load(tmp_path / "absent.json", {}), Settings.load(None, {})):
        for setting in REGISTRY:
            if not setting.is_secret:
                assert settings.get(setting.key) == setting.default, setting.key


def test_derived_env_var_names():
    assert BY_KEY["limits.audit_entries"].env_var == "WG_LIMITS_AUDIT_ENTRIES"
    assert BY_KEY["features.audit_logging"].env_var == "WG_FEATURES_AUDIT_LOGGING"
    assert BY_KEY["hubspot.mock_mode"].env_var == "HUBSPOT_MOCK_MODE"


# -- parsing of every kind ------------------------------------------------------------

GOOD_VALUES = [
    # BOOL
    ("hubspot.mock_mode", "1", True), ("hubspot.mock_mode", "true", True),
    ("hubspot.mock_mode", "YES", True), ("hubspot.mock_mode", " on ", True),
    ("hubspot.mock_mode", "0", False), ("hubspot.mock_mode", "False", False),
    ("hubspot.mock_mode", "no", False), ("hubspot.mock_mode", "off", False),
    ("hubspot.mock_mode", True, True), ("hubspot.mock_mode", False, False),
    # INT
    ("ratelimit.per_minute", "42", 42), ("ratelimit.per_minute", " 7 ", 7),
    ("ratelimit.per_minute", 99, 99), ("ratelimit.per_minute", "1", 1),
    ("ratelimit.per_minute", "100000", 100_000),
    # FLOAT
    ("http.timeout", "2.5", 2.5), ("http.timeout", 3, 3.0), ("http.timeout", "600", 600.0),
    ("alerts.error_rate_warning", "0", 0.0), ("alerts.error_rate_warning", 1, 1.0),
    # CHOICE
    ("logging.level", "DEBUG", "debug"), ("logging.level", " error ", "error"),
    ("hubspot.oauth_api_version", "2026-03", "2026-03"),
    ("security.secret_backend", "File", "file"),
    # STR
    ("hubspot.client_id", "  abc-123  ", "abc-123"), ("notify.smtp_host", "", ""),
    # URL
    ("hubspot.redirect_uri", "http://localhost:8765/callback", "http://localhost:8765/callback"),
    ("hubspot.api_base", "https://api.hubapi.com", "https://api.hubapi.com"),
    ("hubspot.redirect_uri", "", ""),
    # LIST
    ("notify.email_to", '["a@example.com", " b@example.com", ""]',
     ("a@example.com", "b@example.com")),
    ("notify.email_to", ["x@example.com", " y@example.com "], ("x@example.com", "y@example.com")),
    ("notify.email_to", [], ()), ("notify.email_to", "[]", ()), ("notify.email_to", " [ ] ", ()),
    ("notify.webhook_urls", '["https://hooks.example/x?a=1,2"]', ("https://hooks.example/x?a=1,2",)),
    ("notify.webhook_urls", ["http://127.0.0.1:8080/hook", "HTTPS://Hooks.Example"],
     ("http://127.0.0.1:8080/hook", "HTTPS://Hooks.Example")),
    # EMAIL
    ("notify.email_from", " alerts@example.co.uk ", "alerts@example.co.uk"),
    ("notify.email_from", "", ""),
    # API versions: whatever the endpoint table knows
    ("hubspot.flows_api_version", "v4", "v4"), ("hubspot.flows_api_version", "2026-09-beta",
                                                "2026-09-beta"),
    ("hubspot.account_api_version", "v3", "v3"),
    ("hubspot.account_api_version", "2026-03", "2026-03"),
    ("notify.webhook_urls", [f"https://h{i}.example" for i in range(50)],
     tuple(f"https://h{i}.example" for i in range(50))),
    # SECRET (kept verbatim, whitespace included)
    ("hubspot.client_secret", " s3cret ", " s3cret "),
    # HH:MM
    ("schedule.retention_time", "23:59", "23:59"), ("schedule.retention_time", "0:00", "0:00"),
]


@pytest.mark.parametrize("key,raw,expected", GOOD_VALUES,
                         ids=[f"{k}={r!r}"[:60] for k, r, _ in GOOD_VALUES])
def test_parse_value_accepts(key, raw, expected):
    value = parse_value(BY_KEY[key], raw)
    assert value == expected
    assert type(value) is type(expected)


BAD_VALUES = [
    # BOOL
    ("hubspot.mock_mode", "maybe"), ("hubspot.mock_mode", ""), ("hubspot.mock_mode", "2"),
    ("hubspot.mock_mode", None), ("hubspot.mock_mode", [True]),
    # INT
    ("ratelimit.per_minute", "4.5"), ("ratelimit.per_minute", "fast"),
    ("ratelimit.per_minute", ""), ("ratelimit.per_minute", True), ("ratelimit.per_minute", None),
    ("ratelimit.per_minute", 5.5), ("ratelimit.per_minute", [1]), ("ratelimit.per_minute", {}),
    ("ratelimit.per_minute", "9" * 5000),
    # INT min / max
    ("ratelimit.per_minute", "0"), ("ratelimit.per_minute", "100001"),
    ("ratelimit.per_minute", -5), ("http.max_connections", 11), ("limits.webhooks", 51),
    ("notify.smtp_port", 70000), ("schedule.health_check_interval", 9),
    ("token.refresh_buffer", 1801),
    # FLOAT
    ("http.timeout", "slow"), ("http.timeout", False), ("http.timeout", None),
    ("http.timeout", "0.05"), ("http.timeout", 601), ("http.timeout", "1e400"),
    ("alerts.error_rate_warning", 1.5), ("alerts.error_rate_warning", -0.1),
    # NaN compares false with every bound, so it must be rejected explicitly
    ("http.timeout", "nan"), ("alerts.error_rate_warning", "NaN"),
    # CHOICE
    ("logging.level", "verbose"), ("logging.level", ""), ("logging.level", 3),
    ("hubspot.oauth_api_version", "v2"),
    # STR / URL need text
    ("hubspot.client_id", 12345), ("hubspot.client_id", None), ("hubspot.client_id", ["a"]),
    ("hubspot.redirect_uri", "ftp://example.com/cb"), ("hubspot.redirect_uri", "localhost:8080"),
    ("hubspot.api_base", 5),
    # LIST: a JSON array only; JSON null / numbers / objects / comma text are not lists
    ("notify.email_to", None), ("notify.email_to", {"to": "a@example.com"}),
    ("notify.email_to", 5), ("notify.email_to", "a@example.com, b@example.com"),
    ("notify.email_to", ""), ("notify.email_to", '["a@example.com"'),
    ("notify.email_to", '{"to": "a@example.com"}'), ("notify.email_to", [1]),
    ("notify.email_to", '[["a@example.com"]]'),
    # e-mail addresses: one @, a dotted domain, no spaces
    ("notify.email_to", ["not-an-email"]), ("notify.email_to", ["a@b@example.com"]),
    ("notify.email_to", ["a@localhost"]), ("notify.email_to", ["a b@example.com"]),
    ("notify.email_to", ["a@example.com\r\nBcc: x@evil.example"]),
    ("notify.email_from", "not-an-email"), ("notify.email_from", "@example.com"),
    ("notify.email_from", "a@.com"), ("notify.email_from", "a@example."),
    # webhook URLs: http or https with a host
    ("notify.webhook_urls", ["file:///etc/passwd"]), ("notify.webhook_urls", ["gopher://x"]),
    ("notify.webhook_urls", ["https://"]), ("notify.webhook_urls", ["example.com/hook"]),
    ("notify.webhook_urls", ["javascript:alert(1)"]), ("notify.webhook_urls", ["http://[::1"]),
    ("notify.webhook_urls", ["https://ok.example", "ftp://files.example"]),
    ("notify.webhook_urls", '["https://a.example", "gopher://x"]'),
    ("hubspot.redirect_uri", "http://"), ("hubspot.api_base", "https:///path-only"),
    # API versions the endpoint table does not know
    ("hubspot.flows_api_version", "../../../etc"), ("hubspot.flows_api_version", "v3"),
    ("hubspot.flows_api_version", ""), ("hubspot.flows_api_version", "2026-13"),
    ("hubspot.account_api_version", "v4"), ("hubspot.account_api_version", "v3/../x"),
    # LIST max_items
    ("notify.webhook_urls", [f"https://h{i}.example" for i in range(51)]),
    ("notify.webhook_urls", ",".join(f"https://h{i}.example" for i in range(51))),
    # HH:MM
    ("schedule.retention_time", "24:00"), ("schedule.retention_time", "12:60"),
    ("schedule.retention_time", "7"), ("schedule.retention_time", "a:b"),
    ("schedule.retention_time", "1:2:3"), ("schedule.retention_time", ""),
    ("schedule.retention_time", "-1:30"),
]


@pytest.mark.parametrize("key,raw", BAD_VALUES, ids=[f"{k}={r!r}"[:60] for k, r in BAD_VALUES])
def test_parse_value_rejects_with_setting_error_naming_the_key(key, raw):
    with pytest.raises(SettingError) as info:
        parse_value(BY_KEY[key], raw, Source.FILE)
    assert info.value.key == key
    assert f"'{key}'" in str(info.value)
    assert "settings file" in str(info.value)
    assert info.value.problem


JSON_SHAPES = [None, True, False, 0, -1, 1.5, 10 ** 30, "", "x", " ", "1,2", [], [1, "a"],
               {}, {"a": 1}, "nan", "inf", "-inf", "0x10", "１２"]


@pytest.mark.parametrize("setting", REGISTRY, ids=[s.key for s in REGISTRY])
def test_no_other_exception_escapes_parsing(setting):
    """Whatever JSON or text arrives, parsing either succeeds or raises SettingError."""
    for raw in JSON_SHAPES:
        try:
            parse_value(setting, raw, Source.ENV)
        except SettingError as exc:
            assert exc.key == setting.key
            assert setting.key in str(exc)


@pytest.mark.parametrize("setting", REGISTRY, ids=[s.key for s in REGISTRY])
def test_every_default_is_valid_for_its_own_setting(setting):
    if setting.is_secret:
        assert setting.default == ""
        return
    parsed = parse_value(setting, setting.default)
    if setting.kind is Kind.LIST:
        assert parsed == tuple(setting.default)
    else:
        assert parsed == setting.default
    if setting.kind is Kind.CHOICE:
        assert setting.default in setting.choices


def test_registry_keys_and_env_vars_are_unique():
    keys = [s.key for s in REGISTRY]
    env_vars = [s.env_var for s in REGISTRY]
    assert len(keys) == len(set(keys))
    assert len(env_vars) == len(set(env_vars))
    assert set(BY_KEY) == set(keys)
    for setting in REGISTRY:
        assert setting.description and setting.group, setting.key


# -- errors surface through Settings.load ----------------------------------------------

@pytest.mark.parametrize("env_var,value,key", [
    ("WG_RATELIMIT_PER_DAY", "lots", "ratelimit.per_day"),
    ("HUBSPOT_LOG_LEVEL", "chatty", "logging.level"),
    ("HUBSPOT_MOCK_MODE", "perhaps", "hubspot.mock_mode"),
    ("HUBSPOT_REDIRECT_URI", "localhost/cb", "hubspot.redirect_uri"),
    ("WG_LIMITS_WEBHOOKS", "51", "limits.webhooks"),
    ("WG_NOTIFY_WEBHOOK_URLS", json.dumps(["https://x.example"] * 51), "notify.webhook_urls"),
    ("WG_NOTIFY_WEBHOOK_URLS", '["gopher://x"]', "notify.webhook_urls"),
    ("WG_NOTIFY_WEBHOOK_URLS", "https://a.example,https://b.example", "notify.webhook_urls"),
    ("WG_NOTIFY_EMAIL_TO", '["not-an-email"]', "notify.email_to"),
    ("WG_NOTIFY_EMAIL_FROM", "not-an-email", "notify.email_from"),
    ("WG_HUBSPOT_FLOWS_API_VERSION", "../../../etc", "hubspot.flows_api_version"),
])
def test_bad_environment_value_fails_load_naming_key_and_source(env_var, value, key):
    with pytest.raises(SettingError) as info:
        Settings.load(None, {env_var: value})
    assert info.value.key == key
    assert f"'{key}'" in str(info.value)
    assert "environment" in str(info.value)


@pytest.mark.parametrize("key,value", [
    ("ratelimit.per_hour", "many"), ("ratelimit.per_hour", 0), ("http.timeout", "x"),
    ("features.audit_logging", "sometimes"), ("retention.audit_days", 0),
    ("notify.webhook_urls", ["https://x.example"] * 51), ("hubspot.client_id", 7),
    ("notify.webhook_urls", ["file:///etc/passwd"]), ("notify.webhook_urls", "https://a.example"),
    ("notify.email_to", ["ops@example.com", "not-an-email"]),
    ("notify.email_from", "not-an-email"),
    ("hubspot.flows_api_version", "../../../etc"), ("hubspot.account_api_version", "v9"),
])
def test_bad_file_value_fails_load_naming_key_and_source(settings_file, key, value):
    _write_settings(settings_file, {key: value})
    with pytest.raises(SettingError) as info:
        Settings.load(settings_file, {})
    assert info.value.key == key
    assert "settings file" in str(info.value)


def test_bad_file_value_is_hidden_by_a_valid_environment_value(settings_file):
    _write_settings(settings_file, {"ratelimit.per_hour": "many"})
    settings = Settings.load(settings_file, {"WG_RATELIMIT_PER_HOUR": "200"})
    assert settings.get("ratelimit.per_hour") == 200


def test_unknown_key_in_settings_file(settings_file):
    _write_settings(settings_file, {"ratelimit.per_minute": 10, "ratelimit.per_fortnight": 3})
    with pytest.raises(SettingError) as info:
        Settings.load(settings_file, {})
    assert info.value.key == "ratelimit.per_fortnight"
    assert "ratelimit.per_fortnight" in str(info.value)
    assert "unknown" in str(info.value)


@pytest.mark.parametrize("content", [
    b"{not json", b"", b"[1, 2, 3]", b'"a string"', b"null", b"\xff\xfe\x00garbage",
    b'{"ratelimit.per_minute": 10',
], ids=["broken", "empty", "list", "string", "null", "binary", "truncated"])
def test_corrupt_settings_file_raises_setting_error(settings_file, content):
    settings_file.write_bytes(content)
    with pytest.raises(SettingError) as info:
        Settings.load(settings_file, {})
    assert str(settings_file) in str(info.value)


def test_settings_path_that_is_a_directory_raises_setting_error(tmp_path):
    folder = tmp_path / "settings.json"
    folder.mkdir()
    with pytest.raises(SettingError):
        Settings.load(folder, {})


# -- updated(): persistence ------------------------------------------------------------

def test_updated_writes_parsed_non_secret_values_private(settings_file):
    settings = Settings.load(settings_file, {})
    returned = settings.updated({"ratelimit.per_minute": "50", "logging.level": "DEBUG",
                                 "notify.webhook_urls": '["https://a.example","https://b.example"]',
                                 "hubspot.mock_mode": "on"})
    assert returned is settings
    assert _mode(settings_file) == 0o600
    on_disk = json.loads(settings_file.read_text())
    assert on_disk == {"ratelimit.per_minute": 50, "logging.level": "debug",
                       "notify.webhook_urls": ["https://a.example", "https://b.example"],
                       "hubspot.mock_mode": True}
    assert settings.get("ratelimit.per_minute") == 50
    reloaded = Settings.load(settings_file, {})
    assert reloaded.get("ratelimit.per_minute") == 50
    assert reloaded.get("logging.level") == "debug"
    assert reloaded.get("notify.webhook_urls") == ("https://a.example", "https://b.example")
    assert reloaded.get("hubspot.mock_mode") is True
    assert not list(settings_file.parent.glob(".settings.json.tmp*"))


def test_updated_tightens_permissions_of_an_existing_file(settings_file):
    _write_settings(settings_file, {"ratelimit.per_minute": 10})
    settings_file.chmod(0o644)
    Settings.load(settings_file, {}).updated({"ratelimit.per_hour": 20})
    assert _mode(settings_file) == 0o600
    assert json.loads(settings_file.read_text()) == {"ratelimit.per_minute": 10,
                                                     "ratelimit.per_hour": 20}


def test_updated_back_to_default_removes_the_key(settings_file):
    settings = Settings.load(settings_file, {})
    settings.updated({"ratelimit.per_minute": 10, "ratelimit.per_hour": 20})
    settings.updated({"ratelimit.per_minute": 100})
    assert json.loads(settings_file.read_text()) == {"ratelimit.per_hour": 20}
    assert settings.source("ratelimit.per_minute") is Source.DEFAULT


@pytest.mark.parametrize("key", [s.key for s in REGISTRY if s.is_secret])
def test_updated_refuses_secrets_and_writes_nothing(settings_file, key):
    _write_settings(settings_file, {"ratelimit.per_minute": 10})
    before = settings_file.read_bytes()
    settings = Settings.load(settings_file, {})
    with pytest.raises(SettingError) as info:
        settings.updated({"ratelimit.per_hour": 20, key: "super-secret-value-123"})
    assert info.value.key == key
    assert settings_file.read_bytes() == before
    assert b"super-secret-value-123" not in settings_file.read_bytes()
    assert "ratelimit.per_hour" not in settings.file_values


def test_updated_never_writes_secrets_from_environment_or_keychain(settings_file):
    environ = {"HUBSPOT_CLIENT_SECRET": "env-client-secret-xyz",
               "HUBSPOT_TOKEN_ENCRYPTION_KEY": "env-passphrase-xyz"}
    settings = Settings.load(settings_file, environ,
                             secret_reader=lambda key: "keychain-smtp-password-xyz")
    settings.updated({"notify.smtp_host": "smtp.example.com", "hubspot.client_id": "cid"})
    content = settings_file.read_text()
    for secret in ("env-client-secret-xyz", "env-passphrase-xyz", "keychain-smtp-password-xyz"):
        assert secret not in content
    assert set(json.loads(content)) == {"notify.smtp_host", "hubspot.client_id"}


@pytest.mark.parametrize("changes", [
    {"ratelimit.per_hour": 20, "ratelimit.per_minute": "lots"},
    {"ratelimit.per_minute": 0},
    {"logging.level": "loud"},
    {"notify.webhook_urls": [f"https://h{i}.example" for i in range(51)]},
    {"http.timeout": 20.0, "no.such.setting": 1},
])
def test_updated_with_an_invalid_value_writes_nothing(settings_file, changes):
    _write_settings(settings_file, {"http.timeout": 15.0})
    before = settings_file.read_bytes()
    settings = Settings.load(settings_file, {})
    with pytest.raises(SettingError):
        settings.updated(changes)
    assert settings_file.read_bytes() == before
    assert settings.file_values == {"http.timeout": 15.0}
    assert not list(settings_file.parent.glob(".settings.json.tmp*"))


def test_updated_without_a_path_keeps_values_in_memory(tmp_path):
    settings = Settings.load(None, {})
    settings.updated({"ratelimit.per_minute": 5})
    assert settings.get("ratelimit.per_minute") == 5
    assert list(tmp_path.iterdir()) == []


def test_environment_still_wins_after_updated(settings_file):
    settings = Settings.load(settings_file, {"WG_RATELIMIT_PER_MINUTE": "7"})
    settings.updated({"ratelimit.per_minute": 9})
    assert settings.get("ratelimit.per_minute") == 7
    assert json.loads(settings_file.read_text()) == {"ratelimit.per_minute": 9}


# -- the requirements ------------------------------------------------------------------

REQUIRED_ENV_VARS = {
    "HUBSPOT_CLIENT_ID": ("hubspot.client_id", Kind.STR),
    "HUBSPOT_CLIENT_SECRET": ("hubspot.client_secret", Kind.SECRET),
    "HUBSPOT_REDIRECT_URI": ("hubspot.redirect_uri", Kind.URL),
    "HUBSPOT_LOG_LEVEL": ("logging.level", Kind.CHOICE),
    "HUBSPOT_DETAILED_LOGGING": ("logging.detailed", Kind.BOOL),
    "HUBSPOT_TOKEN_ENCRYPTION_KEY": ("security.token_encryption_key", Kind.SECRET),
    "HUBSPOT_MOCK_MODE": ("hubspot.mock_mode", Kind.BOOL),
}


@pytest.mark.parametrize("env_var", sorted(REQUIRED_ENV_VARS))
def test_registry_has_every_required_env_var(env_var):
    by_env = {s.env_var: s for s in REGISTRY}
    assert env_var in by_env
    key, kind = REQUIRED_ENV_VARS[env_var]
    assert by_env[env_var].key == key
    assert by_env[env_var].kind is kind


FEATURE_NAMES = ["workflow_comparison", "version_history", "automatic_backups", "realtime_sync",
                 "advanced_analytics", "audit_logging", "api_access"]


def test_the_seven_feature_flags_default_to_on():
    assert sorted(FEATURES) == sorted(FEATURE_NAMES)
    settings = Settings.load(None, {})
    flags = [s for s in REGISTRY if s.key.startswith("features.")]
    assert len(flags) == 7
    for name in FEATURE_NAMES:
        setting = BY_KEY[f"features.{name}"]
        assert setting.kind is Kind.BOOL
        assert setting.default is True
        assert settings.feature_enabled(name) is True


@pytest.mark.parametrize("name", FEATURE_NAMES)
def test_each_feature_flag_can_be_switched_off(settings_file, name):
    assert Settings.load(None, {f"WG_FEATURES_{name.upper()}": "off"}).feature_enabled(name) is False
    _write_settings(settings_file, {f"features.{name}": False})
    settings = Settings.load(settings_file, {})
    assert settings.feature_enabled(name) is False
    others = [n for n in FEATURE_NAMES if n != name]
    assert all(settings.feature_enabled(n) for n in others)


REQUIREMENT_DEFAULTS = [
    ("ratelimit.per_minute", 100), ("ratelimit.per_hour", 1000), ("ratelimit.per_day", 10_000),
    ("schedule.health_check_interval", 300), ("schedule.token_refresh_interval", 3600),
    ("schedule.backup_interval", 21_600),
    ("retention.versions_days", 365), ("retention.audit_days", 730),
    ("retention.health_days", 30),
    ("limits.workflows", 1000), ("limits.versions_per_workflow", 1000),
    ("limits.audit_entries", 10_000), ("limits.webhooks", 50),
    ("logging.level", "info"),
    ("hubspot.mock_mode", False),
]


@pytest.mark.parametrize("key,expected", REQUIREMENT_DEFAULTS,
                         ids=[k for k, _ in REQUIREMENT_DEFAULTS])
def test_requirement_defaults(key, expected):
    assert BY_KEY[key].default == expected
    assert Settings.load(None, {}).get(key) == expected


def test_webhook_list_is_capped_at_fifty():
    assert BY_KEY["notify.webhook_urls"].kind is Kind.LIST
    assert BY_KEY["notify.webhook_urls"].max_items == 50


# -- secrets ----------------------------------------------------------------------------

def test_secret_comes_from_secret_reader_with_source_keychain():
    asked: list[str] = []

    def reader(key: str) -> str | None:
        asked.append(key)
        return {"hubspot.client_secret": "kc-client-secret"}.get(key)

    settings = Settings.load(None, {}, secret_reader=reader)
    assert settings.get("hubspot.client_secret") == "kc-client-secret"
    assert settings.source("hubspot.client_secret") is Source.KEYCHAIN
    assert "hubspot.client_secret" in asked
    assert settings.get("notify.smtp_password") == ""
    assert settings.source("notify.smtp_password") is Source.DEFAULT


def test_secret_from_environment_beats_keychain():
    settings = Settings.load(None, {"HUBSPOT_CLIENT_SECRET": "env-secret"},
                             secret_reader=lambda key: "kc-secret")
    assert settings.get("hubspot.client_secret") == "env-secret"
    assert settings.source("hubspot.client_secret") is Source.ENV


def test_secret_without_reader_is_default():
    settings = Settings.load(None, {})
    assert settings.get("hubspot.client_secret") == ""
    assert settings.source("hubspot.client_secret") is Source.DEFAULT


def test_secret_in_settings_file_is_never_used(settings_file):
    _write_settings(settings_file, {"hubspot.client_secret": "planted-in-file"})
    settings = Settings.load(settings_file, {})
    assert settings.get("hubspot.client_secret") != "planted-in-file"
    assert settings.source("hubspot.client_secret") is not Source.FILE


def test_items_never_yield_secret_values():
    settings = Settings.load(None, {"HUBSPOT_CLIENT_SECRET": "env-secret"},
                             secret_reader=lambda key: "kc-secret")
    seen = dict((s.key, v) for s, v in settings.items())
    assert set(seen) == set(BY_KEY)
    for setting in REGISTRY:
        if setting.is_secret:
            assert seen[setting.key] is None
    assert "env-secret" not in repr(seen) and "kc-secret" not in repr(seen)


def test_setting_error_message_shape():
    error = SettingError("ratelimit.per_minute", "must be at least 1", Source.ENV)
    assert str(error) == "Setting 'ratelimit.per_minute' (from environment): must be at least 1"
    assert isinstance(error, ValueError)
    assert str(SettingError("x.y", "bad")) == "Setting 'x.y': bad"


def test_setting_dataclass_is_frozen():
    setting = BY_KEY["ratelimit.per_minute"]
    assert isinstance(setting, Setting)
    with pytest.raises(AttributeError):
        setting.default = 5  # type: ignore[misc]


# -- validation messages the dialog and the CLI show -----------------------------------

def test_comma_separated_list_is_refused_with_its_json_form():
    with pytest.raises(SettingError) as info:
        parse_value(BY_KEY["notify.email_to"], "a@example.com, b@example.com")
    assert str(info.value) == ("Setting 'notify.email_to': expected a JSON array, e.g. "
                               '["a@example.com", "b@example.com"]')


def test_a_json_array_given_as_text_is_not_split_on_commas():
    raw = '["https://hooks.example/a?x=1,2", "https://hooks.example/b"]'
    assert parse_value(BY_KEY["notify.webhook_urls"], raw) == (
        "https://hooks.example/a?x=1,2", "https://hooks.example/b")


def test_bad_list_entry_is_named_by_position():
    with pytest.raises(SettingError) as info:
        parse_value(BY_KEY["notify.webhook_urls"], ["https://ok.example", "file:///etc/passwd"])
    assert str(info.value) == ("Setting 'notify.webhook_urls': entry 2: expected an http:// "
                               "or https:// URL with a host, got 'file:///etc/passwd'")


def test_unknown_api_version_message_comes_from_the_endpoint_table():
    with pytest.raises(SettingError) as info:
        parse_value(BY_KEY["hubspot.flows_api_version"], "../../../etc")
    assert str(info.value) == ("Setting 'hubspot.flows_api_version': '../../../etc' is not a "
                               "known version of the flows API")


def test_every_api_family_named_by_a_setting_exists_in_the_endpoint_table():
    from wg_desktop.hubspot.endpoints import ApiFamily, EndpointTable

    families = {s.api_family for s in REGISTRY if s.api_family}
    assert families == {"flows", "account"}
    for family in families:
        ApiFamily(family)
        EndpointTable().with_versions(**{family: BY_KEY[f"hubspot.{family}_api_version"].default})


def test_bad_stored_webhook_fails_load_naming_the_setting(settings_file):
    _write_settings(settings_file, {"notify.webhook_urls": ["https://ok.example",
                                                            "gopher://x"]})
    with pytest.raises(SettingError) as info:
        Settings.load(settings_file, {})
    assert str(info.value) == ("Setting 'notify.webhook_urls' (from settings file): entry 2: "
                               "expected an http:// or https:// URL with a host, got 'gopher://x'")


def test_importing_config_alone_does_not_load_the_hubspot_package():
    import subprocess
    import sys

    code = ("import sys, wg_desktop.config as c; "
            "c.parse_value(c.BY_KEY['hubspot.flows_api_version'], 'v4'); "
            "print(sorted(m for m in sys.modules if m.startswith('wg_desktop.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    # The endpoint table is loaded on first use of a version check, and the
    # import of config itself stays free of the hubspot package (no cycle).
    assert "wg_desktop.hubspot.endpoints" in out
    code_import_only = ("import sys, wg_desktop.config; "
                        "print([m for m in sys.modules if m.startswith('wg_desktop.hubspot')])")
    assert subprocess.run([sys.executable, "-c", code_import_only], capture_output=True,
                          text=True, check=True).stdout.strip() == "[]"
