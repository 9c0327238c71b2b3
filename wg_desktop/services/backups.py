"""Encrypted local backups: back up now, list, verify, export a portable copy,
restore the whole store, and retention.

A backup is a consistent snapshot of the live database, taken inside one read
transaction with ``sqlcipher_export`` into a plain SQLite file (plain so that
it compresses: SQLCipher pages are ciphertext), then compressed and encrypted
into the chunked format of services/backup_format.py. The plain snapshot only
ever lives as a dot-named temp file in the data folder's private (0700)
backups folder, whatever folder the backups go to (``backup.folder``), and is
deleted as soon as the step that needs it ends (or by the next backup, after a
crash).

A file only gets its final name after it was fsynced *and* verified: the
snapshot passed SQLite's integrity check, and the file, read back (every chunk
authenticated and decrypted, then decompressed), gave the snapshot's bytes
again, SHA-256 for SHA-256. A crash, a kill or a full disk at any moment leaves
either no new backup or a complete, verified one, and temp names are never
listed. Backups of one data folder exclude each other through a lock file in
the data folder.
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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import peewee as pw
from sqlcipher3 import dbapi2 as sqlcipher

from wg_desktop.config import Settings, SettingError
from wg_desktop.constants import APP_VERSION
from wg_desktop.instance import holding_start_lock
from wg_desktop.paths import Paths, make_private_dir
from wg_desktop.portable import FileLock
from wg_desktop.security import crypto
from wg_desktop.security.keys import (StoredKeyDamaged, StoredKeyNotKept, create_stored_key,
                                      stored_key)
from wg_desktop.security.secrets import SecretStore
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.backup_format import (BackupError, BackupFormatError, BackupHeader,
                                               BackupMetadata, KdfParams, KeyKind,
                                               read_backup, read_header, write_backup)
from wg_desktop.services.retention import RetentionPolicy
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
FOLDER_SETTING = "backup.folder"
UNREACHABLE = "unreachable"   # a logged backup whose folder is gone (BackupInfo.status)


class BackupBusy(BackupError):
    """Another backup or restore of this data folder is running."""


class BackupFolderMissing(BackupError):
    """The chosen backup folder is not there (an unplugged drive)."""


class StoreInUse(BackupError):
    """The store is open in another process, so it cannot be replaced."""


class Trigger(enum.StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class BackupOutcome:
    """One backup attempt, as the listeners of :meth:`BackupService.on_outcome` see it."""
    ok: bool
    trigger: Trigger
    message: str          # the one-line error of a failure, or where the backup went


@dataclass(frozen=True)
class BackupInfo:
    """One backup file as the backups page and ``backup list`` show it."""

    path: Path
    created_at: dt.datetime
    size: int
    schema_version: int
    status: str            # BackupStatus, "unrecorded" (no row in this store's log)
                           # or UNREACHABLE (logged, but its folder is gone)
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


# -- the folder --------------------------------------------------------------------

def backup_folder(paths: Paths, settings: Settings) -> Path:
    """Where new backups go: the ``backup.folder`` setting, or
    ``<data folder>/backups`` while it is empty."""
    chosen = str(settings.get(FOLDER_SETTING)).strip()
    return Path(chosen) if chosen else paths.backups_dir


def check_folder_setting(value: str) -> None:
    """Refuse a backup folder that cannot hold backups, when it is chosen
    rather than at the next backup: it must exist or be creatable (created
    0700, like the data folder's own) and take a new file. ``value`` is what
    config.parse_value returned, which already refused a relative path. Raises
    SettingError with one line saying why."""
    text = str(value).strip()
    if not text:
        return                    # back to <data folder>/backups
    folder = Path(text)
    try:
        if not folder.exists():
            make_private_dir(folder)
        elif not folder.is_dir():
            raise SettingError(FOLDER_SETTING, f"{folder} is a file, not a folder")
        probe = _temp(folder, "probe")
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise SettingError(FOLDER_SETTING, f"{folder} cannot hold backups: "
                                           f"{exc.strerror or exc}") from None


def _describe(path: Path, row: BackupRecord | None) -> BackupInfo:
    """One backup file as listed: its header, and its log row when there is one."""
    try:
        with open(path, "rb") as handle:
            header = read_header(handle)
    except (BackupError, OSError) as exc:
        return BackupInfo(path, _created_from_name(path), _size(path), 0,
                          BackupStatus.FAILED, message=_one_line(exc))
    meta = header.metadata
    if row is None:
        return BackupInfo(path, meta.created_at, _size(path), meta.schema_version, "unrecorded")
    return BackupInfo(path, meta.created_at, _size(path), meta.schema_version, row.status,
                      row.sha256, row.duration_s, row.message, row.trigger)


# -- keys -----------------------------------------------------------------------

def backup_key(secrets: SecretStore, *, create: bool) -> bytes | None:
    """The data folder's backup key (keychain, scoped by instance id).

    Created on the first backup, under the backup lock, and read back before
    use: a keychain that drops writes must not leave backups nothing opens."""
    try:
        key = stored_key(secrets, BACKUP_KEY_NAME)
    except StoredKeyDamaged:
        raise BackupError(f"the backup key in {secrets.describe()} is damaged") from None
    if key is not None or not create:
        return key
    try:
        return create_stored_key(secrets, BACKUP_KEY_NAME)
    except StoredKeyNotKept:
        raise BackupError(f"{secrets.describe()} did not keep the new backup key; "
                          "no backup was made") from None


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


# What a backup leaves in a chosen folder, which may hold the user's own files.
_DESTINATION_TEMPS = tuple(f"{_TEMP_PREFIX}{label}-" for label in ("backup", "probe"))


def sweep_temp_files(folder: Path, prefixes: tuple[str, ...] = (_TEMP_PREFIX,)) -> int:
    """Remove what interrupted backups left. Call only while holding the
    backup lock: then no temp file belongs to a running backup."""
    removed = 0
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(prefixes):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


class _HashingReader:
    """A file read through once, its bytes hashed on the way (no second pass)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data


class _HashingSink:
    """Where a verification's plaintext goes: hashed and counted, never stored."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def snapshot_plain(db_path: Path, key: bytes, target: Path) -> None:
    """A consistent plain copy of the live database.

    One read transaction covers the whole export (WAL: writers carry on, the
    export sees the database as of its first read). Never a copy of the file
    itself, which a writer may be changing. The target is a throwaway temp
    file, checked and hashed before anything relies on it, so it is written
    without a journal or fsyncs."""
    _discard(target)
    conn = connect_raw(db_path, key, read_only=True)
    try:
        conn.execute("ATTACH DATABASE ? AS snapshot KEY ''", (str(target),))
        conn.execute("PRAGMA snapshot.journal_mode = OFF")
        conn.execute("PRAGMA snapshot.synchronous = OFF")
        conn.execute("BEGIN")
        conn.execute("SELECT sqlcipher_export('snapshot')").fetchall()
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE snapshot")
    except Exception as exc:
        conn.close()
        _discard(target)
        raise BackupError(f"the database could not be read for a backup ({exc})") from exc
    conn.close()


# A plain snapshot is read through a memory map and a 64 MiB page cache: an
# integrity check visits every page, index pages many times, and pread()ing
# each 4 KiB page again cost it 5-30 % of its time (1,000 × 100 store).
_CHECK_PRAGMAS = ("PRAGMA mmap_size = 1073741824", "PRAGMA cache_size = -65536")


def _open_plain(path: Path) -> sqlcipher.Connection:
    try:
        # sqlcipher3 without a key reads plain SQLite, with the same build
        # (FTS5 included) that wrote the snapshot.
        conn = sqlcipher.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        for pragma in _CHECK_PRAGMAS:
            conn.execute(pragma).fetchall()
        return conn
    except sqlcipher.Error as exc:
        raise BackupError(f"the backup's database cannot be opened ({exc})") from None


def _schema_of(conn: sqlcipher.Connection) -> int:
    has = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                       "AND name = 'schema_version'").fetchone()[0]
    if not has:
        raise BackupError("the backup holds no WorkflowGuard database")
    return conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0


def check_plain(path: Path) -> int:
    """integrity_check a plain snapshot; returns its schema version, read on
    the same connection (one open, one memory map)."""
    conn = _open_plain(path)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        if rows != [("ok",)]:
            raise BackupError(f"the backup's database failed its integrity check ({rows[0][0]})")
        return _schema_of(conn)
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
    """Decrypt ``path`` to a temp file, integrity-check it, delete it: the
    check of a backup on its own, with nothing known about how it was made."""
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


@dataclass(frozen=True)
class Sealed:
    """A snapshot written into a backup file, checked and read back."""
    schema_version: int
    plain_size: int
    file_sha256: str           # of the whole encrypted file


def _encrypt_snapshot(plain: Path, out_tmp: Path, key: bytes, meta: BackupMetadata,
                      kind: KeyKind, kdf: KdfParams | None) -> str:
    """Compress and encrypt ``plain`` into ``out_tmp`` and fsync it; returns
    the SHA-256 of the plaintext, taken from the very bytes compressed."""
    fd = os.open(out_tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as dst, open(plain, "rb") as raw:
        src = _HashingReader(raw)
        write_backup(src, dst, key, meta, kind=kind, kdf=kdf)
        dst.flush()
        os.fsync(dst.fileno())
    return src.digest.hexdigest()


def verify_sealed(path: Path, key: bytes, plain_sha256: str, plain_size: int) -> str:
    """Read a just-written backup back: authenticate and decrypt every chunk,
    decompress, and compare the SHA-256 of the result with the snapshot's.
    Equal hashes mean the file holds, byte for byte, the snapshot that the
    integrity check passed, so checking the decrypted copy again would prove
    nothing more. Returns the SHA-256 of the file itself, from the same read."""
    sink = _HashingSink()
    with open(path, "rb") as raw:
        src = _HashingReader(raw)
        read_backup(src, sink, lambda header: key)
    if sink.size != plain_size or sink.digest.hexdigest() != plain_sha256:
        raise BackupError("the backup did not read back identical to the database it was "
                          "made from; it was not kept")
    return src.digest.hexdigest()


def seal_snapshot(plain: Path, out_tmp: Path, key: bytes, created_at: dt.datetime,
                  kind: KeyKind, kdf: KdfParams | None) -> Sealed:
    """Write ``plain`` into the backup file ``out_tmp`` and prove it sound:
    SQLite's integrity check of the snapshot, then compress, encrypt, fsync
    and read back (decrypt, decompress, SHA-256 compare). One after the other:
    run beside the write on a thread of its own, the check saved no time on
    two cores (2.94 s vs 2.90 s, 1,000 × 100 store) and the GUI thread's p99
    gap during a backup grew from 8.4 to 10.1 ms."""
    schema = check_plain(plain)
    meta = BackupMetadata(created_at, schema, APP_VERSION)
    plain_sha256 = _encrypt_snapshot(plain, out_tmp, key, meta, kind, kdf)
    size = plain.stat().st_size
    return Sealed(schema, size, verify_sealed(out_tmp, key, plain_sha256, size))


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
        self._outcome_listeners: list[Callable[[BackupOutcome], None]] = []

    @classmethod
    def from_context(cls, ctx) -> "BackupService":   # AppContext; not imported: no cycle
        return cls(ctx.paths, ctx.store, ctx.secrets, ctx.settings, ctx.audit)

    def on_outcome(self, listener: Callable[["BackupOutcome"], None]) -> None:
        """Call ``listener`` after every backup attempt, made or failed (the
        alerts raise "backup failed" and resolve it when a backup succeeds).
        A failing listener is logged; it never changes the backup's result."""
        self._outcome_listeners.append(listener)

    def _tell(self, outcome: "BackupOutcome") -> None:
        for listener in list(self._outcome_listeners):
            try:
                listener(outcome)
            except Exception:  # noqa: BLE001 - an alert channel must not fail a backup
                log.exception("backup outcome listener failed")

    @property
    def folder(self) -> Path:
        """Where new backups go (the ``backup.folder`` setting)."""
        return backup_folder(self.paths, self.settings)

    @property
    def work_dir(self) -> Path:
        """Where plain (unencrypted) temp files live while a backup is made or
        checked: always the data folder's private backups folder, so a
        plaintext copy never lands on a removable drive, whatever the setting."""
        return self.paths.backups_dir

    def _destination(self) -> Path:
        """The folder for the backup about to be made. The data folder's own
        is created when needed; a chosen one is not: when it is gone (an
        unplugged drive), creating it would put the backups on the wrong disk."""
        folder = self.folder
        if folder == self.paths.backups_dir:
            make_private_dir(folder)
        elif not folder.is_dir():
            raise BackupFolderMissing(
                f"the backup folder {folder} is not there (an unplugged drive or an "
                f"unmounted share?); no backup was made. Reconnect it, or choose another "
                f"folder in Settings ({FOLDER_SETTING})")
        return folder

    def _record_name(self, path: Path) -> str:
        """How the backup log names a file: the bare name inside the data
        folder's own backups folder (as before the folder was a setting), the
        full path anywhere else, so a backup stays listed after the setting
        changes."""
        return path.name if path.parent == self.paths.backups_dir else str(path)

    def _recorded_path(self, file_name: str) -> Path:
        return self.paths.backups_dir / file_name     # an absolute name stays itself

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
            failure: Exception | None = None
            try:
                info = self._make(now, started)
            except Exception as exc:
                # Not BaseException: a Ctrl-C is no failed backup to alert about.
                failure = exc
                self._record(BackupRecord(created_at=now, status=BackupStatus.FAILED,
                                          trigger=trigger, message=_one_line(exc),
                                          duration_s=time.perf_counter() - started))
                self.audit.record(AuditAction.BACKUP, outcome=Outcome.FAILURE,
                                  details={"trigger": str(trigger), "error": _one_line(exc)})
            else:
                self._record(BackupRecord(created_at=info.created_at,
                                          file_name=self._record_name(info.path),
                                          size=info.size, sha256=info.sha256,
                                          duration_s=info.duration_s,
                                          schema_version=info.schema_version,
                                          key_id=self._key_id_hex(),
                                          status=BackupStatus.VERIFIED, trigger=trigger))
                self.audit.record(AuditAction.BACKUP, details={
                    "trigger": str(trigger), "file": info.path.name, "size": info.size,
                    "sha256": info.sha256, "duration_s": round(info.duration_s, 3)})
                removed = self.apply_retention(now)
                if removed:
                    log.info("backup retention removed %d old backups", len(removed))
        # The listeners (alerts: e-mail, webhooks) are told after the lock is
        # released, so "Back up now" or a restore is never refused meanwhile.
        if failure is not None:
            self._tell(BackupOutcome(False, trigger, _one_line(failure)))
            if isinstance(failure, BackupError):
                raise failure
            if isinstance(failure, OSError):
                raise BackupError(f"the backup failed: {_one_line(failure)}") from failure
            raise failure
        self._tell(BackupOutcome(True, trigger, f"Backed up to {info.path.name}"))
        return info

    def _key_id_hex(self) -> str:
        key = backup_key(self.secrets, create=False)
        return crypto.key_id(key).hex() if key else ""

    def _make(self, now: dt.datetime, started: float) -> BackupInfo:
        folder = self._destination()
        make_private_dir(self.work_dir)
        sweep_temp_files(self.work_dir)
        sweep_temp_files(folder, _DESTINATION_TEMPS)
        key = backup_key(self.secrets, create=True)
        assert key is not None
        final = folder / backup_name(now)
        out_tmp = _temp(folder, "backup")
        plain = _temp(self.work_dir, "snapshot")
        try:
            snapshot_plain(self.store.path, self.store.key, plain)
            sealed = seal_snapshot(plain, out_tmp, key, now, KeyKind.KEYCHAIN, None)
            _discard(plain)
            size = out_tmp.stat().st_size
            os.replace(out_tmp, final)
        finally:
            _discard(plain, out_tmp)
        return BackupInfo(final, now, size, sealed.schema_version, BackupStatus.VERIFIED,
                          sealed.file_sha256, time.perf_counter() - started)

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
            make_private_dir(self.work_dir)
            kdf = KdfParams.new()
            key = kdf.derive(passphrase)
            now = utcnow()
            started = time.perf_counter()
            plain = _temp(self.work_dir, "snapshot")
            out_tmp = out.with_name(f"{_TEMP_PREFIX}{out.name}-{os.getpid()}")
            try:
                snapshot_plain(self.store.path, self.store.key, plain)
                sealed = seal_snapshot(plain, out_tmp, key, now, KeyKind.PASSPHRASE, kdf)
                _discard(plain)
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
            return VerifyResult(out, now, sealed.schema_version, True, sealed.plain_size,
                                time.perf_counter() - started)

    # -- list / verify ------------------------------------------------------------
    def list(self) -> list[BackupInfo]:
        """Every finished backup file, newest first: those in the backup folder,
        in the data folder's own one, and in any folder the backup log names
        (where the setting pointed before). Temp files are never listed; a file
        without a log row (the log lives in the store, which a restore rewinds)
        shows as 'unrecorded'; a logged backup whose folder is gone (an
        unplugged drive) as 'unreachable', with its path."""
        recorded = {self._recorded_path(name): row for name, row in self._records().items()}
        folders = [self.folder, self.paths.backups_dir,
                   *sorted({path.parent for path in recorded})]
        infos: list[BackupInfo] = []
        seen: set[Path] = set()
        for folder in dict.fromkeys(folders):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if _NAME.match(path.name) and path not in seen:
                    seen.add(path)
                    infos.append(_describe(path, recorded.get(path)))
        for path, row in recorded.items():
            if path not in seen and row.status == BackupStatus.VERIFIED \
                    and not path.parent.is_dir():
                infos.append(BackupInfo(path, row.created_at, row.size, row.schema_version,
                                        UNREACHABLE, row.sha256, row.duration_s,
                                        f"{path.parent} is not reachable (an unplugged "
                                        "drive?)", row.trigger))
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
            if info is None or info.status == UNREACHABLE:
                raise BackupError(f"{path} is not one of this store's reachable backups")
            if info is _protected(backups):
                raise BackupError(f"{path.name} is the newest verified backup; it is kept so "
                                  "there is always one to restore from")
            path.unlink(missing_ok=True)
            if not self.store.read_only:
                with self.store.writing():
                    BackupRecord.delete().where(
                        BackupRecord.file_name == self._record_name(path)).execute()
            self.audit.record(AuditAction.BACKUP, details={"deleted": path.name})

    def _records(self) -> dict[str, BackupRecord]:
        with self.store.session():
            rows = BackupRecord.select().where(BackupRecord.file_name != "")
            return {row.file_name: row for row in rows}

    def verify(self, path: Path, passphrase: str | None = None) -> VerifyResult:
        make_private_dir(self.work_dir)
        return verify_file(Path(path), key_resolver(self.secrets, passphrase), self.work_dir)

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
            if info is keep or info.created_at >= cutoff or info.status == UNREACHABLE:
                continue
            info.path.unlink(missing_ok=True)
            removed.append(info.path)
        if removed and not self.store.read_only:
            with self.store.writing():
                BackupRecord.delete().where(BackupRecord.created_at < cutoff,
                                            BackupRecord.file_name.in_(
                                                [self._record_name(p) for p in removed]) |
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


def newest_restorable(paths: Paths, secrets: SecretStore | None,
                      settings: Settings | None = None) -> VerifyResult | None:
    """The newest backup in the backup folder (or the data folder's own) that
    decrypts and passes its integrity check now. Needs no store (the doctor
    asks it about a damaged one), so it trusts the files, not the backup log:
    each candidate is verified, newest first, until one passes. Without
    ``settings`` they are read from the data folder's settings file."""
    if settings is None:
        try:
            settings = Settings.load(paths.settings_file)
        except SettingError as exc:
            log.info("settings unreadable, looking in %s only: %s", paths.backups_dir, exc)
    folders = [paths.backups_dir]
    if settings is not None:
        folders.insert(0, backup_folder(paths, settings))
    names = sorted((p for folder in dict.fromkeys(folders) if folder.is_dir()
                    for p in folder.iterdir() if _NAME.match(p.name)),
                   key=lambda p: p.name, reverse=True)
    resolve = key_resolver(secrets, None)
    if not names:
        return None
    try:
        make_private_dir(paths.backups_dir)     # where each candidate is decrypted
    except OSError as exc:
        log.info("no backup can be checked: %s is not usable (%s)", paths.backups_dir, exc)
        return None
    for path in names:
        try:
            return verify_file(path, resolve, paths.backups_dir)
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


def backup_lock(paths: Paths) -> AbstractContextManager[FileLock]:
    """One backup, export or restore per data folder at a time, across processes."""
    def busy(pid: int | None) -> BackupBusy:
        who = f"pid {pid}" if pid else "another process"
        return BackupBusy(f"a backup is already running ({who})")

    return FileLock(paths.data_dir / LOCK_FILE).holding(busy)


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
    try:
        # Not the process default: other threads keep the live store meanwhile.
        store = open_store(staged, key, as_default=False)
        store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
    except StoreError as exc:
        raise BackupError(f"the backup could not be brought up to date: {exc}") from exc
    finally:
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
