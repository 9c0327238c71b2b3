"""Back up now, list, verify, retention, restore — against a real store."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.support.cli import ROOT, base_env
from tests.support.context import make_context
from wg_desktop.services import backups as backups_mod
from wg_desktop.services.audit import AuditAction, AuditQuery
from wg_desktop.services.backup_format import BackupFormatError, BackupMetadata, write_backup
from wg_desktop.services.backups import (BackupBusy, BackupError, BackupService, StoreInUse,
                                         backup_key, backup_lock, restore_backup,
                                         snapshot_plain)
from wg_desktop.store.backup_models import BackupRecord, BackupStatus
from wg_desktop.store.db import open_store
from wg_desktop.store.models import AppState, Outcome, Portal


def _put(ctx, value: str) -> None:
    with ctx.store.writing():
        AppState.replace(key="probe", value=value).execute()


def _get(ctx) -> str | None:
    row = AppState.get_or_none(AppState.key == "probe")
    return row.value if row else None


def test_backup_list_verify_and_restore_round_trip(ctx):
    _put(ctx, "before")
    svc = BackupService.from_context(ctx)
    info = svc.backup_now()
    assert info.path.parent == ctx.paths.backups_dir and info.verified and info.size > 0
    assert [b.path for b in svc.list()] == [info.path]
    assert svc.list()[0].status == BackupStatus.VERIFIED
    row = BackupRecord.get(BackupRecord.file_name == info.path.name)
    assert row.sha256 == info.sha256 and row.schema_version == ctx.store.schema_version()
    assert svc.verify(info.path).schema_version == ctx.store.schema_version()
    entries = ctx.audit.entries(AuditQuery(action=AuditAction.BACKUP))
    assert entries and entries[0].outcome == Outcome.SUCCESS
    # Nothing but finished backups in the folder: the temp files are gone.
    assert sorted(p.name for p in ctx.paths.backups_dir.iterdir()) == [info.path.name]

    _put(ctx, "after")
    paths, key, secrets = ctx.paths, ctx.store.key, ctx.secrets
    with pytest.raises(StoreInUse, match="open by"):
        restore_backup(paths, key, info.path, secrets=secrets)
    ctx.close()
    result = restore_backup(paths, key, info.path, secrets=secrets)
    assert result.kept_aside is not None and result.kept_aside.exists()
    again = make_context(paths.data_dir)
    try:
        assert _get(again) == "before"
    finally:
        again.close()
    kept = open_store(result.kept_aside, key)     # the previous store is intact
    try:
        assert AppState.get(AppState.key == "probe").value == "after"
    finally:
        kept.close()


def test_two_backups_at_once_one_is_busy(ctx):
    svc = BackupService.from_context(ctx)
    with backup_lock(ctx.paths):
        with pytest.raises(BackupBusy, match=rf"a backup is already running \(pid {os.getpid()}\)"):
            svc.backup_now()
    assert svc.list() == []
    assert svc.backup_now().verified


def test_retention_keeps_the_newest_verified_backup(ctx):
    svc = BackupService.from_context(ctx)
    made = [svc.backup_now() for _ in range(3)]
    assert len(svc.list()) == 3
    later = made[-1].created_at + dt.timedelta(days=31)
    removed = svc.apply_retention(later)
    assert sorted(removed) == sorted(b.path for b in made[:2])
    assert [b.path for b in svc.list()] == [made[-1].path]
    # The newest *verified* one survives even when a newer file is not verified.
    junk = ctx.paths.backups_dir / backups_mod.backup_name(later)
    junk.write_bytes(b"WGBACKUP garbage")
    svc.apply_retention(later + dt.timedelta(days=60))
    assert made[-1].path.exists()
    # Within the period nothing goes.
    assert svc.apply_retention(made[-1].created_at) == []


def test_failed_backup_is_recorded_and_leaves_nothing(ctx, monkeypatch):
    svc = BackupService.from_context(ctx)
    good = svc.backup_now()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(backups_mod, "_encrypt_snapshot", broken)
    with pytest.raises(BackupError, match="No space left"):
        svc.backup_now()
    assert [b.path for b in svc.list()] == [good.path]
    assert sorted(p.name for p in ctx.paths.backups_dir.iterdir()) == [good.path.name]
    failed = svc.failures()
    assert failed and failed[0].status == BackupStatus.FAILED
    entry = ctx.audit.entries(AuditQuery(action=AuditAction.BACKUP))[0]
    assert entry.outcome == Outcome.FAILURE


def test_tampered_backup_refused_by_verify_and_restore(ctx):
    svc = BackupService.from_context(ctx)
    info = svc.backup_now()
    blob = bytearray(info.path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    bad = ctx.paths.data_dir / "bad.wgbackup"
    bad.write_bytes(bytes(blob))
    with pytest.raises(BackupFormatError):
        svc.verify(bad)
    paths, key, secrets = ctx.paths, ctx.store.key, ctx.secrets
    _put(ctx, "current")
    ctx.close()
    with pytest.raises(BackupFormatError):
        restore_backup(paths, key, bad, secrets=secrets)
    again = make_context(paths.data_dir)
    try:
        assert _get(again) == "current"
        assert not list(paths.data_dir.glob("*.before-restore-*"))
    finally:
        again.close()


def test_newer_schema_backup_is_refused(ctx, tmp_path):
    key = backup_key(ctx.secrets, create=True)
    plain = tmp_path / "plain.db"
    snapshot_plain(ctx.store.path, ctx.store.key, plain)
    from sqlcipher3 import dbapi2 as sqlcipher
    conn = sqlcipher.connect(str(plain))
    conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, '')")
    conn.commit()
    conn.close()
    newer = tmp_path / "newer.wgbackup"
    with open(plain, "rb") as src, open(newer, "wb") as dst:
        write_backup(src, dst, key, BackupMetadata(dt.datetime.now(dt.timezone.utc), 99))
    paths, db_key, secrets = ctx.paths, ctx.store.key, ctx.secrets
    ctx.close()
    with pytest.raises(BackupError, match="newer WorkflowGuard"):
        restore_backup(paths, db_key, newer, secrets=secrets)


def test_damaged_live_store_recovered_from_backup(ctx):
    _put(ctx, "precious")
    info = BackupService.from_context(ctx).backup_now()
    paths, key, secrets = ctx.paths, ctx.store.key, ctx.secrets
    ctx.close()
    db = paths.database
    data = bytearray(db.read_bytes())
    for offset in range(4096 * 2, len(data), 4096):   # wreck every page after the first two
        data[offset + 100:offset + 200] = os.urandom(100)
    db.write_bytes(bytes(data))
    result = restore_backup(paths, key, info.path, secrets=secrets)
    assert result.kept_aside is not None
    again = make_context(paths.data_dir)
    try:
        assert not again.store.read_only and _get(again) == "precious"
        assert again.store.db.execute_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        again.close()


def test_portable_export_restores_into_a_fresh_data_folder(ctx, tmp_path, memory_keyring):
    _put(ctx, "travels")
    svc = BackupService.from_context(ctx)
    out = svc.export_portable(tmp_path / "portable.wgbackup", "a long passphrase")
    assert out.portable
    with pytest.raises(BackupFormatError, match="wrong passphrase"):
        svc.verify(out.path, "not the passphrase")
    with pytest.raises(BackupFormatError, match="portable backup"):
        svc.verify(out.path)
    ctx.close()
    fresh_dir = tmp_path / "other-machine"
    fresh_dir.mkdir()
    fresh = make_context(fresh_dir)          # its own instance id, keys and empty store
    paths, key, secrets = fresh.paths, fresh.store.key, fresh.secrets
    fresh.close()
    restore_backup(paths, key, out.path, secrets=secrets, passphrase="a long passphrase")
    again = make_context(fresh_dir)
    try:
        assert _get(again) == "travels"
    finally:
        again.close()


_KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from wg_desktop.context import build_context
    from wg_desktop.paths import Paths
    from wg_desktop.services import backups

    real = backups._encrypt_snapshot
    def slow(plain, out_tmp, *args):
        real(plain, out_tmp, *args)
        print("written", flush=True)     # the temp file exists, not yet renamed
        time.sleep(60)
    backups._encrypt_snapshot = slow
    ctx = build_context(Paths.resolve(sys.argv[1], {}))
    backups.BackupService.from_context(ctx).backup_now()
""")


def test_kill_9_during_backup_counts_no_file(data_dir):
    env = base_env(data_dir)
    ctx = make_context(data_dir, env)
    try:
        first = BackupService.from_context(ctx).backup_now()
    finally:
        ctx.close()
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(data_dir)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        leftovers = [p for p in (data_dir / "backups").iterdir() if p.name.startswith(".")]
        assert leftovers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    ctx = make_context(data_dir, env)
    try:
        svc = BackupService.from_context(ctx)
        assert [b.path for b in svc.list()] == [first.path]
        assert svc.verify(first.path).schema_version == ctx.store.schema_version()
        second = svc.backup_now()        # the lock died with the process
        assert {p.name for p in (data_dir / "backups").iterdir()} == {first.path.name,
                                                                       second.path.name}
    finally:
        ctx.close()


def test_a_start_removes_what_an_interrupted_backup_left_and_counts_backups_in_retention(
        tmp_path):
    from tests.support.context import make_context

    first = make_context(tmp_path / "d")
    leftover = first.paths.backups_dir / ".tmp-snapshot-killed.db"
    first.close()
    leftover.write_bytes(b"plain pages of a snapshot")
    again = make_context(tmp_path / "d")
    try:
        assert not leftover.exists()
        assert "backups" in [p.name for p in again.retention.policies]
    finally:
        again.close()


def test_two_restores_in_one_second_each_keep_the_store_they_replaced(tmp_path):
    from wg_desktop.services.backups import _keep_aside

    key = os.urandom(32)
    db = tmp_path / "workflowguard.db"
    kept = []
    for content in ("first", "second"):
        store = open_store(db, key)
        Portal.create(hub_id=len(kept) + 1, name=content)
        store.close()
        kept.append(_keep_aside(db, key, "20261201T120000Z"))
        db.unlink(missing_ok=True)
    assert kept[0] != kept[1]
    names = []
    for path in kept:
        store = open_store(path, key)
        names.append([p.name for p in Portal.select()])
        store.close()
    assert names == [["first"], ["second"]]


def _damage_index(plain) -> None:
    """Change one key inside app_state's key index of a plain snapshot: every
    page still parses and the tables read, but the index no longer matches."""
    from sqlcipher3 import dbapi2 as sqlcipher
    conn = sqlcipher.connect(str(plain))
    page, size = conn.execute(
        "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = 'app_state'").fetchone()
    conn.close()
    data = bytearray(plain.read_bytes())
    start = (page - 1) * size
    at = data.index(b"k0100", start, start + size)      # a key inside the index page only
    data[at:at + 1] = b"j"
    plain.write_bytes(bytes(data))


def test_a_snapshot_failing_its_integrity_check_is_refused_and_nothing_kept(ctx, monkeypatch):
    for n in range(200):
        _put(ctx, f"value {n}")
        with ctx.store.writing():
            AppState.replace(key=f"k{n:04d}", value="x" * 40).execute()
    svc = BackupService.from_context(ctx)
    real = backups_mod.snapshot_plain

    def damaged(db_path, key, target):
        real(db_path, key, target)
        _damage_index(target)
    monkeypatch.setattr(backups_mod, "snapshot_plain", damaged)
    with pytest.raises(BackupError, match="integrity check"):
        svc.backup_now()
    assert svc.list() == []
    assert not any(ctx.paths.backups_dir.iterdir())      # no temp file, no plain copy
    assert svc.failures()[0].status == BackupStatus.FAILED


def test_a_backup_that_reads_back_different_is_refused(ctx, monkeypatch):
    svc = BackupService.from_context(ctx)
    real = backups_mod.read_backup

    def one_byte_off(src, dst, key_for):
        header = real(src, dst, key_for)
        dst.write(b"\0")                 # what a silent decompression bug would look like
        return header
    monkeypatch.setattr(backups_mod, "read_backup", one_byte_off)
    with pytest.raises(BackupError, match="did not read back identical"):
        svc.backup_now()
    assert svc.list() == [] and not any(ctx.paths.backups_dir.iterdir())


def test_the_recorded_checksum_is_the_files_and_the_snapshot_was_checked(ctx, monkeypatch):
    import hashlib

    checked = []
    real = backups_mod.check_plain

    def spy(path):
        checked.append(path)
        return real(path)
    monkeypatch.setattr(backups_mod, "check_plain", spy)
    info = BackupService.from_context(ctx).backup_now()
    assert info.sha256 == hashlib.sha256(info.path.read_bytes()).hexdigest()
    assert len(checked) == 1 and checked[0].parent == ctx.paths.backups_dir


def test_a_snapshot_is_opened_once_for_its_check_and_its_schema(ctx, monkeypatch):
    from wg_desktop.store.db import LATEST_VERSION

    opened = []
    real = backups_mod._open_plain

    def counting(path):
        opened.append(path)
        return real(path)
    monkeypatch.setattr(backups_mod, "_open_plain", counting)
    info = BackupService.from_context(ctx).backup_now()
    assert info.schema_version == LATEST_VERSION
    assert len(opened) == 1


def test_a_plain_database_that_is_not_a_store_is_refused(tmp_path):
    import sqlite3

    plain = tmp_path / "other.db"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(BackupError, match="holds no WorkflowGuard database"):
        backups_mod.check_plain(plain)


def test_newest_restorable_prepares_its_work_folder_once(ctx, monkeypatch):
    svc = BackupService.from_context(ctx)
    good = svc.backup_now()
    for n in range(3):                    # newer, and not backups at all
        later = good.created_at + dt.timedelta(seconds=n + 1)
        (good.path.parent / backups_mod.backup_name(later)).write_bytes(b"garbage")
    made = []
    real = backups_mod.make_private_dir

    def counting(folder):
        made.append(folder)
        real(folder)
    monkeypatch.setattr(backups_mod, "make_private_dir", counting)
    found = backups_mod.newest_restorable(ctx.paths, ctx.secrets, ctx.settings)
    assert found is not None and found.path == good.path
    assert made == [ctx.paths.backups_dir]
