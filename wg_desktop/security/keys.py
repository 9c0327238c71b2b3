"""The database key: where it comes from and how it is created.

Order: ``HUBSPOT_TOKEN_ENCRYPTION_KEY`` (64 hex characters used as is, anything
else treated as a passphrase and stretched with scrypt and a per-install salt)
> the keychain entry ``database-key`` (scoped to the data folder) > a new random
key, created only when the database does not exist yet and stored (and read
back) before the database is created — a missing key for an existing database
is an error, never a silent new empty database. The caller holds the data
folder's start lock (wg_desktop.instance), so creation happens once.
"""

from __future__ import annotations

import re
from pathlib import Path

from wg_desktop.config import Settings
from wg_desktop.paths import write_private_atomic
from wg_desktop.security import crypto
from wg_desktop.security.secrets import DATABASE_KEY_NAME, SecretStore

_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class DatabaseKeyMissing(RuntimeError):
    pass


class StoredKeyDamaged(ValueError):
    """A keychain entry that should hold a 256-bit key in hex does not."""


class StoredKeyNotKept(RuntimeError):
    """The keychain accepted a new key but does not give it back."""


def stored_key(secrets: SecretStore, name: str) -> bytes | None:
    """The 256-bit key kept as hex under ``name``, or None when there is none.
    Raises StoredKeyDamaged for an entry that is not one."""
    stored = secrets.get(name)
    if not stored:
        return None
    try:
        key = bytes.fromhex(stored)
    except ValueError:
        key = b""
    if len(key) != crypto.KEY_BYTES:
        raise StoredKeyDamaged(name)
    return key


def create_stored_key(secrets: SecretStore, name: str) -> bytes:
    """A new random key kept under ``name`` and read back before it is used:
    a keychain that drops writes must not leave data nothing can open.
    Raises StoredKeyNotKept when the keychain did not keep it."""
    key = crypto.new_key()
    secrets.set(name, key.hex())
    if secrets.get(name) != key.hex():
        raise StoredKeyNotKept(name)
    return key


def database_key(settings: Settings, secrets: SecretStore | None, database: Path) -> bytes:
    override = settings.environ.get("HUBSPOT_TOKEN_ENCRYPTION_KEY", "")
    if override:
        return key_from_text(override, database.with_name("database.salt"))
    if secrets is None:
        raise DatabaseKeyMissing("No keychain and no HUBSPOT_TOKEN_ENCRYPTION_KEY: "
                                 "the database key has nowhere to live.")
    try:
        key = stored_key(secrets, DATABASE_KEY_NAME)
    except StoredKeyDamaged:
        raise DatabaseKeyMissing(
            f"The database key in {secrets.describe()} is damaged (not 64 hex "
            "characters). The data was not changed. Restore the keychain entry or set "
            "HUBSPOT_TOKEN_ENCRYPTION_KEY.") from None
    if key is not None:
        return key
    if database.exists() and database.stat().st_size > 0:
        raise DatabaseKeyMissing(
            f"The key of {database} is not in {secrets.describe()}. The data was not "
            "changed. Restore the keychain entry, set HUBSPOT_TOKEN_ENCRYPTION_KEY, or "
            "restore a backup into a new data folder.")
    # A database is only ever created with a key the keychain demonstrably kept.
    try:
        key = create_stored_key(secrets, DATABASE_KEY_NAME)
    except StoredKeyNotKept:
        raise DatabaseKeyMissing(f"{secrets.describe()} did not keep the new database key; "
                                 "nothing was created. Check the keychain and start again.") \
            from None
    return key


def key_from_text(text: str, salt_file: Path) -> bytes:
    if _HEX_KEY.match(text):
        return bytes.fromhex(text)
    if salt_file.exists():
        salt = salt_file.read_bytes()
    else:
        salt = crypto.new_salt()
        write_private_atomic(salt_file, salt)
    return crypto.derive_key(text, salt)
