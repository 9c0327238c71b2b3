"""A failed backup raises the "backup failed" alert through the channels; a
later backup that works resolves it with a notice; a listener that breaks
never changes the backup's own result."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.channels import RecordingChannel
from wg_desktop.services.alerts import AlertService, Rule, Severity
from wg_desktop.services.backups import BackupError, BackupService
from wg_desktop.services.notifiers import Dispatcher, NoticeKind
from wg_desktop.store.health_models import AlertRecord

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def wired(ctx):
    channel = RecordingChannel()
    alerts = AlertService(ctx.store, ctx.settings, ctx.audit,
                          dispatcher=Dispatcher([channel], ctx.store),
                          cooldown=dt.timedelta(minutes=30), now=lambda: NOW)
    backups = BackupService.from_context(ctx)
    alerts.subscribe(backups=backups)
    return backups, alerts, channel


def _break_disk(monkeypatch, backups):
    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(backups, "_make", full_disk)


def test_a_failed_backup_raises_a_critical_alert_and_a_good_one_resolves_it(
        ctx, wired, monkeypatch):
    backups, _alerts, channel = wired
    with monkeypatch.context() as patch:
        _break_disk(patch, backups)
        with pytest.raises(BackupError, match="No space left"):
            backups.backup_now()
        with pytest.raises(BackupError):
            backups.backup_now()
    with ctx.store.session():
        alert = AlertRecord.get(AlertRecord.rule == str(Rule.BACKUP_FAILED))
    assert alert.severity == str(Severity.CRITICAL) and alert.count == 2
    assert alert.resolved_at is None and "No space left" in alert.message
    assert [n.kind for n in channel.sent] == [NoticeKind.RAISED]   # the repeat is counted

    backups.backup_now()
    with ctx.store.session():
        alert = AlertRecord.get_by_id(alert.id)
    assert alert.resolved_at is not None
    assert [n.kind for n in channel.sent] == [NoticeKind.RAISED, NoticeKind.RESOLVED]


def test_a_good_backup_with_nothing_open_sends_nothing(ctx, wired):
    backups, _alerts, channel = wired
    backups.backup_now()
    assert channel.sent == []
    with ctx.store.session():
        assert AlertRecord.select().count() == 0


def test_a_broken_listener_does_not_change_the_backups_result(ctx):
    backups = BackupService.from_context(ctx)

    def broken(_outcome):
        raise RuntimeError("channel exploded")

    backups.on_outcome(broken)
    info = backups.backup_now()
    assert info.path.exists()


def test_the_listeners_are_told_after_the_backup_lock_is_released(ctx, monkeypatch):
    # An alert's e-mail or webhook can take many seconds: meanwhile "Back up
    # now" and a restore must not be refused as busy.
    from wg_desktop.services.backups import backup_lock

    backups = BackupService.from_context(ctx)
    told = []

    def takes_the_lock(outcome):
        with backup_lock(ctx.paths):          # raises BackupBusy while it is held
            told.append(outcome.ok)

    backups.on_outcome(takes_the_lock)
    with monkeypatch.context() as patch:
        _break_disk(patch, backups)
        with pytest.raises(BackupError, match="No space left"):
            backups.backup_now()
    backups.backup_now()
    assert told == [False, True]


def test_an_interrupted_backup_is_no_failure_and_raises_no_alert(ctx, wired, monkeypatch):
    backups, _alerts, channel = wired
    told = []
    backups.on_outcome(told.append)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr(backups, "_make", interrupted)
        with pytest.raises(KeyboardInterrupt):
            backups.backup_now()
    assert told == [] and channel.sent == [] and backups.failures() == []
    with ctx.store.session():
        assert AlertRecord.select().count() == 0
    assert backups.backup_now().verified        # the lock was released
