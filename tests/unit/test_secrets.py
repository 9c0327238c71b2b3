"""Secret storage: keychain, the opt-in passphrase file, memory; the database key."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.core
import keyring.errors
import pytest

from tests.support.memory_keyring import MemoryKeyring
from wg_desktop.config import Settings
from wg_desktop.security import crypto
from wg_desktop.security.keys import DatabaseKeyMissing, database_key, key_from_text
from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.security.secrets import (DATABASE_KEY_NAME, KEYCHAIN_SERVICE, KeychainUnavailable,
                                         KeyringSecrets, MemorySecrets, PassphraseFileSecrets,
                                         WrongPassphrase, setting_key, token_key,
                                         unusable_reason)

SECRET = "refresh-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files_containing(folder: Path, needle: str) -> list[Path]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            if needle.encode() in blob or base64.b64encode(needle.encode()) in blob:
                hits.append(path)
    return hits


# -- names -----------------------------------------------------------------------------

def test_entry_names():
    assert KEYCHAIN_SERVICE == "WorkflowGuard Desktop"
    assert DATABASE_KEY_NAME == "database-key"
    assert token_key(123, "refresh") == "portal-123-refresh"
    assert token_key("456", "access") == "portal-456-access"
    assert setting_key("hubspot.client_secret") == "setting-hubspot.client_secret"


# -- keychain ----------------------------------------------------------------------------

def test_keyring_round_trip_under_the_service_name(memory_keyring):
    registry = SecretRegistry()
    secrets = KeyringSecrets(registry)
    assert secrets.get("portal-1-refresh") is None
    secrets.set("portal-1-refresh", SECRET)
    assert memory_keyring.entries == {(KEYCHAIN_SERVICE, "portal-1-refresh"): SECRET}
    assert secrets.get("portal-1-refresh") == SECRET
    assert SECRET in registry.values()
    secrets.delete("portal-1-refresh")
    assert memory_keyring.entries == {}
    assert secrets.get("portal-1-refresh") is None
    secrets.delete("portal-1-refresh")  # deleting a missing entry is not an error
    assert "MemoryKeyring" in secrets.describe()


def test_keyring_custom_service_and_registry_learns_read_values(memory_keyring):
    memory_keyring.entries[("Other Service", "x")] = "value-read-from-keychain"
    registry = SecretRegistry()
    secrets = KeyringSecrets(registry, service="Other Service")
    assert secrets.get("x") == "value-read-from-keychain"
    assert "value-read-from-keychain" in registry.values()
    assert KeyringSecrets().get("x") is None


def test_fail_backend_is_refused_and_nothing_is_written(data_dir):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(KeychainUnavailable) as info:
        secrets = KeyringSecrets(SecretRegistry())
        secrets.set("portal-1-refresh", SECRET)
    message = str(info.value)
    assert message.startswith("No usable keychain")
    assert "Traceback" not in message and "keyring.backends" not in message
    assert "passphrase" in message  # tells the user about the opt-in fallback
    assert list(data_dir.rglob("*")) == []
    assert _files_containing(data_dir, SECRET) == []


def test_fail_backend_blocks_database_key_without_writing(data_dir):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(KeychainUnavailable):
        database_key(Settings.load(None, {}), KeyringSecrets(), data_dir / "workflowguard.db")
    assert list(data_dir.rglob("*")) == []


def test_null_backend_is_refused():
    """keyring's documented way to disable keyring silently drops every secret: a
    database key stored there would be lost on the next start."""
    keyring.set_keyring(keyring.backends.null.Keyring())
    with pytest.raises(KeychainUnavailable):
        KeyringSecrets()


def _named_backend(name: str, **attrs) -> MemoryKeyring:
    cls = type(name, (MemoryKeyring,), attrs)
    return cls()


@pytest.mark.parametrize("name", ["PlaintextKeyring", "UncryptedFileKeyring", "NullKeyring"])
def test_plaintext_backends_are_refused(name):
    keyring.set_keyring(_named_backend(name))
    with pytest.raises(KeychainUnavailable) as info:
        KeyringSecrets()
    assert name in str(info.value)


def test_chainer_without_backends_is_refused_and_with_backends_accepted():
    assert unusable_reason(_named_backend("ChainerBackend", backends=[])) != ""
    assert unusable_reason(_named_backend("ChainerBackend", backends=[MemoryKeyring()])) == ""
    assert unusable_reason(MemoryKeyring()) == ""


class _RaisingKeyring(MemoryKeyring):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def get_password(self, service, username):
        raise self.error

    def set_password(self, service, username, password):
        raise self.error

    def delete_password(self, service, username):
        raise self.error


@pytest.mark.parametrize("error", [
    keyring.errors.KeyringLocked("collection is locked"),
    keyring.errors.KeyringError("dbus said no"),
    keyring.errors.PasswordSetError("cannot set"),
    keyring.errors.InitError("cannot init"),
    OSError("secret service socket gone"),
], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("operation", ["get", "set", "delete"])
def test_backend_errors_become_keychain_unavailable(error, operation):
    keyring.set_keyring(_RaisingKeyring(error))
    secrets = KeyringSecrets()
    call = {"get": lambda: secrets.get("n"), "set": lambda: secrets.set("n", SECRET),
            "delete": lambda: secrets.delete("n")}[operation]
    with pytest.raises(KeychainUnavailable) as info:
        call()
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert SECRET not in str(info.value)
    if isinstance(error, keyring.errors.KeyringLocked):
        assert "locked" in str(info.value)


def test_python_keyring_backend_variable_is_honoured(monkeypatch, memory_keyring):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.MemoryKeyring")
    try:
        keyring.core.init_backend()
        chosen = keyring.get_keyring()
        assert isinstance(chosen, MemoryKeyring)
        assert chosen is not memory_keyring
        secrets = KeyringSecrets()
        secrets.set("portal-9-access", SECRET)
        assert chosen.entries == {(KEYCHAIN_SERVICE, "portal-9-access"): SECRET}
        assert memory_keyring.entries == {}
        assert "tests.support.memory_keyring.MemoryKeyring" in secrets.describe()
    finally:
        keyring.set_keyring(memory_keyring)


def test_python_keyring_backend_pointing_at_fail_is_refused(monkeypatch, memory_keyring):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    try:
        keyring.core.init_backend()
        with pytest.raises(KeychainUnavailable):
            KeyringSecrets()
    finally:
        keyring.set_keyring(memory_keyring)


# -- passphrase file ---------------------------------------------------------------------

@pytest.fixture
def secrets_file(data_dir) -> Path:
    return data_dir / "secrets.enc"


def test_passphrase_file_round_trip_and_reopen(secrets_file):
    store = PassphraseFileSecrets(secrets_file, "correct horse battery staple")
    assert secrets_file.exists() and _mode(secrets_file) == 0o600
    store.set("portal-1-refresh", SECRET)
    store.set("database-key", "ab" * 32)
    store.set("unicode", "pässwörd-ünïcødé-✓")
    assert store.get("portal-1-refresh") == SECRET
    assert store.get("missing") is None

    registry = SecretRegistry()
    reopened = PassphraseFileSecrets(secrets_file, "correct horse battery staple", registry)
    assert reopened.get("portal-1-refresh") == SECRET
    assert reopened.get("database-key") == "ab" * 32
    assert reopened.get("unicode") == "pässwörd-ünïcødé-✓"
    assert SECRET in registry.values()
    assert str(secrets_file) in reopened.describe()

    reopened.delete("portal-1-refresh")
    reopened.delete("never-there")
    third = PassphraseFileSecrets(secrets_file, "correct horse battery staple")
    assert third.get("portal-1-refresh") is None
    assert third.get("database-key") == "ab" * 32


def test_passphrase_file_never_holds_the_secret_in_clear(secrets_file):
    store = PassphraseFileSecrets(secrets_file, "pw-1234567")
    store.set("portal-1-refresh", SECRET)
    blob = secrets_file.read_bytes()
    assert SECRET.encode() not in blob
    assert base64.b64encode(SECRET.encode()) not in blob
    assert b"portal-1-refresh" not in blob  # entry names are sealed too
    assert b"pw-1234567" not in blob
    assert _mode(secrets_file) == 0o600
    assert [p.name for p in secrets_file.parent.iterdir()] == ["secrets.enc"]


def test_wrong_passphrase(secrets_file):
    PassphraseFileSecrets(secrets_file, "right one").set("k", SECRET)
    before = secrets_file.read_bytes()
    with pytest.raises(WrongPassphrase) as info:
        PassphraseFileSecrets(secrets_file, "wrong one")
    assert SECRET not in str(info.value)
    assert secrets_file.read_bytes() == before


@pytest.mark.parametrize("where", ["ciphertext", "tag", "salt", "nonce", "magic"])
def test_tampered_file_is_refused(secrets_file, where):
    PassphraseFileSecrets(secrets_file, "pw").set("k", SECRET)
    blob = bytearray(secrets_file.read_bytes())
    magic = len(b"WGSECRETS1")
    offset = {"magic": 0, "salt": magic + 1, "nonce": magic + crypto.SALT_BYTES + 1,
              "ciphertext": magic + crypto.SALT_BYTES + crypto.NONCE_BYTES + 2,
              "tag": len(blob) - 1}[where]
    blob[offset] ^= 0x01
    secrets_file.write_bytes(bytes(blob))
    with pytest.raises(WrongPassphrase):
        PassphraseFileSecrets(secrets_file, "pw")


@pytest.mark.parametrize("content", [b"", b"WGSECRETS1", b"WGSECRETS1" + b"\0" * 20,
                                     b"not a secrets file at all"])
def test_truncated_or_foreign_file_is_refused(secrets_file, content):
    secrets_file.write_bytes(content)
    with pytest.raises(WrongPassphrase):
        PassphraseFileSecrets(secrets_file, "pw")


def test_empty_passphrase_is_refused(secrets_file):
    with pytest.raises(WrongPassphrase):
        PassphraseFileSecrets(secrets_file, "")
    assert not secrets_file.exists()


def test_registry_gets_values_set_in_any_store(secrets_file):
    registry = SecretRegistry()
    PassphraseFileSecrets(secrets_file, "pw", registry).set("a", "file-secret-value")
    KeyringSecrets(registry).set("b", "keychain-secret-value")
    memory = MemorySecrets(registry)
    memory.set("c", "memory-secret-value")
    assert {"file-secret-value", "keychain-secret-value", "memory-secret-value"} <= set(
        registry.values())


def test_memory_secrets(data_dir):
    memory = MemorySecrets()
    memory.set("x", SECRET)
    assert memory.get("x") == SECRET
    memory.delete("x")
    memory.delete("x")
    assert memory.get("x") is None
    assert "memory" in memory.describe()
    assert list(data_dir.iterdir()) == []


# -- crypto --------------------------------------------------------------------------------

def test_seal_and_open():
    key = crypto.new_key()
    assert len(key) == 32
    blob = crypto.seal(key, b"payload", b"aad")
    assert crypto.open_sealed(key, blob, b"aad") == b"payload"
    assert crypto.seal(key, b"payload") != crypto.seal(key, b"payload")  # fresh nonce
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(key, blob, b"other aad")
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(crypto.new_key(), blob, b"aad")
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(key, blob[:20], b"aad")


def test_derive_key_is_deterministic_per_salt():
    salt = crypto.new_salt()
    assert len(salt) == crypto.SALT_BYTES
    assert crypto.derive_key("pw", salt) == crypto.derive_key("pw", salt)
    assert crypto.derive_key("pw", salt) != crypto.derive_key("pw2", salt)
    assert crypto.derive_key("pw", salt) != crypto.derive_key("pw", crypto.new_salt())


# -- the database key ---------------------------------------------------------------------

@pytest.fixture
def database(data_dir) -> Path:
    return data_dir / "workflowguard.db"


def _settings(**environ: str) -> Settings:
    return Settings.load(None, environ)


def test_hex_override_is_used_as_is(database):
    hex_key = "0123456789abcdefFEDCBA9876543210" * 2
    memory = MemorySecrets()
    key = database_key(_settings(HUBSPOT_TOKEN_ENCRYPTION_KEY=hex_key), memory, database)
    assert key == bytes.fromhex(hex_key)
    assert memory.get(DATABASE_KEY_NAME) is None
    assert not database.with_name("database.salt").exists()


def test_passphrase_override_is_stretched_with_a_private_salt(database, data_dir):
    settings = _settings(HUBSPOT_TOKEN_ENCRYPTION_KEY="my long passphrase")
    first = database_key(settings, MemorySecrets(), database)
    second = database_key(settings, None, database)
    assert first == second
    assert len(first) == 32
    salt = data_dir / "database.salt"
    assert salt.exists() and _mode(salt) == 0o600
    assert len(salt.read_bytes()) == crypto.SALT_BYTES
    assert first != "my long passphrase".encode()[:32]
    assert database_key(_settings(HUBSPOT_TOKEN_ENCRYPTION_KEY="another passphrase"),
                        None, database) != first


def test_same_passphrase_different_installs_different_keys(tmp_path):
    a = key_from_text("shared passphrase", tmp_path / "a.salt")
    b = key_from_text("shared passphrase", tmp_path / "b.salt")
    assert a != b


@pytest.mark.parametrize("text", ["ab" * 31, "ab" * 33, "zz" * 32])
def test_not_quite_hex_is_treated_as_passphrase(tmp_path, text):
    key = key_from_text(text, tmp_path / "db.salt")
    assert len(key) == 32
    assert (tmp_path / "db.salt").exists()


def test_override_beats_the_keychain(database, memory_keyring):
    KeyringSecrets().set(DATABASE_KEY_NAME, "11" * 32)
    key = database_key(_settings(HUBSPOT_TOKEN_ENCRYPTION_KEY="22" * 32), KeyringSecrets(),
                       database)
    assert key == bytes.fromhex("22" * 32)


def test_new_key_is_created_and_stored_when_the_database_is_missing(database, memory_keyring):
    key = database_key(_settings(), KeyringSecrets(), database)
    assert len(key) == 32
    assert memory_keyring.entries[(KEYCHAIN_SERVICE, DATABASE_KEY_NAME)] == key.hex()
    assert database_key(_settings(), KeyringSecrets(), database) == key
    assert not database.exists()


def test_empty_database_file_counts_as_missing(database):
    database.write_bytes(b"")
    memory = MemorySecrets()
    key = database_key(_settings(), memory, database)
    assert memory.get(DATABASE_KEY_NAME) == key.hex()


def test_existing_database_without_key_is_an_error_never_a_new_key(database, memory_keyring):
    database.write_bytes(b"\x01" * 4096)
    with pytest.raises(DatabaseKeyMissing) as info:
        database_key(_settings(), KeyringSecrets(), database)
    assert str(database) in str(info.value)
    assert "HUBSPOT_TOKEN_ENCRYPTION_KEY" in str(info.value)
    assert memory_keyring.entries == {}
    assert database.read_bytes() == b"\x01" * 4096


def test_no_secret_store_and_no_override(database):
    with pytest.raises(DatabaseKeyMissing):
        database_key(_settings(), None, database)


def test_stored_key_is_read_back(database):
    memory = MemorySecrets()
    memory.set(DATABASE_KEY_NAME, "ab" * 32)
    database.write_bytes(b"\x01" * 10)
    assert database_key(_settings(), memory, database) == bytes.fromhex("ab" * 32)


def test_garbled_keychain_entry_is_a_clear_error(database):
    """A keychain entry that is not hex must not escape as a bare ValueError."""
    memory = MemorySecrets()
    memory.set(DATABASE_KEY_NAME, "this is not hex at all")
    database.write_bytes(b"\x01" * 10)
    with pytest.raises(DatabaseKeyMissing):
        database_key(_settings(), memory, database)


def test_database_key_opens_the_store(database):
    from wg_desktop.store.db import open_store

    memory = MemorySecrets()
    store = open_store(database, database_key(_settings(), memory, database))
    store.close()
    again = open_store(database, database_key(_settings(), memory, database))
    try:
        assert again.schema_version() >= 1
    finally:
        again.close()
    assert os.path.getsize(database) > 0
