"""OAuth 2.0 of the demo portal: authorize page, token endpoints (v1 and the
v3 / date-versioned generation), token metadata, introspection, revocation,
private-app tokens, and Bearer authentication of API calls.

Tokens are kept only as SHA-256 hashes; the raw value exists in the token
response (and in the metadata answers HubSpot's contract requires) only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

from wg_desktop.demo.config import (DEMO_APP_SCOPES, KNOWN_SCOPES, DemoConfig, PortalProfile,
                                    derive, uuid_shaped)
from wg_desktop.demo.wire import (FORM_TYPE, Request, Response, error_page, hubspot_error,
                                  html_response, json_response, redirect_response)

PENDING_TTL_S = 600.0
_PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
_NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
AUTH_DOCS = "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
# The demo listens on loopback; each name below reaches the same server. The
# consent page can send the browser on to the other name, as HubSpot sends an
# account hosted in another data centre on to app-eu1.hubspot.com & co, so that
# sign-in across two hosts can be tried without the internet.
_LOOPBACK_PAIRS = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def second_host(host_header: str) -> str | None:
    """The other loopback name (with the same port) for a request's Host header."""
    name, sep, port = host_header.strip().lower().rpartition(":")
    if not sep or not port.isdigit():
        name, port = host_header.strip().lower(), ""
    other = _LOOPBACK_PAIRS.get(name)
    if other is None:
        return None
    return f"{other}:{port}" if port else other


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def short_token_id(token: str) -> str:
    """What the request log stores instead of a token."""
    return token_digest(token)[:12]


@dataclass(frozen=True)
class DemoApp:
    app_id: int
    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    """Who is calling an API endpoint."""

    portal_id: int
    kind: str                     # "oauth" | "private_app"
    rate_key: tuple[Any, ...]     # per app per portal
    token_id: str                 # short hash, for the request log
    scopes: frozenset[str]
    user_id: int


@dataclass
class _Access:
    portal_id: int
    app_id: int
    client_id: str
    scopes: tuple[str, ...]
    user_id: int
    user_email: str
    expires_at: float
    revoked: bool = False


@dataclass
class _Refresh:
    portal_id: int
    app_id: int
    client_id: str
    scopes: tuple[str, ...]
    user_id: int
    user_email: str
    revoked: bool = False


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    portal_id: int
    scopes: tuple[str, ...]
    challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class _Pending:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    challenge: str | None
    portals: tuple[int, ...]
    expires_at: float
    used: bool = False


@dataclass
class _OAuthError(Exception):
    status: str          # legacy status, e.g. BAD_REFRESH_TOKEN
    error: str           # RFC 6749 error, e.g. invalid_grant
    message: str
    http_status: int = 400
    new_message: str | None = None   # the wording of the new endpoints, if different

    def response(self, new_style: bool) -> Response:
        if new_style:
            text = self.new_message or self.message
            body: dict[str, Any] = {"error": self.error, "error_description": text,
                                    "status": self.status, "message": text}
        else:
            body = {"status": self.status, "message": self.message}
        return json_response(self.http_status, body, list(_NO_STORE))


def _not_a_form(req: Request) -> _OAuthError | None:
    """RFC 6749 §3.2 and HubSpot's docs: the OAuth endpoints take form-encoded
    bodies. A JSON body must hear that, not a misleading complaint about a
    grant type or a client id it never got to read. (An empty body without a
    content type is fine: v1 takes its parameters from the query string.)"""
    media_type = req.header("Content-Type").split(";", 1)[0].strip().lower()
    if media_type == FORM_TYPE or not (media_type or req.body):
        return None
    sent = media_type or "no Content-Type"
    return _OAuthError("BAD_REQUEST", "invalid_request",
                       f"This endpoint takes an {FORM_TYPE} body; the request sent {sent}.")


def _bad_refresh() -> _OAuthError:
    return _OAuthError("BAD_REFRESH_TOKEN", "invalid_grant", "missing or invalid refresh token",
                       new_message="refresh token is invalid, expired or revoked")


class OAuthService:
    """Thread-safe state of the demo OAuth server."""

    def __init__(self, config: DemoConfig, profiles: tuple[PortalProfile, ...],
                 clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self.profiles = {p.portal_id: p for p in profiles}
        seed = config.seed
        self.app = DemoApp(
            app_id=2_000_000 + int(derive(seed, "app-id", 5), 16) % 1_000_000,
            client_id=f"demo-{uuid_shaped(derive(seed, 'client-id'))}",
            client_secret=f"demo-secret-{derive(seed, 'client-secret')}",
            name="WorkflowGuard Desktop (demo app)",
            redirect_uris=config.redirect_uris)
        self._signing_key = derive(seed, "signing-key", 64).encode()
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, _Code] = {}
        self._pending: dict[str, _Pending] = {}
        self._private: dict[str, tuple[int, str]] = {}     # digest -> (portal, token)
        self._private_by_portal: dict[int, str] = {}
        for profile in profiles:
            token = (f"pat-{profile.data_hosting}-demo-"
                     f"{uuid_shaped(derive(seed, f'private-app-token:{profile.portal_id}'))}")
            self._private[token_digest(token)] = (profile.portal_id, token)
            self._private_by_portal[profile.portal_id] = token

    # -- helpers for the in-process API --------------------------------------------
    def private_app_token(self, portal_id: int) -> str:
        try:
            return self._private_by_portal[portal_id]
        except KeyError:
            raise KeyError(f"no demo portal {portal_id}") from None

    def issue_tokens(self, portal_id: int, scopes: tuple[str, ...] | None = None) -> dict[str, Any]:
        if portal_id not in self.profiles:
            raise KeyError(f"no demo portal {portal_id}")
        granted = tuple(sorted(set(scopes or DEMO_APP_SCOPES)))
        with self._lock:
            return self._issue(self.profiles[portal_id], granted)

    def _issue(self, profile: PortalProfile, scopes: tuple[str, ...],
               refresh_token: str | None = None) -> dict[str, Any]:
        """Create an access (and, unless given, a refresh) token. Lock held."""
        ttl = self._config.token_ttl
        if len(self._access) > 5000:     # a long-running portal: forget dead access tokens
            now = self._clock()
            for key in [k for k, v in self._access.items() if v.revoked or v.expires_at <= now]:
                del self._access[key]
        access = f"demo-at-{profile.data_hosting}-{secrets.token_urlsafe(48)}"
        self._access[token_digest(access)] = _Access(
            profile.portal_id, self.app.app_id, self.app.client_id, scopes, profile.user_id,
            profile.user_email, self._clock() + ttl)
        if refresh_token is None:
            refresh_token = f"demo-rt-{profile.data_hosting}-{uuid_shaped(secrets.token_hex(16))}"
            self._refresh[token_digest(refresh_token)] = _Refresh(
                profile.portal_id, self.app.app_id, self.app.client_id, scopes, profile.user_id,
                profile.user_email)
        return {"token_type": "bearer", "refresh_token": refresh_token, "access_token": access,
                "expires_in": max(1, math.ceil(ttl)), "token_use": "access_token",
                "hub_id": profile.portal_id, "user_id": profile.user_id, "scopes": list(scopes)}

    # -- authentication of API calls -------------------------------------------------
    def authenticate(self, authorization: str) -> Principal | Response:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return hubspot_error(
                401, "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                f"and you can find more details at {AUTH_DOCS}")
        digest = token_digest(token)
        short = digest[:12]
        private = self._private.get(digest)
        if private is not None:
            return Principal(portal_id=private[0], kind="private_app",
                             rate_key=("private-app", digest[:16], private[0]), token_id=short,
                             scopes=KNOWN_SCOPES, user_id=self.profiles[private[0]].user_id)
        with self._lock:
            record = self._access.get(digest)
        if record is None or record.revoked:
            return hubspot_error(401, "INVALID_AUTHENTICATION",
                                 "The OAuth token used to make this call is invalid or has been revoked.")
        remaining = record.expires_at - self._clock()
        if remaining <= 0:
            minutes = int(-remaining // 60)
            return hubspot_error(
                401, "EXPIRED_AUTHENTICATION",
                f"The OAuth token used to make this call expired {minutes} minute(s) ago.")
        return Principal(portal_id=record.portal_id, kind="oauth",
                         rate_key=("app", record.app_id, record.portal_id), token_id=short,
                         scopes=frozenset(record.scopes), user_id=record.user_id)

    # -- authorize pages ----------------------------------------------------------
    def authorize_page(self, req: Request, account_id: int | None) -> Response:
        client_id = req.arg("client_id") or ""
        if client_id != self.app.client_id:
            return error_page(400, "Invalid client_id",
                              "The client_id is missing or does not belong to a known app.")
        redirect_uri = req.arg("redirect_uri") or ""
        if redirect_uri not in self.app.redirect_uris:
            return error_page(400, "Redirect URL mismatch",
                              f"The redirect URL '{redirect_uri}' doesn't match the app's "
                              "registered redirect URL(s).")
        scope_text = req.arg("scope")
        if scope_text is None or not scope_text.strip():
            return error_page(400, "Missing scope", "The 'scope' parameter is required.")
        scopes = scope_text.split()
        optional = (req.arg("optional_scope") or "").split()
        unknown = [s for s in (*scopes, *optional) if s not in KNOWN_SCOPES]
        if unknown:
            return error_page(400, "Invalid scope",
                              f"Unknown scope(s) requested: {' '.join(unknown)}")
        challenge = req.arg("code_challenge")
        method = req.arg("code_challenge_method")
        if challenge is not None or method is not None:
            if not challenge or not _PKCE_CHALLENGE.match(challenge):
                return error_page(400, "Invalid code_challenge",
                                  "code_challenge must be 43-128 characters of base64url.")
            if method != "S256":
                return error_page(400, "Unsupported code_challenge_method",
                                  "Only code_challenge_method=S256 is supported.")
        if account_id is not None:
            if account_id not in self.profiles:
                return error_page(404, "Account not found",
                                  f"You don't have access to account {account_id}.")
            portals: tuple[int, ...] = (account_id,)
        else:
            portals = tuple(self.profiles)
        granted = tuple(sorted(set(scopes) | set(optional)))
        request_id = secrets.token_urlsafe(18)
        with self._lock:
            self._expire_locked()
            self._pending[request_id] = _Pending(client_id, redirect_uri, granted, req.arg("state"),
                                                 challenge, portals, self._clock() + PENDING_TTL_S)
        return html_response(200, self._consent_html(request_id, portals, granted,
                                                     second_host(req.header("Host"))))

    def _consent_html(self, request_id: str, portals: tuple[int, ...], scopes: tuple[str, ...],
                      other_host: str | None = None) -> str:
        rid = html.escape(request_id)
        regional = ""
        if other_host is not None:
            regional = (f'<button type="submit" id="allow-regional" name="continue_on" '
                        f'value="{html.escape(other_host)}">Allow on {html.escape(other_host)}'
                        '</button>')
        choices = []
        for i, pid in enumerate(portals):
            p = self.profiles[pid]
            checked = " checked" if i == 0 else ""
            choices.append(
                f'<label class="portal"><input type="radio" name="portal_id" value="{pid}" '
                f'id="portal-{pid}"{checked}> <strong>{html.escape(p.name)}</strong> '
                f'<span class="hub">{pid} · {html.escape(p.plan)}</span></label>')
        scope_items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Choose an account | HubSpot (demo)</title>
<style>body{{font-family:sans-serif;margin:2em auto;max-width:42em;color:#33475b}}
label.portal{{display:block;padding:.6em;border:1px solid #cbd6e2;margin:.3em 0;border-radius:4px}}
.hub{{color:#7c98b6;font-size:.9em}} button{{padding:.6em 1.4em;margin-right:.6em}}
#allow{{background:#ff7a59;color:#fff;border:0;border-radius:3px}}</style></head>
<body>
<h1>Connect <span id="app-name">{html.escape(self.app.name)}</span></h1>
<p>Choose the HubSpot account this app may access.</p>
<form id="consent" method="post" action="/oauth/authorize/approve"
      data-approve-url="/oauth/authorize/approve?request_id={rid}">
<input type="hidden" name="request_id" id="request_id" value="{rid}">
<fieldset id="portal-chooser"><legend>Accounts</legend>
{''.join(choices)}
</fieldset>
<p>The app is requesting access to:</p><ul id="scopes">{scope_items}</ul>
<button type="submit" id="allow" name="decision" value="allow">Allow</button>
{regional}
<button type="submit" id="deny" name="decision" value="deny" formaction="/oauth/authorize/deny">Cancel</button>
</form>
<p><small>WorkflowGuard demo portal — a local look-alike, not HubSpot.</small></p>
</body></html>"""

    def _decision_params(self, req: Request) -> tuple[str, str]:
        values = dict(req.form()) if req.method == "POST" else {}
        request_id = values.get("request_id") or req.arg("request_id") or ""
        portal = values.get("portal_id") or req.arg("portal_id") or ""
        return request_id, portal

    def approve(self, req: Request) -> Response:
        request_id, portal_text = self._decision_params(req)
        values = dict(req.form()) if req.method == "POST" else {}
        continue_on = values.get("continue_on") or req.arg("continue_on") or ""
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None or pending.used or pending.expires_at <= self._clock():
                return error_page(400, "Authorization request expired",
                                  "Start the connection again from the app.")
            if portal_text:
                try:
                    portal_id = int(portal_text)
                except ValueError:
                    portal_id = -1
                if portal_id not in pending.portals:
                    return error_page(400, "Account not available",
                                      "Choose one of the listed accounts.")
            else:
                portal_id = pending.portals[0]
            if continue_on:
                # Only ever the other name of this very server: never an open redirect.
                if continue_on != second_host(req.header("Host")):
                    return error_page(400, "Unknown sign-in host",
                                      "Sign-in can only continue on this demo portal.")
                # The request stays unused: the second host approves it.
                query = urlencode({"request_id": request_id, "portal_id": str(portal_id)})
                return redirect_response(f"http://{continue_on}/oauth/authorize/approve?{query}")
            pending.used = True
            code = f"demo-code-{secrets.token_urlsafe(24)}"
            self._codes[code] = _Code(pending.client_id, pending.redirect_uri, portal_id, pending.scopes,
                                      pending.challenge, self._clock() + self._config.code_ttl)
            params = {"code": code}
            if pending.state is not None:
                params["state"] = pending.state
            redirect_uri = pending.redirect_uri
        return redirect_response(_with_query(redirect_uri, params))

    def deny(self, req: Request) -> Response:
        request_id, _ = self._decision_params(req)
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None or pending.used:
            return error_page(400, "Authorization request expired", "Start the connection again from the app.")
        params = {"error": "access_denied", "error_description": "The user declined to connect the app."}
        if pending.state is not None:
            params["state"] = pending.state
        return redirect_response(_with_query(pending.redirect_uri, params))

    def _expire_locked(self) -> None:
        now = self._clock()
        if len(self._pending) > 1000:
            for key in [k for k, v in self._pending.items() if v.expires_at <= now or v.used]:
                del self._pending[key]
        if len(self._codes) > 1000:
            for key in [k for k, v in self._codes.items() if v.expires_at <= now]:
                del self._codes[key]

    # -- token endpoint -----------------------------------------------------------
    def token(self, req: Request, *, new_style: bool) -> Response:
        refused = _not_a_form(req)
        if refused is not None:
            return refused.response(new_style)
        fields: dict[str, str] = {}
        if not new_style:       # v1 also takes its parameters from the query string
            fields.update({k: v[0] for k, v in req.query.items() if v})
        fields.update(req.form())
        try:
            return json_response(200, self._grant(fields), list(_NO_STORE))
        except _OAuthError as err:
            return err.response(new_style)

    def _check_client(self, fields: dict[str, str]) -> None:
        if fields.get("client_id", "") != self.app.client_id:
            raise _OAuthError("BAD_CLIENT_ID", "invalid_client", "missing or unknown client id")
        if not hmac.compare_digest(fields.get("client_secret", "").encode(), self.app.client_secret.encode()):
            raise _OAuthError("BAD_CLIENT_SECRET", "invalid_client", "missing or invalid client secret")

    def _grant(self, fields: dict[str, str]) -> dict[str, Any]:
        grant = fields.get("grant_type", "")
        if grant not in ("authorization_code", "refresh_token"):
            raise _OAuthError("BAD_GRANT_TYPE", "unsupported_grant_type",
                              "grant_type must be authorization_code or refresh_token")
        self._check_client(fields)
        if grant == "authorization_code":
            return self._grant_code(fields)
        return self._grant_refresh(fields)

    def _grant_code(self, fields: dict[str, str]) -> dict[str, Any]:
        code_text = fields.get("code", "")
        with self._lock:
            code = self._codes.get(code_text)
            if code is None or code.client_id != fields.get("client_id"):
                raise _OAuthError("BAD_AUTH_CODE", "invalid_grant", "missing or invalid auth code")
            if code.used:
                raise _OAuthError("BAD_AUTH_CODE", "invalid_grant", "auth code has already been used")
            if code.expires_at <= self._clock():
                raise _OAuthError("BAD_AUTH_CODE", "invalid_grant", "auth code has expired")
            if fields.get("redirect_uri", "") != code.redirect_uri:
                raise _OAuthError("BAD_REDIRECT_URI", "invalid_grant",
                                  "redirect_uri does not match the one of the authorization request")
            if code.challenge is not None:
                verifier = fields.get("code_verifier", "")
                if not verifier:
                    raise _OAuthError("BAD_CODE_VERIFIER", "invalid_grant", "missing code_verifier")
                if not hmac.compare_digest(_s256(verifier).encode(), code.challenge.encode()):
                    raise _OAuthError("BAD_CODE_VERIFIER", "invalid_grant",
                                      "code_verifier does not match the code_challenge")
            code.used = True
            return self._issue(self.profiles[code.portal_id], code.scopes)

    def _grant_refresh(self, fields: dict[str, str]) -> dict[str, Any]:
        token = fields.get("refresh_token", "")
        if not token:
            raise _bad_refresh()
        digest = token_digest(token)
        with self._lock:
            record = self._refresh.get(digest)
            if record is None or record.revoked or record.client_id != fields.get("client_id"):
                raise _bad_refresh()
            profile = self.profiles[record.portal_id]
            if self._config.rotate_refresh_tokens:
                record.revoked = True
                return self._issue(profile, record.scopes)
            return self._issue(profile, record.scopes, refresh_token=token)

    # -- metadata, introspection, revocation ---------------------------------------
    def _access_info(self, token: str, record: _Access) -> dict[str, Any]:
        profile = self.profiles[record.portal_id]
        expires_in = max(0, int(record.expires_at - self._clock()))
        signed = {"expiresAt": int(record.expires_at * 1000), "scopes": _scope_blob(record.scopes),
                  "hubId": record.portal_id, "userId": record.user_id, "appId": record.app_id,
                  "signature": self._sign(token), "hublet": profile.data_hosting,
                  "installingUserId": record.user_id, "isUserLevel": False,
                  "isServiceAccount": False, "isPrivateDistribution": False}
        return {"token": token, "user": record.user_email, "hub_domain": profile.hub_domain,
                "scopes": list(record.scopes), "signed_access_token": signed,
                "hub_id": record.portal_id, "app_id": record.app_id, "expires_in": expires_in,
                "user_id": record.user_id, "token_type": "access", "is_private_distribution": False}

    def _refresh_info(self, token: str, record: _Refresh) -> dict[str, Any]:
        profile = self.profiles[record.portal_id]
        return {"token": token, "user": record.user_email, "hub_domain": profile.hub_domain,
                "scopes": list(record.scopes), "hub_id": record.portal_id, "client_id": record.client_id,
                "user_id": record.user_id, "token_type": "refresh"}

    def _live_access(self, token: str) -> _Access | None:
        record = self._access.get(token_digest(token))
        if record is None or record.revoked or record.expires_at <= self._clock():
            return None
        return record

    def _live_refresh(self, token: str) -> _Refresh | None:
        record = self._refresh.get(token_digest(token))
        if record is None or record.revoked:
            return None
        return record

    def access_token_info(self, token: str) -> Response:
        with self._lock:
            record = self._live_access(token)
            if record is None:
                return hubspot_error(404, "OBJECT_NOT_FOUND", "access token not found or expired")
            return json_response(200, self._access_info(token, record), list(_NO_STORE))

    def refresh_token_info(self, token: str) -> Response:
        with self._lock:
            record = self._live_refresh(token)
            if record is None:
                return hubspot_error(404, "OBJECT_NOT_FOUND", "refresh token not found")
            return json_response(200, self._refresh_info(token, record), list(_NO_STORE))

    def delete_refresh_token(self, token: str) -> Response:
        with self._lock:
            record = self._refresh.get(token_digest(token))
            if record is None:
                return hubspot_error(404, "OBJECT_NOT_FOUND", "refresh token not found")
            record.revoked = True
        return Response(status=204, content_type=None)

    def _client_form(self, req: Request) -> dict[str, str] | Response:
        refused = _not_a_form(req)
        if refused is not None:
            return refused.response(new_style=True)
        fields = req.form()
        try:
            self._check_client(fields)
        except _OAuthError as err:
            err.http_status = 401
            return err.response(new_style=True)
        if not fields.get("token"):
            return _OAuthError("BAD_REQUEST", "invalid_request", "missing token").response(new_style=True)
        return fields

    def introspect(self, req: Request) -> Response:
        fields = self._client_form(req)
        if isinstance(fields, Response):
            return fields
        token, hint = fields["token"], fields.get("token_type_hint", "")
        with self._lock:
            order = ("refresh", "access") if hint == "refresh_token" else ("access", "refresh")
            for kind in order:
                if kind == "access":
                    access = self._live_access(token)
                    if access is not None and access.client_id == fields["client_id"]:
                        info = self._access_info(token, access)
                        info.update(active=True, client_id=access.client_id, token_use="access_token")
                        return json_response(200, info, list(_NO_STORE))
                else:
                    refresh = self._live_refresh(token)
                    if refresh is not None and refresh.client_id == fields["client_id"]:
                        info = self._refresh_info(token, refresh)
                        info.update(active=True, app_id=refresh.app_id, token_use="refresh_token")
                        return json_response(200, info, list(_NO_STORE))
        return json_response(200, {"active": False}, list(_NO_STORE))

    def revoke(self, req: Request) -> Response:
        fields = self._client_form(req)
        if isinstance(fields, Response):
            return fields
        digest = token_digest(fields["token"])
        with self._lock:
            refresh = self._refresh.get(digest)
            if refresh is not None and refresh.client_id == fields["client_id"]:
                refresh.revoked = True
            access = self._access.get(digest)
            if access is not None and access.client_id == fields["client_id"]:
                access.revoked = True
        # RFC 7009: 200 whether or not the token was known.
        return Response(status=200, body=b"", content_type=None, headers=list(_NO_STORE))

    def _sign(self, token: str) -> str:
        mac = hmac.new(self._signing_key, token.encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    def counts(self) -> dict[str, int]:
        with self._lock:
            now = self._clock()
            return {"access_tokens_live": sum(1 for a in self._access.values()
                                              if not a.revoked and a.expires_at > now),
                    "refresh_tokens_live": sum(1 for r in self._refresh.values() if not r.revoked)}


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _scope_blob(scopes: tuple[str, ...]) -> str:
    return base64.b64encode(hashlib.sha256(" ".join(scopes).encode()).digest()[:12]).decode()


def _with_query(uri: str, params: dict[str, str]) -> str:
    sep = "&" if "?" in uri else "?"
    return uri + sep + urlencode(params)
