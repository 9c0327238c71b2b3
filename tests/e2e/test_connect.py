"""Connecting portals end to end against the demo portal over loopback HTTP."""

from __future__ import annotations

import threading

import pytest

from tests.support.context import make_context
from tests.support.demo import approve_in_browser
from wg_desktop.demo.server import DemoConfig, DemoPortal, Faults
from wg_desktop.hubspot.errors import ReauthenticationNeeded
from wg_desktop.services.connection import ConnectError
from wg_desktop.services.hubspot_setup import (build_hubspot_services,
                                               ensure_demo_portal_connected)
from wg_desktop.store.models import Portal, PortalStatus


@pytest.fixture
def demo():
    with DemoPortal(DemoConfig(seed=5, workflows=8, burst_limit=10_000)) as portal:
        yield portal


@pytest.fixture
def services(ctx, demo):
    hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
    yield hub
    hub.clients.close()


def connect_oauth(services, demo, portal_id=None):
    request = services.connection.authorization_request()
    location = approve_in_browser(request, portal_id)
    code = request.code_from_redirect(location)
    return services.connection.complete_oauth(request, code)


def test_oauth_connect_stores_tokens_only_in_the_keychain(services, demo, ctx, memory_keyring):
    portal = connect_oauth(services, demo)
    assert portal.hub_id == demo.portal_ids[0]
    assert portal.status == PortalStatus.CONNECTED
    assert portal.auth_kind == "oauth"
    tokens = services.vault.load(portal.hub_id)
    assert tokens.refresh_token and tokens.access_token
    assert any("tokens" in name for (_, name) in memory_keyring.entries)
    assert services.connection.test_connection(portal.hub_id).ok
    assert [e.action for e in ctx.audit.entries()][0] == "connect"


def test_private_app_token_is_validated_before_storing(services, demo):
    with pytest.raises(ConnectError, match="rejected the token"):
        services.connection.connect_private_app("pat-na1-demo-not-a-real-token-0000")
    assert Portal.select().count() == 0
    portal = services.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    assert portal.auth_kind == "private_app"
    assert services.vault.load(portal.hub_id).refresh_token is None


def test_portal_without_workflows_is_refused_with_a_plain_reason(services, demo):
    starter = demo.portal_ids[1]
    with pytest.raises(ConnectError) as info:
        services.connection.connect_private_app(demo.private_app_token(starter))
    assert "Professional or Enterprise" in str(info.value)
    assert Portal.get_or_none(Portal.hub_id == starter) is None
    assert services.vault.load(starter) is None


def test_missing_scope_is_reported(services, demo, monkeypatch):
    import wg_desktop.services.oauth_flow as flow

    request = services.connection.authorization_request()
    narrowed = flow.AuthorizationRequest(request.auth_base, request.client_id,
                                         request.redirect_uri,
                                         scopes=("automation", "oauth"))
    code = narrowed.code_from_redirect(approve_in_browser(narrowed))
    with pytest.raises(ConnectError, match="crm.objects.contacts.read"):
        services.connection.complete_oauth(narrowed, code)


def test_two_portals_are_isolated(ctx, data_dir):
    with DemoPortal(DemoConfig(seed=6, workflows=4, extra_portals=1,
                               burst_limit=10_000)) as demo:
        hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
        try:
            first, _, third = demo.portal_ids[:3]
            a = connect_oauth(hub, demo, first)
            b = connect_oauth(hub, demo, third)
            assert {a.hub_id, b.hub_id} == {first, third}
            assert hub.vault.load(first).access_token != hub.vault.load(third).access_token
            client_a, client_b = hub.clients.client(first), hub.clients.client(third)
            assert client_a is not client_b
            assert client_a.breaker is not client_b.breaker
            hub.connection.disconnect(first)
            assert hub.vault.load(first) is None and hub.vault.load(third) is not None
            assert hub.connection.test_connection(third).ok
        finally:
            hub.clients.close()


def test_refresh_within_buffer_and_rotation(ctx, data_dir):
    with DemoPortal(DemoConfig(seed=7, workflows=3, token_ttl=20, rotate_refresh_tokens=True,
                               burst_limit=10_000)) as demo:
        hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
        try:
            portal = connect_oauth(hub, demo)
            before = hub.vault.load(portal.hub_id)
            # 20 s tokens are always inside the 5-minute buffer: every use refreshes.
            token = hub.tokens.access_token(str(portal.hub_id))
            after = hub.vault.load(portal.hub_id)
            assert token == after.access_token != before.access_token
            assert after.refresh_token != before.refresh_token      # rotated
            assert hub.connection.test_connection(portal.hub_id).ok
            refreshed = [e for e in ctx.audit.entries() if e.action == "token_refresh"]
            assert refreshed and all(e.outcome == "success" for e in refreshed)
            assert hub.connection.refresh_success_rate() == 1.0
        finally:
            hub.clients.close()


def test_concurrent_requests_cause_one_refresh(ctx):
    import dataclasses
    import time

    with DemoPortal(DemoConfig(seed=8, workflows=3, token_ttl=1800,
                               burst_limit=10_000)) as demo:
        hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
        try:
            portal = connect_oauth(hub, demo)
            hub_id = str(portal.hub_id)
            # Two minutes left: inside the 5-minute buffer, so the next use refreshes.
            stored = hub.vault.load(hub_id)
            hub.vault.save(hub_id, dataclasses.replace(stored, expires_at=time.time() + 120))
            demo.clear_request_log()
            tokens = []
            threads = [threading.Thread(target=lambda: tokens.append(
                hub.tokens.access_token(hub_id))) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            posts = [e for e in demo.request_log() if e.path.endswith("/token")]
            assert len(posts) == 1
            assert len(tokens) == 8 and len(set(tokens)) == 1
            assert tokens[0] != stored.access_token
        finally:
            hub.clients.close()


def test_rejected_refresh_marks_reconnect_needed(services, demo, ctx):
    portal = connect_oauth(services, demo)
    stored = services.vault.load(portal.hub_id)
    # The admin uninstalled the app in HubSpot: the refresh token is revoked.
    import httpx
    httpx.delete(f"{demo.base_url}/oauth/v1/refresh-tokens/{stored.refresh_token}")
    with pytest.raises(ReauthenticationNeeded):
        services.tokens.refresh(str(portal.hub_id), stored.access_token)
    assert Portal.get(Portal.hub_id == portal.hub_id).status == PortalStatus.RECONNECT_NEEDED
    failures = [e for e in ctx.audit.entries() if e.action == "token_refresh"]
    assert failures[0].outcome == "failure"
    # one click later: reconnect brings it back
    again = connect_oauth(services, demo)
    assert again.status == PortalStatus.CONNECTED


def test_disconnect_online_revokes_and_keeps_history(services, demo, ctx):
    portal = connect_oauth(services, demo)
    refresh_token = services.vault.load(portal.hub_id).refresh_token
    steps = services.connection.disconnect(portal.hub_id, keep_history=True)
    assert steps[0].startswith("Revoked")
    assert services.vault.load(portal.hub_id) is None
    assert Portal.get(Portal.hub_id == portal.hub_id).status == PortalStatus.DISCONNECTED
    import httpx
    answer = httpx.post(f"{demo.base_url}/oauth/v1/token", data={
        "grant_type": "refresh_token", "client_id": demo.client_id,
        "client_secret": demo.client_secret, "refresh_token": refresh_token})
    assert answer.status_code == 400
    steps_audited = [e.details for e in ctx.audit.entries() if e.action == "disconnect"]
    assert len(steps_audited) == 3


def test_disconnect_offline_deletes_tokens_now_and_revokes_later(demo, tmp_path):
    import time

    ctx = make_context(tmp_path / "d", {"WG_BREAKER_COOLDOWN": "1", "WG_HTTP_MAX_ATTEMPTS": "2"})
    services = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets, demo=demo)
    portal = connect_oauth(services, demo)
    refresh_token = services.vault.load(portal.hub_id).refresh_token
    demo.set_faults(error_5xx_rate=1.0)
    steps = services.connection.disconnect(portal.hub_id, keep_history=False)
    assert "retried" in steps[0]
    assert services.vault.load(portal.hub_id) is None
    assert Portal.get_or_none(Portal.hub_id == portal.hub_id) is None
    assert services.connection.retry_pending_revocations() == 1
    demo.set_faults(Faults())
    time.sleep(1.2)   # the breaker's cool-down before it probes HubSpot again
    assert services.connection.retry_pending_revocations() == 0
    import httpx
    info = httpx.get(f"{demo.base_url}/oauth/v1/refresh-tokens/{refresh_token}")
    assert info.status_code in (400, 404)
    services.clients.close()
    ctx.close()


def test_embedded_demo_connects_its_portal_once(services, demo):
    first = ensure_demo_portal_connected(services)
    assert first.hub_id == demo.portal_ids[0] and first.is_demo
    assert ensure_demo_portal_connected(services).id == first.id
    services.connection.disconnect(first.hub_id)
    assert ensure_demo_portal_connected(services) is None


def test_rejected_private_app_token_marks_reconnect_needed_in_the_store(services, demo):
    portal = services.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    demo.set_faults(unauthorized_rate=1.0)
    from wg_desktop.hubspot.errors import HubSpotError

    with pytest.raises(HubSpotError):
        from wg_desktop.hubspot import api
        api.list_flows_page(services.clients.client(portal.hub_id), limit=1)
    assert Portal.get(Portal.hub_id == portal.hub_id).status == PortalStatus.RECONNECT_NEEDED


def test_reconnect_keeps_the_client_in_use_and_clears_its_reauth_state(services, demo):
    portal = services.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    client = services.clients.client(portal.hub_id)
    demo.set_faults(unauthorized_rate=1.0)
    from wg_desktop.hubspot import api
    from wg_desktop.hubspot.errors import HubSpotError
    with pytest.raises(HubSpotError):
        api.list_flows_page(client, limit=1)
    assert client.needs_reauth
    demo.set_faults(Faults())
    services.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    assert services.clients.client(portal.hub_id) is client     # not closed under a sync
    assert not client.needs_reauth
    assert api.list_flows_page(client, limit=1).flows
