"""One data folder = one independent instance of the app.

Each data folder has an instance id (a random UUID in ``instance-id``) that
scopes its keychain entries, so two folders (``--data-dir``, ``WG_DATA_DIR``,
a portable copy) never read or overwrite each other's database key or tokens.

Opening a folder is serialised by ``.start.lock``: whoever holds it reads or
creates the instance id, the database key and the database, so several first
starts at once (or a window and a command) cannot each create a key and leave
a database that no key opens.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wg_desktop.paths import Paths, write_private_atomic
from wg_desktop.portable import FileLock, LockBusy

# Opening can include a schema migration of a large store.
START_LOCK_TIMEOUT_S = 120.0


class InstanceBusy(RuntimeError):
    """Another process keeps the data folder locked for too long."""


def sync_lock_path(data_dir: Path, hub_id: int) -> Path:
    """Held by whichever process (window or command line) syncs the portal."""
    return data_dir / f".sync-{int(hub_id)}.lock"


def read_instance_id(paths: Paths) -> str | None:
    try:
        text = paths.instance_id_file.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def ensure_instance_id(paths: Paths) -> tuple[str | None, bool]:
    """This folder's instance id and whether it was created now.

    Call while holding the start lock. A read-only folder without an id gets
    None: its entries are read under the pre-instance (unscoped) names.
    """
    existing = read_instance_id(paths)
    if existing is not None:
        return existing, False
    if not paths.writable():
        return None, False
    new_id = str(uuid.uuid4())
    write_private_atomic(paths.instance_id_file, (new_id + "\n").encode("ascii"))
    return new_id, True


@contextmanager
def holding_start_lock(paths: Paths, timeout: float = START_LOCK_TIMEOUT_S) -> Iterator[bool]:
    """Hold the folder's start lock for the block; yields False when the
    folder cannot hold a lock file (read-only), where nothing can be created."""
    if not paths.writable():
        yield False
        return
    lock = FileLock(paths.start_lock_file)
    try:
        lock.acquire(timeout=timeout)
    except LockBusy as exc:
        who = f"pid {exc.holder_pid}" if exc.holder_pid else "another process"
        raise InstanceBusy(f"{paths.data_dir} is being opened by {who} for more than "
                           f"{timeout:.0f} s; try again when it has started.") from None
    try:
        yield True
    finally:
        lock.release()
