"""Changing settings: one path for the GUI's dialog and the CLI.

Validates every value before writing anything, keeps secrets in the
secret store (never the settings file), and audits each change (secret values
are never written to the audit log).

Switching audit logging off is the one change whose entry must be written
before the change is saved: afterwards the logger is off. So that change ends
the trail as its last entry; switching it back on is recorded as the first
entry once it is on again.
"""

from __future__ import annotations

from typing import Any, Mapping

from wg_desktop.config import BY_KEY, Settings, SettingError, parse_value
from wg_desktop.security.secrets import SecretStore, setting_key
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.store.models import Outcome

AUDIT_FLAG = "features.audit_logging"


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
        ends_trail = (plain.get(AUDIT_FLAG) is False and self.audit.enabled
                      and not self.settings.overridden_by_env(AUDIT_FLAG))
        if not ends_trail:
            if plain:
                self.settings.updated(plain)
            self._store_secrets(secret)
            self._record(plain, secret)
            return [*plain, *secret]
        # The secrets go first so that every entry describes a change already made;
        # the settings file is written last, once the trail's final entry is in.
        self._store_secrets(secret)
        self._record(plain, secret)
        try:
            self.settings.updated(plain)
        except Exception as exc:
            # Logging is still on (nothing was saved): the trail says so.
            self.audit.record(AuditAction.SETTINGS_CHANGE, outcome=Outcome.FAILURE,
                              details={"settings": sorted(plain), "error": str(exc)})
            raise
        return [*plain, *secret]

    def _store_secrets(self, secret: Mapping[str, str]) -> None:
        for key, value in secret.items():
            self.secrets.set(setting_key(key), value)

    def _record(self, plain: Mapping[str, Any], secret: Mapping[str, str]) -> None:
        # The audit flag's own entry comes last: when it ends the trail, nothing follows it.
        ordered = sorted(plain, key=lambda k: k == AUDIT_FLAG)
        for key in secret:
            self.audit.record(AuditAction.SETTINGS_CHANGE,
                              details={"setting": key, "value": "(secret changed)"})
        for key in ordered:
            self.audit.record(AuditAction.SETTINGS_CHANGE,
                              details={"setting": key, "value": _shown(plain[key])})

    def clear_secret(self, key: str) -> None:
        if not BY_KEY[key].is_secret:
            raise SettingError(key, "not a secret setting")
        self.secrets.delete(setting_key(key))
        self.audit.record(AuditAction.SETTINGS_CHANGE,
                          details={"setting": key, "value": "(secret removed)"})


def _shown(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
