"""Connecting, checking and disconnecting portals.

Every path (embedded web view, browser + loopback, pasted code, private-app
token, CLI) ends in :meth:`ConnectionService.connect_with_tokens`, which
validates the portal *before* anything is stored: granted scopes, workflow
access through the API (a plan below Professional, or a token without the
automation scope, answers 403), account details. HubSpot has no endpoint for
the plan itself, and the user's role needs scopes the app does not request
(only users allowed to install apps can authorize it), so those two are
covered by the workflow probe and by HubSpot's own install rules.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from wg_desktop.constants import OAUTH_SCOPES
from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import (AuthError, CircuitOpenError, HubSpotError, NetworkError,
                                       PermissionDenied, ReauthenticationNeeded,
                                       RequestTimeout, ServerError)
from wg_desktop.hubspot.ratelimit import Priority
from wg_desktop.instance import holding_portal_lock
from wg_desktop.services.audit import AuditAction, AuditLog, AuditQuery
from wg_desktop.services.oauth_flow import AuthorizationRequest
from wg_desktop.services.portals import find_portal
from wg_desktop.services.portal_clients import PortalClients
from wg_desktop.services.tokens import RefreshOutcome, TokenManager, TokenSet, TokenVault
from wg_desktop.store.db import Store
from wg_desktop.store.models import (IMPORTED_AUTH_KIND, AppState, Outcome, Portal, PortalStatus,
                                     Workflow, utcnow)

log = logging.getLogger(__name__)

PENDING_REVOCATIONS = "pending_revocations"
OFFLINE_ERRORS = (NetworkError, RequestTimeout, ServerError, CircuitOpenError)


class ConnectError(RuntimeError):
    """The portal cannot be connected; ``problems`` say why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Cannot connect this portal: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class OAuthApp:
    """The app's OAuth registration: from the settings, or the demo portal's."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    auth_base: str
    is_demo: bool = False

    @property
    def credentials(self) -> api.OAuthCredentials:
        return api.OAuthCredentials(self.client_id, self.client_secret, self.redirect_uri)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.redirect_uri)


@dataclass(frozen=True)
class PortalCheck:
    hub_id: int
    name: str
    domain: str
    user: str
    account_type: str
    time_zone: str
    scopes: tuple[str, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class ConnectionTest:
    hub_id: int
    ok: bool
    response_ms: float
    message: str
    state: PortalStatus = PortalStatus.CONNECTED


class ConnectionService:
    def __init__(self, store: Store, audit: AuditLog, vault: TokenVault, tokens: TokenManager,
                 clients: PortalClients, app: OAuthApp, *,
                 clock: Any = time.time) -> None:
        self.store = store
        self.audit = audit
        self.vault = vault
        self.tokens = tokens
        self.clients = clients
        self.app = app
        self.clock = clock

    # -- starting a sign-in ------------------------------------------------------------

    def authorization_request(self) -> AuthorizationRequest:
        if not self.app.configured:
            raise ConnectError(["No HubSpot app is configured: set HUBSPOT_CLIENT_ID, "
                                "HUBSPOT_CLIENT_SECRET and HUBSPOT_REDIRECT_URI (or use "
                                "the demo portal)."])
        return AuthorizationRequest(self.app.auth_base, self.app.client_id,
                                    self.app.redirect_uri)

    def complete_oauth(self, request: AuthorizationRequest, code: str) -> Portal:
        """Exchange the code (with the PKCE verifier), validate, then store."""
        self.vault.register_text(code)
        self.vault.register_text(request.code_verifier)
        try:
            answer = api.exchange_code(self.clients.app_client(), self.app.credentials, code,
                                       redirect_uri=request.redirect_uri,
                                       code_verifier=request.code_verifier)
        except HubSpotError as exc:
            self.audit.record(AuditAction.CONNECT, outcome=Outcome.FAILURE,
                              details={"step": "code exchange", "error": str(exc)})
            raise ConnectError([f"HubSpot did not accept the sign-in: {exc.user_message} "
                                f"({exc})"]) from exc
        tokens = TokenSet(answer.access_token, answer.refresh_token,
                          self.clock() + answer.expires_in, answer.scopes)
        return self.connect_with_tokens(tokens, auth_kind="oauth")

    def connect_private_app(self, access_token: str) -> Portal:
        token = access_token.strip()
        if not token or any(c.isspace() for c in token):
            raise ConnectError(["That does not look like a private app access token."])
        return self.connect_with_tokens(TokenSet(token, None, None), auth_kind="private_app")

    # -- validation and storing -----------------------------------------------------------

    def check(self, tokens: TokenSet, auth_kind: str) -> PortalCheck:
        """Ask HubSpot who this token belongs to and whether the portal can work."""
        problems: list[str] = []
        client = self.clients.probe_client(tokens.access_token)
        try:
            scopes = tokens.scopes
            user = ""
            domain = ""
            if auth_kind == "oauth":
                info = api.access_token_info(self.clients.app_client(), self.app.credentials,
                                             tokens.access_token)
                scopes = info.scopes or scopes
                user = info.user or ""
                domain = info.hub_domain or ""
                missing = [s for s in OAUTH_SCOPES if s not in scopes]
                if missing:
                    problems.append("HubSpot did not grant the scope(s) "
                                    f"{', '.join(missing)}; reinstall the app and accept all "
                                    "requested permissions.")
            details = api.account_details(client, force_refresh=True)
            try:
                api.list_flows_page(client, limit=1)
            except PermissionDenied as exc:
                problems.append("This portal cannot use workflows through the API: it needs a "
                                "Professional or Enterprise plan with workflows, and the "
                                f"'automation' scope. HubSpot said: {exc.message}")
            return PortalCheck(details.portal_id, details.portal_name or domain or
                               f"Portal {details.portal_id}", domain or details.ui_domain or "",
                               user, details.account_type or "", details.time_zone or "",
                               tuple(scopes), tuple(problems))
        except AuthError as exc:
            raise ConnectError([f"HubSpot rejected the token: {exc.user_message}"]) from exc
        except HubSpotError as exc:
            raise ConnectError([f"Could not check the portal: {exc.user_message} ({exc})"]) \
                from exc
        finally:
            client.close()

    def connect_with_tokens(self, tokens: TokenSet, auth_kind: str) -> Portal:
        # Masked from the first moment, even if validation fails and nothing is stored.
        self.vault.register(tokens)
        check = self.check(tokens, auth_kind)
        if check.problems:
            self.audit.record(AuditAction.CONNECT, portal_hub_id=check.hub_id,
                              outcome=Outcome.FAILURE, details={"problems": list(check.problems)})
            raise ConnectError(list(check.problems))
        self.vault.save(check.hub_id, tokens)
        now = utcnow()
        expires = (dt.datetime.fromtimestamp(tokens.expires_at, dt.timezone.utc)
                   if tokens.expires_at else None)
        with self.store.writing():
            portal, created = Portal.get_or_create(hub_id=check.hub_id)
            portal.name = check.name
            portal.domain = check.domain
            portal.account_type = check.account_type
            portal.user_email = check.user
            portal.time_zone = check.time_zone
            portal.auth_kind = auth_kind
            portal.status = PortalStatus.CONNECTED
            portal.scopes = " ".join(check.scopes)
            portal.is_demo = self.app.is_demo
            portal.connected_at = now
            portal.last_refresh_at = now if auth_kind == "oauth" else None
            portal.token_expires_at = expires
            portal.save()
        self.clients.reconnected(check.hub_id)
        self.audit.record(AuditAction.CONNECT, portal_hub_id=check.hub_id,
                          details={"portal": check.name, "auth": auth_kind,
                                   "reconnected": not created})
        return portal

    # -- token lifecycle bookkeeping ------------------------------------------------------

    def on_refresh(self, outcome: RefreshOutcome) -> None:
        """TokenManager callback: record the attempt; a dead refresh token marks
        the portal 'reconnect needed' so background jobs pause for it."""
        hub_id = _hub_id(outcome.portal_key)
        if hub_id is None:
            return
        self.audit.record(AuditAction.TOKEN_REFRESH, portal_hub_id=hub_id,
                          outcome=Outcome.SUCCESS if outcome.ok else Outcome.FAILURE,
                          details={"error": outcome.error} if outcome.error else "")
        with self.store.writing():
            portal = Portal.get_or_none(Portal.hub_id == hub_id)
            if portal is None:
                return
            if outcome.ok:
                tokens = self.vault.load(hub_id)
                portal.last_refresh_at = utcnow()
                if tokens and tokens.expires_at:
                    portal.token_expires_at = dt.datetime.fromtimestamp(tokens.expires_at,
                                                                        dt.timezone.utc)
            elif outcome.needs_reconnect:
                portal.status = PortalStatus.RECONNECT_NEEDED
            portal.save()

    def mark_reconnect_needed(self, portal_key: str) -> None:
        """The client saw a second 401 (or a dead private-app token): remember
        it in the store so the state survives a restart and jobs pause."""
        hub_id = _hub_id(portal_key)
        if hub_id is None:
            return
        with self.store.writing():
            changed = (Portal.update(status=PortalStatus.RECONNECT_NEEDED)
                       .where((Portal.hub_id == hub_id)
                              & (Portal.status == PortalStatus.CONNECTED)).execute())
        if changed:
            self.audit.record(AuditAction.CONNECT, portal_hub_id=hub_id,
                              outcome=Outcome.WARNING,
                              details="HubSpot rejected the portal's token: reconnect needed")

    def refresh_due_tokens(self) -> dict[int, str]:
        """The hourly job: refresh every connected portal whose token is due."""
        results: dict[int, str] = {}
        for portal in self.connected_portals():
            try:
                refreshed = self.tokens.refresh_if_due(str(portal.hub_id))
                results[portal.hub_id] = "refreshed" if refreshed else "valid"
            except HubSpotError as exc:
                results[portal.hub_id] = f"failed: {exc}"
        return results

    def refresh_success_rate(self) -> float | None:
        """Share of successful token refreshes (target > 99 %), from the audit log."""
        total = self.audit.count(AuditQuery(action=AuditAction.TOKEN_REFRESH))
        if not total:
            return None
        ok = self.audit.count(AuditQuery(action=AuditAction.TOKEN_REFRESH,
                                         outcome=Outcome.SUCCESS))
        return ok / total

    # -- listing and testing --------------------------------------------------------------

    def portals(self) -> list[Portal]:
        return list(Portal.select().where(Portal.status != PortalStatus.DISCONNECTED)
                    .order_by(Portal.name))

    def browsable_portals(self) -> list[Portal]:
        """Every portal whose data can be browsed: connected ones first, then
        disconnected ones whose history was kept, then imported sources."""
        rank = {PortalStatus.CONNECTED: 0, PortalStatus.RECONNECT_NEEDED: 0}
        portals = list(Portal.select())
        return sorted(portals, key=lambda p: (p.auth_kind == IMPORTED_AUTH_KIND,
                                              rank.get(p.status, 1), p.name.lower()))

    def connected_portals(self) -> list[Portal]:
        return list(Portal.select().where(Portal.status == PortalStatus.CONNECTED))

    def portal(self, ref: str | int) -> Portal:
        """A portal that is not disconnected, by hub id or (case-insensitive) name."""
        return find_portal(ref, (PortalStatus.CONNECTED, PortalStatus.RECONNECT_NEEDED))

    def test_connection(self, hub_id: int) -> ConnectionTest:
        """The portal's stored state first (the one source of truth the window,
        the status bar and every command share), then a live call."""
        portal = Portal.get_or_none(Portal.hub_id == hub_id)
        if portal is not None and portal.status == PortalStatus.RECONNECT_NEEDED:
            return ConnectionTest(hub_id, False, 0.0,
                                  "Needs a reconnect: HubSpot no longer accepts its token. "
                                  "Run 'wg-desktop connect' or use Reconnect.",
                                  state=PortalStatus.RECONNECT_NEEDED)
        client = self.clients.client(hub_id)
        started = time.perf_counter()
        try:
            api.account_details(client, force_refresh=True, priority=Priority.INTERACTIVE)
            api.list_flows_page(client, limit=1, priority=Priority.INTERACTIVE)
        except ReauthenticationNeeded as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return ConnectionTest(hub_id, False, elapsed, f"{exc.user_message} ({exc})",
                                  state=PortalStatus.RECONNECT_NEEDED)
        except HubSpotError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return ConnectionTest(hub_id, False, elapsed, f"{exc.user_message} ({exc})")
        elapsed = (time.perf_counter() - started) * 1000
        return ConnectionTest(hub_id, True, elapsed, f"Connected — {elapsed:.0f} ms")

    # -- disconnecting -------------------------------------------------------------------

    def disconnect(self, hub_id: int, *, keep_history: bool = True) -> list[str]:
        """Revoke at HubSpot (or queue the revocation when offline), delete the
        keychain entry, stop using the client, keep or delete local history.
        Returns what happened, one line per step; every step is audited.

        Never under a running sync or restore of the portal (the window's or a
        command's): it would store a failure over the disconnect, or versions
        after a history delete. Raises :class:`PortalBusy` at once, with
        nothing changed, while one holds the portal's lock."""
        if self.store.read_only:
            raise self.store.read_only_error()
        with self.store.bound():
            portal = Portal.get_or_none(Portal.hub_id == hub_id)
        name = portal.name if portal is not None else f"Portal {hub_id}"
        # Beside the database, as SyncService and RestoreService take it.
        with holding_portal_lock(self.store.path.parent, hub_id, name, "disconnect it"):
            return self._disconnect(hub_id, keep_history)

    def _disconnect(self, hub_id: int, keep_history: bool) -> list[str]:
        steps: list[str] = []
        tokens = self.vault.load(hub_id)
        if tokens is not None and tokens.refresh_token:
            try:
                api.revoke_refresh_token(self.clients.app_client(), self.app.credentials,
                                         tokens.refresh_token)
                steps.append("Revoked the app's access at HubSpot.")
                self.audit.record(AuditAction.DISCONNECT, portal_hub_id=hub_id,
                                  details={"step": "revoke"})
            except OFFLINE_ERRORS as exc:
                self._queue_revocation(tokens.refresh_token)
                steps.append("HubSpot is unreachable: the revocation will be retried.")
                self.audit.record(AuditAction.DISCONNECT, portal_hub_id=hub_id,
                                  outcome=Outcome.WARNING,
                                  details={"step": "revoke", "queued": True, "error": str(exc)})
            except HubSpotError as exc:
                steps.append(f"HubSpot refused the revocation ({exc}); the token is deleted "
                             "locally anyway.")
                self.audit.record(AuditAction.DISCONNECT, portal_hub_id=hub_id,
                                  outcome=Outcome.WARNING,
                                  details={"step": "revoke", "error": str(exc)})
        self.vault.delete(hub_id)
        self.clients.forget(hub_id)
        steps.append("Deleted the portal's tokens from this computer.")
        self.audit.record(AuditAction.DISCONNECT, portal_hub_id=hub_id,
                          details={"step": "delete tokens"})
        with self.store.writing():
            portal = Portal.get_or_none(Portal.hub_id == hub_id)
            if portal is not None:
                if keep_history:
                    portal.status = PortalStatus.DISCONNECTED
                    portal.token_expires_at = None
                    portal.save()
                else:
                    Workflow.delete().where(Workflow.portal == portal).execute()
                    portal.delete_instance(recursive=True)
        steps.append("Kept the local history." if keep_history
                     else "Deleted the local history.")
        self.audit.record(AuditAction.DISCONNECT, portal_hub_id=hub_id,
                          details={"step": "local history",
                                   "kept": keep_history})
        return steps

    def _queue_revocation(self, refresh_token: str) -> None:
        # The queued token is a secret: it waits in the keychain, not the database.
        pending = self._pending()
        pending.append(refresh_token)
        self.vault.secrets.set(PENDING_REVOCATIONS, json.dumps(pending))
        with self.store.writing():
            AppState.replace(key=PENDING_REVOCATIONS, value=str(len(pending))).execute()

    def _pending(self) -> list[str]:
        raw = self.vault.secrets.get(PENDING_REVOCATIONS)
        return json.loads(raw) if raw else []

    def retry_pending_revocations(self) -> int:
        """Returns how many are still pending."""
        remaining = []
        for token in self._pending():
            try:
                api.revoke_refresh_token(self.clients.app_client(), self.app.credentials, token)
                self.audit.record(AuditAction.DISCONNECT, details={"step": "queued revoke"})
            except OFFLINE_ERRORS:
                remaining.append(token)
            except HubSpotError as exc:
                self.audit.record(AuditAction.DISCONNECT, outcome=Outcome.WARNING,
                                  details={"step": "queued revoke", "error": str(exc)})
        if remaining:
            self.vault.secrets.set(PENDING_REVOCATIONS, json.dumps(remaining))
        else:
            self.vault.secrets.delete(PENDING_REVOCATIONS)
        with self.store.writing():
            AppState.replace(key=PENDING_REVOCATIONS, value=str(len(remaining))).execute()
        return len(remaining)


def _hub_id(portal_key: str) -> int | None:
    return int(portal_key) if portal_key.isdigit() else None
