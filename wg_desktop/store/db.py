"""Opening the encrypted database and running its migrations.

Whole-file encryption with SQLCipher 4 (AES-256): pages, indexes, the WAL and
free pages are all encrypted, so no column can be forgotten. The 256-bit key is
handed over raw (``x'…'``), which skips SQLCipher's per-connection PBKDF2 — the
key is already random (keychain) or derived once with scrypt.
"""

from __future__ import annotations

import logging
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import peewee as pw
from playhouse.migrate import SqliteMigrator
from playhouse.migrate import migrate as migrate_schema
from playhouse.sqlcipher_ext import SqlCipherDatabase
from sqlcipher3 import dbapi2 as sqlcipher

from wg_desktop.paths import make_private_file
from wg_desktop.store import models

log = logging.getLogger(__name__)

PRAGMAS = (
    ("journal_mode", "wal"),      # readers never block on a sync's writes
    ("synchronous", "normal"),    # safe with WAL: a crash loses at most the last commit
    ("foreign_keys", 1),
    ("busy_timeout", 10_000),
    ("cache_size", -16_000),
)


class StoreError(RuntimeError):
    """The database cannot be opened or migrated. The message is for the user."""


class StoreKeyError(StoreError):
    pass


class _RawKeyCipherDatabase(SqlCipherDatabase):
    def _connect(self):
        params = dict(self.connect_params)
        key: bytes = params.pop("raw_key")
        params.pop("passphrase", None)
        conn = sqlcipher.connect(self.database, isolation_level=None, **params)
        try:
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            self._add_conn_hooks(conn)
        except Exception:
            conn.close()
            raise
        return conn


# -- migrations ---------------------------------------------------------------

def _m1_core_tables(db: pw.Database) -> None:
    db.create_tables(models.CORE_MODELS)


def _m2_jobs_and_budget(db: pw.Database) -> None:
    db.create_tables(models.MIGRATION_2_MODELS)


def _m3_version_deltas(db: pw.Database) -> None:
    # Migration 1 creates tables from today's models, so on a new database the
    # columns exist already; on an old one they are added.
    existing = {c.name for c in db.get_columns("workflow_version")}
    migrator = SqliteMigrator(db)
    steps = []
    if "encoding" not in existing:
        steps.append(migrator.add_column("workflow_version", "encoding",
                                         pw.TextField(default="zstd")))
    if "base_id" not in existing:
        steps.append(migrator.add_column("workflow_version", "base_id",
                                         pw.IntegerField(null=True)))
        steps.append(migrator.add_index("workflow_version", ("base_id",), False))
    if steps:
        migrate_schema(*steps)


# Numbered migrations; never edit a released one, add a new number.
MIGRATIONS: tuple[tuple[int, Callable[[pw.Database], None]], ...] = (
    (1, _m1_core_tables),
    (2, _m2_jobs_and_budget),
    (3, _m3_version_deltas),
)
LATEST_VERSION = MIGRATIONS[-1][0]


@dataclass
class Store:
    """An open database. ``writing()`` serialises writers across threads."""

    db: pw.Database
    path: Path
    _write_lock: threading.RLock

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._write_lock, self.db.atomic():
            yield

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold this thread's connection for the block, then close it.

        Worker threads of a Qt pool are not Python threads: their thread
        state (and peewee's thread-local connection with it) is torn down
        without the GIL after each call, which crashes sqlite's finaliser. A
        worker therefore closes its own connection before returning.
        """
        # No eager connect: peewee connects on the first query, inside the
        # caller's own error handling, so a failing connect reaches on_error.
        opened_here = self.db.is_closed()
        try:
            yield
        finally:
            if opened_here and not self.db.is_closed():
                self.db.close()

    def schema_version(self) -> int:
        return current_version(self.db)

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()


def open_store(path: Path, key: bytes, *, target_version: int = LATEST_VERSION) -> Store:
    """Open (creating if needed) the encrypted database at ``path`` and migrate it."""
    if len(key) != 32:
        raise StoreKeyError("The database key must be 32 bytes.")
    is_new = not path.exists()
    if is_new:
        make_private_file(path)
    db = _RawKeyCipherDatabase(str(path), raw_key=key, pragmas=PRAGMAS,
                               check_same_thread=False)
    try:
        db.connect(reuse_if_open=True)
        db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()
    except pw.DatabaseError as exc:
        db.close()
        if "not a database" in str(exc):
            raise StoreKeyError(
                f"Cannot open {path}: the database key is wrong or the file is damaged. "
                "Your data was not changed. If you moved the app to another machine, set "
                "HUBSPOT_TOKEN_ENCRYPTION_KEY or restore from a backup.") from None
        raise StoreError(f"Cannot open {path}: {exc}") from None
    models.database_proxy.initialize(db)
    try:
        migrate(db, path, target_version)
    except Exception:
        db.close()
        raise
    return Store(db, path, threading.RLock())


def current_version(db: pw.Database) -> int:
    if not db.table_exists("schema_version"):
        return 0
    row = db.execute_sql("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(db: pw.Database, path: Path, target_version: int = LATEST_VERSION) -> None:
    version = current_version(db)
    if version > LATEST_VERSION:
        raise StoreError(f"{path} was written by a newer WorkflowGuard (schema {version}, "
                         f"this version knows {LATEST_VERSION}). Update the app.")
    pending = [(n, step) for n, step in MIGRATIONS if version < n <= target_version]
    if not pending:
        return
    if version > 0:
        backup_before_migration(db, path, version)
    for number, step in pending:
        # Each migration commits alone: a failure leaves the previous version intact.
        try:
            with db.atomic():
                step(db)
                models.SchemaVersion.create(version=number)
        except Exception as exc:
            raise StoreError(f"Updating {path} to schema {number} failed ({exc}); the data "
                             f"is unchanged at schema {current_version(db)}.") from exc
        log.info("database migrated to schema %d", number)


def backup_before_migration(db: pw.Database, path: Path, version: int) -> Path:
    """Copy the database aside (after folding the WAL into it) before migrating."""
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    target = path.with_name(f"{path.name}.pre-migration-v{version}")
    shutil.copy2(path, target)
    target.chmod(0o600)
    log.info("copied the database to %s before migrating", target)
    return target
