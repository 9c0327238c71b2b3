"""Opening a backup read-only, beside the live store.

A backup (this folder's own, or a portable copy with its passphrase) is
decrypted and verified by the functions of services/backups.py, re-keyed at
once into a SQLCipher file under a throw-away key that only lives in memory
(so no plain database stays on disk), migrated there if it is older, and
opened read-only as a second ``Store``. The live store stays the models'
process default; whoever reads the backup does it inside
``opened.store.session()`` (or ``bound()``), on its own thread, with the same
read services the live pages use.

Each opened backup has its own private folder (0700, file 0600) under the
cache folder, holding a lock file for as long as it is open: ``close()``
removes the folder; a process killed while a backup was open leaves one
behind, which ``sweep_opened_backups`` removes at the next open (its lock is
free once the owner died — the OS drops it).

Core module: no Qt. Blocking: call it off the GUI thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from wg_desktop.paths import Paths, make_private_dir
from wg_desktop.portable import FileLock, LockBusy
from wg_desktop.security import crypto
from wg_desktop.security.secrets import SecretStore
from wg_desktop.services.backup_format import BackupError, KeyKind, read_header
from wg_desktop.services.backups import (_discard, _encrypt_plain_into, _migrate_staged,
                                         check_plain, decrypt_to, key_resolver)
from wg_desktop.services.portal_list import portal_name
from wg_desktop.store.db import LATEST_VERSION, Check, Store, open_store
from wg_desktop.store.models import IMPORTED_AUTH_KIND, Portal, Workflow, WorkflowVersion
from wg_desktop.store.versions import latest_version, version_json

log = logging.getLogger(__name__)

OPENED_DIR = "opened-backups"
_LOCK_NAME = ".open.lock"
_DB_NAME = "backup.db"
_IMPORT_NAME_PREFIX = "Imported: "


def opened_root(paths: Paths) -> Path:
    return paths.cache_dir / OPENED_DIR


@dataclass(frozen=True)
class StoreCounts:
    """What a store holds, for "what will be replaced" and the browser's header."""

    portals: int
    workflows: int
    versions: int

    def text(self) -> str:
        return (f"{self.portals} portal{'s' if self.portals != 1 else ''}, "
                f"{self.workflows} workflow{'s' if self.workflows != 1 else ''}, "
                f"{self.versions} version{'s' if self.versions != 1 else ''}")


def store_counts(store: Store) -> StoreCounts:
    """Counts of ``store`` (any thread; bound for the call)."""
    with store.session():
        return StoreCounts(Portal.select().count(), Workflow.select().count(),
                           WorkflowVersion.select().count())


def portal_label(portal: Portal) -> str:
    """How a portal is named in the pages: an imported file is "imported from
    <file>", never a disconnected portal."""
    if portal.auth_kind == IMPORTED_AUTH_KIND or portal.hub_id < 0:
        source = portal.name.removeprefix(_IMPORT_NAME_PREFIX) or str(-portal.hub_id)
        return f"imported from {source}"
    return portal_name(portal.name, portal.hub_id)


@dataclass(frozen=True)
class PortalChoice:
    """A portal of an opened backup, as its browser's picker lists it."""

    hub_id: int
    label: str


def browsable_portals(store: Store) -> list[PortalChoice]:
    with store.session():
        return [PortalChoice(p.hub_id, portal_label(p))
                for p in Portal.select().order_by(Portal.hub_id < 0, Portal.name)]


@dataclass
class OpenedBackup:
    """One backup open read-only. ``close()`` it (or use it as a context manager)."""

    source: Path
    created_at: dt.datetime
    schema_version: int          # as the backup was made (the open copy is migrated past it)
    portable: bool
    store: Store
    folder: Path
    _lock: FileLock = field(repr=False)
    closed: bool = False

    @property
    def title(self) -> str:
        """The browser's mark: 'Viewing backup of 2026-11-28 12:00 (read-only)'."""
        return f"Viewing backup of {self.created_at.astimezone():%Y-%m-%d %H:%M} (read-only)"

    def counts(self) -> StoreCounts:
        return store_counts(self.store)

    def close(self) -> None:
        """Close the store and remove the private copy. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            self.store.close()
        finally:
            self._lock.release()
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "OpenedBackup":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep_opened_backups(paths: Paths) -> int:
    """Remove the private copies that killed processes left; never one that a
    running process still has open (its lock is held). Returns how many."""
    root = opened_root(paths)
    if not root.is_dir():
        return 0
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        lock = FileLock(folder / _LOCK_NAME)
        try:
            lock.acquire(timeout=0)
        except LockBusy:
            continue
        except OSError:
            continue
        lock.release()
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def is_portable(source: Path) -> bool:
    """Whether ``source`` needs a passphrase (raises BackupError for a foreign file)."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    with open(source, "rb") as handle:
        return read_header(handle).kind is KeyKind.PASSPHRASE


def open_backup(paths: Paths, source: Path, *, secrets: SecretStore | None,
                passphrase: str | None = None) -> OpenedBackup:
    """Decrypt, verify and open ``source`` read-only. Raises a one-line
    BackupError (wrong passphrase, tampered, newer schema, ...); nothing of it
    is left on disk then."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    sweep_opened_backups(paths)
    root = opened_root(paths)
    make_private_dir(root)
    folder = root / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    make_private_dir(folder)
    lock = FileLock(folder / _LOCK_NAME).acquire(timeout=0)
    plain = folder / ".plain"
    staged = folder / _DB_NAME
    try:
        header = decrypt_to(source, plain, key_resolver(secrets, passphrase))
        schema = check_plain(plain)
        if schema > LATEST_VERSION:
            raise BackupError(f"the backup was made by a newer WorkflowGuard (schema {schema}, "
                              f"this version knows {LATEST_VERSION}); update the app to open it")
        if schema != header.metadata.schema_version:
            raise BackupError(f"the backup's header says schema {header.metadata.schema_version}"
                              f" but its database has {schema}")
        # A key that never leaves memory: the copy on disk is as unreadable as
        # the live store, and goes with the folder when the backup is closed.
        key = crypto.new_key()
        _encrypt_plain_into(plain, staged, key)
        _discard(plain)
        if schema < LATEST_VERSION:
            # An older backup is brought up to date (opened writable for it);
            # a current one is opened read-only only.
            _migrate_staged(staged, key)
        store = open_store(staged, key, read_only=True, check=Check.NONE, as_default=False)
    except BaseException:
        _discard(plain)
        lock.release()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("opened backup %s read-only (schema %d)", source.name, schema)
    return OpenedBackup(source, header.metadata.created_at, schema,
                        header.kind is KeyKind.PASSPHRASE, store, folder, lock)


# -- the backup beside the live store ---------------------------------------------------

@dataclass(frozen=True)
class LiveStoreVersion:
    """The live store's latest version of a backup's workflow (the diff view's
    right side; ``definition`` is what it compares)."""

    workflow_id: int             # in the live store
    version_id: int
    captured_at: dt.datetime
    definition: Mapping[str, Any] = field(repr=False)


class LiveStoreCompare:
    """"Compare with the live store" for the diff view: a workflow of an opened
    backup against the live store's latest version of the same workflow (same
    portal hub id and HubSpot flow id). Called on the worker inside the
    backup's binding; the live side is read inside the live store's."""

    label = "Latest in the live store"
    hint = "The newest version of this workflow in the live store"
    reading_text = "Reading the live store…"

    def __init__(self, backup: Store, live: Store) -> None:
        self.backup = backup
        self.live_store = live

    def live(self, workflow_id: int) -> LiveStoreVersion:
        from wg_desktop.services.workflows import WorkflowNotFound   # a cycle otherwise
        with self.backup.bound():
            workflow = Workflow.get_or_none(Workflow.id == workflow_id)
            if workflow is None:
                raise WorkflowNotFound("This workflow is not in the backup.")
            hub_id, flow_id, name = workflow.portal.hub_id, workflow.flow_id, workflow.name
        with self.live_store.session():
            match = (Workflow.select().join(Portal)
                     .where((Portal.hub_id == hub_id) & (Workflow.flow_id == flow_id)).first())
            version = latest_version(match) if match is not None else None
            if version is None:
                raise WorkflowNotFound(f"'{name}' ({hub_id}:{flow_id}) has no stored version in "
                                       "the live store to compare with.")
            return LiveStoreVersion(match.id, version.id, version.captured_at,
                                    version_json(version))


__all__ = ["LiveStoreCompare", "LiveStoreVersion", "OpenedBackup", "PortalChoice", "StoreCounts",
           "browsable_portals", "is_portable", "open_backup", "opened_root", "portal_label",
           "store_counts", "sweep_opened_backups"]
