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


def database_key(settings: Settings, secrets: SecretStore | None, database: Path) -> bytes:
    override = settings.environ.get("HUBSPOT_TOKEN_ENCRYPTION_KEY", "")
    if override:
        return key_from_text(override, database.with_name("database.salt"))
    if secrets is None:
        raise DatabaseKeyMissing("No keychain and no HUBSPOT_TOKEN_ENCRYPTION_KEY: "
                                 "the database key has nowhere to live.")
    stored = secrets.get(DATABASE_KEY_NAME)
    if stored:
        try:
            key = bytes.fromhex(stored)
        except ValueError:
            key = b""
        if len(key) != crypto.KEY_BYTES:
            raise DatabaseKeyMissing(
                f"The database key in {secrets.describe()} is damaged (not 64 hex "
                "characters). The data was not changed. Restore the keychain entry or set "
                "HUBSPOT_TOKEN_ENCRYPTION_KEY.")
        return key
    if database.exists() and database.stat().st_size > 0:
        raise DatabaseKeyMissing(
            f"The key of {database} is not in {secrets.describe()}. The data was not "
            "changed. Restore the keychain entry, set HUBSPOT_TOKEN_ENCRYPTION_KEY, or "
            "restore a backup into a new data folder.")
    key = crypto.new_key()
    secrets.set(DATABASE_KEY_NAME, key.hex())
    # A database is only ever created with a key the keychain demonstrably
    # kept: a keychain that drops writes would otherwise leave a store that
    # nothing can open.
    if secrets.get(DATABASE_KEY_NAME) != key.hex():
        raise DatabaseKeyMissing(f"{secrets.describe()} did not keep the new database key; "
                                 "nothing was created. Check the keychain and start again.")
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
