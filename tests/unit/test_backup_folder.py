"""The ``backup.folder`` setting: validated when chosen, honoured by backing up,
listing, retention, delete and the doctor's search; a vanished folder is a
clear failure that counts nothing; changing it keeps the old backups listed."""

from __future__ import annotations

import datetime as dt
import stat

import pytest

from wg_desktop.config import BY_KEY, Settings, SettingError, parse_value
from wg_desktop.services import backups as backups_mod
from wg_desktop.services.audit import AuditAction, AuditQuery
from wg_desktop.services.backups import (FOLDER_SETTING, UNREACHABLE, BackupError,
                                         BackupFolderMissing, BackupService,
                                         newest_restorable)
from wg_desktop.services.settings_service import SettingsService
from wg_desktop.store.backup_models import BackupRecord, BackupStatus
from wg_desktop.store.models import Outcome


def _choose(ctx, folder) -> None:
    SettingsService(ctx.settings, ctx.secrets, ctx.audit).apply({FOLDER_SETTING: str(folder)})


def test_the_setting_is_empty_by_default_and_the_data_folder_is_used(ctx):
    assert ctx.settings.get(FOLDER_SETTING) == ""
    svc = BackupService.from_context(ctx)
    assert svc.folder == ctx.paths.backups_dir
    assert svc.backup_now().path.parent == ctx.paths.backups_dir


def test_a_relative_path_is_refused_wherever_it_comes_from(ctx):
    with pytest.raises(SettingError, match="expected an absolute path"):
        _choose(ctx, "backups/here")
    with pytest.raises(SettingError, match="expected an absolute path"):
        parse_value(BY_KEY[FOLDER_SETTING], "relative/dir")
    with pytest.raises(SettingError, match="expected an absolute path"):
        Settings.load(None, {"WG_BACKUP_FOLDER": "relative/dir"})
    assert ctx.settings.get(FOLDER_SETTING) == ""


def test_a_folder_that_cannot_be_made_or_written_is_refused_and_nothing_saved(ctx, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    # Under a file nothing can be created, even for root (these tests may run as root).
    with pytest.raises(SettingError, match="cannot hold backups"):
        _choose(ctx, blocker / "backups")
    with pytest.raises(SettingError, match="is a file, not a folder"):
        _choose(ctx, blocker)
    assert ctx.settings.get(FOLDER_SETTING) == ""
    assert FOLDER_SETTING not in ctx.settings.file_values


def test_a_chosen_folder_is_created_private_and_backups_go_there(ctx, tmp_path):
    chosen = tmp_path / "drive" / "wg-backups"
    _choose(ctx, chosen)
    assert chosen.is_dir() and stat.S_IMODE(chosen.stat().st_mode) == 0o700
    assert not list(chosen.iterdir())             # the write probe is gone
    svc = BackupService.from_context(ctx)
    assert svc.folder == chosen
    info = svc.backup_now()
    assert info.path.parent == chosen
    assert [p.name for p in chosen.iterdir()] == [info.path.name]
    assert [b.path for b in svc.list()] == [info.path]
    assert svc.verify(info.path).schema_version == ctx.store.schema_version()
    # The log names a file outside the data folder by its whole path.
    assert BackupRecord.get(BackupRecord.status == BackupStatus.VERIFIED).file_name == \
        str(info.path)


def test_the_plain_snapshot_never_touches_the_chosen_folder(ctx, tmp_path, monkeypatch):
    chosen = tmp_path / "usb"
    _choose(ctx, chosen)
    seen = []
    real = backups_mod.seal_snapshot

    def spy(plain, out_tmp, *args):
        seen.append((plain.parent, out_tmp.parent, sorted(p.name for p in chosen.iterdir())))
        return real(plain, out_tmp, *args)
    monkeypatch.setattr(backups_mod, "seal_snapshot", spy)
    BackupService.from_context(ctx).backup_now()
    (plain_dir, out_dir, in_chosen), = seen
    assert plain_dir == ctx.paths.backups_dir and out_dir == chosen
    assert in_chosen == []          # only the encrypted temp file is ever written there


def test_changing_the_folder_keeps_old_backups_listed_and_under_retention(ctx, tmp_path):
    svc = BackupService.from_context(ctx)
    first = svc.backup_now()                       # <data folder>/backups
    _choose(ctx, tmp_path / "one")
    second = svc.backup_now()
    _choose(ctx, tmp_path / "two")
    third = svc.backup_now()
    assert [b.path for b in svc.list()] == [third.path, second.path, first.path]
    assert all(b.verified for b in svc.list())
    # Retention reaches every listed backup, wherever it lives; the newest stays.
    removed = svc.apply_retention(third.created_at + dt.timedelta(days=31))
    assert sorted(removed) == sorted([first.path, second.path])
    assert not first.path.exists() and not second.path.exists()
    assert [b.path for b in svc.list()] == [third.path]
    assert BackupRecord.select().where(BackupRecord.status == BackupStatus.VERIFIED).count() == 1


def test_delete_reaches_a_backup_of_an_earlier_folder(ctx, tmp_path):
    svc = BackupService.from_context(ctx)
    _choose(ctx, tmp_path / "old")
    old = svc.backup_now()
    _choose(ctx, "")                                # back to the data folder's own
    assert svc.folder == ctx.paths.backups_dir
    svc.backup_now()
    svc.delete(old.path)
    assert not old.path.exists()
    assert not BackupRecord.select().where(BackupRecord.file_name == str(old.path)).exists()


def test_a_vanished_folder_fails_clearly_counts_nothing_and_is_not_recreated(ctx, tmp_path):
    drive = tmp_path / "usb-drive"
    _choose(ctx, drive / "wg-backups")
    svc = BackupService.from_context(ctx)
    made = svc.backup_now()
    away = drive.rename(tmp_path / "in-a-drawer")  # the drive is unplugged
    with pytest.raises(BackupFolderMissing) as caught:
        svc.backup_now()
    message = str(caught.value)
    assert message.startswith(f"the backup folder {drive / 'wg-backups'} is not there")
    assert "no backup was made" in message and FOLDER_SETTING in message
    assert "\n" not in message
    assert not drive.exists()                       # not re-created on the wrong disk
    failed = svc.failures()
    assert len(failed) == 1 and failed[0].message == message
    entry = ctx.audit.entries(AuditQuery(action=AuditAction.BACKUP))[0]
    assert entry.outcome == Outcome.FAILURE
    # Counted: nothing new. Listed: the earlier backup, with its path, as unreachable.
    listed = svc.list()
    assert [(b.path, b.status) for b in listed] == [(made.path, UNREACHABLE)]
    assert "not reachable" in listed[0].message and not listed[0].verified
    with pytest.raises(BackupError, match="reachable"):
        svc.delete(made.path)
    assert svc.apply_retention(made.created_at + dt.timedelta(days=90)) == []
    # Plugged back in: listed as verified again, and backups go there again.
    away.rename(drive)
    assert [(b.path, b.status) for b in svc.list()] == [(made.path, BackupStatus.VERIFIED)]
    assert svc.backup_now().path.parent == drive / "wg-backups"


def test_the_doctor_looks_for_a_restorable_backup_in_the_chosen_folder(ctx, tmp_path):
    chosen = tmp_path / "elsewhere"
    _choose(ctx, chosen)
    info = BackupService.from_context(ctx).backup_now()
    found = newest_restorable(ctx.paths, ctx.secrets)     # settings read from the file
    assert found is not None and found.path == info.path
    found = newest_restorable(ctx.paths, ctx.secrets, ctx.settings)
    assert found is not None and found.path == info.path


def test_only_the_backups_own_leftovers_are_swept_from_a_chosen_folder(ctx, tmp_path):
    shared = tmp_path / "documents"
    shared.mkdir()
    theirs = shared / ".tmp-notes.txt"          # a file of the user's own
    theirs.write_text("mine")
    killed = shared / ".tmp-backup-123-20260101T000000000000"
    killed.write_bytes(b"half a backup")
    _choose(ctx, shared)
    info = BackupService.from_context(ctx).backup_now()
    assert theirs.read_text() == "mine" and not killed.exists()
    assert sorted(p.name for p in shared.iterdir()) == sorted([theirs.name, info.path.name])
