"""HubSpot services over a context that never reach the network (an API base
on a closed local port): for tests of what happens before any request."""

from __future__ import annotations

from typing import Any

from wg_desktop.services.connection import OAuthApp
from wg_desktop.services.hubspot_setup import HubSpotServices, build_hubspot_services

UNREACHABLE = "http://127.0.0.1:9"


def offline_services(ctx: Any) -> HubSpotServices:
    app = OAuthApp("client", "secret", "http://localhost:1/cb", UNREACHABLE)
    return build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                  app=app, api_base=UNREACHABLE)
