"""LinkWatch: what a view may know of a portal's client, and listeners that
do not pile up when the snapshot is reloaded."""

from __future__ import annotations

import gc

from wg_desktop.hubspot.breaker import BreakerState, CircuitBreaker, Outcome
from wg_desktop.services.connection import ConnectionTest
from wg_desktop.services.portal_link import LinkState, LinkWatch, PortalSnapshot


class FakeClient:
    def __init__(self) -> None:
        self.needs_reauth = False
        self.breaker = CircuitBreaker("42", failure_threshold=1, cooldown=30.0)
        self.reauth_listeners: list = []

    def add_reauth_listener(self, fn) -> None:
        self.reauth_listeners.append(fn)


class Owner:
    pass


def test_listeners_are_registered_once_per_client_and_owner():
    client, owner, other_owner = FakeClient(), Owner(), Owner()
    seen: list[tuple[str, str]] = []
    assert LinkWatch(client).listen(owner, lambda k, s: seen.append((k, s)), print)
    # a reloaded snapshot wraps the same client again: no second registration
    assert not LinkWatch(client).listen(owner, lambda k, s: seen.append((k, s)), print)
    assert len(client.reauth_listeners) == 1
    assert LinkWatch(client).listen(other_owner, lambda k, s: None, print)
    assert len(client.reauth_listeners) == 2
    # a new client behind the same portal gets its own listeners
    assert LinkWatch(FakeClient()).listen(owner, lambda k, s: None, print)


def test_breaker_changes_reach_the_listener_as_text():
    client, owner = FakeClient(), Owner()
    seen: list[tuple[str, str]] = []
    LinkWatch(client).listen(owner, lambda key, state: seen.append((key, state)), print)
    client.breaker.record(Outcome.FAILURE)
    assert seen == [("42", str(BreakerState.OPEN))]
    assert LinkWatch(client).breaker_state is BreakerState.OPEN
    assert 0 < LinkWatch(client).retry_in() <= 30.0


def test_a_forgotten_client_is_not_kept_alive():
    import weakref

    client = FakeClient()
    ref = weakref.ref(client)
    LinkWatch(client).listen(Owner(), lambda k, s: None, print)
    del client
    gc.collect()
    assert ref() is None


def _snapshot(status: str, watch: LinkWatch | None) -> PortalSnapshot:
    return PortalSnapshot(hub_id=1, name="P", domain="", account_type="", user_email="",
                          time_zone="", auth_kind="oauth", status=status, scopes=(),
                          is_demo=False, connected_at=None, last_refresh_at=None,
                          expires_at=None, details=None, details_note="", watch=watch)


def test_snapshot_state_follows_the_live_client():
    client = FakeClient()
    snap = _snapshot("connected", LinkWatch(client))
    assert snap.state(None) is LinkState.CONNECTED
    assert snap.state(ConnectionTest(1, False, 5, "down")) is LinkState.OFFLINE
    client.needs_reauth = True
    assert snap.state(None) is LinkState.RECONNECT_NEEDED
    assert _snapshot("disconnected", None).state(None) is LinkState.DISCONNECTED
