"""Where the client gets access tokens from.

The app's OAuth token manager implements :class:`TokenProvider` (proactive
refresh before expiry, hourly checks, keychain storage). The client only calls
``refresh`` when HubSpot answers 401 anyway, passing the token HubSpot
rejected so a provider can tell "already refreshed" from "refresh now".
"""

from __future__ import annotations

from typing import Mapping, Protocol

from wg_desktop.hubspot.errors import ReauthenticationNeeded


class TokenProvider(Protocol):
    def access_token(self, portal_key: str) -> str:
        """The current access token of the portal (refreshed if about to expire)."""

    def refresh(self, portal_key: str, rejected_token: str) -> str:
        """Get a new access token after HubSpot rejected ``rejected_token``.

        Raises :class:`ReauthenticationNeeded` when that is impossible (refresh
        token revoked, private-app token, …)."""


class StaticTokenProvider:
    """Fixed tokens: a private-app token, or the demo portal's. Cannot refresh."""

    def __init__(self, token: str | Mapping[str, str]) -> None:
        self._tokens: str | dict[str, str] = token if isinstance(token, str) else dict(token)

    def access_token(self, portal_key: str) -> str:
        if isinstance(self._tokens, str):
            return self._tokens
        try:
            return self._tokens[portal_key]
        except KeyError:
            raise ReauthenticationNeeded(f"No token for portal {portal_key}") from None

    def refresh(self, portal_key: str, rejected_token: str) -> str:
        raise ReauthenticationNeeded(
            f"HubSpot rejected the fixed access token of portal {portal_key}",
            user_message="HubSpot rejected this portal's access token. Enter a valid private "
                         "app token or reconnect the portal.")

    def __repr__(self) -> str:
        return "StaticTokenProvider(<hidden>)"
