"""One HubSpot client per portal, built lazily and shared by every service.

Each portal has its own rate-limit budget, circuit breaker and cache (they
live in its client); the budget's admitted-request times and every call
record go to the store.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from wg_desktop.config import Settings
from wg_desktop.hubspot.auth import StaticTokenProvider, TokenProvider
from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.transport.client import HubSpotClient
from wg_desktop.store.api_metrics import StoreCallRecorder, StoreUsageStore
from wg_desktop.store.db import Store

log = logging.getLogger(__name__)

# Budget key of requests made for the app itself (token exchange, refresh,
# revoke) before or outside one portal's own client.
APP_KEY = "oauth-app"

ClientListener = Callable[[HubSpotClient], None]


class PortalClients:
    def __init__(self, settings: Settings, store: Store, tokens: TokenProvider, *,
                 api_base: str | None = None) -> None:
        overrides = {"api_base": api_base} if api_base else {}
        self.config = ClientConfig.from_settings(settings, **overrides)
        self.tokens = tokens
        self.usage = StoreUsageStore(store)
        self.recorder = StoreCallRecorder(store)
        self._clients: dict[str, HubSpotClient] = {}
        self._lock = threading.Lock()
        self._listeners: list[ClientListener] = []

    def on_new_client(self, listener: ClientListener) -> None:
        """Called for every client created from now on (health monitor, status bar)."""
        self._listeners.append(listener)

    def _build(self, portal_key: str, tokens: TokenProvider | None) -> HubSpotClient:
        return HubSpotClient(portal_key, self.config, tokens, usage_store=self.usage,
                             recorder=self.recorder)

    def client(self, portal_key: str | int) -> HubSpotClient:
        key = str(portal_key)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._build(key, self.tokens)
                created = True
            else:
                created = False
        if created:
            for listener in self._listeners:
                try:
                    listener(client)
                except Exception:  # one broken observer must not break API access
                    log.exception("a new-client listener failed")
        return client

    def app_client(self) -> HubSpotClient:
        """The client for OAuth endpoints (no bearer token; own budget key)."""
        return self.client(APP_KEY)

    def probe_client(self, access_token: str, portal_key: str = "connecting") -> HubSpotClient:
        """A short-lived client with a token that is not stored yet (validation
        before connecting). The caller closes it."""
        return self._build(portal_key, StaticTokenProvider(access_token))

    def reconnected(self, portal_key: str | int) -> None:
        """After a (re)connect: keep the client — other threads may be using it,
        and its budget must stay one — but forget its 'reauth needed' state,
        its breaker history and its cached answers."""
        with self._lock:
            client = self._clients.get(str(portal_key))
        if client is not None:
            client.clear_reauth()
            client.breaker.reset()
            client.cache.invalidate(client.cache_prefix())

    def forget(self, portal_key: str | int) -> None:
        with self._lock:
            client = self._clients.pop(str(portal_key), None)
        if client is not None:
            client.close()

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
