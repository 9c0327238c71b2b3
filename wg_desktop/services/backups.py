"""Encrypted local backups: back up now, list, verify, export a portable copy,
restore the whole store, and retention.

A backup is a consistent snapshot of the live database, taken inside one read
transaction with ``sqlcipher_export`` into a plain SQLite file (plain so that
it compresses: SQLCipher pages are ciphertext), then compressed and encrypted
into the chunked format of services/backup_format.py. The plain snapshot only
ever lives as a dot-named temp file in the private (0700) backups folder and is
deleted as soon as the step that needs it ends (or by the next backup, after a
crash).

A file only gets its final name after it was fsynced *and* verified (decrypted
back and integrity-checked): a crash, a kill or a full disk at any moment
leaves either no new backup or a complete, verified one, and temp names are
never listed. Backups of one data folder exclude each other through a lock
file in the data folder.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import os
import re
import shlex
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import peewee as pw
from sqlcipher3 import dbapi2 as sqlcipher

from wg_desktop.config import Settings
from wg_desktop.constants import APP_VERSION
from wg_desktop.instance import holding_start_lock
from wg_desktop.paths import Paths, make_private_dir
from wg_desktop.portable import FileLock, LockBusy
from wg_desktop.security import crypto
from wg_desktop.security.secrets import SecretStore
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.backup_format import (BackupError, BackupFormatError, BackupHeader,
                                               BackupMetadata, KdfParams, KeyKind,
                                               read_backup, read_header, write_backup)
from wg_desktop.services.retention import RetentionPolicy
from wg_desktop.store import models
from wg_desktop.store.backup_models import BackupRecord, BackupStatus
from wg_desktop.store.db import (LATEST_VERSION, Store, StoreError, connect_raw,
                                 marker_path, open_store)
from wg_desktop.store.models import Outcome, utcnow

log = logging.getLogger(__name__)

BACKUP_KEY_NAME = "backup-key"
SUFFIX = ".wgbackup"
LOCK_FILE = ".backup.lock"
_TEMP_PREFIX = ".tmp-"
_NAME = re.compile(r"^workflowguard-(\d{8}T\d{6}\d{6}Z)\.wgbackup$")


class BackupBusy(BackupError):
    """Another backup or restore of this data folder is running."""


class StoreInUse(BackupError):
    """The store is open in another process, so it cannot be replaced."""


class Trigger(enum.StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class BackupInfo:
    """One backup file as the backups page and ``backup list`` show it."""

    path: Path
    created_at: dt.datetime
    size: int
    schema_version: int
    status: str            # BackupStatus, or "unrecorded" (no row in this store's log)
    sha256: str = ""
    duration_s: float = 0.0
    message: str = ""
    trigger: str = ""      # Trigger, or "" when unrecorded

    @property
    def verified(self) -> bool:
        return self.status == BackupStatus.VERIFIED

    def as_dict(self) -> dict[str, object]:
        return {"file": str(self.path), "created_at": self.created_at.isoformat(),
                "size": self.size, "schema_version": self.schema_version,
                "status": self.status, "sha256": self.sha256,
                "duration_s": round(self.duration_s, 3), "message": self.message,
                "trigger": self.trigger}


@dataclass(frozen=True)
class FailedAttempt:
    """A backup attempt that left no file (its error is what the user must see)."""

    created_at: dt.datetime
    trigger: str
    message: str
    duration_s: float


@dataclass(frozen=True)
class VerifyResult:
    path: Path
    created_at: dt.datetime
    schema_version: int
    portable: bool
    plain_size: int           # bytes of the database inside
    duration_s: float


@dataclass(frozen=True)
class RestoreResult:
    source: Path
    restored_schema: int      # as it was in the backup (the store is migrated past it)
    kept_aside: Path | None   # the previous store, or None when there was none
    duration_s: float


# -- keys -----------------------------------------------------------------------

def backup_key(secrets: SecretStore, *, create: bool) -> bytes | None:
    """The data folder's backup key (keychain, scoped by instance id).

    Created on the first backup, under the backup lock, and read back before
    use: a keychain that drops writes must not leave backups nothing opens."""
    stored = secrets.get(BACKUP_KEY_NAME)
    if stored:
        try:
            key = bytes.fromhex(stored)
        except ValueError:
            key = b""
        if len(key) != crypto.KEY_BYTES:
            raise BackupError(f"the backup key in {secrets.describe()} is damaged")
        return key
    if not create:
        return None
    key = crypto.new_key()
    secrets.set(BACKUP_KEY_NAME, key.hex())
    if secrets.get(BACKUP_KEY_NAME) != key.hex():
        raise BackupError(f"{secrets.describe()} did not keep the new backup key; "
                          "no backup was made")
    return key


def key_resolver(secrets: SecretStore | None,
                 passphrase: str | None) -> Callable[[BackupHeader], bytes]:
    """How a header turns into its key: the keychain's backup key, or the
    passphrase through the header's scrypt parameters."""
    def resolve(header: BackupHeader) -> bytes:
        if header.kind is KeyKind.PASSPHRASE:
            if not passphrase:
                raise BackupFormatError("this is a portable backup: give its passphrase "
                                        "(stdin or WG_BACKUP_PASSPHRASE)")
            assert header.kdf is not None
            return header.kdf.derive(passphrase)
        key = backup_key(secrets, create=False) if secrets is not None else None
        if key is None:
            raise BackupFormatError("this data folder has no backup key in its keychain, so "
                                    "it cannot read this backup; use a portable export")
        return key
    return resolve


# -- files ----------------------------------------------------------------------

def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _temp(folder: Path, label: str) -> Path:
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    return folder / f"{_TEMP_PREFIX}{label}-{os.getpid()}-{stamp}"


def _discard(*paths: Path) -> None:
    for path in paths:
        for extra in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)


def sweep_temp_files(folder: Path) -> int:
    """Remove what interrupted backups left. Call only while holding the
    backup lock: then no temp file belongs to a running backup."""
    removed = 0
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(_TEMP_PREFIX):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def snapshot_plain(db_path: Path, key: bytes, target: Path) -> None:
    """A consistent plain copy of the live database.

    One read transaction covers the whole export (WAL: writers carry on, the
    export sees the database as of its first read). Never a copy of the file
    itself, which a writer may be changing."""
    _discard(target)
    conn = connect_raw(db_path, key, read_only=True)
    try:
        conn.execute("BEGIN")
        conn.execute("ATTACH DATABASE ? AS snapshot KEY ''", (str(target),))
        conn.execute("SELECT sqlcipher_export('snapshot')").fetchall()
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE snapshot")
    except Exception as exc:
        conn.close()
        _discard(target)
        raise BackupError(f"the database could not be read for a backup ({exc})") from exc
    conn.close()


def check_plain(path: Path) -> int:
    """integrity_check a plain snapshot; returns its schema version."""
    try:
        # sqlcipher3 without a key reads plain SQLite, with the same build
        # (FTS5 included) that wrote the snapshot.
        conn = sqlcipher.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlcipher.Error as exc:
        raise BackupError(f"the backup's database cannot be opened ({exc})") from None
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        if rows != [("ok",)]:
            raise BackupError(f"the backup's database failed its integrity check ({rows[0][0]})")
        has = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                           "AND name = 'schema_version'").fetchone()[0]
        if not has:
            raise BackupError("the backup holds no WorkflowGuard database")
        return conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
    except sqlcipher.Error as exc:
        raise BackupError(f"the backup's database is damaged ({exc})") from None
    finally:
        conn.close()


def decrypt_to(path: Path, target: Path, resolve: Callable[[BackupHeader], bytes]) -> BackupHeader:
    try:
        with open(path, "rb") as src, open(target, "wb") as dst:
            return read_backup(src, dst, resolve)
    except BaseException:
        _discard(target)
        raise


def verify_file(path: Path, resolve: Callable[[BackupHeader], bytes],
                work_dir: Path) -> VerifyResult:
    """Decrypt ``path`` to a temp file, integrity-check it, delete it."""
    started = time.perf_counter()
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    plain = _temp(work_dir, "verify")
    try:
        header = decrypt_to(path, plain, resolve)
        schema = check_plain(plain)
        size = plain.stat().st_size
    finally:
        _discard(plain)
    if schema != header.metadata.schema_version:
        raise BackupFormatError(f"the backup's header says schema {header.metadata.schema_version} "
                                f"but its database has {schema}")
    return VerifyResult(path, header.metadata.created_at, schema,
                        header.kind is KeyKind.PASSPHRASE, size,
                        time.perf_counter() - started)


def _encrypt_snapshot(plain: Path, out_tmp: Path, key: bytes, meta: BackupMetadata,
                      kind: KeyKind, kdf: KdfParams | None) -> None:
    fd = os.open(out_tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as dst, open(plain, "rb") as src:
        write_backup(src, dst, key, meta, kind=kind, kdf=kdf)
        dst.flush()
        os.fsync(dst.fileno())


def backup_name(when: dt.datetime) -> str:
    return f"workflowguard-{when.astimezone(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}{SUFFIX}"


# -- the service -------------------------------------------------------------------

class BackupService:
    """Backups of one data folder's store. No Qt; every call blocks, so the
    window runs them on its worker pool."""

    def __init__(self, paths: Paths, store: Store, secrets: SecretStore, settings: Settings,
                 audit: AuditLog) -> None:
        self.paths = paths
        self.store = store
        self.secrets = secrets
        self.settings = settings
        self.audit = audit

    @classmethod
    def from_context(cls, ctx) -> "BackupService":   # AppContext; not imported: no cycle
        return cls(ctx.paths, ctx.store, ctx.secrets, ctx.settings, ctx.audit)

    @property
    def folder(self) -> Path:
        return self.paths.backups_dir

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with backup_lock(self.paths):
            yield

    # -- back up -----------------------------------------------------------
    def backup_now(self, trigger: Trigger = Trigger.MANUAL) -> BackupInfo:
        """Make, verify and record one backup; then apply retention. Raises a
        one-line BackupError (after recording the failure) when it cannot."""
        with self._locked():
            started = time.perf_counter()
            now = utcnow()
            try:
                info = self._make(now, started)
            except BaseException as exc:
                message = _one_line(exc)
                self._record(BackupRecord(created_at=now, status=BackupStatus.FAILED,
                                          trigger=trigger, message=message,
                                          duration_s=time.perf_counter() - started))
                self.audit.record(AuditAction.BACKUP, outcome=Outcome.FAILURE,
                                  details={"trigger": str(trigger), "error": message})
                if isinstance(exc, BackupError):
                    raise
                if isinstance(exc, OSError):
                    raise BackupError(f"the backup failed: {message}") from exc
                raise
            self._record(BackupRecord(created_at=info.created_at, file_name=info.path.name,
                                      size=info.size, sha256=info.sha256,
                                      duration_s=info.duration_s,
                                      schema_version=info.schema_version,
                                      key_id=self._key_id_hex(), status=BackupStatus.VERIFIED,
                                      trigger=trigger))
            self.audit.record(AuditAction.BACKUP, details={
                "trigger": str(trigger), "file": info.path.name, "size": info.size,
                "sha256": info.sha256, "duration_s": round(info.duration_s, 3)})
            removed = self.apply_retention(now)
            if removed:
                log.info("backup retention removed %d old backups", len(removed))
            return info

    def _key_id_hex(self) -> str:
        key = backup_key(self.secrets, create=False)
        return crypto.key_id(key).hex() if key else ""

    def _make(self, now: dt.datetime, started: float) -> BackupInfo:
        make_private_dir(self.folder)
        sweep_temp_files(self.folder)
        key = backup_key(self.secrets, create=True)
        assert key is not None
        final = self.folder / backup_name(now)
        out_tmp = _temp(self.folder, "backup")
        plain = _temp(self.folder, "snapshot")
        try:
            snapshot_plain(self.store.path, self.store.key, plain)
            schema = check_plain(plain)
            meta = BackupMetadata(now, schema, APP_VERSION)
            _encrypt_snapshot(plain, out_tmp, key, meta, KeyKind.KEYCHAIN, None)
            _discard(plain)
            verify_file(out_tmp, lambda header: key, self.folder)
            checksum = sha256_file(out_tmp)
            size = out_tmp.stat().st_size
            os.replace(out_tmp, final)
        finally:
            _discard(plain, out_tmp)
        return BackupInfo(final, now, size, schema, BackupStatus.VERIFIED, checksum,
                          time.perf_counter() - started)

    def _record(self, row: BackupRecord) -> None:
        if self.store.read_only:
            log.info("backup not recorded: the store is read-only")
            return
        try:
            with self.store.writing():
                row.save(force_insert=True)
        except (StoreError, pw.DatabaseError) as exc:
            # The backup itself stands (or failed) regardless; its log row is secondary.
            log.warning("could not record the backup in the store: %s", exc)

    # -- portable export -------------------------------------------------------
    def export_portable(self, out: Path, passphrase: str) -> VerifyResult:
        """A copy protected by ``passphrase`` alone (scrypt, N = 2^17), for another
        machine. The passphrase is used, never stored."""
        if len(passphrase) < 8:
            raise BackupError("the passphrase must have at least 8 characters")
        out = Path(out)
        if out.is_dir():
            out = out / backup_name(utcnow()).replace(SUFFIX, f"-portable{SUFFIX}")
        with self._locked():
            make_private_dir(self.folder)
            kdf = KdfParams.new()
            key = kdf.derive(passphrase)
            now = utcnow()
            plain = _temp(self.folder, "snapshot")
            out_tmp = out.with_name(f"{_TEMP_PREFIX}{out.name}-{os.getpid()}")
            try:
                snapshot_plain(self.store.path, self.store.key, plain)
                meta = BackupMetadata(now, check_plain(plain), APP_VERSION)
                _encrypt_snapshot(plain, out_tmp, key, meta, KeyKind.PASSPHRASE, kdf)
                _discard(plain)
                result = verify_file(out_tmp, lambda header: key, self.folder)
                os.replace(out_tmp, out)
            except BaseException as exc:
                self.audit.record(AuditAction.EXPORT, outcome=Outcome.FAILURE,
                                  details={"what": "portable backup", "error": _one_line(exc)})
                if isinstance(exc, OSError):
                    raise BackupError(f"the export failed: {_one_line(exc)}") from exc
                raise
            finally:
                _discard(plain, out_tmp)
            self.audit.record(AuditAction.EXPORT, details={"what": "portable backup",
                                                           "file": str(out)})
            return VerifyResult(out, now, result.schema_version, True, result.plain_size,
                                result.duration_s)

    # -- list / verify ------------------------------------------------------------
    def list(self) -> list[BackupInfo]:
        """Every finished backup file, newest first. Temp files are never
        listed; a file without a log row (the log lives in the store, which a
        restore rewinds) shows as 'unrecorded'."""
        records = self._records()
        infos = []
        if not self.folder.is_dir():
            return []
        for path in self.folder.iterdir():
            if not _NAME.match(path.name):
                continue
            try:
                with open(path, "rb") as handle:
                    header = read_header(handle)
            except (BackupError, OSError) as exc:
                infos.append(BackupInfo(path, _created_from_name(path), _size(path), 0,
                                        BackupStatus.FAILED, message=_one_line(exc)))
                continue
            row = records.get(path.name)
            meta = header.metadata
            if row is None:
                infos.append(BackupInfo(path, meta.created_at, _size(path),
                                        meta.schema_version, "unrecorded"))
            else:
                infos.append(BackupInfo(path, meta.created_at, _size(path),
                                        meta.schema_version, row.status, row.sha256,
                                        row.duration_s, row.message, row.trigger))
        return sorted(infos, key=lambda i: i.created_at, reverse=True)

    def failures(self, limit: int = 20) -> list[BackupRecord]:
        """The latest failed attempts (for a status line or an alert)."""
        with self.store.session():
            return list(BackupRecord.select().where(BackupRecord.status == BackupStatus.FAILED)
                        .order_by(BackupRecord.created_at.desc()).limit(limit))

    def failed_attempts(self, limit: int = 20) -> list[FailedAttempt]:
        """``failures`` as plain values, for the backups page (no peewee rows in the UI)."""
        return [FailedAttempt(r.created_at, r.trigger, r.message, r.duration_s)
                for r in self.failures(limit)]

    def delete(self, path: Path) -> None:
        """Delete one backup of this folder, never the one retention keeps (the
        newest verified): there must always be something to restore from."""
        path = Path(path)
        with self._locked():
            backups = self.list()
            info = next((b for b in backups if b.path == path), None)
            if info is None:
                raise BackupError(f"{path.name} is not a backup in {self.folder}")
            if info is _protected(backups):
                raise BackupError(f"{path.name} is the newest verified backup; it is kept so "
                                  "there is always one to restore from")
            path.unlink(missing_ok=True)
            if not self.store.read_only:
                with self.store.writing():
                    BackupRecord.delete().where(BackupRecord.file_name == path.name).execute()
            self.audit.record(AuditAction.BACKUP, details={"deleted": path.name})

    def _records(self) -> dict[str, BackupRecord]:
        with self.store.session():
            rows = BackupRecord.select().where(BackupRecord.file_name != "")
            return {row.file_name: row for row in rows}

    def verify(self, path: Path, passphrase: str | None = None) -> VerifyResult:
        return verify_file(Path(path), key_resolver(self.secrets, passphrase), self.folder)

    # -- retention -------------------------------------------------------------
    def apply_retention(self, now: dt.datetime | None = None) -> list[Path]:
        """Delete backups older than ``retention.backups_days``, never the newest
        verified one (nor, when none is recorded as verified, the newest file)."""
        now = now or utcnow()
        cutoff = now - dt.timedelta(days=int(self.settings.get("retention.backups_days")))
        backups = self.list()
        keep = _protected(backups)
        removed = []
        for info in backups:
            if info is keep or info.created_at >= cutoff:
                continue
            info.path.unlink(missing_ok=True)
            removed.append(info.path)
        if removed and not self.store.read_only:
            with self.store.writing():
                BackupRecord.delete().where(BackupRecord.created_at < cutoff,
                                            BackupRecord.file_name.in_(
                                                [p.name for p in removed]) |
                                            (BackupRecord.file_name == "")).execute()
        return removed

    def retention_policy(self) -> RetentionPolicy:
        """For RetentionService.register: the daily cleanup removes old backups too."""
        def purge(cutoff: dt.datetime) -> int:
            days = int(self.settings.get("retention.backups_days"))
            return len(self.apply_retention(cutoff + dt.timedelta(days=days)))
        return RetentionPolicy("backups", "retention.backups_days", purge)


def _protected(backups: list[BackupInfo]) -> BackupInfo | None:
    """The backup neither retention nor a delete may remove: the newest verified
    one, or, when none is recorded as verified, the newest file."""
    return next((b for b in backups if b.verified), backups[0] if backups else None)


def restore_command(file: Path, paths: Paths) -> str:
    """The exact shell command that restores ``file`` into this data folder.
    ``--data-dir`` only when the folder is not the default one: passing it
    would also move the settings folder under it."""
    data_dir = ""
    if paths != Paths.resolve(None, {}):
        data_dir = f" --data-dir {shlex.quote(str(paths.data_dir))}"
    return f"wg-desktop{data_dir} backup restore {shlex.quote(str(file))} --yes"


def newest_restorable(paths: Paths, secrets: SecretStore | None) -> VerifyResult | None:
    """The newest backup in the folder that decrypts and passes its integrity
    check now. Needs no store (the doctor asks it about a damaged one), so it
    trusts the files, not the backup log: each candidate is verified, newest
    first, until one passes."""
    folder = paths.backups_dir
    if not folder.is_dir():
        return None
    names = sorted((p for p in folder.iterdir() if _NAME.match(p.name)),
                   key=lambda p: p.name, reverse=True)
    resolve = key_resolver(secrets, None)
    for path in names:
        try:
            return verify_file(path, resolve, folder)
        except (BackupError, OSError) as exc:
            log.info("backup %s is not restorable: %s", path.name, exc)
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _created_from_name(path: Path) -> dt.datetime:
    match = _NAME.match(path.name)
    assert match is not None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S%fZ").replace(
        tzinfo=dt.timezone.utc)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def backup_lock(paths: Paths) -> Iterator[None]:
    """One backup, export or restore per data folder at a time, across processes."""
    lock = FileLock(paths.data_dir / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except LockBusy as exc:
        who = f"pid {exc.holder_pid}" if exc.holder_pid else "another process"
        raise BackupBusy(f"a backup is already running ({who})") from None
    try:
        yield
    finally:
        lock.release()


# -- restore ------------------------------------------------------------------------

def store_in_use(db: Path, key: bytes) -> str | None:
    """Whether another connection has the store open: None when free, else
    who (by the clean-shutdown marker's pid, when it names one).

    Asked of SQLite itself: in WAL mode every open connection keeps a shared
    lock on the file, so an exclusive lock is refused while any process (the
    window, a command) has it open, and the OS drops those locks when a
    process dies — a crashed process never blocks a restore."""
    if not db.exists():
        return None
    conn = connect_raw(db, key, read_only=False)
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        conn.execute("COMMIT")
    except sqlcipher.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            return None          # damaged or unreadable, but nobody holds it
        try:
            text = marker_path(db).read_text(encoding="utf-8")
        except OSError:
            text = ""
        match = re.search(r"pid (\d+)", text)
        return f"pid {match.group(1)}" if match else "another process"
    except sqlcipher.DatabaseError:
        return None
    finally:
        conn.close()
    return None


def restore_backup(paths: Paths, db_key: bytes, source: Path, *,
                   secrets: SecretStore | None,
                   passphrase: str | None = None) -> RestoreResult:
    """Replace the data folder's store with the one in ``source``.

    The caller must not have the store open. Order: decrypt and check the
    backup into a staged file beside the store (keyed with this folder's
    database key, migrated if older), keep the current store aside, switch
    with one rename. Until that rename the current store is untouched, so a
    failure (or a kill) before it changes nothing."""
    started = time.perf_counter()
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    with backup_lock(paths), holding_start_lock(paths) as locked:
        if not locked:
            raise BackupError(f"{paths.data_dir} is not writable; nothing was restored")
        # A restore killed midway leaves its staged store and, worse, the
        # backup's database in plain text; under the lock none of them is live.
        for leftover in paths.data_dir.glob(f"{_TEMP_PREFIX}restore-*"):
            leftover.unlink(missing_ok=True)
        holder = store_in_use(paths.database, db_key)
        if holder:
            raise StoreInUse(f"the store is open by {holder} (the window or a command); "
                             "quit it and retry. Nothing was changed.")
        with open(source, "rb") as handle:
            header = read_header(handle)
        if header.metadata.schema_version > LATEST_VERSION:
            raise BackupError(f"the backup was made by a newer WorkflowGuard (schema "
                              f"{header.metadata.schema_version}, this version knows "
                              f"{LATEST_VERSION}); update the app to restore it")
        db = paths.database
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        staged = db.with_name(f"{_TEMP_PREFIX}restore-{stamp}-{db.name}")
        plain = _temp(paths.data_dir, "restore-plain")
        try:
            decrypt_to(source, plain, key_resolver(secrets, passphrase))
            schema = check_plain(plain)
            if schema > LATEST_VERSION:
                raise BackupError(f"the backup's database has schema {schema}, newer than "
                                  f"this app's {LATEST_VERSION}; update the app to restore it")
            _encrypt_plain_into(plain, staged, db_key)
            _discard(plain)
            _migrate_staged(staged, db_key)
            _fsync_file(staged)
            kept = _keep_aside(db, db_key, stamp)
            os.replace(staged, db)
        finally:
            _discard(plain, staged)
    return RestoreResult(source, schema, kept, time.perf_counter() - started)


def _encrypt_plain_into(plain: Path, target: Path, key: bytes) -> None:
    # sqlcipher_export copies from main into the attachment: the plain file is
    # main, the keyed target the attachment.
    _discard(target)
    conn = sqlcipher.connect(str(plain), isolation_level=None)
    try:
        conn.execute("ATTACH DATABASE ? AS target KEY ?", (str(target), f"x'{key.hex()}'"))
        conn.execute("SELECT sqlcipher_export('target')").fetchall()
        conn.execute("DETACH DATABASE target")
    except Exception as exc:
        raise BackupError(f"the backup could not be written into a new store ({exc})") from exc
    finally:
        conn.close()
    os.chmod(target, 0o600)
    check = connect_raw(target, key, read_only=False)
    try:
        rows = check.execute("PRAGMA integrity_check").fetchall()
        cipher_rows = check.execute("PRAGMA cipher_integrity_check").fetchall()
    finally:
        check.close()
    if rows != [("ok",)] or cipher_rows:
        raise BackupError("the restored store failed its integrity check; nothing was changed")


def _migrate_staged(staged: Path, key: bytes) -> None:
    """Bring an older backup up to this app's schema before it goes live, so a
    failed migration never replaces the current store."""
    previous = models.database_proxy.obj
    try:
        store = open_store(staged, key)
        store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
    except StoreError as exc:
        raise BackupError(f"the backup could not be brought up to date: {exc}") from exc
    finally:
        if previous is not None:
            models.database_proxy.initialize(previous)
        for leftover in staged.parent.glob(f"{staged.name}.pre-migration-v*"):
            leftover.unlink(missing_ok=True)
        _discard_sidecars(staged)


def _discard_sidecars(path: Path) -> None:
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


def _unused_name(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``…: two restores within one second must
    each keep their own copy of the store they replaced."""
    candidate, n = path, 1
    while candidate.exists() or Path(f"{candidate}-wal").exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _keep_aside(db: Path, key: bytes, stamp: str) -> Path | None:
    """Keep the current store as ``<name>.before-restore-<time>`` (with its
    WAL) and leave no WAL behind that SQLite would replay into the new file."""
    if not db.exists():
        _discard_sidecars(db)
        return None
    try:
        # Fold the WAL into the file when the store can still be read.
        conn = connect_raw(db, key, read_only=False)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    except Exception as exc:   # a damaged store: keep its WAL beside the copy instead
        log.info("no checkpoint before restore (%s)", exc)
    kept = _unused_name(db.with_name(f"{db.name}.before-restore-{stamp}"))
    try:
        os.link(db, kept)          # the same bytes under a second name, no copy
    except FileExistsError:
        raise                      # never overwrite a copy kept by an earlier restore
    except OSError:
        shutil.copy2(db, kept)
    wal = Path(f"{db}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        os.replace(wal, Path(f"{kept}-wal"))
    _discard_sidecars(db)
    return kept
