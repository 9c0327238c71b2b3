"""The one context object: built once by the composition root and handed to
whoever needs it (GUI, CLI, tests). No module-level globals."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

from wg_desktop.config import BY_KEY, REGISTRY, Settings
from wg_desktop.instance import InstanceBusy, ensure_instance_id, holding_start_lock
from wg_desktop.paths import Paths
from wg_desktop.security import keychain_migration
from wg_desktop.security.keys import database_key
from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.security.secrets import (KeychainUnavailable, KeyringSecrets,
                                         PassphraseFileSecrets, SecretStore, setting_key)
from wg_desktop.services.audit import AuditLog
from wg_desktop.services.backups import (BackupBusy, BackupService, backup_lock,
                                         sweep_temp_files)
from wg_desktop.services.job_runs import StoreJobRunStore  # noqa
from wg_desktop.services.retention import RetentionService
from wg_desktop.store.db import Store, open_store
from wg_desktop.store.models import Portal

PASSPHRASE_ENV = "WG_SECRETS_PASSPHRASE"

# Asked when the opt-in secrets file must be unlocked; returns None to give up.
PassphrasePrompt = Callable[[bool], "str | None"]   # argument: True when creating the file


class SetupError(RuntimeError):
    """The app cannot start with this configuration; the message says why and what to do."""


@dataclass
class AppContext:
    paths: Paths
    settings: Settings
    secrets: SecretStore
    registry: SecretRegistry
    store: Store
    audit: AuditLog
    retention: RetentionService
    job_runs: StoreJobRunStore
    # The one backup service of this data folder: the scheduled job, the
    # Backups page, the CLI and the alerts (which listen to its outcomes) share it.
    backups: BackupService
    instance_id: str | None = None      # scopes this data folder's keychain entries
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()
        self.store.close()


def open_secret_store(paths: Paths, settings: Settings, registry: SecretRegistry,
                      environ: Mapping[str, str],
                      prompt: PassphrasePrompt | None = None,
                      scope: str | None = None) -> SecretStore:
    """The keychain, or the passphrase file when the user opted in to it."""
    if settings.get("security.secret_backend") == "file":
        creating = not paths.secrets_file.exists()
        passphrase = environ.get(PASSPHRASE_ENV) or (prompt(creating) if prompt else None)
        registry.add(passphrase)
        if not passphrase:
            raise SetupError(f"The secrets file {paths.secrets_file} needs its passphrase "
                             f"(set {PASSPHRASE_ENV} or enter it when asked).")
        return PassphraseFileSecrets(paths.secrets_file, passphrase, registry)
    return KeyringSecrets(registry, scope=scope)


def build_context(paths: Paths, environ: Mapping[str, str] | None = None, *,
                  prompt: PassphrasePrompt | None = None,
                  secrets: SecretStore | None = None,
                  settings: Settings | None = None,
                  registry: SecretRegistry | None = None) -> AppContext:
    """Open everything the app needs. Raises KeychainUnavailable, SetupError,
    SettingError, StoreError, InstanceBusy — each with a message meant for the user.

    ``settings`` and ``registry``: ones the caller already made (the window
    reads its settings before the data is open, and its crash handler
    redacts through the registry); by default they are made here."""
    environ = dict(os.environ if environ is None else environ)
    paths.ensure()
    registry = SecretRegistry() if registry is None else registry
    if settings is None:
        settings = Settings.load(paths.settings_file, environ)
    for name in ("hubspot.client_secret", "security.token_encryption_key"):
        registry.add(environ.get(BY_KEY[name].env_var, ""))
    # One process at a time reads or creates the instance id, the key and the
    # database: concurrent first starts must not each make a key.
    with holding_start_lock(paths) as locked:
        instance_id, _ = ensure_instance_id(paths)
        if secrets is None:
            secrets = open_secret_store(paths, settings, registry, environ, prompt,
                                        scope=instance_id)
        adopt = (locked and isinstance(secrets, KeyringSecrets) and secrets.scope
                 and keychain_migration.needs_migration(paths.data_dir))
        if adopt and paths.database.exists():
            keychain_migration.adopt_shared_entries(
                secrets, [setting_key(s.key) for s in REGISTRY if s.is_secret])
        settings.secret_reader = lambda key: secrets.get(setting_key(key))
        store = open_store(paths.database, database_key(settings, secrets, paths.database))
        if adopt:
            try:
                keychain_migration.adopt_portal_tokens(secrets, _stored_hub_ids(store))
                keychain_migration.mark_done(paths.data_dir)
            except BaseException:
                store.close()
                raise
    try:
        audit = AuditLog(store, settings, registry)
        backups = BackupService(paths, store, secrets, settings, audit)
        retention = RetentionService(store, settings, audit)
        retention.register(backups.retention_policy())
        ctx = AppContext(paths, settings, secrets, registry, store, audit, retention,
                         StoreJobRunStore(store, registry), backups, instance_id)
        if not store.read_only:
            _sweep_interrupted_backups(paths)
    except BaseException:
        store.close()       # no half-made context keeps the database open
        raise
    return ctx


def _sweep_interrupted_backups(paths: Paths) -> None:
    """A backup killed mid-way leaves its temporary (unencrypted) snapshot in
    the private backups folder: remove it at the next start, not only at the
    next backup — unless a backup of another process is running right now."""
    try:
        with backup_lock(paths):
            sweep_temp_files(paths.backups_dir)
    except BackupBusy:
        pass


def _stored_hub_ids(store: Store) -> list[int]:
    with store.session():
        return [p.hub_id for p in Portal.select(Portal.hub_id)]


__all__ = ["AppContext", "InstanceBusy", "KeychainUnavailable", "SetupError", "build_context",
           "open_secret_store", "PASSPHRASE_ENV"]
