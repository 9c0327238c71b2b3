"""Token lifecycle: tokens live only in the keychain; the manager hands out a
valid access token, refreshing it when under the buffer (5 minutes) remain —
HubSpot advises tracking expiry rather than waiting for a 401.

One refresh in flight per portal: other threads wait for it and use its
result. The whole token set of a portal is one keychain entry, so a rotated
refresh token replaces the old one atomically with its access token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Mapping

from wg_desktop.hubspot.errors import HubSpotError, ReauthenticationNeeded
from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.security.secrets import SecretStore, token_key

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)   # None for a private-app token
    expires_at: float | None         # epoch seconds; None: does not expire
    scopes: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "oauth" if self.refresh_token else "private_app"

    def seconds_left(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now

    @classmethod
    def from_token_response(cls, body: Mapping[str, Any], now: float,
                            previous_refresh: str | None = None) -> "TokenSet":
        """From HubSpot's token endpoint answer. A response without a new
        refresh token keeps the previous one (rotation is optional)."""
        access = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(access, str) or not access or not isinstance(expires_in, (int, float)):
            raise ValueError("the token response lacks access_token or expires_in")
        refresh = body.get("refresh_token") or previous_refresh
        scopes = body.get("scopes") or body.get("scope") or ()
        if isinstance(scopes, str):
            scopes = scopes.split()
        return cls(access, refresh, now + float(expires_in), tuple(scopes))


class TokenVault:
    """Per-portal token sets in the secret store (keychain), one entry each.

    Every token that passes through is registered with the redaction registry,
    so it is masked wherever it might surface (logs, crash dialogs, exports).
    """

    def __init__(self, secrets: SecretStore, registry: SecretRegistry | None = None) -> None:
        self.secrets = secrets
        self.registry = registry

    def register(self, tokens: TokenSet) -> TokenSet:
        """Make the redaction filter mask these tokens wherever they surface."""
        if self.registry is not None:
            self.registry.add(tokens.access_token)
            self.registry.add(tokens.refresh_token)
        return tokens

    def register_text(self, secret: str) -> None:
        if self.registry is not None:
            self.registry.add(secret)

    def load(self, hub_id: int | str) -> TokenSet | None:
        raw = self.secrets.get(token_key(hub_id, "tokens"))
        if not raw:
            return None
        data = json.loads(raw)
        return self.register(TokenSet(data["access_token"], data.get("refresh_token"),
                                       data.get("expires_at"), tuple(data.get("scopes", ()))))

    def save(self, hub_id: int | str, tokens: TokenSet) -> None:
        self.register(tokens)
        self.secrets.set(token_key(hub_id, "tokens"), json.dumps(asdict(tokens)))

    def delete(self, hub_id: int | str) -> None:
        self.secrets.delete(token_key(hub_id, "tokens"))


# Exchanges a refresh token for a token response (HubSpot's JSON body); raises
# ReauthenticationNeeded when HubSpot says the refresh token is dead.
Refresher = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class RefreshOutcome:
    portal_key: str
    ok: bool
    error: str = ""
    needs_reconnect: bool = False


class TokenManager:
    """Implements the HubSpot client's ``TokenProvider`` for every portal."""

    def __init__(self, vault: TokenVault, refresher: Refresher, *, buffer_seconds: float = 300,
                 clock: Callable[[], float] = time.time,
                 on_refresh: Callable[[RefreshOutcome], None] | None = None) -> None:
        self.vault = vault
        self.refresher = refresher
        self.buffer = buffer_seconds
        self.clock = clock
        self.on_refresh = on_refresh
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, portal_key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(portal_key, threading.Lock())

    def _tokens(self, portal_key: str) -> TokenSet:
        tokens = self.vault.load(portal_key)
        if tokens is None:
            raise ReauthenticationNeeded(f"No stored tokens for portal {portal_key}",
                                         user_message="This portal is not connected on this "
                                         "computer. Connect it again.")
        return tokens

    def needs_refresh(self, tokens: TokenSet) -> bool:
        left = tokens.seconds_left(self.clock())
        return tokens.refresh_token is not None and left is not None and left < self.buffer

    def access_token(self, portal_key: str) -> str:
        tokens = self._tokens(portal_key)
        if not self.needs_refresh(tokens):
            return tokens.access_token
        with self._lock(portal_key):
            tokens = self._tokens(portal_key)      # another thread may have refreshed
            if self.needs_refresh(tokens):
                tokens = self._refresh_locked(portal_key, tokens)
        return tokens.access_token

    def refresh(self, portal_key: str, rejected_token: str) -> str:
        with self._lock(portal_key):
            tokens = self._tokens(portal_key)
            if tokens.access_token != rejected_token:
                return tokens.access_token          # someone already refreshed
            if tokens.refresh_token is None:
                raise ReauthenticationNeeded(
                    f"HubSpot rejected the private-app token of portal {portal_key}",
                    user_message="HubSpot rejected this portal's private app token. "
                                 "Enter a valid token or reconnect the portal.")
            return self._refresh_locked(portal_key, tokens).access_token

    def refresh_if_due(self, portal_key: str) -> bool:
        """The hourly check: refresh when the buffer is reached; True if it refreshed."""
        with self._lock(portal_key):
            tokens = self._tokens(portal_key)
            if not self.needs_refresh(tokens):
                return False
            self._refresh_locked(portal_key, tokens)
            return True

    def _refresh_locked(self, portal_key: str, tokens: TokenSet) -> TokenSet:
        assert tokens.refresh_token is not None
        try:
            body = self.refresher(tokens.refresh_token)
            fresh = TokenSet.from_token_response(body, self.clock(), tokens.refresh_token)
            if not fresh.scopes:
                fresh = replace(fresh, scopes=tokens.scopes)
            self.vault.save(portal_key, fresh)
        except HubSpotError as exc:
            # The refresher (api.refresh_access_token) already turns HubSpot's
            # BAD_REFRESH_TOKEN / invalid_grant into ReauthenticationNeeded.
            dead = isinstance(exc, ReauthenticationNeeded)
            self._report(RefreshOutcome(portal_key, False, str(exc), needs_reconnect=dead))
            if dead:
                raise ReauthenticationNeeded(
                    f"HubSpot rejected the refresh token of portal {portal_key}",
                    user_message="HubSpot no longer accepts this portal's sign-in (the app "
                                 "was uninstalled or access revoked). Reconnect the portal.",
                    correlation_id=exc.correlation_id) from exc
            raise
        except ValueError as exc:
            self._report(RefreshOutcome(portal_key, False, str(exc)))
            raise
        self._report(RefreshOutcome(portal_key, True))
        return fresh

    def _report(self, outcome: RefreshOutcome) -> None:
        if outcome.ok:
            log.info("refreshed the access token of portal %s", outcome.portal_key)
        else:
            log.warning("token refresh failed for portal %s: %s", outcome.portal_key,
                        outcome.error)
        if self.on_refresh is not None:
            self.on_refresh(outcome)
