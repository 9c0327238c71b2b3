"""Moving keychain entries from their pre-instance names to scoped ones.

Before data folders had an instance id, every folder shared the entries
``database-key``, ``setting-*`` and ``portal-<hub>-tokens``. An existing
folder adopts them once, on its first start with this version:

- the database key and secret settings are copied (several folders may have
  been opened with the same shared key, so the old entry stays for them);
- a portal's tokens are moved (copied, then the old entry deleted): one token
  pair can only be live in one place, and a second folder that finds none
  shows the portal as "reconnect needed" instead of silently sharing it.

A marker file records that the folder has done this, so it never runs again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from wg_desktop.paths import write_private_atomic
from wg_desktop.security.secrets import DATABASE_KEY_NAME, KeyringSecrets, token_key

log = logging.getLogger(__name__)

MARKER_NAME = "keychain-scoped"


def needs_migration(data_dir: Path) -> bool:
    return not (data_dir / MARKER_NAME).exists()


def mark_done(data_dir: Path) -> None:
    write_private_atomic(data_dir / MARKER_NAME, b"1\n")


def _copy(legacy: KeyringSecrets, scoped: KeyringSecrets, name: str) -> bool:
    value = legacy.get(name)
    if value is None or scoped.get(name) is not None:
        return False
    scoped.set(name, value)
    return scoped.get(name) == value


def adopt_shared_entries(scoped: KeyringSecrets, secret_names: Iterable[str]) -> int:
    """Copy the shared database key and secret settings (before the store opens)."""
    legacy = scoped.unscoped()
    copied = sum(_copy(legacy, scoped, name) for name in (DATABASE_KEY_NAME, *secret_names))
    if copied:
        log.info("copied %d keychain entries to this data folder's own names", copied)
    return copied


def adopt_portal_tokens(scoped: KeyringSecrets, hub_ids: Iterable[int]) -> int:
    """Move each stored portal's tokens (after the store opens)."""
    legacy = scoped.unscoped()
    moved = 0
    for hub_id in hub_ids:
        name = token_key(hub_id, "tokens")
        if _copy(legacy, scoped, name):
            legacy.delete(name)
            moved += 1
    if moved:
        log.info("moved the tokens of %d portals to this data folder's keychain entries",
                 moved)
    return moved
