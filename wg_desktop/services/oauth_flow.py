"""The pieces of the OAuth authorization-code flow that need no network:
PKCE (S256), a one-time ``state``, the authorize URL, and checking the redirect.

Used by the embedded web view, the browser + loopback fallback, the
paste-the-code fallback and the CLI alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from wg_desktop.constants import OAUTH_SCOPES


class RedirectError(ValueError):
    """The redirect is not the answer to our request (wrong state, an error, no code)."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """One attempt to authorize: its state and PKCE verifier are single-use."""

    auth_base: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...] = OAUTH_SCOPES
    state: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    code_verifier: str = field(default_factory=lambda: secrets.token_urlsafe(64)[:96],
                               repr=False)

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @property
    def url(self) -> str:
        # HubSpot's own clients encode spaces as %20 (urllib.parse.quote), not '+'.
        query = urlencode({"client_id": self.client_id, "redirect_uri": self.redirect_uri,
                           "scope": " ".join(self.scopes), "state": self.state,
                           "code_challenge": self.code_challenge,
                           "code_challenge_method": "S256"}, quote_via=quote)
        return f"{self.auth_base.rstrip('/')}/oauth/authorize?{query}"

    def is_redirect(self, url: str) -> bool:
        """Whether ``url`` is a navigation to our redirect URI (scheme, host, port, path)."""
        return same_endpoint(url, self.redirect_uri)

    def has_our_state(self, url: str) -> bool:
        params = parse_qs(urlsplit(url).query)
        return hmac.compare_digest(params.get("state", [""])[0], self.state)

    def code_from_redirect(self, url: str) -> str:
        """The authorization code carried by the redirect, after checking ``state``."""
        if not self.is_redirect(url):
            raise RedirectError("The sign-in did not return to the registered redirect URI.")
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        # State first: an answer that is not ours (even an "error") is ignored.
        if not hmac.compare_digest(params.get("state", ""), self.state):
            raise RedirectError("The sign-in answer does not belong to this request (state "
                                "mismatch); it was ignored. Please try again.")
        if "error" in params:
            detail = params.get("error_description") or params["error"]
            raise RedirectError(f"HubSpot did not authorize the app: {detail}")
        code = params.get("code", "")
        if not code:
            raise RedirectError("The sign-in answer carries no authorization code.")
        return code


def same_endpoint(url: str, reference: str) -> bool:
    a, b = urlsplit(url), urlsplit(reference)
    return ((a.scheme, (a.hostname or "").lower(), a.port or _default_port(a.scheme),
             a.path.rstrip("/") or "/")
            == (b.scheme, (b.hostname or "").lower(), b.port or _default_port(b.scheme),
                b.path.rstrip("/") or "/"))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def code_from_pasted_text(request: AuthorizationRequest, text: str) -> str:
    """Paste-the-code fallback: accept the whole redirect URL (state checked) or,
    when the user copied only the code, the bare code."""
    text = text.strip()
    if "://" in text:
        return request.code_from_redirect(text)
    if not text or any(c.isspace() for c in text):
        raise RedirectError("Paste the whole address the browser ended on, or just the code.")
    return text
