"""The one way a 256-bit key is kept in the keychain (database key, backup
key): a damaged entry is refused, a new key is read back before it is used,
and each caller words the failure for its own user."""

from __future__ import annotations

from pathlib import Path

import pytest

from wg_desktop.config import Settings
from wg_desktop.security.keys import (DatabaseKeyMissing, StoredKeyDamaged, StoredKeyNotKept,
                                      create_stored_key, database_key, stored_key)
from wg_desktop.services.backups import BackupError, backup_key


class DictSecrets:
    def __init__(self, keep: bool = True) -> None:
        self.values: dict[str, str] = {}
        self.keep = keep

    def get(self, name):
        return self.values.get(name)

    def set(self, name, value):
        if self.keep:
            self.values[name] = value

    def delete(self, name):
        self.values.pop(name, None)

    def describe(self):
        return "the test keychain"


def test_a_kept_key_reads_back_and_an_absent_one_is_none():
    secrets = DictSecrets()
    assert stored_key(secrets, "k") is None
    key = create_stored_key(secrets, "k")
    assert len(key) == 32 and stored_key(secrets, "k") == key


@pytest.mark.parametrize("text", ["not hex", "ab" * 31, "ab" * 33])
def test_a_damaged_entry_is_refused(text):
    secrets = DictSecrets()
    secrets.values["k"] = text
    with pytest.raises(StoredKeyDamaged):
        stored_key(secrets, "k")


def test_a_keychain_that_drops_writes_is_noticed():
    with pytest.raises(StoredKeyNotKept):
        create_stored_key(DictSecrets(keep=False), "k")


def test_the_database_and_backup_keys_word_each_failure(tmp_path: Path):
    settings = Settings.load(None, {})
    damaged = DictSecrets()
    damaged.values = {"database-key": "zz", "backup-key": "zz"}
    with pytest.raises(DatabaseKeyMissing, match="is damaged"):
        database_key(settings, damaged, tmp_path / "db")
    with pytest.raises(BackupError, match="the backup key in the test keychain is damaged"):
        backup_key(damaged, create=True)
    with pytest.raises(DatabaseKeyMissing, match="did not keep the new database key"):
        database_key(settings, DictSecrets(keep=False), tmp_path / "db")
    with pytest.raises(BackupError, match="did not keep the new backup key"):
        backup_key(DictSecrets(keep=False), create=True)
    assert backup_key(DictSecrets(), create=False) is None
