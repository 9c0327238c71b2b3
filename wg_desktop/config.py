"""Typed registry of every setting, and the resolved settings of one instance.

Each setting is declared once (key, type, default, env var, description).
Precedence: environment variable > settings file > default. Secret settings
never live in the settings file: they come from the environment or from the
keychain (through a ``SecretReader`` handed in by the composition root).
"""

from __future__ import annotations

import enum
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from wg_desktop.paths import write_private_atomic


class Kind(enum.StrEnum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    CHOICE = "choice"
    SECRET = "secret"
    URL = "url"        # http:// or https:// with a host
    EMAIL = "email"
    LIST = "list"      # list of strings, written as a JSON array everywhere (env var too)


class Source(enum.StrEnum):
    ENV = "environment"
    FILE = "settings file"
    KEYCHAIN = "keychain"
    DEFAULT = "default"


@dataclass(frozen=True)
class Setting:
    key: str
    kind: Kind
    default: Any
    description: str
    group: str
    env: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_items: int | None = None
    env_only: bool = False      # read from the environment only, never stored
    item_kind: Kind | None = None   # LIST: each entry is checked as this kind (URL, EMAIL)
    api_family: str = ""        # a version segment of this API family of the endpoint table
    # The module that reads this setting. A setting nobody reads is a control that
    # does nothing; tests/unit/test_settings_consumers.py fails for one.
    consumer: str = ""

    @property
    def env_var(self) -> str:
        return self.env or "WG_" + self.key.upper().replace(".", "_")

    @property
    def is_secret(self) -> bool:
        return self.kind is Kind.SECRET


class SettingError(ValueError):
    """A setting has a value of the wrong type or out of range."""

    def __init__(self, key: str, problem: str, source: Source | None = None):
        where = f" (from {source})" if source else ""
        super().__init__(f"Setting '{key}'{where}: {problem}")
        self.key = key
        self.problem = problem


class FeatureOff(SettingError):
    """Something was asked of a feature whose flag is off. The message names the
    flag and how to turn it on, so the CLI and the window say the same thing."""

    def __init__(self, name: str, how: str):
        key = f"features.{name}"
        ValueError.__init__(self, f"{FEATURES[name]} is turned off ({key}); {how}")
        self.key = key
        self.problem = "turned off"
        self.name = name


# A secret reader returns the stored secret for a setting key, or None.
SecretReader = Callable[[str], "str | None"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

FEATURES = {
    "workflow_comparison": "Workflow comparison (side-by-side diffs)",
    "version_history": "Version history",
    "automatic_backups": "Automatic backups",
    "realtime_sync": "Background sync (every schedule.sync_interval seconds)",
    "advanced_analytics": "Advanced analytics (health charts and reports)",
    "audit_logging": "Audit logging",
    "api_access": "API access (command line and scripting)",
}


# Where each flag is honoured (see Setting.consumer).
FEATURE_CONSUMERS = {
    "workflow_comparison": "wg_desktop.cli.base",   # COMMAND_FEATURES: diff
    "version_history": "wg_desktop.cli.base",       # COMMAND_FEATURES: history browsing
    "automatic_backups": "wg_desktop.ui.app",       # the scheduled backup job
    "realtime_sync": "wg_desktop.ui.app",           # the scheduled sync job
    "advanced_analytics": "wg_desktop.ui.main_window",  # the Health page
    "audit_logging": "wg_desktop.services.audit",
    "api_access": "wg_desktop.cli.base",
}


def _s(key: str, kind: Kind, default: Any, description: str, group: str, **kw: Any) -> Setting:
    return Setting(key, kind, default, description, group, **kw)


REGISTRY: tuple[Setting, ...] = (
    # HubSpot connection (environment variables named by the requirements)
    _s("hubspot.client_id", Kind.STR, "", "OAuth client ID of your HubSpot app", "HubSpot",
       env="HUBSPOT_CLIENT_ID",
       consumer="wg_desktop.services.hubspot_setup"),
    _s("hubspot.client_secret", Kind.SECRET, "", "OAuth client secret (kept in the keychain)",
       "HubSpot", env="HUBSPOT_CLIENT_SECRET",
       consumer="wg_desktop.services.hubspot_setup"),
    _s("hubspot.redirect_uri", Kind.URL, "", "OAuth redirect URI registered for your app "
       "(http://localhost:PORT/... for the browser fallback)", "HubSpot",
       env="HUBSPOT_REDIRECT_URI",
       consumer="wg_desktop.services.hubspot_setup"),
    _s("hubspot.mock_mode", Kind.BOOL, False, "Use the built-in demo portal instead of HubSpot",
       "HubSpot", env="HUBSPOT_MOCK_MODE",
       consumer="wg_desktop.services.demo_choice"),
    _s("hubspot.api_base", Kind.URL, "https://api.hubapi.com", "Base URL of HubSpot's API",
       "HubSpot", env="HUBSPOT_API_BASE",
       consumer="wg_desktop.hubspot.client_config"),
    _s("hubspot.auth_base", Kind.URL, "https://app.hubspot.com",
       "Base URL of HubSpot's authorize pages", "HubSpot", env="HUBSPOT_AUTH_BASE",
       consumer="wg_desktop.services.hubspot_setup"),
    _s("hubspot.flows_api_version", Kind.STR, "v4",
       "Version segment of the workflows API (v4 or a date version such as 2026-09-beta)",
       "HubSpot", api_family="flows",
       consumer="wg_desktop.hubspot.client_config"),
    _s("hubspot.oauth_api_version", Kind.CHOICE, "2026-03", "OAuth API generation (v1 is retired by HubSpot on 2027-02-16)", "HubSpot",
       choices=("v1", "v3", "2026-03"),
       consumer="wg_desktop.hubspot.client_config"),
    _s("hubspot.account_api_version", Kind.STR, "v3", "Version segment of the account-info API",
       "HubSpot", api_family="account",
       consumer="wg_desktop.hubspot.client_config"),
    # Security
    _s("security.token_encryption_key", Kind.SECRET, "",
       "Overrides the keychain-held database key (64 hex characters or any passphrase); "
       "environment only, since changing it would lock the existing database",
       "Security", env="HUBSPOT_TOKEN_ENCRYPTION_KEY", env_only=True,
       consumer="wg_desktop.context"),
    _s("security.secret_backend", Kind.CHOICE, "keychain",
       "Where secrets live: the OS keychain, or (opt-in, when no keychain exists) "
       "a passphrase-protected file", "Security", choices=("keychain", "file"),
       consumer="wg_desktop.context"),
    # Logging
    _s("logging.level", Kind.CHOICE, "info", "Log level", "Logging", env="HUBSPOT_LOG_LEVEL",
       choices=("debug", "info", "warning", "error", "critical"),
       consumer="wg_desktop.logging_setup"),
    _s("logging.detailed", Kind.BOOL, True, "Log every API call at debug level (redacted)",
       "Logging", env="HUBSPOT_DETAILED_LOGGING",
       consumer="wg_desktop.logging_setup"),
    # Client-side rate limits
    _s("ratelimit.per_minute", Kind.INT, 100, "Requests per minute", "Rate limits",
       minimum=1, maximum=100_000,
       consumer="wg_desktop.hubspot.client_config"),
    _s("ratelimit.per_hour", Kind.INT, 1000, "Requests per hour", "Rate limits",
       minimum=1, maximum=1_000_000,
       consumer="wg_desktop.hubspot.client_config"),
    _s("ratelimit.per_day", Kind.INT, 10_000, "Requests per day", "Rate limits",
       minimum=1, maximum=10_000_000,
       consumer="wg_desktop.hubspot.client_config"),
    # HTTP transport and retries
    _s("http.max_connections", Kind.INT, 10, "Concurrent connections per portal", "Network",
       minimum=1, maximum=10,
       consumer="wg_desktop.hubspot.client_config"),
    _s("http.connect_timeout", Kind.FLOAT, 10.0, "Connect timeout (s)", "Network",
       minimum=0.1, maximum=120,
       consumer="wg_desktop.hubspot.client_config"),
    _s("http.timeout", Kind.FLOAT, 30.0, "Request timeout (s)", "Network", minimum=0.1,
       maximum=600,
       consumer="wg_desktop.hubspot.client_config"),
    _s("http.retry_timeout", Kind.FLOAT, 60.0, "Request timeout on a retry after a timeout (s)",
       "Network", minimum=0.1, maximum=600,
       consumer="wg_desktop.hubspot.client_config"),
    _s("http.max_attempts", Kind.INT, 5, "Attempts per request, first included", "Network",
       minimum=1, maximum=20,
       consumer="wg_desktop.hubspot.client_config"),
    _s("http.retry_deadline", Kind.FLOAT, 120.0, "Total time budget of one request with its "
       "retries (s)", "Network", minimum=1, maximum=3600,
       consumer="wg_desktop.hubspot.client_config"),
    _s("breaker.failure_threshold", Kind.INT, 5, "Consecutive failures that open the circuit "
       "breaker", "Network", minimum=1, maximum=100,
       consumer="wg_desktop.hubspot.client_config"),
    _s("breaker.cooldown", Kind.FLOAT, 60.0, "Seconds before an open breaker probes again",
       "Network", minimum=1, maximum=3600,
       consumer="wg_desktop.hubspot.client_config"),
    # Cache
    _s("cache.api_ttl", Kind.INT, 300, "API response cache (s)", "Cache", minimum=0,
       consumer="wg_desktop.hubspot.client_config"),
    _s("cache.portal_info_ttl", Kind.INT, 3600, "Portal info cache (s)", "Cache", minimum=0,
       consumer="wg_desktop.hubspot.client_config"),
    _s("cache.workflow_list_ttl", Kind.INT, 600, "Workflow list cache (s)", "Cache", minimum=0,
       consumer="wg_desktop.hubspot.client_config"),
    # Schedules
    _s("schedule.health_check_interval", Kind.INT, 300, "Health check interval (s)", "Schedules",
       minimum=10,
       consumer="wg_desktop.ui.app"),
    _s("schedule.token_refresh_interval", Kind.INT, 3600, "Token refresh check interval (s)",
       "Schedules", minimum=60,
       consumer="wg_desktop.ui.app"),
    _s("schedule.backup_interval", Kind.INT, 21_600, "Automatic backup interval (s)",
       "Schedules", minimum=60,
       consumer="wg_desktop.ui.app"),
    _s("schedule.sync_interval", Kind.INT, 600, "Background sync interval (s)", "Schedules",
       minimum=60,
       consumer="wg_desktop.ui.app"),
    _s("schedule.retention_time", Kind.STR, "00:00", "Local time of the daily retention "
       "cleanup (HH:MM)", "Schedules",
       consumer="wg_desktop.ui.app"),
    _s("token.refresh_buffer", Kind.INT, 300, "Refresh tokens with less than this many "
       "seconds left", "Schedules", minimum=0, maximum=1800,
       consumer="wg_desktop.hubspot.client_config"),
    # Retention
    _s("retention.versions_days", Kind.INT, 365, "Keep non-latest workflow versions (days)",
       "Retention", minimum=1,
       consumer="wg_desktop.services.retention"),
    _s("retention.audit_days", Kind.INT, 730, "Keep audit log entries (days)", "Retention",
       minimum=1,
       consumer="wg_desktop.services.retention"),
    _s("retention.health_days", Kind.INT, 30, "Keep health metrics (days)", "Retention",
       minimum=1,
       consumer="wg_desktop.services.retention"),
    _s("retention.backups_days", Kind.INT, 30, "Keep backups (days)", "Retention", minimum=1,
       consumer="wg_desktop.services.backups"),
    _s("backup.folder", Kind.STR, "", "Folder for backups, an absolute path (empty: "
       "<data folder>/backups); created 0700 when chosen, never re-created when it vanishes",
       "Backups", consumer="wg_desktop.services.backups"),
    # Limits
    _s("limits.workflows", Kind.INT, 1000, "Workflows per user", "Limits", minimum=1,
       consumer="wg_desktop.services.sync"),
    _s("limits.versions_per_workflow", Kind.INT, 1000, "Versions per workflow", "Limits",
       minimum=1,
       consumer="wg_desktop.services.sync"),
    _s("limits.audit_entries", Kind.INT, 10_000, "Audit log entries per user", "Limits",
       minimum=1,
       consumer="wg_desktop.services.audit"),
    _s("limits.webhooks", Kind.INT, 50, "Alert webhooks per user", "Limits", minimum=0,
       maximum=50,
       consumer="wg_desktop.services.notifiers"),
    # Health and alerts
    _s("alerts.response_time_warning", Kind.FLOAT, 5.0, "Alert when the average response time "
       "exceeds this (s)", "Alerts", minimum=0,
       consumer="wg_desktop.services.health"),
    _s("alerts.response_time_degraded", Kind.FLOAT, 10.0, "Degraded when the average response "
       "time exceeds this (s)", "Alerts", minimum=0,
       consumer="wg_desktop.services.health"),
    _s("alerts.connection_failures_critical", Kind.INT, 3, "Critical alert when connection "
       "failures exceed this", "Alerts", minimum=0,
       consumer="wg_desktop.services.health"),
    _s("alerts.error_rate_warning", Kind.FLOAT, 0.05, "Warning when the error rate exceeds "
       "this fraction", "Alerts", minimum=0, maximum=1,
       consumer="wg_desktop.services.health"),
    _s("alerts.rate_limit_remaining_info", Kind.INT, 100, "Info alert when the rate-limit "
       "remaining falls below this", "Alerts", minimum=0,
       consumer="wg_desktop.services.health"),
    _s("alerts.cooldown_minutes", Kind.INT, 60, "Minutes before a continuing alert is sent "
       "again (a cleared alert that returns within them is counted, not re-sent)", "Alerts",
       minimum=1, maximum=10_080,
       consumer="wg_desktop.services.alerts"),
    # Desktop session
    _s("app.start_with_session", Kind.BOOL, False, "Start with your session, in the tray, so "
       "scheduled backups and syncs run after login (one login entry per user account)",
       "Application", consumer="wg_desktop.services.settings_service"),
    # Notification channels
    _s("notify.desktop", Kind.BOOL, True, "Desktop notifications", "Notifications",
       consumer="wg_desktop.services.notifiers"),
    _s("notify.email_enabled", Kind.BOOL, False, "Email alerts", "Notifications",
       consumer="wg_desktop.services.notifiers"),
    _s("notify.smtp_host", Kind.STR, "", "SMTP host", "Notifications",
       consumer="wg_desktop.services.notifiers"),
    _s("notify.smtp_port", Kind.INT, 587, "SMTP port", "Notifications", minimum=1,
       maximum=65535,
       consumer="wg_desktop.services.notifiers"),
    _s("notify.smtp_security", Kind.CHOICE, "auto", "SMTP encryption: starttls, ssl (implicit "
       "TLS), none (refused with a password except to this machine), or auto (ssl on port "
       "465, else STARTTLS when offered)", "Notifications",
       choices=("auto", "starttls", "ssl", "none"),
       consumer="wg_desktop.services.notifiers"),
    _s("notify.smtp_user", Kind.STR, "", "SMTP user name", "Notifications",
       consumer="wg_desktop.services.notifiers"),
    _s("notify.smtp_password", Kind.SECRET, "", "SMTP password (kept in the keychain)",
       "Notifications",
       consumer="wg_desktop.services.notifiers"),
    _s("notify.email_from", Kind.EMAIL, "", "Sender address of alert emails", "Notifications",
       consumer="wg_desktop.services.notifiers"),
    _s("notify.email_to", Kind.LIST, (), "Recipients of alert emails", "Notifications",
       item_kind=Kind.EMAIL,
       consumer="wg_desktop.services.notifiers"),
    _s("notify.webhook_urls", Kind.LIST, (), "Webhook URLs that receive alerts (up to 50)",
       "Notifications", max_items=50, item_kind=Kind.URL,
       consumer="wg_desktop.services.notifiers"),
    _s("notify.webhook_secret", Kind.SECRET, "", "Secret that signs every webhook request "
       "(HMAC-SHA256 header; kept in the keychain)", "Notifications",
       consumer="wg_desktop.services.notifiers"),
    _s("notify.weekly_report", Kind.BOOL, False, "Email a health report of the last 7 days "
       "every week to the alert recipients (a missed week is sent at the next start)",
       "Notifications",
       consumer="wg_desktop.ui.app"),
    # Feature flags
    *(_s(f"features.{name}", Kind.BOOL, True, label, "Features",
         consumer=FEATURE_CONSUMERS[name])
      for name, label in FEATURES.items()),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in REGISTRY}

# Settings that once existed and were removed because nothing in a single-user
# desktop app can honour them. A settings file written by an older version may
# still hold them: it loads, and the value is dropped with a log line.
RETIRED = {
    "security.encrypt_tokens": "tokens live only in the keychain and the database is "
                               "always encrypted",
    "limits.users_per_portal": "a desktop app has one user",
    "limits.api_keys": "the app issues no API keys",
    "features.team_collaboration": "a desktop app has one user",
}

# HUBSPOT_ENCRYPT_TOKENS is named by the original requirements. Asking for no
# encryption cannot be honoured, so it is refused rather than silently ignored;
# asking for encryption is what always happens.
ENCRYPT_TOKENS_ENV = "HUBSPOT_ENCRYPT_TOKENS"

_log = logging.getLogger(__name__)


def parse_value(setting: Setting, raw: Any, source: Source | None = None) -> Any:
    """Convert ``raw`` (a string from the environment or a JSON value) to the
    setting's type, or raise :class:`SettingError` naming the setting."""
    def fail(problem: str) -> SettingError:
        return SettingError(setting.key, problem, source)

    kind = setting.kind
    if kind is Kind.BOOL:
        text = str(raw).strip().lower()
        if text not in _TRUE | _FALSE and not isinstance(raw, bool):
            raise fail(f"expected true or false, got {raw!r}")
        return raw if isinstance(raw, bool) else text in _TRUE
    if kind in (Kind.INT, Kind.FLOAT):
        if isinstance(raw, bool):
            raise fail(f"expected a number, got {raw!r}")
        try:
            value: float = int(str(raw).strip()) if kind is Kind.INT else float(str(raw).strip())
        except ValueError:
            expected = "a whole number" if kind is Kind.INT else "a number"
            raise fail(f"expected {expected}, got {raw!r}") from None
        if not math.isfinite(value):
            raise fail(f"expected a finite number, got {raw!r}")
        if setting.minimum is not None and value < setting.minimum:
            raise fail(f"must be at least {setting.minimum:g}, got {value:g}")
        if setting.maximum is not None and value > setting.maximum:
            raise fail(f"must be at most {setting.maximum:g}, got {value:g}")
        return value
    if kind is Kind.CHOICE:
        text = str(raw).strip().lower()
        if text not in setting.choices:
            raise fail(f"expected one of {', '.join(setting.choices)}, got {raw!r}")
        return text
    if kind is Kind.LIST:
        values = _parse_list(setting, raw, fail)
        if setting.max_items is not None and len(values) > setting.max_items:
            raise fail(f"at most {setting.max_items} entries, got {len(values)}")
        return values
    if not isinstance(raw, str):
        raise fail(f"expected text, got {raw!r}")
    text = raw.strip()
    if text and kind in (Kind.URL, Kind.EMAIL):
        problem = _item_problem(kind, text)
        if problem:
            raise fail(problem)
    if setting.api_family:
        problem = _api_version_problem(setting.api_family, text)
        if problem:
            raise fail(problem)
    if setting.key == "schedule.retention_time":
        _parse_hhmm(setting, raw, source)
    if setting.key == "backup.folder" and text and not Path(text).is_absolute():
        raise fail(f"expected an absolute path, got {text!r}")
    return text if kind is not Kind.SECRET else raw


def _parse_list(setting: Setting, raw: Any,
                fail: Callable[[str], SettingError]) -> tuple[str, ...]:
    """A JSON array of strings (a list from the dialog or the settings file, or
    its JSON text from the command line or the environment). Comma-separated
    text is refused rather than split: a URL may itself contain commas, and a
    half-written JSON array split on commas gives garbage entries."""
    items: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("["):
            example = json.dumps([p.strip() for p in text.split(",") if p.strip()])
            raise fail(f"expected a JSON array, e.g. {example}")
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise fail(f"is not a valid JSON array ({exc})") from None
    if not isinstance(items, (list, tuple)):
        raise fail(f"expected a JSON array, got {raw!r}")
    values: list[str] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise fail(f"entry {number}: expected text, got {item!r}")
        item = item.strip()
        if not item:
            continue        # blank lines of the dialog's one-per-line editor
        if setting.item_kind is not None:
            problem = _item_problem(setting.item_kind, item)
            if problem:
                raise fail(f"entry {number}: {problem}")
        values.append(item)
    return tuple(values)


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _item_problem(kind: Kind, text: str) -> str | None:
    if kind is Kind.EMAIL:
        # Deliberately simple: one @, a dotted domain, no whitespace (which also
        # keeps CR/LF, and so header injection, out of the mail headers).
        if not _EMAIL.fullmatch(text):
            return f"expected an e-mail address such as name@example.com, got {text!r}"
        return None
    if kind is Kind.URL:
        try:
            parts = urlsplit(text)
            ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        except ValueError:      # e.g. an unclosed IPv6 bracket
            ok = False
        if not ok or any(c.isspace() for c in text):
            return f"expected an http:// or https:// URL with a host, got {text!r}"
    return None


def _api_version_problem(family: str, version: str) -> str | None:
    """Checked against the endpoint table itself, so the known versions live in
    one place. Imported here rather than at the top: importing the hubspot
    package loads its client configuration, which reads this module's registry
    (a cycle at import time)."""
    from wg_desktop.hubspot.endpoints import EndpointTable, UnsupportedEndpoint

    if not version:
        return "expected an API version, e.g. v4 or 2026-09-beta"
    try:
        EndpointTable().with_versions(**{family: version})
    except UnsupportedEndpoint as exc:
        return str(exc)
    return None


def _parse_hhmm(setting: Setting, raw: str, source: Source | None) -> None:
    try:
        hours, minutes = (int(p) for p in raw.split(":"))
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise ValueError
    except ValueError:
        raise SettingError(setting.key, f"expected a time HH:MM, got {raw!r}", source) from None


@dataclass
class Settings:
    """Resolved settings: environment > settings file > default.

    Secrets are read from the environment, then through ``secret_reader``
    (the keychain). They are never written to the settings file.
    """

    file_values: dict[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    secret_reader: SecretReader | None = None

    @classmethod
    def load(cls, path: Path | None, environ: Mapping[str, str] | None = None,
             secret_reader: SecretReader | None = None) -> "Settings":
        file_values: dict[str, Any] = {}
        if path is not None and path.exists():
            try:
                file_values = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise SettingError("settings file", f"{path} is unreadable: {exc}") from None
            if not isinstance(file_values, dict):
                raise SettingError("settings file", f"{path} must hold a JSON object")
        settings = cls(file_values, dict(os.environ if environ is None else environ), path,
                       secret_reader)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise the first :class:`SettingError`; unknown file keys are errors too
        (a typo must not pass for a setting), retired ones are dropped."""
        for key in list(self.file_values):
            if key in RETIRED:
                _log.info("settings file: ignoring '%s', which no longer exists (%s)",
                          key, RETIRED[key])
                del self.file_values[key]
            elif key not in BY_KEY:
                raise SettingError(key, "unknown setting in the settings file", Source.FILE)
        encrypt = self.environ.get(ENCRYPT_TOKENS_ENV, "").strip().lower()
        if encrypt and encrypt not in _TRUE:
            raise SettingError(ENCRYPT_TOKENS_ENV, f"got {encrypt!r}, but encryption cannot be "
                               "turned off: tokens live only "
                               "in the keychain and the database is always encrypted",
                               Source.ENV)
        for setting in REGISTRY:
            if not setting.is_secret:
                self.get(setting.key)

    def source(self, key: str) -> Source:
        setting = BY_KEY[key]
        if self.environ.get(setting.env_var, "") != "":
            return Source.ENV
        if setting.is_secret:
            if self.secret_reader and self.secret_reader(key):
                return Source.KEYCHAIN
            return Source.DEFAULT
        return Source.FILE if key in self.file_values else Source.DEFAULT

    def get(self, key: str) -> Any:
        setting = BY_KEY[key]
        env_raw = self.environ.get(setting.env_var, "")
        if env_raw != "":
            return parse_value(setting, env_raw, Source.ENV)
        if setting.is_secret:
            stored = self.secret_reader(key) if self.secret_reader else None
            return stored or setting.default
        if key in self.file_values:
            return parse_value(setting, self.file_values[key], Source.FILE)
        return setting.default

    __getitem__ = get

    def feature_enabled(self, name: str) -> bool:
        return bool(self.get(f"features.{name}"))

    def require_feature(self, name: str) -> None:
        """Raise :class:`FeatureOff` when the flag is off, saying how to turn it on."""
        if self.feature_enabled(name):
            return
        key = f"features.{name}"
        if self.overridden_by_env(key):
            how = f"unset {BY_KEY[key].env_var} to turn it on"
        else:
            how = (f"turn it on in Settings (Features) or with "
                   f"'wg-desktop settings set {key} true'")
        raise FeatureOff(name, how)

    def updated(self, changes: Mapping[str, Any]) -> "Settings":
        """Validate ``changes`` (non-secret) and persist them to the settings file.

        Returns self for chaining. Raises :class:`SettingError` before writing
        anything if any value is invalid.
        """
        parsed: dict[str, Any] = {}
        for key, raw in changes.items():
            setting = BY_KEY.get(key)
            if setting is None:
                raise SettingError(key, "unknown setting")
            if setting.is_secret:
                raise SettingError(key, "secrets are stored in the keychain, not the file")
            value = parse_value(setting, raw, Source.FILE)
            parsed[key] = list(value) if isinstance(value, tuple) else value
        new_values = {**self.file_values, **parsed}
        for key, value in parsed.items():
            if value == _jsonable(BY_KEY[key].default):
                new_values.pop(key)  # keep the file small: defaults are implicit
        if self.path is not None:
            write_private_atomic(self.path, json.dumps(new_values, indent=2,
                                                        sort_keys=True).encode())
        self.file_values = new_values
        return self

    def overridden_by_env(self, key: str) -> bool:
        # Only the environment: never a keychain read (this runs on the GUI thread).
        return self.environ.get(BY_KEY[key].env_var, "") != ""

    def stored_secrets(self) -> set[str]:
        """Secret settings that have a value (environment or keychain). Reads the
        keychain: call it off the GUI thread."""
        return {s.key for s in REGISTRY if s.is_secret and self.source(s.key) is not Source.DEFAULT}

    def items(self) -> Iterable[tuple[Setting, Any]]:
        for setting in REGISTRY:
            yield setting, (None if setting.is_secret else self.get(setting.key))


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
