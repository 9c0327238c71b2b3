"""Changing settings: one path for the GUI's dialog and the CLI.

Validates every value before writing anything, keeps secrets in the
secret store (never the settings file), and audits each change (secret values
are never written to the audit log).
"""

from __future__ import annotations

from typing import Any, Mapping

from wg_desktop.config import BY_KEY, Settings, SettingError, parse_value
from wg_desktop.security.secrets import SecretStore, setting_key
from wg_desktop.services.audit import AuditAction, AuditLog


class SettingsService:
    def __init__(self, settings: Settings, secrets: SecretStore, audit: AuditLog) -> None:
        self.settings = settings
        self.secrets = secrets
        self.audit = audit

    def apply(self, changes: Mapping[str, Any]) -> list[str]:
        """Apply ``changes`` (key -> raw value); returns the keys that changed.

        A secret whose value is '' is left as it is (the dialog shows secrets
        blank). Raises :class:`SettingError` before any write if a value is bad.
        """
        plain: dict[str, Any] = {}
        secret: dict[str, str] = {}
        for key, raw in changes.items():
            setting = BY_KEY.get(key)
            if setting is None:
                raise SettingError(key, "unknown setting")
            if setting.env_only:
                raise SettingError(key, f"can only be set with the environment variable "
                                        f"{setting.env_var}")
            if setting.is_secret:
                if raw:
                    secret[key] = str(raw)
                continue
            value = parse_value(setting, raw)
            if value != self.settings.get(key):
                plain[key] = value
        if plain:
            self.settings.updated(plain)
        for key, value in secret.items():
            self.secrets.set(setting_key(key), value)
        for key, value in plain.items():
            self.audit.record(AuditAction.SETTINGS_CHANGE,
                              details={"setting": key, "value": _shown(value)})
        for key in secret:
            self.audit.record(AuditAction.SETTINGS_CHANGE,
                              details={"setting": key, "value": "(secret changed)"})
        return [*plain, *secret]

    def clear_secret(self, key: str) -> None:
        if not BY_KEY[key].is_secret:
            raise SettingError(key, "not a secret setting")
        self.secrets.delete(setting_key(key))
        self.audit.record(AuditAction.SETTINGS_CHANGE,
                          details={"setting": key, "value": "(secret removed)"})


def _shown(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
