"""OAuth of the demo portal, driven over real loopback HTTP: the authorize
page, PKCE, state, code exchange errors, refresh, rotation, revocation,
token metadata and introspection."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from wg_desktop.constants import OAUTH_SCOPES
from wg_desktop.demo.server import DemoConfig, DemoPortal

SCOPE = " ".join(OAUTH_SCOPES)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def open_consent(client: httpx.Client, portal: DemoPortal, *, path: str = "/oauth/authorize",
                 **overrides: str | None) -> tuple[httpx.Response, str | None]:
    params = {"client_id": portal.client_id, "redirect_uri": portal.redirect_uris[0], "scope": SCOPE}
    params.update({k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        params.pop(key, None)
    page = client.get(path, params=params)
    found = re.search(r'name="request_id"[^>]*value="([^"]+)"', page.text)
    return page, (found.group(1) if found else None)


def authorize(client: httpx.Client, portal: DemoPortal, *, state: str | None = "st-1",
              challenge: str | None = None, portal_id: int | None = None, via: str = "post") -> dict[str, str]:
    extra = {"state": state}
    if challenge is not None:
        extra.update(code_challenge=challenge, code_challenge_method="S256")
    page, request_id = open_consent(client, portal, **extra)
    assert page.status_code == 200, page.text
    assert 'id="allow"' in page.text
    assert request_id
    form = {"request_id": request_id}
    if portal_id is not None:
        form["portal_id"] = str(portal_id)
    if via == "post":
        answer = client.post("/oauth/authorize/approve", data=form)
    else:
        answer = client.get("/oauth/authorize/approve", params=form)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(portal.redirect_uris[0] + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(client: httpx.Client, portal: DemoPortal, code: str, *, verifier: str | None = None,
             path: str = "/oauth/v1/token", **overrides: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "client_id": portal.client_id,
            "client_secret": portal.client_secret, "redirect_uri": portal.redirect_uris[0], "code": code}
    if verifier is not None:
        form["code_verifier"] = verifier
    form.update(overrides)
    return client.post(path, data=form)


def refresh(client: httpx.Client, portal: DemoPortal, token: str, path: str = "/oauth/v1/token") -> httpx.Response:
    return client.post(path, data={"grant_type": "refresh_token", "client_id": portal.client_id,
                                   "client_secret": portal.client_secret, "refresh_token": token})


@pytest.fixture
def portal():
    with DemoPortal(DemoConfig(seed=11, workflows=5, burst_limit=10_000)) as p:
        yield p


@pytest.fixture
def client(portal):
    with httpx.Client(base_url=portal.base_url, follow_redirects=False, timeout=10) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- authorize page ------------------------------------------------------------------

def test_code_flow_with_pkce_and_state_echo(portal, client):
    verifier, challenge = pkce_pair()
    state = "a b&c=d/é"
    result = authorize(client, portal, state=state, challenge=challenge, portal_id=portal.portal_ids[0])
    assert result["state"] == state
    assert result["code"]
    answer = exchange(client, portal, result["code"], verifier=verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["hub_id"] == portal.portal_ids[0]
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 1800
    assert set(tokens["scopes"]) == set(OAUTH_SCOPES)
    me = client.get("/integrations/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["portalId"] == portal.portal_ids[0]


def test_approve_by_get_and_portal_chooser_picks_second_portal(portal, client):
    page, _ = open_consent(client, portal, state="x")
    for pid in portal.portal_ids:
        assert f'id="portal-{pid}"' in page.text
    result = authorize(client, portal, state="x", portal_id=portal.portal_ids[1], via="get")
    tokens = exchange(client, portal, result["code"]).json()
    assert tokens["hub_id"] == portal.portal_ids[1]


def test_account_pinned_authorize_url_offers_only_that_account(portal, client):
    pid = portal.portal_ids[1]
    page, request_id = open_consent(client, portal, path=f"/oauth/{pid}/authorize", state="s")
    assert page.status_code == 200
    assert f'id="portal-{pid}"' in page.text
    assert f'id="portal-{portal.portal_ids[0]}"' not in page.text
    refused = client.post("/oauth/authorize/approve",
                          data={"request_id": request_id, "portal_id": str(portal.portal_ids[0])})
    assert refused.status_code == 400
    assert 'id="error"' in refused.text
    ok = client.post("/oauth/authorize/approve", data={"request_id": request_id, "portal_id": str(pid)})
    assert ok.status_code == 302
    unknown, _ = open_consent(client, portal, path="/oauth/999/authorize")
    assert unknown.status_code == 404


def test_state_is_omitted_when_not_sent(portal, client):
    result = authorize(client, portal, state=None)
    assert "state" not in result and result["code"]


def test_deny_redirects_with_access_denied_and_state(portal, client):
    page, request_id = open_consent(client, portal, state="keep-me")
    answer = client.post("/oauth/authorize/deny", data={"request_id": request_id})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["keep-me"]
    assert "code" not in query


def test_pending_request_is_single_use(portal, client):
    _, request_id = open_consent(client, portal)
    assert client.post("/oauth/authorize/approve", data={"request_id": request_id}).status_code == 302
    again = client.post("/oauth/authorize/approve", data={"request_id": request_id})
    assert again.status_code == 400


@pytest.mark.parametrize("overrides, title", [
    ({"client_id": "demo-unknown"}, "Invalid client_id"),
    ({"client_id": None}, "Invalid client_id"),
    ({"redirect_uri": "http://localhost:65359/"}, "Redirect URL mismatch"),
    ({"redirect_uri": None}, "Redirect URL mismatch"),
    ({"scope": "automation crm.objects.nonsense.read"}, "Invalid scope"),
    ({"optional_scope": "bogus"}, "Invalid scope"),
    ({"scope": None}, "Missing scope"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "Unsupported code_challenge_method"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "Invalid code_challenge"),
])
def test_authorize_page_errors(portal, client, overrides, title):
    page, request_id = open_consent(client, portal, **overrides)
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="error"' in page.text and title in page.text
    assert request_id is None
    assert portal.client_secret not in page.text


def test_redirect_uri_must_match_exactly_a_registered_one():
    uris = ("http://localhost:53682/oauth/callback", "http://localhost:8080/cb")
    with DemoPortal(DemoConfig(workflows=1, redirect_uris=uris)) as p, \
            httpx.Client(base_url=p.base_url, follow_redirects=False) as c:
        assert p.redirect_uris == uris
        assert open_consent(c, p, redirect_uri=uris[1])[0].status_code == 200
        assert open_consent(c, p, redirect_uri=uris[1] + "/")[0].status_code == 400
        assert open_consent(c, p, redirect_uri="http://localhost:8081/cb")[0].status_code == 400


# -- token endpoint errors ---------------------------------------------------------------

def _legacy(answer: httpx.Response, status: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert set(body) == {"status", "message"}
    assert body["status"] == status


def _new(answer: httpx.Response, error: str, status: str, http_status: int = 400) -> None:
    assert answer.status_code == http_status, answer.text
    body = answer.json()
    assert set(body) == {"error", "error_description", "status", "message"}
    assert body["error"] == error and body["status"] == status


def test_wrong_verifier_is_refused_and_right_one_still_works(portal, client):
    verifier, challenge = pkce_pair()
    code = authorize(client, portal, challenge=challenge)["code"]
    _legacy(exchange(client, portal, code, verifier=pkce_pair()[0]), "BAD_CODE_VERIFIER")
    _new(exchange(client, portal, code, verifier="nope" * 12, path="/oauth/2026-03/token"),
         "invalid_grant", "BAD_CODE_VERIFIER")
    _legacy(exchange(client, portal, code), "BAD_CODE_VERIFIER")  # verifier missing
    assert exchange(client, portal, code, verifier=verifier).status_code == 200


def test_reused_code_is_refused(portal, client):
    code = authorize(client, portal)["code"]
    assert exchange(client, portal, code).status_code == 200
    _legacy(exchange(client, portal, code), "BAD_AUTH_CODE")
    _new(exchange(client, portal, code, path="/oauth/2026-03/token"), "invalid_grant", "BAD_AUTH_CODE")


def test_unknown_code_wrong_secret_wrong_client_wrong_redirect(portal, client):
    code = authorize(client, portal)["code"]
    _legacy(exchange(client, portal, "demo-code-unknown"), "BAD_AUTH_CODE")
    _legacy(exchange(client, portal, code, client_secret="demo-secret-wrong"), "BAD_CLIENT_SECRET")
    _new(exchange(client, portal, code, client_secret="", path="/oauth/v3/token"),
         "invalid_client", "BAD_CLIENT_SECRET")
    _legacy(exchange(client, portal, code, client_id="demo-other"), "BAD_CLIENT_ID")
    _legacy(exchange(client, portal, code, redirect_uri="http://localhost:53682/other"), "BAD_REDIRECT_URI")
    _legacy(exchange(client, portal, code, grant_type="password"), "BAD_GRANT_TYPE")
    # none of the failures consumed the code
    assert exchange(client, portal, code).status_code == 200


def test_expired_code_is_refused():
    with DemoPortal(DemoConfig(workflows=1, code_ttl=0.3)) as p, \
            httpx.Client(base_url=p.base_url, follow_redirects=False) as c:
        code = authorize(c, p)["code"]
        time.sleep(0.5)
        answer = exchange(c, p, code)
        _legacy(answer, "BAD_AUTH_CODE")
        assert "expired" in answer.json()["message"]


def test_v1_token_endpoint_also_reads_query_parameters(portal, client):
    tokens = portal.issue_tokens_for_tests(portal.portal_ids[0])
    answer = client.post("/oauth/v1/token", params={"client_secret": portal.client_secret,
                                                    "refresh_token": tokens["refresh_token"]},
                         data={"grant_type": "refresh_token", "client_id": portal.client_id})
    assert answer.status_code == 200


# -- refresh, rotation, revoke -------------------------------------------------------------

def test_refresh_without_rotation_keeps_refresh_token(portal, client):
    first = exchange(client, portal, authorize(client, portal)["code"]).json()
    answer = refresh(client, portal, first["refresh_token"])
    assert answer.status_code == 200
    second = answer.json()
    assert second["refresh_token"] == first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.get("/integrations/v1/me", headers=bearer(second["access_token"])).status_code == 200
    assert refresh(client, portal, first["refresh_token"], "/oauth/2026-03/token").status_code == 200


def test_refresh_rotation_invalidates_old_refresh_token():
    with DemoPortal(DemoConfig(workflows=1, rotate_refresh_tokens=True)) as p, \
            httpx.Client(base_url=p.base_url, follow_redirects=False) as c:
        first = exchange(c, p, authorize(c, p)["code"]).json()
        second = refresh(c, p, first["refresh_token"]).json()
        assert second["refresh_token"] != first["refresh_token"]
        _legacy(refresh(c, p, first["refresh_token"]), "BAD_REFRESH_TOKEN")
        third = refresh(c, p, second["refresh_token"])
        assert third.status_code == 200


def test_v1_revoke_then_refresh_is_bad_refresh_token(portal, client):
    tokens = exchange(client, portal, authorize(client, portal)["code"]).json()
    answer = client.delete(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}")
    assert answer.status_code == 204
    assert answer.content == b""
    legacy = refresh(client, portal, tokens["refresh_token"])
    _legacy(legacy, "BAD_REFRESH_TOKEN")
    assert legacy.json()["message"] == "missing or invalid refresh token"
    new = refresh(client, portal, tokens["refresh_token"], "/oauth/2026-03/token")
    _new(new, "invalid_grant", "BAD_REFRESH_TOKEN")
    assert new.json()["error_description"] == "refresh token is invalid, expired or revoked"
    assert client.get(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}").status_code == 404
    assert client.delete("/oauth/v1/refresh-tokens/demo-rt-never-issued").status_code == 404
    # HubSpot: deleting the refresh token does not kill access tokens already issued
    assert client.get("/integrations/v1/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_2026_03_revoke_and_introspect(portal, client):
    tokens = exchange(client, portal, authorize(client, portal)["code"]).json()
    creds = {"client_id": portal.client_id, "client_secret": portal.client_secret}
    active = client.post("/oauth/2026-03/token/introspect",
                         data={**creds, "token": tokens["access_token"], "token_type_hint": "access_token"})
    assert active.status_code == 200
    assert active.json()["active"] is True and active.json()["token_use"] == "access_token"
    as_refresh = client.post("/oauth/v3/token/introspect", data={**creds, "token": tokens["refresh_token"],
                                                                 "token_type_hint": "refresh_token"})
    assert as_refresh.json()["active"] is True and as_refresh.json()["token_use"] == "refresh_token"
    unknown = client.post("/oauth/2026-03/token/introspect", data={**creds, "token": "demo-at-nope"})
    assert unknown.json() == {"active": False}
    bad_client = client.post("/oauth/2026-03/token/introspect",
                             data={**creds, "client_secret": "demo-secret-x", "token": tokens["access_token"]})
    _new(bad_client, "invalid_client", "BAD_CLIENT_SECRET", 401)

    revoked = client.post("/oauth/2026-03/token/revoke", data={**creds, "token": tokens["refresh_token"],
                                                               "token_type_hint": "refresh_token"})
    assert revoked.status_code == 200
    _new(refresh(client, portal, tokens["refresh_token"], "/oauth/2026-03/token"),
         "invalid_grant", "BAD_REFRESH_TOKEN")
    gone = client.post("/oauth/2026-03/token/introspect", data={**creds, "token": tokens["refresh_token"]})
    assert gone.json() == {"active": False}
    # revoking an access token through the new endpoint ends it at once
    client.post("/oauth/v3/token/revoke", data={**creds, "token": tokens["access_token"]})
    assert client.get("/integrations/v1/me", headers=bearer(tokens["access_token"])).status_code == 401


def test_token_metadata(portal, client):
    tokens = exchange(client, portal, authorize(client, portal, portal_id=portal.portal_ids[1])["code"]).json()
    info = client.get(f"/oauth/v1/access-tokens/{tokens['access_token']}")
    assert info.status_code == 200
    body = info.json()
    assert body["hub_id"] == portal.portal_ids[1]
    assert body["app_id"] == portal.app_id
    assert 1700 <= body["expires_in"] <= 1800
    assert body["user"].endswith("@starter-demo.example.com")
    refresh_info = client.get(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}").json()
    assert refresh_info["client_id"] == portal.client_id and refresh_info["hub_id"] == portal.portal_ids[1]
    assert client.get("/oauth/v1/access-tokens/demo-at-unknown").status_code == 404


def test_access_token_expiry_gives_expired_authentication():
    with DemoPortal(DemoConfig(workflows=1, token_ttl=0.6)) as p, httpx.Client(base_url=p.base_url) as c:
        tokens = p.issue_tokens_for_tests(p.portal_ids[0])
        assert tokens["expires_in"] == 1
        assert c.get("/integrations/v1/me", headers=bearer(tokens["access_token"])).status_code == 200
        time.sleep(0.8)
        answer = c.get("/integrations/v1/me", headers=bearer(tokens["access_token"]))
        assert answer.status_code == 401
        assert answer.json()["category"] == "EXPIRED_AUTHENTICATION"
        assert c.get(f"/oauth/v1/access-tokens/{tokens['access_token']}").status_code == 404
        renewed = refresh(c, p, tokens["refresh_token"]).json()
        assert c.get("/integrations/v1/me", headers=bearer(renewed["access_token"])).status_code == 200


def test_bearer_authentication_failures(portal, client):
    missing = client.get("/automation/v4/flows")
    assert missing.status_code == 401 and missing.json()["category"] == "INVALID_AUTHENTICATION"
    basic = client.get("/automation/v4/flows", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    fake_token = "demo-at-na1-" + "q" * 40
    wrong = client.get("/automation/v4/flows", headers=bearer(fake_token))
    assert wrong.status_code == 401
    assert fake_token not in wrong.text


def test_private_app_tokens_are_per_portal_fake_and_work(portal, client):
    tokens = {pid: portal.private_app_token(pid) for pid in portal.portal_ids}
    assert len(set(tokens.values())) == len(tokens)
    for pid, token in tokens.items():
        assert re.fullmatch(r"pat-(na1|eu1)-demo-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                            token)
        me = client.get("/integrations/v1/me", headers=bearer(token))
        assert me.status_code == 200 and me.json()["portalId"] == pid
    other_seed = DemoPortal(DemoConfig(seed=12, workflows=1))
    assert other_seed.private_app_token(portal.portal_ids[0]) != tokens[portal.portal_ids[0]]
    assert other_seed.client_secret != portal.client_secret
    assert DemoPortal(DemoConfig(seed=11, workflows=1)).client_id == portal.client_id


def test_token_scopes_are_enforced(portal, client):
    narrow = portal.issue_tokens_for_tests(portal.portal_ids[0], scopes=("oauth",))
    flows = client.get("/automation/v4/flows", headers=bearer(narrow["access_token"]))
    assert flows.status_code == 403 and flows.json()["category"] == "MISSING_SCOPES"
    assert client.get("/account-info/v3/details", headers=bearer(narrow["access_token"])).status_code == 200
    no_oauth = portal.issue_tokens_for_tests(portal.portal_ids[0], scopes=("automation",))
    assert client.get("/account-info/v3/details", headers=bearer(no_oauth["access_token"])).status_code == 403
