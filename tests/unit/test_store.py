"""The encrypted store: migrations, keys, permissions, WAL, no plaintext on disk, writers."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from wg_desktop.store import db as db_module
from wg_desktop.store import models
from wg_desktop.store.db import (LATEST_VERSION, MIGRATIONS, StoreError, StoreKeyError,
                                 open_store)
from wg_desktop.store.models import (ALL_MODELS, CORE_MODELS, MIGRATION_2_MODELS, AuditEvent,
                                     Portal, SchemaVersion, Workflow, WorkflowVersion)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def db_path(data_dir) -> Path:
    return data_dir / "t.db"


@pytest.fixture
def opened(db_path, key):
    """Open stores through this; every one is closed at teardown."""
    stores = []

    def _open(path: Path = db_path, store_key: bytes = key, **kwargs):
        store = open_store(path, store_key, **kwargs)
        stores.append(store)
        return store

    yield _open
    for store in stores:
        store.close()


@pytest.fixture
def store(opened):
    return opened()


def _portal(hub_id: int = 1234, **kw) -> Portal:
    kw.setdefault("name", f"Portal {hub_id}")
    return Portal.create(hub_id=hub_id, **kw)


# -- migrations ------------------------------------------------------------------------

def test_migrations_are_numbered_consecutively():
    numbers = [n for n, _ in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert LATEST_VERSION == numbers[-1] == len(numbers)


def test_new_database_is_migrated_to_latest(store, db_path):
    assert store.schema_version() == LATEST_VERSION
    assert [r.version for r in SchemaVersion.select().order_by(SchemaVersion.version)] == list(range(1, LATEST_VERSION + 1))
    for model in ALL_MODELS:
        assert store.db.table_exists(model._meta.table_name), model.__name__
    assert not list(db_path.parent.glob("*.pre-migration-*"))


def test_version_one_schema_lacks_the_migration_two_tables(opened):
    store = opened(target_version=1)
    assert store.schema_version() == 1
    for model in CORE_MODELS:
        assert store.db.table_exists(model._meta.table_name)
    for model in MIGRATION_2_MODELS:
        assert not store.db.table_exists(model._meta.table_name)


def test_migrating_a_previous_schema_keeps_rows_and_copies_aside(opened, db_path, key):
    old = opened(target_version=1)
    portal = _portal(555, user_email="admin@example.com")
    AuditEvent.create(action="sync", portal_hub_id=555, details="kept row")
    old.close()

    store = opened()
    assert store.schema_version() == LATEST_VERSION
    assert Portal.get(Portal.hub_id == 555).user_email == "admin@example.com"
    assert Portal.get_by_id(portal.id).name == "Portal 555"
    assert [e.details for e in AuditEvent.select()] == ["kept row"]
    for model in MIGRATION_2_MODELS:
        assert store.db.table_exists(model._meta.table_name)

    copy = db_path.with_name("t.db.pre-migration-v1")
    assert copy.exists()
    assert _mode(copy) == 0o600
    store.close()

    # the copy is the whole version-1 database, readable with the same key
    snapshot = opened(copy, key, target_version=1)
    assert snapshot.schema_version() == 1
    assert Portal.get(Portal.hub_id == 555).user_email == "admin@example.com"
    assert not snapshot.db.table_exists("job_run_record")
    snapshot.close()

    # reopening an up-to-date database makes no further copy
    again = opened()
    assert again.schema_version() == LATEST_VERSION
    assert sorted(p.name for p in db_path.parent.glob("*.pre-migration-*")) == [copy.name]


def test_failing_migration_leaves_previous_version_and_data_intact(opened, db_path, key,
                                                                    monkeypatch):
    old = opened(target_version=1)
    _portal(777)
    AuditEvent.create(action="sync", details="before the failed migration")
    old.close()

    def broken_step(database):
        database.create_tables(models.MIGRATION_2_MODELS)
        models.AuditEvent.create(action="half-done", details="must be rolled back")
        raise RuntimeError("migration 2 exploded")

    monkeypatch.setattr(db_module, "MIGRATIONS", (MIGRATIONS[0], (2, broken_step)))
    with pytest.raises(Exception, match="migration 2 exploded"):
        open_store(db_path, key)
    monkeypatch.undo()

    assert db_path.with_name("t.db.pre-migration-v1").exists()
    survivor = opened(target_version=1)
    assert survivor.schema_version() == 1
    assert [p.hub_id for p in Portal.select()] == [777]
    assert [e.details for e in AuditEvent.select()] == ["before the failed migration"]
    for model in MIGRATION_2_MODELS:
        assert not survivor.db.table_exists(model._meta.table_name)
    survivor.close()

    # with the real migrations back, the upgrade succeeds
    fixed = opened()
    assert fixed.schema_version() == LATEST_VERSION
    assert [p.hub_id for p in Portal.select()] == [777]


def test_database_from_a_newer_app_is_refused_untouched(opened, db_path, key):
    store = opened()
    SchemaVersion.create(version=LATEST_VERSION + 1)
    store.close()
    before = _snapshot(db_path.parent)
    with pytest.raises(StoreError) as info:
        open_store(db_path, key)
    assert "newer" in str(info.value)
    assert not isinstance(info.value, StoreKeyError)
    assert _snapshot(db_path.parent) == before


# -- keys --------------------------------------------------------------------------------

def test_wrong_key_raises_store_key_error_and_changes_nothing(opened, db_path, key):
    store = opened()
    _portal(42)
    store.close()
    before = _snapshot(db_path.parent)
    assert set(before) == {"t.db"}

    with pytest.raises(StoreKeyError) as info:
        open_store(db_path, os.urandom(32))
    assert "not changed" in str(info.value)
    assert _snapshot(db_path.parent) == before

    reopened = opened()
    assert [p.hub_id for p in Portal.select()] == [42]


@pytest.mark.parametrize("bad_key", [b"", b"short", os.urandom(16), os.urandom(33)])
def test_key_of_wrong_length_is_refused_before_touching_disk(db_path, bad_key):
    with pytest.raises(StoreKeyError):
        open_store(db_path, bad_key)
    assert not db_path.exists()


def test_damaged_file_is_reported_not_overwritten(db_path, key):
    db_path.write_bytes(os.urandom(8192))
    before = db_path.read_bytes()
    with pytest.raises(StoreError):
        open_store(db_path, key)
    assert db_path.read_bytes() == before


def test_plain_sqlite_cannot_read_the_database(store, db_path):
    import sqlite3

    _portal(1)
    store.close()
    assert not db_path.read_bytes().startswith(b"SQLite format 3")
    conn = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            conn.execute("SELECT * FROM sqlite_master").fetchall()
    finally:
        conn.close()


# -- files on disk ---------------------------------------------------------------------

def test_database_wal_and_shm_are_private(store, db_path):
    _portal(1)
    files = {p.name: p for p in db_path.parent.iterdir()}
    assert "t.db" in files and "t.db-wal" in files
    for path in files.values():
        assert _mode(path) == 0o600, path.name


def test_new_database_is_private_even_with_a_loose_umask(db_path, key):
    old = os.umask(0o000)
    try:
        store = open_store(db_path, key)
        _portal(1)
    finally:
        os.umask(old)
    try:
        for path in db_path.parent.iterdir():
            assert _mode(path) == 0o600, path.name
    finally:
        store.close()


def test_journal_mode_is_wal_and_foreign_keys_on(store):
    assert store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


DEFINITION_MARK = "WG-DEFINITION-MARKER-7f3a9c"
TOKEN_MARK = "pat-na1-fake0badc0de-1234-5678-9abc-def012345678"
EMAIL_MARK = "plaintext.canary@example-wg.test"


def _contains_plaintext(folder: Path) -> dict[str, list[str]]:
    needles = [DEFINITION_MARK, TOKEN_MARK, EMAIL_MARK]
    found: dict[str, list[str]] = {}
    for path in folder.iterdir():
        if not path.is_file():
            continue
        blob = path.read_bytes()
        hits = [n for n in needles
                if n.encode() in blob or n.encode("utf-16-le") in blob]
        if hits:
            found[path.name] = hits
    return found


def test_no_plaintext_in_any_database_file(store, db_path):
    body = (f'{{"name": "{DEFINITION_MARK}", "actions": [{{"token": "{TOKEN_MARK}", '
            f'"to": "{EMAIL_MARK}"}}]}}').encode()
    with store.writing():
        portal = _portal(9001, user_email=EMAIL_MARK, name=f"Portal {DEFINITION_MARK}")
        workflow = Workflow.create(portal=portal, flow_id="1", name=DEFINITION_MARK)
        for i in range(20):  # several pages, so the WAL holds real content
            WorkflowVersion.create(workflow=workflow, content_hash=f"h{i}", body=body * 8,
                                   summary=f"{DEFINITION_MARK} {i}")
        AuditEvent.create(action="sync", portal_hub_id=9001,
                          details=f"{TOKEN_MARK} {EMAIL_MARK} {DEFINITION_MARK}")

    # while open: the -wal and -shm files exist and hold the new pages
    names = {p.name for p in db_path.parent.iterdir()}
    assert {"t.db", "t.db-wal"} <= names
    assert (db_path.parent / "t.db-wal").stat().st_size > 0
    assert _contains_plaintext(db_path.parent) == {}

    # the data really is in there
    assert WorkflowVersion.select().count() == 20
    assert Portal.get(Portal.hub_id == 9001).user_email == EMAIL_MARK

    store.close()
    assert _contains_plaintext(db_path.parent) == {}


# -- concurrency -----------------------------------------------------------------------

def test_concurrent_writers_lose_no_rows(store):
    threads_count, per_thread = 6, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with store.writing():
                    AuditEvent.create(action="job", details=f"t{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            store.db.close()  # this thread's connection

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    details = [e.details for e in AuditEvent.select()]
    assert len(details) == threads_count * per_thread
    assert set(details) == {f"t{n}-{i}" for n in range(threads_count) for i in range(per_thread)}


def test_writing_rolls_back_on_error(store):
    with pytest.raises(ZeroDivisionError):
        with store.writing():
            AuditEvent.create(action="sync", details="rolled back")
            1 / 0
    assert AuditEvent.select().count() == 0


def test_writing_is_reentrant(store):
    with store.writing():
        AuditEvent.create(action="a")
        with store.writing():
            AuditEvent.create(action="b")
    assert sorted(e.action for e in AuditEvent.select()) == ["a", "b"]


# -- models ----------------------------------------------------------------------------

def test_utc_datetime_field_round_trip(store):
    paris = dt.timezone(dt.timedelta(hours=2))
    moment = dt.datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=paris)
    event = AuditEvent.create(action="sync", timestamp=moment)
    loaded = AuditEvent.get_by_id(event.id).timestamp
    assert loaded == moment
    assert loaded.utcoffset() == dt.timedelta(0)
    raw = store.db.execute_sql("SELECT timestamp FROM audit_event").fetchone()[0]
    assert raw == "2026-07-01T12:30:15.123456+00:00"


def test_naive_datetimes_are_refused(store):
    with pytest.raises(ValueError):
        AuditEvent.create(action="sync", timestamp=dt.datetime(2026, 1, 1))


def test_deleting_a_portal_cascades_to_workflows_and_versions(store):
    portal = _portal(1)
    workflow = Workflow.create(portal=portal, flow_id="10")
    WorkflowVersion.create(workflow=workflow, content_hash="h", body=b"{}")
    portal.delete_instance()
    assert Workflow.select().count() == 0
    assert WorkflowVersion.select().count() == 0
