"""Wiring the HubSpot side of the app: which HubSpot (the real one or the
embedded demo portal), the token manager, one client per portal and the
connection service. Called by the composition root (GUI and CLI), which also
starts the demo portal (``wg_desktop.demo.embedded``) when it is wanted: this
module only sees the running portal's URLs, credentials and tokens."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from wg_desktop.config import Settings
from wg_desktop.hubspot import api
from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.security.secrets import SecretStore
from wg_desktop.services.audit import AuditLog
from wg_desktop.services.connection import ConnectionService, OAuthApp
from wg_desktop.services.portal_clients import PortalClients
from wg_desktop.services.restore import RestoreService
from wg_desktop.services.sync import SyncService
from wg_desktop.services.tokens import TokenManager, TokenVault
from wg_desktop.store.db import Store
from wg_desktop.store.models import Portal, PortalStatus

def describe_target(services: "HubSpotServices") -> str:
    """Which HubSpot this app talks to, in words for the status bar and the CLI."""
    if services.demo is not None:
        return f"the built-in demo portal at {services.api_base} (not HubSpot)"
    return f"HubSpot at {services.api_base}"


@dataclass
class HubSpotServices:
    app: OAuthApp
    api_base: str
    vault: TokenVault
    tokens: TokenManager
    clients: PortalClients
    connection: ConnectionService
    sync: SyncService
    restore: RestoreService
    demo: Any = None          # the running DemoPortal in demo mode

    def close(self) -> None:
        self.clients.close()
        if self.demo is not None:
            self.demo.stop()


def demo_app(demo: Any) -> OAuthApp:
    return OAuthApp(demo.client_id, demo.client_secret, demo.redirect_uris[0], demo.base_url,
                    is_demo=True)


def settings_app(settings: Settings) -> OAuthApp:
    return OAuthApp(settings.get("hubspot.client_id"), settings.get("hubspot.client_secret"),
                    settings.get("hubspot.redirect_uri"), settings.get("hubspot.auth_base"))


def build_hubspot_services(settings: Settings, store: Store, audit: AuditLog,
                           secrets: SecretStore, *, registry: SecretRegistry | None = None,
                           app: OAuthApp | None = None,
                           api_base: str | None = None, demo: Any = None,
                           clock: Callable[[], float] | None = None) -> HubSpotServices:
    if demo is not None:
        app = app or demo_app(demo)
        api_base = api_base or demo.base_url
    app = app or settings_app(settings)
    api_base = api_base or settings.get("hubspot.api_base")
    vault = TokenVault(secrets, registry)
    if registry is not None:
        registry.add(app.client_secret)
    holder: dict[str, Any] = {}

    def refresher(refresh_token: str) -> dict[str, Any]:
        answer = api.refresh_access_token(holder["clients"].app_client(), app.credentials,
                                          refresh_token)
        return dataclasses.asdict(answer)

    extra = {"clock": clock} if clock is not None else {}
    tokens = TokenManager(vault, refresher,
                          buffer_seconds=float(settings.get("token.refresh_buffer")), **extra)
    clients = PortalClients(settings, store, tokens, api_base=api_base)
    holder["clients"] = clients
    connection = ConnectionService(store, audit, vault, tokens, clients, app, **extra)
    tokens.on_refresh = connection.on_refresh
    clients.on_new_client(lambda client: client.add_reauth_listener(
        connection.mark_reconnect_needed))
    sync = SyncService(store, audit, clients, settings)
    restore = RestoreService(store, audit, clients, settings)
    return HubSpotServices(app, api_base, vault, tokens, clients, connection, sync, restore,
                           demo)


def ensure_demo_portal_connected(services: HubSpotServices) -> Portal | None:
    """In demo mode the demo's main portal is connected with its private-app
    token (stable across restarts), so a new user sees a working app at once."""
    demo = services.demo
    if demo is None:
        return None
    hub_id = demo.portal_ids[0]
    existing = Portal.get_or_none(Portal.hub_id == hub_id)
    if existing is not None and existing.status == PortalStatus.DISCONNECTED:
        return None          # the admin disconnected it: respect that
    if existing is not None and services.vault.load(hub_id) is not None:
        return existing
    return services.connection.connect_private_app(demo.private_app_token(hub_id))
