"""The one place secrets are kept: the OS keychain (through ``keyring``), or —
only when the user opts in because no keychain is usable — a file sealed with
a passphrase.

keyring's own configuration (``PYTHON_KEYRING_BACKEND``, ``keyringrc.cfg``) is
honoured because we always ask ``keyring.get_keyring()``. We never fall back
silently: an unusable keychain raises :class:`KeychainUnavailable` with a
message the UI and the CLI show as is.
"""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Protocol

import keyring
import keyring.errors
from keyring.backends import fail as keyring_fail
from keyring.backends import null as keyring_null

from wg_desktop.paths import write_private_atomic
from wg_desktop.security import crypto
from wg_desktop.security.redaction import SecretRegistry

KEYCHAIN_SERVICE = "WorkflowGuard Desktop"
DATABASE_KEY_NAME = "database-key"

_FILE_MAGIC = b"WGSECRETS1"
_FALLBACK_HELP = (
    "Install and unlock a keychain (GNOME Keyring or KWallet on Linux, Keychain on "
    "macOS, Credential Manager on Windows), or opt in to a passphrase-protected "
    "secrets file: accept the offer in the app, or set WG_SECURITY_SECRET_BACKEND=file "
    "(and WG_SECRETS_PASSPHRASE for scripts)."
)


class KeychainUnavailable(RuntimeError):
    """No usable OS keychain. The message says what to do."""


class WrongPassphrase(RuntimeError):
    pass


def token_key(portal_id: int | str, kind: str) -> str:
    """Keychain entry name of one portal's token (``kind``: access, refresh, ...)."""
    return f"portal-{portal_id}-{kind}"


def setting_key(setting: str) -> str:
    """Keychain entry name of a secret setting (client secret, SMTP password)."""
    return f"setting-{setting}"


class SecretStore(Protocol):
    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def describe(self) -> str: ...


class KeyringSecrets:
    """Secrets in the OS keychain under one service name.

    With a ``scope`` (the data folder's instance id) every entry is named
    ``<scope>/<name>``, so each data folder has its own database key and tokens
    in a keychain that every folder of the user shares.
    """

    def __init__(self, registry: SecretRegistry | None = None,
                 service: str = KEYCHAIN_SERVICE, scope: str | None = None) -> None:
        self.service = service
        self.registry = registry
        self.scope = scope
        self._backend = keyring.get_keyring()
        problem = unusable_reason(self._backend)
        if problem:
            raise KeychainUnavailable(f"No usable keychain: {problem}. {_FALLBACK_HELP}")

    def describe(self) -> str:
        backend = self._backend
        return f"OS keychain ({type(backend).__module__}.{type(backend).__name__})"

    def entry_name(self, name: str) -> str:
        return f"{self.scope}/{name}" if self.scope else name

    def unscoped(self) -> "KeyringSecrets":
        """The same keychain under the names used before entries were scoped."""
        return KeyringSecrets(self.registry, self.service)

    def _call(self, action: str, fn, *args):
        try:
            return fn(*args)
        except keyring.errors.PasswordDeleteError:
            return None
        except keyring.errors.KeyringLocked as exc:
            raise KeychainUnavailable(f"The keychain is locked ({exc}); unlock it and retry. "
                                      + _FALLBACK_HELP) from None
        except (keyring.errors.KeyringError, OSError) as exc:
            raise KeychainUnavailable(f"The keychain refused to {action} a secret: {exc}. "
                                      + _FALLBACK_HELP) from None

    def get(self, name: str) -> str | None:
        value = self._call("read", self._backend.get_password, self.service,
                           self.entry_name(name))
        if self.registry is not None:
            self.registry.add(value)
        return value

    def set(self, name: str, value: str) -> None:
        if self.registry is not None:
            self.registry.add(value)
        self._call("store", self._backend.set_password, self.service, self.entry_name(name),
                   value)

    def delete(self, name: str) -> None:
        self._call("delete", self._backend.delete_password, self.service,
                   self.entry_name(name))


def unusable_reason(backend: object) -> str:
    """Why a keyring backend cannot hold our secrets, or '' if it can."""
    if isinstance(backend, keyring_fail.Keyring):
        return "no keyring backend is available on this system"
    if isinstance(backend, keyring_null.Keyring):
        return "keyring is switched off (null backend): it would discard every secret"
    name = type(backend).__name__
    if "Plaintext" in name or "Uncrypted" in name or "Null" in name:
        return f"the configured keyring backend {name} does not protect secrets"
    inner = getattr(backend, "backends", None)
    if inner is not None and not list(inner):
        return "no keyring backend is available on this system"
    return ""


class PassphraseFileSecrets:
    """Opt-in fallback: every secret in one file sealed with AES-256-GCM under a
    key derived from the user's passphrase (scrypt). Written atomically, 0600."""

    def __init__(self, path: Path, passphrase: str,
                 registry: SecretRegistry | None = None) -> None:
        if not passphrase:
            raise WrongPassphrase("A passphrase is required for the secrets file.")
        self.path = path
        self.registry = registry
        self._lock = threading.Lock()
        if path.exists():
            self._salt, self._key, self._values = self._unlock(path.read_bytes(), passphrase)
        else:
            self._salt = crypto.new_salt()
            self._key = crypto.derive_key(passphrase, self._salt)
            self._values = {}
            self._save()
        if registry is not None:
            for value in self._values.values():
                registry.add(value)

    @staticmethod
    def _unlock(blob: bytes, passphrase: str) -> tuple[bytes, bytes, dict[str, str]]:
        head = len(_FILE_MAGIC)
        if blob[:head] != _FILE_MAGIC:
            raise WrongPassphrase("The secrets file is not a WorkflowGuard secrets file.")
        salt = blob[head:head + crypto.SALT_BYTES]
        key = crypto.derive_key(passphrase, salt)
        try:
            plain = crypto.open_sealed(key, blob[head + crypto.SALT_BYTES:], _FILE_MAGIC)
        except crypto.DecryptionError:
            raise WrongPassphrase("Wrong passphrase for the secrets file "
                                  "(or the file was altered).") from None
        values = json.loads(plain)
        return salt, key, {k: base64.b64decode(v).decode() for k, v in values.items()}

    def _save(self) -> None:
        payload = json.dumps({k: base64.b64encode(v.encode()).decode()
                              for k, v in self._values.items()}).encode()
        blob = _FILE_MAGIC + self._salt + crypto.seal(self._key, payload, _FILE_MAGIC)
        write_private_atomic(self.path, blob)

    def describe(self) -> str:
        return f"passphrase-protected file {self.path}"

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        if self.registry is not None:
            self.registry.add(value)
        with self._lock:
            self._values[name] = value
            self._save()

    def delete(self, name: str) -> None:
        with self._lock:
            if self._values.pop(name, None) is not None:
                self._save()


class MemorySecrets:
    """Secrets held only for this process — used by the read-only backup viewer
    and by the demo portal session, where nothing may touch the real keychain."""

    def __init__(self, registry: SecretRegistry | None = None) -> None:
        self._values: dict[str, str] = {}
        self.registry = registry

    def describe(self) -> str:
        return "memory (this session only)"

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        if self.registry is not None:
            self.registry.add(value)
        self._values[name] = value

    def delete(self, name: str) -> None:
        self._values.pop(name, None)
