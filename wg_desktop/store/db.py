"""Opening the encrypted database and running its migrations.

Whole-file encryption with SQLCipher 4 (AES-256): pages, indexes, the WAL and
free pages are all encrypted, so no column can be forgotten. The 256-bit key is
handed over raw (``x'…'``), which skips SQLCipher's per-connection PBKDF2 — the
key is already random (keychain) or derived once with scrypt.
"""

from __future__ import annotations

import enum
import logging
import os
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
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
# A read-only connection must not try to switch the journal mode (that is a write)
# and query_only turns any stray write into an error instead of a surprise.
READ_ONLY_PRAGMAS = (
    ("foreign_keys", 1),
    ("busy_timeout", 10_000),
    ("cache_size", -16_000),
    ("query_only", 1),
)

# What SQLite says when pages cannot be read back. SQLCipher reports a page whose
# HMAC fails as "malformed", and once one page failed every later statement on that
# connection fails too — writes then say "readonly", which misleads.
DAMAGE_MESSAGES = ("database disk image is malformed", "file is not a database",
                   "database corrupt")
READ_ONLY_MESSAGE = "attempt to write a readonly database"


class StoreError(RuntimeError):
    """The database cannot be opened or migrated. The message is for the user."""


class StoreKeyError(StoreError):
    pass


class StoreDamaged(StoreError):
    """Pages of the database file cannot be read back. One line, for the user."""

    def __init__(self, path: Path, detail: str = "") -> None:
        self.path = path
        self.detail = detail
        super().__init__(damaged_message(path, detail))


class StoreReadOnly(StoreError):
    """A change was asked of a store that was opened read-only."""


def damaged_message(path: Path, detail: str = "") -> str:
    what = f" ({detail})" if detail else ""
    return (f"The database {path} is damaged{what}. Run 'wg-desktop doctor' for a report "
            "and 'wg-desktop doctor --repair' to save every readable row into a new file, "
            "or restore a backup.")


class Check(enum.StrEnum):
    """Which check ``open_store`` runs before handing the store out."""

    AUTO = "auto"      # quick_check only when the last shutdown was not clean
    QUICK = "quick"
    FULL = "full"
    NONE = "none"


class _RawKeyCipherDatabase(SqlCipherDatabase):
    def _connect(self):
        params = dict(self.connect_params)
        key: bytes = params.pop("raw_key")
        params.pop("passphrase", None)
        conn = sqlcipher.connect(self.database, isolation_level=None, **params)
        try:
            # SQLCipher otherwise writes a dozen lines per unreadable page to stderr;
            # damage is reported once, by us, in words the user can act on.
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            self._add_conn_hooks(conn)
        except Exception:
            conn.close()
            raise
        return conn


def connect_raw(path: Path, key: bytes, *, read_only: bool = True,
                immutable: bool = False) -> sqlcipher.Connection:
    """A plain sqlcipher3 connection (no peewee), for checks and salvage.

    After SQLCipher met one unreadable page, every later statement of that
    connection fails, so whoever reads a damaged file opens a fresh one per try.
    """
    if read_only:
        mode = "ro&immutable=1" if immutable else "ro"
        conn = sqlcipher.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                                 isolation_level=None, check_same_thread=False)
    else:
        conn = sqlcipher.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    except Exception:
        conn.close()
        raise
    return conn


# A cursor's fetch raises SQLCipher's own DatabaseError (peewee wraps only
# execute): every handler here catches both.
DATABASE_ERRORS = (pw.DatabaseError, sqlcipher.DatabaseError)


def is_damage_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, DATABASE_ERRORS) and any(
        m in text for m in DAMAGE_MESSAGES)


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


def _m4_audit_chain(db: pw.Database) -> None:
    """Hash-chain the audit log (see services/audit.py): add the hash columns and
    the chain state row, then chain the existing entries in id order from the
    genesis hash, timestamps hashed in their stored text form."""
    existing = {c.name for c in db.get_columns("audit_event")}
    migrator = SqliteMigrator(db)
    steps = [migrator.add_column("audit_event", name, pw.TextField(null=True))
             for name in ("prev_hash", "entry_hash") if name not in existing]
    if steps:
        migrate_schema(*steps)
    db.create_tables(models.MIGRATION_4_MODELS)
    head_hash, head_id = models.GENESIS_HASH, 0
    rows = db.execute_sql("SELECT id, timestamp, action, portal_hub_id, outcome, details "
                          "FROM audit_event ORDER BY id").fetchall()
    for entry_id, timestamp, action, portal_hub_id, outcome, details in rows:
        entry_hash = models.audit_entry_hash(entry_id, timestamp, action, portal_hub_id,
                                             outcome, details, head_hash)
        db.execute_sql("UPDATE audit_event SET prev_hash = ?, entry_hash = ? WHERE id = ?",
                       (head_hash, entry_hash, entry_id))
        head_hash, head_id = entry_hash, entry_id
    state = models.AuditChainState(id=1, head_hash=head_hash, head_id=head_id)
    state.seal = state.sealed()
    state.save(force_insert=True)


def _m5_version_search(db: pw.Database) -> None:
    """The full-text index of every stored version (store/search.py): the FTS5
    table, the trigger that drops deleted versions from it, and one fill from
    the versions stored before it existed."""
    # Imported here: the store's search module is only needed by this step.
    from wg_desktop.store import search
    search.create_index(db)
    search.rebuild_index(db)


def _m6_backup_log(db: pw.Database) -> None:
    """The backup log (store/backup_models.py)."""
    # Imported here: only this step needs the backup models.
    from wg_desktop.store import backup_models
    db.create_tables(backup_models.MIGRATION_6_MODELS)


def _m7_health_and_alerts(db: pw.Database) -> None:
    """Health samples, alerts with their life cycle, mutes and the channels'
    delivery log (store/health_models.py)."""
    # Imported here: only this step needs the health models.
    from wg_desktop.store import health_models
    db.create_tables(health_models.MIGRATION_7_MODELS)


def _m8_changes_feed(db: pw.Database) -> None:
    """The Changes feed: what each sync found (store/change_models.py)."""
    # Imported here: only this step needs the feed model.
    from wg_desktop.store import change_models
    db.create_tables(change_models.MIGRATION_8_MODELS)


def _m9_health_usage_and_epoch(db: pw.Database) -> None:
    """Health samples gain HubSpot's daily private-app count and an integer
    epoch of their timestamp (store/health_models.py); existing samples get
    their epoch now, new ones from a trigger whoever inserts them."""
    # Imported here: only this step needs the health models.
    from wg_desktop.store import health_models as hm
    table = hm.PortalHealthSample._meta.table_name
    # Migration 7 creates the table from today's model, so on a new database
    # the columns exist already; on an old one they are added.
    existing = {c.name for c in db.get_columns(table)}
    fields = hm.PortalHealthSample._meta.fields
    migrator = SqliteMigrator(db)
    steps = [migrator.add_column(table, name, fields[name])
             for name in hm.MIGRATION_9_COLUMNS if name not in existing]
    if steps:
        migrate_schema(*steps)
    db.execute_sql(f"UPDATE {table} SET epoch = {hm.SAMPLE_EPOCH_SQL.format(ts='timestamp')} "
                   "WHERE epoch IS NULL")
    db.execute_sql(hm.SAMPLE_EPOCH_TRIGGER)


def _m10_health_connections_and_period_indexes(db: pw.Database) -> None:
    """Health samples gain the client's open connections; the dashboard's
    period scans get covering indexes (store/health_models.py)."""
    from wg_desktop.store import health_models as hm
    table = hm.PortalHealthSample._meta.table_name
    existing = {c.name for c in db.get_columns(table)}
    fields = hm.PortalHealthSample._meta.fields
    migrator = SqliteMigrator(db)
    steps = [migrator.add_column(table, name, fields[name])
             for name in hm.MIGRATION_10_COLUMNS if name not in existing]
    if steps:
        migrate_schema(*steps)
    db.execute_sql(hm.SAMPLE_PERIOD_INDEX)
    db.execute_sql(hm.API_CALL_PERIOD_INDEX)


def _m11_health_hourly_rollup(db: pw.Database) -> None:
    """The samples' hourly rollup the long-period charts read, filled once
    from the samples stored so far and kept by triggers from then on
    (store/health_models.py)."""
    from wg_desktop.store import health_models as hm
    db.execute_sql(hm.SAMPLE_HOURLY_TABLE)
    db.execute_sql(hm.SAMPLE_HOUR_INDEX)
    db.execute_sql(hm.SAMPLE_TIME_INDEX)
    db.execute_sql(hm.SAMPLE_HOURLY_BACKFILL)
    for trigger in hm.SAMPLE_HOURLY_TRIGGERS:
        db.execute_sql(trigger)


# Numbered migrations; never edit a released one, add a new number.
MIGRATIONS: tuple[tuple[int, Callable[[pw.Database], None]], ...] = (
    (1, _m1_core_tables),
    (2, _m2_jobs_and_budget),
    (3, _m3_version_deltas),
    (4, _m4_audit_chain),
    (5, _m5_version_search),
    (6, _m6_backup_log),
    (7, _m7_health_and_alerts),
    (8, _m8_changes_feed),
    (9, _m9_health_usage_and_epoch),
    (10, _m10_health_connections_and_period_indexes),
    (11, _m11_health_hourly_rollup),
)
LATEST_VERSION = MIGRATIONS[-1][0]


@dataclass
class Store:
    """An open database. ``writing()`` serialises writers across threads.

    ``read_only`` is True when the file could not be opened for writing (a
    read-only folder or file) or was found damaged; ``notice`` then says why in
    one line, for a log line, a banner or stderr.
    """

    db: pw.Database
    path: Path
    _write_lock: threading.RLock
    read_only: bool = False
    read_only_reason: str = ""
    damage: str = ""                       # what the check at open found, if anything
    _marker: Path | None = field(default=None, repr=False)

    @property
    def key(self) -> bytes:
        return self.db.connect_params["raw_key"]

    @property
    def notice(self) -> str | None:
        return f"opened read-only: {self.read_only_reason}" if self.read_only else None

    def read_only_error(self) -> StoreError:
        if self.damage:
            return StoreDamaged(self.path, self.damage)
        return StoreReadOnly(
            f"{self.path} was opened read-only ({self.read_only_reason}), so nothing can be "
            "changed; copy the data folder somewhere writable to change it.")

    @contextmanager
    def bound(self) -> Iterator["Store"]:
        """The models read and write this store in the current thread for the
        block; other threads keep theirs (see ``models.ThreadBoundProxy``)."""
        with models.bound_to(self.db):
            yield self

    @contextmanager
    def writing(self) -> Iterator[None]:
        if self.read_only:
            raise self.read_only_error()
        # Bound as well: a write through this store lands in it even when the
        # thread is browsing another one (an opened backup).
        with self._write_lock, self.bound(), self.db.atomic():
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
            with self.bound():
                yield
        finally:
            if opened_here and not self.db.is_closed():
                self.db.close()

    def end_thread_connection(self) -> None:
        """Close this thread's connection, if it has one: for a pooled worker
        that opened the store (see :meth:`session`) and hands it on."""
        if not self.db.is_closed():
            self.db.close()

    def detach_connection(self) -> Callable[[], None]:
        """Take this thread's connection away from peewee without closing it,
        and return what closes it — to be called on a worker: closing the last
        connection checkpoints the WAL, which is disk work the GUI thread must
        not do. (The connection was opened with check_same_thread=False.)"""
        with self.db._lock:
            if self.db.in_transaction():
                raise StoreError("a transaction is open on this thread's connection")
            conn = None if self.db._state.closed else self.db._state.conn
            self.db._state.reset()
        return (lambda: conn.close()) if conn is not None else (lambda: None)

    def schema_version(self) -> int:
        return current_version(self.db)

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()
        if self._marker is not None:
            _remove_marker(self._marker)
            self._marker = None


def marker_path(path: Path) -> Path:
    """The clean-shutdown marker: present while a process has the store open."""
    return path.with_name(f"{path.name}.open")


def _marker_text() -> str:
    return f"open by pid {os.getpid()}\n"


def _write_marker(marker: Path) -> Path | None:
    try:
        fd = os.open(marker, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_marker_text())
    except OSError as exc:
        # The marker only decides whether the next start runs a check; failing to
        # write it must not keep the user from their data.
        log.warning("cannot write the clean-shutdown marker %s: %s", marker, exc)
        return None
    return marker


def _remove_marker(marker: Path) -> None:
    # Another process that opened the store after us rewrote the marker with its
    # pid; it is that process's to remove when it closes.
    try:
        if marker.read_text(encoding="utf-8") == _marker_text():
            marker.unlink()
    except OSError:
        pass


def read_only_reason(path: Path) -> str | None:
    """Why ``path`` cannot be opened for writing, or None when it can."""
    folder = path.parent
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    return None


def open_store(path: Path, key: bytes, *, target_version: int = LATEST_VERSION,
               read_only: bool | None = None, check: Check | str = Check.AUTO,
               as_default: bool = True) -> Store:
    """Open (creating if needed) the encrypted database at ``path`` and migrate it.

    ``read_only``: None opens read-only only when the file or its folder is not
    writable; True always; False never. A store found damaged by ``check`` is
    opened read-only (``store.damage`` says what was found) so what is readable
    stays browsable; if nothing is readable, StoreDamaged is raised.
    ``as_default``: make it the models' process-wide store (the live store);
    False leaves the default alone (an opened backup, a staged restore), and
    the caller reaches it through ``store.bound()``.
    """
    if len(key) != 32:
        raise StoreKeyError("The database key must be 32 bytes.")
    check = Check(check)
    if read_only is None:
        reason = read_only_reason(path)
    else:
        reason = "read-only was asked for" if read_only else None
    if reason is not None:
        return _open_read_only(path, key, reason, check, target_version, as_default=as_default)
    marker = marker_path(path)
    unclean = marker.exists()
    is_new = not path.exists()
    if is_new:
        make_private_file(path)
    db = _RawKeyCipherDatabase(str(path), raw_key=key, pragmas=PRAGMAS,
                               check_same_thread=False)
    # A failed open leaves no connection behind: on a pooled worker (the window
    # opens its data on one) a connection left open crashes at thread teardown.
    try:
        _validate(db, path)
        damage = _run_check(db, check, unclean)
    except BaseException:
        db.close()
        raise
    if damage:
        db.close()
        log.info("%s", damaged_message(path, damage))   # shown as store.notice
        return _open_read_only(path, key, damaged_message(path, damage), Check.NONE,
                               target_version, damage=damage, as_default=as_default)
    if unclean:
        log.info("%s was not closed cleanly last time; its check found no damage", path)
    if as_default:
        models.database_proxy.initialize(db)
    try:
        with models.bound_to(db):      # the migrations' model calls reach this file
            migrate(db, path, target_version)
    except Exception as exc:
        db.close()
        if is_damage_error(exc):
            raise StoreDamaged(path, str(exc)) from None
        raise
    return Store(db, path, threading.RLock(), _marker=_write_marker(marker))


def _validate(db: pw.Database, path: Path) -> None:
    """Connect and read the schema and its version: a wrong key or a damaged
    first page shows here, before anything else touches the file."""
    try:
        db.connect(reuse_if_open=True)
        db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()
        current_version(db)
    except DATABASE_ERRORS as exc:
        db.close()
        if "not a database" in str(exc):
            raise StoreKeyError(
                f"Cannot open {path}: the database key is wrong or the file is damaged. "
                "Your data was not changed. If you moved the app to another machine, set "
                "HUBSPOT_TOKEN_ENCRYPTION_KEY or restore from a backup.") from None
        if is_damage_error(exc):
            raise StoreDamaged(path, str(exc)) from None
        raise StoreError(f"Cannot open {path}: {exc}") from None


def _run_check(db: pw.Database, check: Check, unclean: bool) -> str:
    """'' when the check passes or is skipped, else the first problem found."""
    if check is Check.NONE or (check is Check.AUTO and not unclean):
        return ""
    pragma = "integrity_check" if check is Check.FULL else "quick_check"
    try:
        rows = db.execute_sql(f"PRAGMA {pragma}").fetchall()
    except DATABASE_ERRORS as exc:
        if is_damage_error(exc):
            return f"{pragma}: {exc}"
        raise
    if rows == [("ok",)]:
        return ""
    lines = [line for row in rows for line in str(row[0]).splitlines()
             if line and not line.startswith("***")]
    return f"{pragma}: {lines[0] if lines else rows[0][0]}"


def _open_read_only(path: Path, key: bytes, reason: str, check: Check,
                    target_version: int, *, damage: str = "", as_default: bool = True) -> Store:
    if not path.exists():
        raise StoreError(f"Cannot open {path}: it does not exist, and {reason} so it "
                         "cannot be created.")
    # Without write access to the folder SQLite cannot create the -shm file a WAL
    # database needs; immutable=1 reads the main file alone, without locks.
    immutable = not os.access(path.parent, os.W_OK)
    wal = path.with_name(f"{path.name}-wal")
    if immutable and wal.exists() and wal.stat().st_size > 0:
        reason += f"; changes still in {wal.name} are not shown"
    db = _RawKeyCipherDatabase(f"{path.resolve().as_uri()}?mode=ro"
                               + ("&immutable=1" if immutable else ""),
                               raw_key=key, pragmas=READ_ONLY_PRAGMAS,
                               check_same_thread=False, uri=True)
    try:
        _validate(db, path)
        found = _run_check(db, check, marker_path(path).exists())
    except BaseException:
        db.close()
        raise
    if found and not damage:
        damage = found
        reason = damaged_message(path, damage)
        db.close()
        db.connect()   # SQLCipher fails every statement after one bad page: start afresh
    try:
        version = current_version(db)
    except DATABASE_ERRORS as exc:
        db.close()
        if is_damage_error(exc):
            raise StoreDamaged(path, damage or str(exc)) from None
        raise StoreError(f"Cannot open {path}: {exc}") from None
    if version > LATEST_VERSION:
        db.close()
        raise StoreError(f"{path} was written by a newer WorkflowGuard (schema {version}, "
                         f"this version knows {LATEST_VERSION}). Update the app.")
    if version < target_version:
        db.close()
        if damage:
            raise StoreDamaged(path, damage)
        raise StoreReadOnly(
            f"{path} has schema {version}, older than this app's {target_version}, and "
            f"cannot be upgraded because {reason}. Open it once from a writable copy of "
            "the data folder to upgrade it.")
    if as_default:
        models.database_proxy.initialize(db)
    log.info("opened read-only: %s", reason)   # the CLI and window show store.notice
    return Store(db, path, threading.RLock(), read_only=True, read_only_reason=reason,
                 damage=damage)


def explain_database_error(exc: BaseException, store: Store) -> StoreError | None:
    """The one-line StoreError a raw DatabaseError raised by a query stands for,
    or None when it is not about the file (the caller reports it as unexpected).

    "readonly" on a store opened for writing is what SQLCipher says after it met
    a damaged page; a fresh quick_check tells that apart from a real permission
    problem.
    """
    if isinstance(exc, StoreError):
        return exc
    if not isinstance(exc, DATABASE_ERRORS):
        return None
    if is_damage_error(exc):
        return StoreDamaged(store.path, str(exc))
    if READ_ONLY_MESSAGE not in str(exc):
        return None
    if store.read_only:
        return store.read_only_error()
    problem = quick_check_file(store.path, store.key)
    if problem:
        return StoreDamaged(store.path, problem)
    return StoreReadOnly(f"{store.path} cannot be written ({exc}); check the permissions "
                         "of the file and its folder and the free space on its disk.")


def quick_check_file(path: Path, key: bytes) -> str:
    """Run quick_check on a fresh read-only connection: '' when healthy, else
    the first problem."""
    try:
        conn = connect_raw(path, key, immutable=not os.access(path.parent, os.W_OK))
    except sqlcipher.DatabaseError as exc:
        return f"quick_check: {exc}"
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlcipher.DatabaseError as exc:
        return f"quick_check: {exc}"
    finally:
        conn.close()
    if rows == [("ok",)]:
        return ""
    lines = [line for row in rows for line in str(row[0]).splitlines()
             if line and not line.startswith("***")]
    return f"quick_check: {lines[0] if lines else rows[0][0]}"


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
