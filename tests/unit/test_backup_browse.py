"""Opening a backup read-only beside the live store, browsing it with the live
pages' read services, and comparing it with the live store."""

from __future__ import annotations

import datetime as dt
import os
import stat
import threading

import pytest

from wg_desktop.constants import APP_VERSION
from wg_desktop.services.backup_browse import (LiveStoreCompare, browsable_portals, open_backup,
                                               opened_root, portal_label, store_counts,
                                               sweep_opened_backups)
from wg_desktop.services.backup_format import (BackupError, BackupFormatError, BackupMetadata,
                                               KeyKind)
from wg_desktop.services.backups import (BackupService, _encrypt_snapshot, backup_key,
                                         snapshot_plain)
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store import models
from wg_desktop.store.db import StoreReadOnly, open_store
from wg_desktop.store.models import Portal, PortalStatus, Workflow, utcnow
from wg_desktop.store.versions import add_version, history


def flow(name: str, step: str) -> dict:
    return {"id": "77", "name": name, "type": "WORKFLOW", "objectTypeId": "0-1",
            "actions": [{"actionId": "1", "type": "SINGLE_CONNECTION", "fields": {"x": step}}]}


def seed(store, versions: list[str], *, hub_id: int = 4242, name: str = "Lead routing"
         ) -> Workflow:
    with store.writing():
        portal, _ = Portal.get_or_create(hub_id=hub_id, defaults={"name": "Acme"})
        workflow, _ = Workflow.get_or_create(portal=portal, flow_id="77",
                                             defaults={"name": name})
        for step in versions:
            known = history(workflow)       # newest first: each capture a day after it
            at = (known[0].captured_at if known else utcnow() - dt.timedelta(days=30))
            add_version(workflow, flow(name, step), origin="sync",
                        captured_at=at + dt.timedelta(days=1))
    return workflow


@pytest.fixture
def backed_up(ctx):
    seed(ctx.store, ["one", "two"])
    info = BackupService.from_context(ctx).backup_now()
    return info.path


def test_open_browse_and_close_leaves_the_live_store_alone(ctx, backed_up):
    seed(ctx.store, ["three"])                 # the live store moved on
    with open_backup(ctx.paths, backed_up, secrets=ctx.secrets) as opened:
        assert opened.title.startswith("Viewing backup of ") and opened.title.endswith(
            "(read-only)")
        assert opened.store.read_only and not opened.portable
        assert models.database_proxy.default is ctx.store.db     # the live store stays default
        assert opened.counts().versions == 2 and store_counts(ctx.store).versions == 3
        with opened.store.session():
            rows = WorkflowQueries(opened.store, ctx.audit).list()
        assert [(r.name, r.versions) for r in rows] == [("Lead routing", 2)]
        assert [p.label for p in browsable_portals(opened.store)] == ["Acme"]
        # The private copy: 0700 folder, 0600 file, keyed (no plain SQLite header).
        folder = opened.folder
        assert folder.parent == opened_root(ctx.paths)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        db_file = folder / "backup.db"
        assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
        assert not db_file.read_bytes().startswith(b"SQLite format 3")
        with opened.store.session(), pytest.raises(StoreReadOnly):
            with opened.store.writing():
                pass
    assert not folder.exists()
    assert [r.versions for r in WorkflowQueries(ctx.store, ctx.audit).list()] == [3]


def test_a_worker_reads_the_backup_while_another_thread_reads_the_live_store(ctx, backed_up):
    seed(ctx.store, ["three"])
    with open_backup(ctx.paths, backed_up, secrets=ctx.secrets) as opened:
        found = {}

        def read_backup() -> None:
            with opened.store.session():
                found["backup"] = [r.versions for r in WorkflowQueries(opened.store,
                                                                       ctx.audit).list()]

        worker = threading.Thread(target=read_backup)
        worker.start()
        found["live"] = [r.versions for r in WorkflowQueries(ctx.store, ctx.audit).list()]
        worker.join(10)
    assert found == {"backup": [2], "live": [3]}


def test_compare_with_the_live_store_reads_both_sides(ctx, backed_up):
    seed(ctx.store, ["three"])
    with open_backup(ctx.paths, backed_up, secrets=ctx.secrets) as opened:
        with opened.store.session():
            workflow_id = Workflow.get().id
            compare = LiveStoreCompare(opened.store, ctx.store)
            live = compare.live(workflow_id)
            # Still bound to the backup after reading the live side.
            assert len(history(workflow_id)) == 2
        assert live.definition["actions"][0]["fields"]["x"] == "three"


def test_portable_copy_needs_its_passphrase(ctx, backed_up, tmp_path):
    out = BackupService.from_context(ctx).export_portable(tmp_path / "p.wgbackup",
                                                          "a long passphrase").path
    with pytest.raises(BackupFormatError, match="wrong passphrase"):
        open_backup(ctx.paths, out, secrets=None, passphrase="not it at all")
    with pytest.raises(BackupFormatError, match="portable backup"):
        open_backup(ctx.paths, out, secrets=ctx.secrets)
    # Nothing of a refused open stays on disk.
    assert list(opened_root(ctx.paths).iterdir()) == []
    with open_backup(ctx.paths, out, secrets=None, passphrase="a long passphrase") as opened:
        assert opened.portable and opened.counts().workflows == 1


def test_a_tampered_backup_is_refused_and_leaves_nothing(ctx, backed_up, tmp_path):
    data = bytearray(backed_up.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.wgbackup"
    bad.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        open_backup(ctx.paths, bad, secrets=ctx.secrets)
    assert list(opened_root(ctx.paths).iterdir()) == []


def test_a_current_backup_is_never_opened_writable(ctx, backed_up, monkeypatch):
    from wg_desktop.services import backup_browse

    writable = []
    real_open = backup_browse.open_store
    monkeypatch.setattr(backup_browse, "_migrate_staged",
                        lambda staged, key: pytest.fail("a current backup was migrated"))
    monkeypatch.setattr(backup_browse, "open_store", lambda *a, **k: (
        writable.append(k) if not k.get("read_only") else None) or real_open(*a, **k))
    with open_backup(ctx.paths, backed_up, secrets=ctx.secrets) as opened:
        assert opened.schema_version == models_latest() and writable == []
        assert opened.counts().versions == 2
        assert not (opened.folder / "backup.db-wal").exists() or \
            (opened.folder / "backup.db-wal").stat().st_size == 0


def test_an_older_schema_backup_is_migrated_in_the_open_copy(ctx, tmp_path, monkeypatch):
    from wg_desktop.services import backup_browse

    migrated = []
    real_migrate = backup_browse._migrate_staged
    monkeypatch.setattr(backup_browse, "_migrate_staged",
                        lambda staged, key: migrated.append(staged) or real_migrate(staged, key))
    old_path = tmp_path / "old.db"
    key = os.urandom(32)
    old = open_store(old_path, key, target_version=4, as_default=False)
    with old.writing():
        Portal.create(hub_id=9, name="From schema 4")
    old.close()
    plain = tmp_path / "old.plain"
    snapshot_plain(old_path, key, plain)
    out = tmp_path / "old.wgbackup"
    _encrypt_snapshot(plain, out, backup_key(ctx.secrets, create=True),
                      BackupMetadata(utcnow(), 4, APP_VERSION), KeyKind.KEYCHAIN, None)
    with open_backup(ctx.paths, out, secrets=ctx.secrets) as opened:
        assert len(migrated) == 1
        assert opened.schema_version == 4
        assert opened.store.schema_version() == models_latest()
        assert [p.label for p in browsable_portals(opened.store)] == ["From schema 4"]


def models_latest() -> int:
    from wg_desktop.store.db import LATEST_VERSION
    return LATEST_VERSION


def test_sweep_removes_what_a_killed_process_left_but_not_an_open_one(ctx, backed_up):
    opened = open_backup(ctx.paths, backed_up, secrets=ctx.secrets)
    try:
        leftover = opened_root(ctx.paths) / "12345-deadbeef"
        leftover.mkdir(mode=0o700)
        (leftover / "backup.db").write_bytes(b"left by a killed process")
        assert sweep_opened_backups(ctx.paths) == 1
        assert not leftover.exists() and opened.folder.exists()
    finally:
        opened.close()


def test_an_imported_file_is_labelled_as_imported():
    imported = Portal(hub_id=-123, name="Imported: export.zip", auth_kind="import",
                      status=PortalStatus.DISCONNECTED)
    assert portal_label(imported) == "imported from export.zip"
    assert portal_label(Portal(hub_id=5, name="Acme")) == "Acme"
