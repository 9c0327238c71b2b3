"""The one context object: built once by the composition root and handed to
whoever needs it (GUI, CLI, tests). No module-level globals."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

from wg_desktop.config import BY_KEY, Settings
from wg_desktop.paths import Paths
from wg_desktop.security.keys import database_key
from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.security.secrets import (KeychainUnavailable, KeyringSecrets,
                                         PassphraseFileSecrets, SecretStore, setting_key)
from wg_desktop.services.audit import AuditLog
from wg_desktop.services.job_runs import StoreJobRunStore  # noqa
from wg_desktop.services.retention import RetentionService
from wg_desktop.store.db import Store, open_store

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
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()
        self.store.close()


def open_secret_store(paths: Paths, settings: Settings, registry: SecretRegistry,
                      environ: Mapping[str, str],
                      prompt: PassphrasePrompt | None = None) -> SecretStore:
    """The keychain, or the passphrase file when the user opted in to it."""
    if settings.get("security.secret_backend") == "file":
        creating = not paths.secrets_file.exists()
        passphrase = environ.get(PASSPHRASE_ENV) or (prompt(creating) if prompt else None)
        registry.add(passphrase)
        if not passphrase:
            raise SetupError(f"The secrets file {paths.secrets_file} needs its passphrase "
                             f"(set {PASSPHRASE_ENV} or enter it when asked).")
        return PassphraseFileSecrets(paths.secrets_file, passphrase, registry)
    return KeyringSecrets(registry)


def build_context(paths: Paths, environ: Mapping[str, str] | None = None, *,
                  prompt: PassphrasePrompt | None = None,
                  secrets: SecretStore | None = None) -> AppContext:
    """Open everything the app needs. Raises KeychainUnavailable, SetupError,
    SettingError, StoreError — each with a message meant for the user."""
    environ = dict(os.environ if environ is None else environ)
    paths.ensure()
    registry = SecretRegistry()
    settings = Settings.load(paths.settings_file, environ)
    if secrets is None:
        secrets = open_secret_store(paths, settings, registry, environ, prompt)
    settings.secret_reader = lambda key: secrets.get(setting_key(key))
    for name in ("hubspot.client_secret", "security.token_encryption_key"):
        registry.add(environ.get(BY_KEY[name].env_var, ""))
    store = open_store(paths.database, database_key(settings, secrets, paths.database))
    audit = AuditLog(store, settings, registry)
    return AppContext(paths, settings, secrets, registry, store, audit,
                      RetentionService(store, settings, audit),
                      StoreJobRunStore(store, registry))


__all__ = ["AppContext", "KeychainUnavailable", "SetupError", "build_context",
           "open_secret_store", "PASSPHRASE_ENV"]
