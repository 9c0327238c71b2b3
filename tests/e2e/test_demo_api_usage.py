"""HubSpot's daily private-app usage, end to end: the demo portal's endpoint
(shape, scope check, counts, limit by plan, reset at the portal's midnight),
the client function, and the health check that stores it for a private-app
portal and not for an OAuth one."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.context import make_context
from wg_desktop.demo.server import DemoConfig, DemoPortal
from wg_desktop.services.health import HealthMonitor, daily_counts, latest_sample
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.services.tokens import TokenSet

PATH = "/account-info/2026-03/api-usage/daily/private-apps"


@pytest.fixture(scope="module")
def portal():
    with DemoPortal(DemoConfig(seed=3, workflows=3, burst_limit=1_000_000)) as p:
        yield p


def _get(portal, token, path=PATH):
    return httpx.get(portal.base_url + path, headers={"Authorization": f"Bearer {token}"})


def _midnight_after(moment: dt.datetime, zone: str) -> dt.datetime:
    local = moment.astimezone(ZoneInfo(zone))
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), ZoneInfo(zone))


@pytest.mark.parametrize("version", ["2026-03", "v3"])
def test_usage_has_hubspots_shape_and_counts_private_app_calls(portal, version):
    pid = portal.portal_ids[1]
    token = portal.private_app_token(pid)
    path = f"/account-info/{version}/api-usage/daily/private-apps"
    first = _get(portal, token, path).json()["results"][0]
    for _ in range(3):
        assert _get(portal, token, "/account-info/v3/details").status_code == 200
    second = _get(portal, token, path).json()["results"][0]
    assert set(second) == {"name", "usageLimit", "currentUsage", "collectedAt", "resetsAt",
                           "fetchStatus"}
    assert second["name"] == "private-apps-api-calls-daily"
    assert second["fetchStatus"] == "SUCCESS"
    # Three details calls and this usage call itself were counted.
    assert second["currentUsage"] == first["currentUsage"] + 4
    profile = portal.portal_profile(pid)
    assert second["usageLimit"] == profile.private_app_daily_limit == 250_000
    collected = dt.datetime.fromisoformat(second["collectedAt"].replace("Z", "+00:00"))
    resets = dt.datetime.fromisoformat(second["resetsAt"].replace("Z", "+00:00"))
    assert resets == _midnight_after(collected, profile.time_zone)


def test_oauth_calls_are_not_counted_and_the_oauth_scope_is_checked(portal):
    pid = portal.portal_ids[0]
    private = portal.private_app_token(pid)
    before = _get(portal, private).json()["results"][0]["currentUsage"]
    oauth = portal.issue_tokens_for_tests(pid)["access_token"]
    assert _get(portal, oauth, "/automation/v4/flows").status_code == 200
    seen_by_oauth = _get(portal, oauth)
    assert seen_by_oauth.status_code == 200
    # ``before`` already counts the private token's own call; the OAuth calls add none.
    assert before >= 1
    assert seen_by_oauth.json()["results"][0]["currentUsage"] == before
    assert seen_by_oauth.json()["results"][0]["usageLimit"] == 625_000

    no_scope = portal.issue_tokens_for_tests(pid, scopes=("automation",))["access_token"]
    refused = _get(portal, no_scope)
    assert refused.status_code == 403
    assert refused.json()["category"] == "MISSING_SCOPES"


def test_an_enforced_daily_limit_is_the_reported_limit():
    with DemoPortal(DemoConfig(seed=3, workflows=1, daily_limit=50)) as p:
        body = _get(p, p.private_app_token(p.portal_ids[0])).json()["results"][0]
        assert (body["usageLimit"], body["currentUsage"]) == (50, 1)


@pytest.fixture
def hub(data_dir):
    # Two portals with workflows (the app connects only those): the first and
    # an Enterprise agency portal.
    context = make_context(data_dir)
    demo = DemoPortal(DemoConfig(seed=5, workflows=3, extra_portals=1,
                                 burst_limit=1_000_000)).start()
    services = build_hubspot_services(context.settings, context.store, context.audit,
                                      context.secrets, demo=demo)
    try:
        yield context, services, demo
    finally:
        services.close()
        context.close()
        demo.stop()


def test_health_check_records_hubspots_count_for_a_private_app_portal_only(hub):
    context, services, portal = hub
    private_id = portal.portal_ids[2]
    oauth_id = portal.portal_ids[0]
    services.connection.connect_private_app(portal.private_app_token(private_id))
    tokens = portal.issue_tokens_for_tests(oauth_id)
    services.connection.connect_with_tokens(
        TokenSet(tokens["access_token"], tokens["refresh_token"],
                 time.time() + tokens["expires_in"], tuple(tokens.get("scope", "").split())),
        auth_kind="oauth")
    monitor = HealthMonitor(context.store, context.settings, services.connection,
                            services.clients)

    before = _get(portal, portal.private_app_token(private_id)).json()["results"][0]
    sample = monitor.check(private_id)
    figures = sample.figures
    assert figures.check_ok
    # At least the connection test's calls and the usage call itself, counted by HubSpot.
    assert figures.hubspot_usage is not None and figures.hubspot_usage >= before["currentUsage"] + 2
    assert figures.hubspot_usage_limit == 1_000_000
    assert figures.hubspot_usage_resets_at > dt.datetime.now(dt.timezone.utc)
    stored = latest_sample(str(private_id)).figures
    assert (stored.hubspot_usage, stored.hubspot_usage_limit, stored.hubspot_usage_resets_at) \
        == (figures.hubspot_usage, figures.hubspot_usage_limit, figures.hubspot_usage_resets_at)

    requests_before = len(portal.request_log())
    oauth_sample = monitor.check(oauth_id)
    assert oauth_sample.figures.check_ok
    assert oauth_sample.figures.hubspot_usage is None
    assert latest_sample(str(oauth_id)).figures.hubspot_usage is None
    assert not any("api-usage" in e.path for e in portal.request_log()[requests_before:])

    counts = daily_counts(context.settings, [str(private_id), str(oauth_id)])
    assert counts[str(private_id)].hubspot_used == figures.hubspot_usage
    assert counts[str(private_id)].client_used >= 2
    assert counts[str(oauth_id)].hubspot_used is None
