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

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from wg_desktop import desktop_integration
from wg_desktop.config import BY_KEY, Settings, SettingError, parse_value
from wg_desktop.paths import Paths
from wg_desktop.security.secrets import SecretStore, setting_key
from wg_desktop.services import backups
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.demo_choice import wants_demo
from wg_desktop.store.models import Outcome

AUDIT_FLAG = "features.audit_logging"
# Honoured here, when it changes: the login entry is created or removed.
AUTOSTART = "app.start_with_session"

log = logging.getLogger(__name__)

# Turns the login entry on (True) or off (False); raises OSError or
# desktop_integration.NotSupported when it cannot.
AutostartSwitch = Callable[[bool], None]


def instance_data_dir(settings: Settings) -> Path | None:
    """The folder this instance was opened on with --data-dir (or WG_DATA_DIR),
    or None for the platform's default folders. Under a chosen folder, Paths
    keeps the settings file in DIR/config/."""
    if settings.path is None or settings.path == Paths.resolve(None, {}).settings_file:
        return None
    return settings.path.parent.parent


def session_autostart(data_dir: Path | None) -> AutostartSwitch:
    """The real login entry of this OS, starting the app on ``data_dir``."""
    def switch(on: bool) -> None:
        if on:
            desktop_integration.install_autostart(data_dir)
        else:
            desktop_integration.remove_autostart()
    return switch


class SettingsService:
    def __init__(self, settings: Settings, secrets: SecretStore, audit: AuditLog,
                 autostart: AutostartSwitch | None = None) -> None:
        self.settings = settings
        self.secrets = secrets
        self.audit = audit
        self.autostart = autostart or session_autostart(instance_data_dir(settings))

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
            if key == backups.FOLDER_SETTING:
                backups.check_folder_setting(value)    # creatable and writable, now
            if value != self.settings.get(key):
                plain[key] = value
        if AUTOSTART not in plain:
            return self._save(plain, secret)
        # The login entry first: when it cannot be made (or removed), the setting
        # is not saved, so it never claims an entry that is not there.
        self._switch_autostart(plain[AUTOSTART])
        try:
            return self._save(plain, secret)
        except BaseException:
            try:
                self.autostart(not plain[AUTOSTART])
            except (OSError, desktop_integration.NotSupported) as exc:
                log.warning("could not undo the login entry change: %s", exc)
            raise

    def reconcile_autostart(self, installed: Callable[[], bool] | None = None) -> bool | None:
        """At start: when the setting in force asks for the login entry — maybe
        from WG_APP_START_WITH_SESSION or a hand-edited file, where nothing ran
        apply() — and there is none, create it. Never removes one here: the
        entry is one per user account, and merely opening another data folder
        (whose setting is off) must not undo what this folder's user chose.
        Returns True when it created the entry."""
        installed = installed or desktop_integration.autostart_installed
        if not self.settings.get(AUTOSTART):
            return None
        try:
            if installed():
                return None
            self.autostart(True)
        except (OSError, desktop_integration.NotSupported) as exc:
            log.warning("%s is on but the login entry could not be created: %s",
                        AUTOSTART, exc)
            return None
        return True

    def _switch_autostart(self, on: bool) -> None:
        try:
            self.autostart(on)
        except (OSError, desktop_integration.NotSupported) as exc:
            action = "create" if on else "remove"
            raise SettingError(AUTOSTART, f"could not {action} the login entry, "
                                          f"nothing was changed: {exc}") from exc

    def _save(self, plain: dict[str, Any], secret: dict[str, str]) -> list[str]:
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


@dataclass(frozen=True)
class Effective:
    """What a setting does right now, and why: usually its resolved value and
    where that came from, but a few settings are overruled by the state of the
    app, and showing the stored value then would be a lie."""
    value: Any
    source: str


DEMO_IN_USE = "effective: demo portal in use"


def effective(settings: Settings, key: str) -> Effective:
    """The value in force for a non-secret setting, with its source."""
    value = settings.get(key)
    source = str(settings.source(key))
    if key == "hubspot.mock_mode" and not value and wants_demo(settings):
        # Nothing points at a HubSpot app, so the demo portal is used although the
        # setting still holds its default.
        return Effective(True, DEMO_IN_USE)
    return Effective(value, source)


def _shown(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
