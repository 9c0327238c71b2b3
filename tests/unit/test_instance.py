"""Each data folder is its own instance: its own id, keychain entries, store."""

from __future__ import annotations

import json

from tests.support.context import make_context
from wg_desktop.paths import Paths
from wg_desktop.security import crypto
from wg_desktop.security.keychain_migration import MARKER_NAME
from wg_desktop.security.secrets import DATABASE_KEY_NAME, KEYCHAIN_SERVICE, token_key
from wg_desktop.services.tokens import TokenSet, TokenVault
from wg_desktop.store.db import open_store
from wg_desktop.store.models import Portal


def test_two_data_folders_keep_separate_keys_and_tokens(tmp_path, memory_keyring):
    one, two = make_context(tmp_path / "one"), make_context(tmp_path / "two")
    try:
        assert one.instance_id and two.instance_id and one.instance_id != two.instance_id
        keys = {user for (service, user) in memory_keyring.entries
                if user.endswith(DATABASE_KEY_NAME)}
        assert keys == {f"{one.instance_id}/{DATABASE_KEY_NAME}",
                        f"{two.instance_id}/{DATABASE_KEY_NAME}"}
        vault_one, vault_two = TokenVault(one.secrets), TokenVault(two.secrets)
        vault_one.save(42, TokenSet("access-one-123456", "refresh-one-123456", None, ()))
        vault_two.save(42, TokenSet("access-two-123456", "refresh-two-123456", None, ()))
        assert vault_one.load(42).refresh_token == "refresh-one-123456"
        vault_two.delete(42)                 # disconnecting in one folder ...
        assert vault_one.load(42) is not None  # ... leaves the other's tokens alone
    finally:
        one.close()
        two.close()


def test_a_folder_keeps_its_instance_id_across_starts(tmp_path):
    first = make_context(tmp_path / "d")
    first.close()
    again = make_context(tmp_path / "d")
    again.close()
    assert first.instance_id == again.instance_id
    assert (tmp_path / "d" / "instance-id").read_text().strip() == first.instance_id


def test_an_existing_folder_adopts_its_pre_instance_entries_once(tmp_path, memory_keyring):
    folder = tmp_path / "old"
    paths = Paths.resolve(folder, {}).ensure()
    key = crypto.new_key()
    store = open_store(paths.database, key)
    Portal.create(hub_id=7, name="Old portal")
    store.close()
    tokens = json.dumps({"access_token": "legacy-access-123456",
                         "refresh_token": "legacy-refresh-123456"})
    memory_keyring.entries[(KEYCHAIN_SERVICE, DATABASE_KEY_NAME)] = key.hex()
    memory_keyring.entries[(KEYCHAIN_SERVICE, token_key(7, "tokens"))] = tokens

    ctx = make_context(folder)
    try:
        scoped = ctx.instance_id
        assert Portal.get(Portal.hub_id == 7).name == "Old portal"   # opened with the old key
        assert memory_keyring.entries[(KEYCHAIN_SERVICE, f"{scoped}/{DATABASE_KEY_NAME}")] \
            == key.hex()
        assert memory_keyring.entries[(KEYCHAIN_SERVICE, f"{scoped}/portal-7-tokens")] == tokens
        # Tokens move (one live pair, one owner); the shared key stays for other folders.
        assert (KEYCHAIN_SERVICE, token_key(7, "tokens")) not in memory_keyring.entries
        assert (KEYCHAIN_SERVICE, DATABASE_KEY_NAME) in memory_keyring.entries
        assert (folder / MARKER_NAME).exists()
    finally:
        ctx.close()


def test_a_new_folder_never_takes_the_shared_pre_instance_entries(tmp_path, memory_keyring):
    memory_keyring.entries[(KEYCHAIN_SERVICE, DATABASE_KEY_NAME)] = "11" * 32
    memory_keyring.entries[(KEYCHAIN_SERVICE, token_key(7, "tokens"))] = "{}"
    ctx = make_context(tmp_path / "new")
    try:
        stored = memory_keyring.entries[(KEYCHAIN_SERVICE,
                                         f"{ctx.instance_id}/{DATABASE_KEY_NAME}")]
        assert stored != "11" * 32
        assert memory_keyring.entries[(KEYCHAIN_SERVICE, token_key(7, "tokens"))] == "{}"
    finally:
        ctx.close()
