"""A disconnect never runs under a sync or restore of the same portal, from
the window or the command line: the service itself takes the portal's lock."""

from __future__ import annotations

import os

import pytest

from tests.support.offline_hubspot import offline_services
from wg_desktop.cli.base import ExitCode, exit_code_for
from wg_desktop.instance import PortalBusy, sync_lock_path
from wg_desktop.portable import FileLock, LockBusy
from wg_desktop.services.audit import AuditQuery
from wg_desktop.services.tokens import TokenSet
from wg_desktop.store.models import Portal, PortalStatus

HUB = 42


@pytest.fixture
def hub(ctx):
    services = offline_services(ctx)
    with ctx.store.writing():
        Portal.create(hub_id=HUB, name="Acme", auth_kind="private_app")
    # A private-app token: nothing to revoke, so no call leaves the machine.
    services.vault.save(HUB, TokenSet("pat-token", None, None))
    yield services
    services.close()


def _disconnects(ctx) -> int:
    return ctx.audit.count(AuditQuery(action="disconnect"))


def test_disconnect_is_refused_while_the_portal_syncs_and_changes_nothing(ctx, hub):
    syncing = FileLock(sync_lock_path(ctx.store.path.parent, HUB)).acquire(timeout=0)
    try:
        with pytest.raises(PortalBusy) as refused:
            hub.connection.disconnect(HUB, keep_history=False)
    finally:
        syncing.release()
    assert str(refused.value) == (f"A sync or restore of portal Acme ({HUB}) is already running "
                                  f"(pid {os.getpid()}); nothing was changed. Try again to "
                                  "disconnect it when it has finished.")
    assert exit_code_for(refused.value) is ExitCode.BUSY
    assert hub.vault.load(HUB) is not None
    assert Portal.get(Portal.hub_id == HUB).status == PortalStatus.CONNECTED
    assert _disconnects(ctx) == 0


def test_disconnect_holds_the_portal_lock_while_it_runs(ctx, hub, monkeypatch):
    seen = []

    def delete(hub_id):
        with pytest.raises(LockBusy):     # a sync starting now is kept out
            FileLock(sync_lock_path(ctx.store.path.parent, hub_id)).acquire(timeout=0)
        seen.append(hub_id)

    monkeypatch.setattr(hub.vault, "delete", delete)
    steps = hub.connection.disconnect(HUB)
    assert seen == [HUB] and steps[-1] == "Kept the local history."
    assert Portal.get(Portal.hub_id == HUB).status == PortalStatus.DISCONNECTED
    FileLock(sync_lock_path(ctx.store.path.parent, HUB)).acquire(timeout=0).release()


def test_disconnect_from_a_read_only_store_changes_nothing(ctx, hub, monkeypatch):
    from wg_desktop.store.db import StoreError

    monkeypatch.setattr(ctx.store, "read_only", True)
    monkeypatch.setattr(ctx.store, "read_only_reason", "the folder is read-only")
    with pytest.raises(StoreError, match="opened read-only"):
        hub.connection.disconnect(HUB)
    assert hub.vault.load(HUB) is not None          # the tokens were not deleted first
    assert not sync_lock_path(ctx.store.path.parent, HUB).exists()
