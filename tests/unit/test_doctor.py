"""Damage at open, the doctor's report and salvage, and read-only stores.

Damage is made the realistic way: bytes flipped inside one encrypted page, which
breaks that page's HMAC (SQLCipher then refuses to decrypt it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import peewee as pw
import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from wg_desktop.store import doctor
from wg_desktop.store.db import (LATEST_VERSION, StoreDamaged, StoreError, StoreReadOnly,
                                 connect_raw, explain_database_error, marker_path,
                                 open_store)
from wg_desktop.store.models import AppState, AuditEvent, Portal, Workflow

PAGE = 4096
AUDIT_ROWS = 600
WORKFLOWS = 40


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_store(path: Path, key: bytes) -> None:
    store = open_store(path, key)
    with store.writing():
        portal = Portal.create(hub_id=77, name="Main")
        for i in range(WORKFLOWS):
            Workflow.create(portal=portal, flow_id=f"f{i}", name=f"Workflow {i}")
        # Large rows: the audit table fills most pages of the file, a few per page.
        for i in range(AUDIT_ROWS):
            AuditEvent.create(action="sync", details=f"{i:05d}" + "x" * 1000)
    store.close()
    assert not path.with_name(f"{path.name}-wal").exists()   # closed cleanly, WAL folded in


def flip(path: Path, page: int) -> None:
    """Flip bytes in the middle of ``page`` (0-based)."""
    data = bytearray(path.read_bytes())
    for offset in range(page * PAGE + 1000, page * PAGE + 1010):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _audit_scan_fails(path: Path, key: bytes) -> bool:
    conn = connect_raw(path, key)
    try:
        conn.execute("SELECT * FROM audit_event").fetchall()
    except Exception:
        return True
    finally:
        conn.close()
    return False


def damage_an_audit_page(path: Path, key: bytes) -> int:
    """Damage one page near the middle of the file that holds audit rows."""
    pages = path.stat().st_size // PAGE
    scratch = path.with_name("scratch.db")
    for distance in range(pages // 2):
        for page in (pages // 2 - distance, pages // 2 + distance):
            shutil.copyfile(path, scratch)
            flip(scratch, page)
            if _audit_scan_fails(scratch, key):
                scratch.unlink()
                flip(path, page)
                return page
    raise AssertionError("no page of audit rows found")


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def healthy(data_dir, key) -> Path:
    path = data_dir / "workflowguard.db"
    build_store(path, key)
    return path


@pytest.fixture
def damaged(healthy, key) -> tuple[Path, int]:
    page = damage_an_audit_page(healthy, key)
    return healthy, page


@pytest.fixture
def stores():
    opened = []
    yield opened
    for store in opened:
        store.close()


# -- damage at open -----------------------------------------------------------------

def test_unclean_shutdown_runs_a_check_that_finds_damage_and_opens_read_only(
        damaged, key, stores):
    path, _ = damaged
    marker_path(path).write_text("open by pid 1\n")   # the last session never closed
    store = open_store(path, key)
    stores.append(store)
    assert store.read_only and store.damage
    notice = store.notice
    assert notice is not None and "\n" not in notice
    assert notice.startswith("opened read-only: ")
    assert str(path) in notice and "wg-desktop doctor" in notice and "restore a backup" in notice
    # What is readable stays readable ...
    assert Portal.get(Portal.hub_id == 77).name == "Main"
    assert Workflow.select().count() == WORKFLOWS
    # ... and a change fails with the same one line, not a misleading sqlite error.
    with pytest.raises(StoreDamaged) as caught:
        with store.writing():
            AppState.create(key="k", value="v")
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def _check_raises(path: Path, key: bytes) -> bool:
    conn = connect_raw(path, key)
    try:
        conn.execute("PRAGMA quick_check").fetchall()
    except sqlcipher.DatabaseError:
        return True
    finally:
        conn.close()
    return False


def test_a_check_that_raises_instead_of_reporting_opens_read_only_too(healthy, key, stores):
    """Some damage (a b-tree page SQLCipher cannot decrypt) makes quick_check
    raise SQLCipher's own error from its fetch, which peewee does not wrap:
    it is damage like any other, not a crash of the start."""
    path = healthy
    pages = path.stat().st_size // PAGE
    scratch = path.with_name("scratch.db")
    for page in range(2, pages):
        shutil.copyfile(path, scratch)
        flip(scratch, page)
        if _check_raises(scratch, key):
            shutil.move(scratch, path)
            break
    else:
        pytest.fail("no page whose damage makes quick_check raise")
    marker_path(path).write_text("open by pid 1\n")   # the last session never closed
    store = open_store(path, key)
    stores.append(store)
    assert store.read_only and "quick_check" in store.damage
    assert store.notice.startswith("opened read-only: ") and "\n" not in store.notice


def test_check_on_request_finds_damage_without_a_marker(damaged, key, stores):
    path, _ = damaged
    store = open_store(path, key, check="quick")
    stores.append(store)
    assert store.read_only and "quick_check" in store.damage


def test_clean_shutdown_skips_the_check_and_the_marker_lives_while_open(damaged, key):
    path, _ = damaged
    store = open_store(path, key)
    try:
        # No marker was left, so no check ran: the store opened for writing.
        assert not store.read_only
        assert marker_path(path).read_text() == f"open by pid {os.getpid()}\n"
    finally:
        store.close()
    assert not marker_path(path).exists()


def test_marker_of_another_process_is_left_to_it(healthy, key):
    store = open_store(healthy, key)
    marker_path(healthy).write_text("open by pid 999999\n")   # opened after us elsewhere
    store.close()
    assert marker_path(healthy).exists()


def test_query_errors_on_a_damaged_file_become_one_line(damaged, key, stores):
    path, _ = damaged
    store = open_store(path, key, check="none")
    stores.append(store)
    # peewee wraps errors of execute() but not of fetching rows: both kinds arrive.
    with pytest.raises((pw.DatabaseError, sqlcipher.DatabaseError)) as scan:
        list(AuditEvent.select())
    explained = explain_database_error(scan.value, store)
    assert isinstance(explained, StoreDamaged) and "\n" not in str(explained)
    assert str(path) in str(explained) and "wg-desktop doctor" in str(explained)
    # After one bad page SQLCipher fails every later statement; writes say "readonly".
    with pytest.raises((pw.DatabaseError, sqlcipher.DatabaseError)) as write:
        AppState.create(key="k", value="v")
    assert isinstance(explain_database_error(write.value, store), StoreDamaged)


def test_readonly_error_on_a_healthy_file_is_not_called_damage(healthy, key, stores):
    store = open_store(healthy, key)
    stores.append(store)
    explained = explain_database_error(
        pw.OperationalError("attempt to write a readonly database"), store)
    assert isinstance(explained, StoreReadOnly) and not isinstance(explained, StoreDamaged)
    assert explain_database_error(pw.IntegrityError("UNIQUE constraint failed"), store) is None
    assert explain_database_error(ValueError("x"), store) is None


# -- doctor: report ------------------------------------------------------------------

def test_report_of_a_healthy_file(healthy, key):
    report = doctor.check_file(healthy, key)
    assert report.ok and report.mode == "full" and not report.problems
    assert report.schema_version == LATEST_VERSION
    counts = {t.name: t.rows for t in report.tables}
    assert counts["audit_event"] == AUDIT_ROWS and counts["workflow"] == WORKFLOWS
    assert counts["portal"] == 1


def test_report_names_the_damaged_page(damaged, key):
    path, page = damaged
    before = _sha(path)
    for full in (False, True):
        report = doctor.check_file(path, key, full=full)
        assert not report.ok
        assert report.damaged_pages == (page + 1,)          # SQLite numbers pages from 1
        assert report.schema_version == LATEST_VERSION
    assert _sha(path) == before


# -- doctor: salvage -----------------------------------------------------------------

def test_salvage_keeps_the_rows_of_undamaged_pages(damaged, key, stores):
    path, _ = damaged
    before = _sha(path)
    original_details = {f"{i:05d}" + "x" * 1000 for i in range(AUDIT_ROWS)}

    result = doctor.salvage(path, key)

    assert _sha(path) == before
    assert result.target.parent == path.parent and result.target.name.startswith(
        "workflowguard.db.salvaged-")
    assert result.check_ok, result.check_problem
    by_table = {t.name: t for t in result.tables}
    audit = by_table["audit_event"]
    assert audit.lost_exact and 0 < audit.lost <= 8     # one 4 KB page of 1 KB rows
    assert audit.recovered + audit.lost == AUDIT_ROWS
    assert audit.unreadable
    assert by_table["workflow"].recovered == WORKFLOWS and by_table["workflow"].lost == 0
    assert by_table["portal"].recovered == 1

    store = open_store(result.target, key, check="full")
    stores.append(store)
    assert not store.read_only and store.schema_version() == LATEST_VERSION
    salvaged = {e.details for e in AuditEvent.select()}
    assert len(salvaged) == audit.recovered and salvaged <= original_details
    assert Workflow.select().count() == WORKFLOWS


def test_salvage_never_overwrites(damaged, key, data_dir):
    path, _ = damaged
    target = data_dir / "taken.db"
    target.write_bytes(b"mine")
    with pytest.raises(doctor.SalvageFailed):
        doctor.salvage(path, key, target)
    assert target.read_bytes() == b"mine"


def test_salvage_of_an_unreadable_schema_fails_and_leaves_no_file(healthy, key, data_dir):
    flip(healthy, 0)                                       # page 1 holds the schema
    target = data_dir / "out.db"
    with pytest.raises(doctor.SalvageFailed) as caught:
        doctor.salvage(healthy, key, target)
    assert "restore a backup" in str(caught.value).lower()
    assert not target.exists()


# -- read-only stores ---------------------------------------------------------------

def test_read_only_open_reads_and_refuses_changes(healthy, key, stores):
    before = _sha(healthy)
    store = open_store(healthy, key, read_only=True)
    stores.append(store)
    assert store.read_only and not store.damage
    assert store.notice == "opened read-only: read-only was asked for"
    assert AuditEvent.select().count() == AUDIT_ROWS
    with pytest.raises(StoreReadOnly) as caught:
        with store.writing():
            AppState.create(key="k", value="v")
    assert "read-only" in str(caught.value) and "\n" not in str(caught.value)
    # A write that bypasses writing() is refused by SQLite and explained the same way.
    with pytest.raises(pw.DatabaseError) as raw:
        AppState.create(key="k", value="v")
    assert isinstance(explain_database_error(raw.value, store), StoreReadOnly)
    store.close()
    assert _sha(healthy) == before
    assert not marker_path(healthy).exists()


def test_unwritable_folder_is_detected_and_opened_read_only(healthy, key, monkeypatch,
                                                            stores):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode == os.W_OK
                        else real_access(p, mode, **kw))
    store = open_store(healthy, key)
    stores.append(store)
    assert store.read_only and f"the folder {healthy.parent} is not writable" in store.notice
    assert Workflow.select().count() == WORKFLOWS


def _make_read_only(folder: Path) -> bool:
    folder.chmod(0o500)
    if os.access(folder, os.W_OK) and shutil.which("chattr"):
        # root ignores permission bits but not the immutable attribute.
        subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    return not os.access(folder, os.W_OK)


def _make_writable(folder: Path) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o700)


def test_real_read_only_folder_opens_immutable(healthy, key, tmp_path, stores):
    copy_dir = tmp_path / "mounted-copy"
    copy_dir.mkdir()
    copy = copy_dir / healthy.name
    shutil.copy2(healthy, copy)
    if not _make_read_only(copy_dir):
        _make_writable(copy_dir)
        pytest.skip("cannot make a folder read-only here")
    try:
        store = open_store(copy, key)
        stores.append(store)
        assert store.read_only and "not writable" in store.notice
        assert AuditEvent.select().count() == AUDIT_ROWS
        assert Portal.get().name == "Main"
        store.close()
        report = doctor.check_file(copy, key)
        assert report.ok
        assert sorted(p.name for p in copy_dir.iterdir()) == [healthy.name]   # no -shm/-wal
    finally:
        _make_writable(copy_dir)


def test_read_only_store_with_an_older_schema_says_to_upgrade_a_writable_copy(
        data_dir, key):
    path = data_dir / "old.db"
    open_store(path, key, target_version=2).close()
    with pytest.raises(StoreReadOnly) as caught:
        open_store(path, key, read_only=True)
    assert "writable copy" in str(caught.value) and "schema 2" in str(caught.value)


def test_read_only_open_of_a_missing_file_creates_nothing(data_dir, key):
    path = data_dir / "missing.db"
    with pytest.raises(StoreError):
        open_store(path, key, read_only=True)
    assert not path.exists()
