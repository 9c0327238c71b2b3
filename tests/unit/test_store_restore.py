"""The whole-store restore the window runs on a worker (services/store_restore.py):
every outcome is audited in the store that is at the path afterwards."""

from __future__ import annotations

import logging

import pytest

from wg_desktop.services import store_restore
from wg_desktop.services.audit import AuditAction, AuditQuery
from wg_desktop.services.backups import BackupError, BackupService
from wg_desktop.store.db import StoreError
from wg_desktop.store.models import Outcome


def _restores(ctx) -> list:
    return ctx.audit.entries(AuditQuery(action=AuditAction.BACKUP_RESTORE))


def test_a_restore_is_audited_in_the_restored_store(ctx):
    backup = BackupService.from_context(ctx).backup_now().path
    result = store_restore.replace_live_store(ctx, backup, None,
                                              ctx.store.detach_connection())
    assert result.kept_aside is not None
    entries = _restores(ctx)
    assert [e.outcome for e in entries] == [Outcome.SUCCESS]
    assert '"from": "window"' in entries[0].details


def test_a_failed_restore_is_audited(ctx):
    missing = ctx.paths.backups_dir / "gone.wgbackup"
    with pytest.raises(BackupError, match="does not exist"):
        store_restore.replace_live_store(ctx, missing, None, ctx.store.detach_connection())
    entries = _restores(ctx)
    assert [e.outcome for e in entries] == [Outcome.FAILURE]
    assert "does not exist" in entries[0].details


def test_a_restored_store_that_does_not_open_is_audited_as_a_failure(ctx, monkeypatch):
    backup = BackupService.from_context(ctx).backup_now().path

    def does_not_open(db):
        raise StoreError("file is not a database")

    monkeypatch.setattr(store_restore, "current_version", does_not_open)
    with pytest.raises(StoreError, match="the restored store does not open") as raised:
        store_restore.replace_live_store(ctx, backup, None, ctx.store.detach_connection())
    assert "is kept as" in str(raised.value)
    entries = _restores(ctx)
    assert [e.outcome for e in entries] == [Outcome.FAILURE]
    assert "does not open" in entries[0].details and '"from": "window"' in entries[0].details


def test_an_audit_that_cannot_be_written_does_not_hide_the_failure(ctx, monkeypatch, caplog):
    backup = BackupService.from_context(ctx).backup_now().path
    monkeypatch.setattr(store_restore, "current_version",
                        lambda db: (_ for _ in ()).throw(StoreError("not a database")))
    monkeypatch.setattr(ctx.audit, "record",
                        lambda *a, **k: (_ for _ in ()).throw(StoreError("cannot write")))
    with caplog.at_level(logging.WARNING, logger=store_restore.__name__):
        with pytest.raises(StoreError, match="the restored store does not open"):
            store_restore.replace_live_store(ctx, backup, None,
                                             ctx.store.detach_connection())
    assert "could not be audited" in caplog.text
