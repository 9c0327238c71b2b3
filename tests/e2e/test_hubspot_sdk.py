"""HubSpot's own Python SDK (hubspot-api-client) against the demo portal: the
demo speaks HubSpot's OAuth wire format well enough for HubSpot's generated
client, not only for ours."""

from __future__ import annotations

import hubspot
import pytest

from tests.support.context import make_context
from tests.support.demo import approve_in_browser
from wg_desktop.demo.server import DemoConfig, DemoPortal
from wg_desktop.services.hubspot_setup import build_hubspot_services


def _pointed_at(api, base_url: str):
    api.api_client.configuration.host = base_url
    return api


def test_the_sdk_reads_and_refreshes_tokens_the_app_obtained(tmp_path):
    ctx = make_context(tmp_path / "d")
    with DemoPortal(DemoConfig(seed=61, workflows=3, burst_limit=10_000)) as demo:
        services = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                          demo=demo)
        try:
            request = services.connection.authorization_request()
            code = request.code_from_redirect(approve_in_browser(request))
            portal = services.connection.complete_oauth(request, code)
            tokens = services.vault.load(portal.hub_id)
            sdk = hubspot.HubSpot()
            info = _pointed_at(sdk.oauth.access_tokens_api, demo.base_url).get(
                tokens.access_token)
            assert info.hub_id == portal.hub_id
            refresh_info = _pointed_at(sdk.oauth.refresh_tokens_api, demo.base_url).get(
                tokens.refresh_token)
            assert refresh_info.hub_id == portal.hub_id
            fresh = _pointed_at(sdk.oauth.tokens_api, demo.base_url).create(
                grant_type="refresh_token", client_id=demo.client_id,
                client_secret=demo.client_secret, refresh_token=tokens.refresh_token)
            assert fresh.access_token and fresh.access_token != tokens.access_token
            assert fresh.expires_in > 0
            # A wrong secret is refused the way HubSpot refuses it: an error, not a token.
            from hubspot.oauth import ApiException

            with pytest.raises(ApiException):
                _pointed_at(sdk.oauth.tokens_api, demo.base_url).create(
                    grant_type="refresh_token", client_id=demo.client_id,
                    client_secret="wrong-secret-value", refresh_token=tokens.refresh_token)
        finally:
            services.close()
            ctx.close()
