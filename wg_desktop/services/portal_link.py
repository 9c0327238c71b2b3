"""The state of one portal's link to HubSpot, as the Connection page shows it.

:func:`load_portal_snapshot` reads the stored portal, its token expiry from
the keychain and the account details (through the client's 1-hour cache) —
blocking work for a worker thread — and returns typed data. The portal's
client is not handed out: :class:`LinkWatch` exposes only what a view needs
to follow live (the circuit breaker and "reconnect needed"), which reads
locks and never does I/O.

Core module: no Qt.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from wg_desktop.hubspot import api
from wg_desktop.hubspot.breaker import BreakerState
from wg_desktop.hubspot.errors import HubSpotError
from wg_desktop.hubspot.ratelimit import Priority
from wg_desktop.services.connection import ConnectionTest
from wg_desktop.store.models import Portal, PortalStatus

AccountDetails = api.AccountDetails


class LinkState(enum.StrEnum):
    CONNECTED = "connected"
    RECONNECT_NEEDED = "reconnect_needed"
    OFFLINE = "offline"
    BREAKER_OPEN = "breaker_open"
    DISCONNECTED = "disconnected"


def link_state(status: str, needs_reauth: bool, breaker: BreakerState | None,
               last_test: ConnectionTest | None) -> LinkState:
    if status == PortalStatus.DISCONNECTED:
        return LinkState.DISCONNECTED
    if status == PortalStatus.RECONNECT_NEEDED or needs_reauth:
        return LinkState.RECONNECT_NEEDED
    if breaker in (BreakerState.OPEN, BreakerState.HALF_OPEN):
        return LinkState.BREAKER_OPEN
    if last_test is not None and not last_test.ok:
        return LinkState.OFFLINE
    return LinkState.CONNECTED


class LinkWatch:
    """Live, I/O-free view of a portal client's breaker and sign-in state."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def needs_reauth(self) -> bool:
        return bool(self._client.needs_reauth)

    @property
    def breaker_state(self) -> BreakerState:
        return self._client.breaker.state

    def retry_in(self) -> float:
        """Seconds until the open breaker lets the next request through."""
        return float(self._client.breaker.retry_in())

    def listen(self, owner: object, on_breaker: Callable[[str, str], None],
               on_reauth: Callable[[str], None]) -> bool:
        """Register ``on_breaker(portal_key, new_state)`` and
        ``on_reauth(portal_key)`` once per client and ``owner`` (snapshots
        are reloaded often; listeners must not pile up). They are called from
        whichever thread made the request: a view must hop to its own thread
        (a queued signal) before touching widgets. Returns whether this call
        registered them."""
        with _LISTENING_LOCK:
            owners = _LISTENING.setdefault(self._client, weakref.WeakSet())
            if owner in owners:
                return False
            owners.add(owner)
        self._client.breaker.add_listener(lambda key, _old, new: on_breaker(key, str(new)))
        self._client.add_reauth_listener(on_reauth)
        return True


# client -> owners already listening. Weak both ways: a forgotten client is not
# kept alive, and its id is never mistaken for a new client's.
_LISTENING: "weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]]" = weakref.WeakKeyDictionary()
_LISTENING_LOCK = threading.Lock()


@dataclass(frozen=True)
class PortalSnapshot:
    hub_id: int
    name: str
    domain: str
    account_type: str
    user_email: str
    time_zone: str
    auth_kind: str
    status: str
    scopes: tuple[str, ...]
    is_demo: bool
    connected_at: dt.datetime | None
    last_refresh_at: dt.datetime | None
    expires_at: float | None
    details: AccountDetails | None
    details_note: str
    watch: LinkWatch | None     # None for a disconnected portal (no client)

    def state(self, last_test: ConnectionTest | None) -> LinkState:
        watch = self.watch
        return link_state(self.status, bool(watch is not None and watch.needs_reauth),
                          watch.breaker_state if watch is not None else None, last_test)


def load_portal_snapshot(services: Any, hub_id: int) -> PortalSnapshot | None:
    """Worker thread: the stored portal, its token expiry and account details.
    ``services`` is the app's :class:`~wg_desktop.services.hubspot_setup.HubSpotServices`."""
    portal = Portal.get_or_none(Portal.hub_id == hub_id)
    if portal is None:
        return None
    client = None
    details = None
    note = ""
    if portal.status == PortalStatus.DISCONNECTED:
        note = "Disconnected: showing the information stored when it was connected."
    elif portal.status == PortalStatus.RECONNECT_NEEDED:
        client = services.clients.client(hub_id)
        note = "Reconnect to refresh the portal information."
    else:
        client = services.clients.client(hub_id)
        try:
            details = api.account_details(client, allow_stale=True,
                                          priority=Priority.INTERACTIVE)
            if details.stale:
                note = "HubSpot is unreachable: showing the last known information."
        except HubSpotError as exc:
            note = f"Could not fetch the portal information: {exc.user_message}"
    # Read after the API call, which may just have refreshed the token.
    tokens = services.vault.load(hub_id)
    portal = Portal.get_or_none(Portal.hub_id == hub_id) or portal
    expires_at = tokens.expires_at if tokens is not None else (
        portal.token_expires_at.timestamp() if portal.token_expires_at else None)
    return PortalSnapshot(
        hub_id=portal.hub_id, name=portal.name, domain=portal.domain,
        account_type=portal.account_type, user_email=portal.user_email,
        time_zone=portal.time_zone, auth_kind=portal.auth_kind, status=portal.status,
        scopes=tuple(portal.scopes.split()), is_demo=portal.is_demo,
        connected_at=portal.connected_at, last_refresh_at=portal.last_refresh_at,
        expires_at=expires_at, details=details, details_note=note,
        watch=LinkWatch(client) if client is not None else None)
