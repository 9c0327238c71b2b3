"""Typed endpoint functions: paging, batches, writes, portal info and OAuth."""

import json
from urllib.parse import parse_qs

import httpx
import pytest

from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import (
    CircuitOpenError,
    ConflictError,
    MalformedResponse,
    ReauthenticationNeeded,
    ServerError,
)

CREDS = api.OAuthCredentials("client-1", "CLIENT-SECRET", "http://localhost:8765/callback")


def listing(i):
    return {"id": str(i), "isEnabled": i % 2 == 0, "flowType": "WORKFLOW", "objectTypeId": "0-1",
            "revisionId": f"r{i}", "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-02-01T00:00:00Z", "name": f"Flow {i}"}


def full(i, **extra):
    return {**listing(i), "type": "CONTACT_FLOW", "actions": [], **extra}


def form_of(call):
    return {k: v[0] for k, v in parse_qs(call.request.content.decode()).items()}


# ------------------------------------------------------------------- flows

def test_list_flows_follows_the_opaque_cursor(env):
    cursors = {None: ("abc+/==", range(0, 100)), "abc+/==": ("x y", range(100, 200)),
               "x y": (None, range(200, 230))}

    def page(request):
        after = request.url.params.get("after")
        nxt, ids = cursors[after]
        body = {"results": [listing(i) for i in ids]}
        if nxt:
            body["paging"] = {"next": {"after": nxt, "link": "ignored"}}
        return httpx.Response(200, json=body)

    route = env.router.get("/automation/v4/flows").mock(side_effect=page)
    client = env.client()
    flows = api.list_flows(client)
    assert len(flows.flows) == 230 and flows.flows[229].id == "229"
    assert [c.request.url.params.get("after") for c in route.calls] == [None, "abc+/==", "x y"]
    assert all(c.request.url.params["limit"] == "100" for c in route.calls)
    first = flows.flows[0]
    assert (first.revision_id, first.is_enabled, first.name) == ("r0", True, "Flow 0")
    # cached as a workflow list (10 min), force_refresh goes back to HubSpot
    assert api.list_flows(client).from_cache and route.call_count == 3
    env.clock.advance(600)
    assert not api.list_flows(client).from_cache and route.call_count == 6
    api.list_flows(client, force_refresh=True)
    assert route.call_count == 9


def test_list_flows_stale_when_hubspot_is_down(env):
    route = env.router.get("/automation/v4/flows").mock(
        return_value=httpx.Response(200, json={"results": [listing(1)]}))
    client = env.client(max_attempts=1, breaker_failure_threshold=1)
    api.list_flows(client)
    env.clock.advance(601)
    route.mock(return_value=httpx.Response(503, json={}))
    with pytest.raises(ServerError):
        api.list_flows(client)
    with pytest.raises(CircuitOpenError):
        api.list_flows(client)
    stale = api.list_flows(client, allow_stale=True)
    assert stale.stale and [f.id for f in stale.flows] == ["1"]


def test_repeating_cursor_is_malformed(env):
    env.router.get("/automation/v4/flows").mock(return_value=httpx.Response(
        200, json={"results": [], "paging": {"next": {"after": "same"}}}))
    with pytest.raises(MalformedResponse, match="repeats"):
        api.list_flows(env.client())


@pytest.mark.parametrize("body", [[], {"results": {}}, {"results": [{"name": "no id"}]},
                                  {"results": [], "paging": {"next": "x"}}])
def test_wrong_shapes_are_malformed(env, body):
    env.router.get("/automation/v4/flows").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedResponse):
        api.list_flows(env.client())


def test_get_flow_is_cached_and_typed(env):
    route = env.router.get("/automation/v4/flows/7").mock(
        return_value=httpx.Response(200, json=full(7)))
    client = env.client()
    flow = api.get_flow(client, 7)
    assert (flow.id, flow.revision_id, flow.type, flow.raw["actions"]) == ("7", "r7",
                                                                          "CONTACT_FLOW", [])
    api.get_flow(client, "7")
    assert route.call_count == 1
    api.get_flow(client, 7, force_refresh=True)
    assert route.call_count == 2


def test_batch_read_asks_each_id_once_and_a_207_names_the_missing(env):
    def answer(request):
        ids = [i["flowId"] for i in json.loads(request.content)["inputs"]]
        found = [full(int(i)) for i in ids if i != "150"]
        if "150" in ids:
            return httpx.Response(207, json={
                "status": "COMPLETE", "results": found, "numErrors": 1,
                "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND",
                            "message": "Could not find flow 150",
                            "context": {"flowId": ["150"]}}]})
        return httpx.Response(200, json={"status": "COMPLETE", "results": found})

    route = env.router.post("/automation/v4/flows/batch/read").mock(side_effect=answer)
    ids = [str(i) for i in range(100, 200)] + ["103"]      # a duplicate is asked once
    batch = api.read_flow_batch(env.client(), ids)
    assert [len(json.loads(c.request.content)["inputs"]) for c in route.calls] == [100]
    assert json.loads(route.calls[0].request.content)["inputs"][0] == {"type": "FLOW_ID",
                                                                         "flowId": "100"}
    flows = list(batch)
    assert len(flows) == 99 and all(isinstance(f, api.Flow) for f in flows) and batch.partial
    assert batch.errors[0].flow_ids == ("150",) and batch.errors[0].category == "OBJECT_NOT_FOUND"
    assert {f.id for f in flows} | {"150"} == set(ids)
    whole = api.read_flow_batch(env.client(), ["1", "2"])
    assert [f.id for f in whole] == ["1", "2"] and not whole.partial and whole.errors == ()
    # More than one request may carry is refused before anything is sent.
    with pytest.raises(ValueError, match="at most 100"):
        api.read_flow_batch(env.client(), [str(i) for i in range(api.BATCH_SIZE + 1)])
    assert route.call_count == 2


def test_writes_invalidate_cached_workflow_data(env):
    env.router.get("/automation/v4/flows").mock(
        return_value=httpx.Response(200, json={"results": [listing(1)]}))
    get_route = env.router.get("/automation/v4/flows/1").mock(
        return_value=httpx.Response(200, json=full(1)))
    put = env.router.put("/automation/v4/flows/1").mock(
        return_value=httpx.Response(200, json=full(1, revisionId="r2")))
    post = env.router.post("/automation/v4/flows").mock(
        return_value=httpx.Response(201, json=full(2)))
    delete = env.router.delete("/automation/v4/flows/2").mock(return_value=httpx.Response(204))
    client = env.client()
    api.list_flows(client)
    api.get_flow(client, 1)
    body = full(1, dataSources=[], crmObjectCreationStatus="COMPLETE", nextAvailableActionId="3")
    updated = api.update_flow(client, 1, body, revision_id="r1")
    sent = json.loads(put.calls.last.request.content)
    assert sent["revisionId"] == "r1" and updated.revision_id == "r2"
    assert not set(sent) & api.READ_ONLY_FLOW_KEYS
    assert not api.list_flows(client).from_cache        # invalidated by the PUT
    api.get_flow(client, 1)
    assert get_route.call_count == 2
    created = api.create_flow(client, {"name": "New", "type": "CONTACT_FLOW"})
    assert created.id == "2" and post.call_count == 1
    assert not api.list_flows(client).from_cache
    api.list_flows(client)
    api.delete_flow(client, 2)
    assert delete.call_count == 1 and not api.list_flows(client).from_cache


def test_stale_revision_conflict(env):
    env.router.put("/automation/v4/flows/1").mock(return_value=httpx.Response(
        409, json={"message": "revision mismatch", "correlationId": "cid-9",
                   "category": "CONFLICT"}))
    with pytest.raises(ConflictError) as info:
        api.update_flow(env.client(), 1, full(1), revision_id="old")
    assert "cid-9" in str(info.value)


def test_flow_revision_needs_a_date_version(env):
    env.router.get("/automation/2026-09-beta/flows/5/revisions/3").mock(
        return_value=httpx.Response(200, json={"id": "5", "revisionId": "3",
                                               "revisionCreatedAt": "2026-01-01T00:00:00Z",
                                               "flow": full(5, revisionId="3")}))
    rev = api.get_flow_revision(env.client(flows_api_version="2026-09-beta"), 5, "3")
    assert rev.flow.revision_id == "3" and rev.revision_created_at.startswith("2026")


# ----------------------------------------------------------- v3 & account

def test_v3_workflows(env):
    env.router.get("/automation/v3/workflows").mock(return_value=httpx.Response(200, json={
        "workflows": [{"id": 10900, "name": "Testing 123", "type": "DRIP_DELAY",
                       "enabled": False, "insertedAt": 1348564640837,
                       "updatedAt": 1467737836223}]}))
    env.router.get("/automation/v3/workflows/10900").mock(return_value=httpx.Response(
        200, json={"id": 10900, "name": "Testing 123", "actions": [], "portalId": 62515}))
    client = env.client()
    (wf,) = api.list_workflows_v3(client)
    assert (wf.id, wf.enabled, wf.updated_at) == (10900, False, 1467737836223)
    assert api.get_workflow_v3(client, 10900).raw["portalId"] == 62515


def test_account_details_cached_for_an_hour_and_sets_the_timezone(env):
    route = env.router.get("/account-info/v3/details").mock(return_value=httpx.Response(
        200, json={"portalId": 2519445, "accountType": "STANDARD", "timeZone": "Asia/Tokyo",
                   "companyCurrency": "JPY", "additionalCurrencies": [], "utcOffset": "+09:00",
                   "utcOffsetMilliseconds": 32400000, "uiDomain": "app.example.test",
                   "dataHostingLocation": "na1"}))
    client = env.client()
    details = api.account_details(client)
    assert details.portal_id == 2519445 and details.company_currency == "JPY"
    assert client.portal_timezone.name == "Asia/Tokyo"
    env.clock.advance(3599)
    api.account_details(client)
    assert route.call_count == 1
    env.clock.advance(1)
    api.account_details(client)
    assert route.call_count == 2


def test_account_details_date_version(env):
    route = env.router.get("/account-info/2026-03/details").mock(
        return_value=httpx.Response(200, json={"portalId": 1}))
    api.account_details(env.client(account_api_version="2026-03"))
    assert route.call_count == 1


def test_integrations_me(env):
    env.router.get("/integrations/v1/me").mock(return_value=httpx.Response(200, json={
        "portalId": 2519445, "timeZone": "America/New_York", "currency": "USD",
        "utcOffsetMilliseconds": -18000000, "utcOffset": "-05:00"}))
    client = env.client()
    me = api.integrations_me(client)
    assert (me.portal_id, me.currency, me.utc_offset_ms) == (2519445, "USD", -18000000)
    assert client.portal_timezone.utc_offset_ms == -18000000


# ------------------------------------------------------------------- OAuth

TOKENS = {"access_token": "AT-1", "refresh_token": "RT-1", "expires_in": 1800,
          "token_type": "bearer", "hub_id": 62515, "user_id": 5,
          "scopes": ["oauth", "automation"]}


@pytest.mark.parametrize("version", ["v1", "2026-03"])
def test_exchange_code_with_pkce(env, version):
    route = env.router.post(f"/oauth/{version}/token").mock(
        return_value=httpx.Response(200, json=TOKENS))
    client = env.client(oauth_api_version=version)
    tokens = api.exchange_code(client, CREDS, "CODE-1", code_verifier="VERIFIER-1")
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == ("AT-1", "RT-1",
                                                                              1800)
    assert tokens.scopes == ("oauth", "automation") and tokens.hub_id == 62515
    assert "AT-1" not in repr(tokens) and "RT-1" not in repr(tokens)
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert form_of(route.calls.last) == {
        "grant_type": "authorization_code", "client_id": "client-1",
        "client_secret": "CLIENT-SECRET", "redirect_uri": "http://localhost:8765/callback",
        "code": "CODE-1", "code_verifier": "VERIFIER-1"}
    # counted by the limiter and recorded like any call
    assert client.limiter.snapshot().window("client", "minute").used == 1
    assert env.last.endpoint == f"/oauth/{version}/token"


def test_exchange_code_is_not_retried(env):
    route = env.router.post("/oauth/v1/token").mock(return_value=httpx.Response(502, json={}))
    with pytest.raises(ServerError):
        api.exchange_code(env.client(), CREDS, "CODE-1")
    assert route.call_count == 1
    assert "code_verifier" not in form_of(route.calls.last)


def test_refresh_is_retried_and_bad_refresh_token_means_reauth(env):
    route = env.router.post("/oauth/2026-03/token").mock(side_effect=[
        httpx.Response(502, json={}), httpx.Response(200, json=TOKENS)])
    client = env.client(oauth_api_version="2026-03")
    assert api.refresh_access_token(client, CREDS, "RT-1").access_token == "AT-1"
    assert form_of(route.calls.last) == {"grant_type": "refresh_token", "client_id": "client-1",
                                         "client_secret": "CLIENT-SECRET",
                                         "refresh_token": "RT-1"}
    route.mock(return_value=httpx.Response(400, json={
        "error": "invalid_grant", "error_description": "refresh token is invalid",
        "status": "BAD_REFRESH_TOKEN", "message": "refresh token is invalid"}))
    with pytest.raises(ReauthenticationNeeded):
        api.refresh_access_token(client, CREDS, "RT-1")
    env.router.post("/oauth/v1/token").mock(return_value=httpx.Response(
        400, json={"status": "BAD_REFRESH_TOKEN", "message": "missing or invalid refresh token"}))
    with pytest.raises(ReauthenticationNeeded):
        api.refresh_access_token(env.client(), CREDS, "RT-1")


def test_token_metadata_v1(env):
    at = env.router.get("/oauth/v1/access-tokens/AT-1").mock(return_value=httpx.Response(
        200, json={"token": "AT-1", "user": "admin@example.com", "user_id": 5, "hub_id": 62515,
                   "app_id": 9, "scopes": ["oauth"], "token_type": "access", "expires_in": 1700,
                   "hub_domain": "demo.example"}))
    rt = env.router.get("/oauth/v1/refresh-tokens/RT-1").mock(return_value=httpx.Response(
        200, json={"token": "RT-1", "user": "admin@example.com", "user_id": 5, "hub_id": 62515,
                   "client_id": "client-1", "scopes": ["oauth"], "token_type": "refresh"}))
    client = env.client()
    info = api.access_token_info(client, CREDS, "AT-1")
    assert (info.hub_id, info.user, info.expires_in, info.active) == (62515, "admin@example.com",
                                                                      1700, True)
    assert "AT-1" not in repr(info)
    assert api.refresh_token_info(client, CREDS, "RT-1").client_id == "client-1"
    assert at.call_count == rt.call_count == 1
    assert "Authorization" not in at.calls.last.request.headers
    assert [r.endpoint for r in env.records] == ["/oauth/v1/access-tokens/{token}",
                                                 "/oauth/v1/refresh-tokens/{token}"]


def test_token_metadata_2026_03_introspect(env):
    route = env.router.post("/oauth/2026-03/token/introspect").mock(side_effect=[
        httpx.Response(200, json={"active": True, "token": "AT-1", "hub_id": 1, "user_id": 2,
                                  "app_id": 3, "client_id": "client-1", "scopes": ["oauth"],
                                  "token_type": "access", "token_use": "access_token",
                                  "expires_in": 100}),
        httpx.Response(200, json={"active": False, "token": "RT-1", "hub_id": 1,
                                  "client_id": "client-1", "scopes": [],
                                  "token_use": "refresh_token"})])
    client = env.client(oauth_api_version="2026-03")
    assert api.access_token_info(client, CREDS, "AT-1").client_id == "client-1"
    assert form_of(route.calls[0]) == {"client_id": "client-1", "client_secret": "CLIENT-SECRET",
                                       "token": "AT-1", "token_type_hint": "access_token"}
    assert api.refresh_token_info(client, CREDS, "RT-1").active is False
    assert form_of(route.calls[1])["token_type_hint"] == "refresh_token"


def test_revoke_both_generations(env):
    v1 = env.router.delete("/oauth/v1/refresh-tokens/RT-1").mock(
        return_value=httpx.Response(204))
    assert api.revoke_refresh_token(env.client(), CREDS, "RT-1") is True
    assert v1.call_count == 1
    new = env.router.post("/oauth/2026-03/token/revoke").mock(return_value=httpx.Response(200))
    assert api.revoke_refresh_token(env.client(oauth_api_version="2026-03"), CREDS, "RT-1")
    assert form_of(new.calls.last) == {"client_id": "client-1", "client_secret": "CLIENT-SECRET",
                                       "token": "RT-1", "token_type_hint": "refresh_token"}
    v1.mock(return_value=httpx.Response(404, json={"message": "not found"}))
    assert api.revoke_refresh_token(env.client(), CREDS, "RT-1") is False


def test_credentials_repr_hides_the_secret():
    assert "CLIENT-SECRET" not in repr(CREDS)
