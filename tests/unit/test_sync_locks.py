"""The portal's sync lock as the sync and the restore take it: refused at once
(sync) or after a short wait (restore) while another holder has it, with the
holder's pid in one line and the command line's 'busy' exit status."""

from __future__ import annotations

import os

import pytest

from tests.support.offline_hubspot import offline_services
from wg_desktop.cli.base import ExitCode, exit_code_for
from wg_desktop.instance import sync_lock_path
from wg_desktop.portable import FileLock, LockBusy
from wg_desktop.services import restore as restore_module
from wg_desktop.services.restore import RestoreError
from wg_desktop.services.sync import SyncBusy
from wg_desktop.store.models import Portal

HUB = 42


@pytest.fixture
def hub(ctx):
    services = offline_services(ctx)
    with ctx.store.writing():
        Portal.create(hub_id=HUB, name="Acme")
    yield services
    services.close()


def _held(ctx) -> FileLock:
    """What another process (or the window's own worker) holds while it syncs."""
    return FileLock(sync_lock_path(ctx.store.path.parent, HUB)).acquire(timeout=0)


def test_a_sync_is_refused_while_the_portal_lock_is_held(ctx, hub):
    other = _held(ctx)
    try:
        with pytest.raises(SyncBusy) as refused:
            hub.sync.sync(HUB)
    finally:
        other.release()
    assert str(refused.value) == (f"A sync of portal Acme ({HUB}) is already running "
                                  f"(pid {os.getpid()}); try again when it has finished.")
    assert refused.value.holder_pid == os.getpid()
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert exit_code_for(refused.value) is ExitCode.BUSY


def test_a_restore_waits_briefly_then_is_refused_with_a_busy_cause(ctx, hub, monkeypatch):
    monkeypatch.setattr(restore_module, "LOCK_WAIT_S", 0.1)
    portal = Portal.get(Portal.hub_id == HUB)
    other = _held(ctx)
    try:
        with pytest.raises(RestoreError) as refused:
            with hub.restore._portal_lock(portal):
                pass
    finally:
        other.release()
    message = (f"A sync or restore of portal Acme ({HUB}) is running (pid {os.getpid()}); "
               "nothing was restored. Try again when it has finished.")
    assert str(refused.value) == message
    cause = refused.value.__cause__
    assert isinstance(cause, SyncBusy) and str(cause) == message
    assert cause.holder_pid == os.getpid()
    assert exit_code_for(refused.value) is ExitCode.BUSY


def test_the_restore_holds_the_portal_lock_for_its_block_only(ctx, hub):
    portal = Portal.get(Portal.hub_id == HUB)
    with hub.restore._portal_lock(portal):
        with pytest.raises(LockBusy):
            _held(ctx)
    _held(ctx).release()
