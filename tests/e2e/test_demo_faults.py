"""Fault knobs of the demo portal (each at rate 1.0, plus one partial rate),
the control endpoints, keep-alive and Content-Length, and the request log
(which must never hold a token)."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from wg_desktop.demo.faults import Faults
from wg_desktop.demo.server import DemoConfig, DemoPortal

FLOWS = "/automation/v4/flows"


@pytest.fixture
def portal():
    with DemoPortal(DemoConfig(seed=3, workflows=20, burst_limit=100_000)) as p:
        yield p


@pytest.fixture
def token(portal):
    return portal.issue_tokens_for_tests(portal.portal_ids[0])["access_token"]


@pytest.fixture
def client(portal, token):
    with httpx.Client(base_url=portal.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        yield c


def test_no_faults_by_default(client):
    for _ in range(10):
        assert client.get(FLOWS).status_code == 200


def test_latency_fixed(portal, client):
    portal.set_faults(latency_ms=200)
    answer = client.get(FLOWS)
    assert answer.status_code == 200
    assert answer.elapsed.total_seconds() >= 0.2
    assert portal.request_log()[-1].latency_ms >= 200


def test_latency_jitter_varies_around_the_mean(portal, client):
    portal.set_faults(latency_ms=60, latency_jitter_ms=40)
    for _ in range(6):
        client.get(FLOWS)
    latencies = [e.latency_ms for e in portal.request_log()[-6:]]
    assert min(latencies) >= 20
    assert len({round(x) for x in latencies}) > 1


def test_error_5xx_rate_one(portal, client):
    portal.set_faults(error_5xx_rate=1.0)
    statuses = set()
    for _ in range(12):
        answer = client.get(FLOWS)
        statuses.add(answer.status_code)
        body = answer.json()
        assert body["status"] == "error" and body["correlationId"] and body["category"]
    assert statuses <= {500, 502, 503, 504} and len(statuses) >= 2
    assert all(e.fault == "error_5xx" for e in portal.request_log()[-12:])


def test_error_5xx_partial_rate(portal, client):
    portal.set_faults(error_5xx_rate=0.5)
    statuses = [client.get(FLOWS).status_code for _ in range(40)]
    failures = sum(1 for s in statuses if s >= 500)
    assert 5 <= failures <= 35
    assert statuses.count(200) == 40 - failures


def test_slow_response_times_out_the_client(portal, client):
    portal.set_faults(slow_rate=1.0, slow_seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        client.get(FLOWS, timeout=0.3)
    portal.set_faults(slow_rate=1.0, slow_seconds=0.3)
    answer = client.get(FLOWS)
    assert answer.status_code == 200 and answer.elapsed.total_seconds() >= 0.3
    assert portal.request_log()[-1].fault == "slow"


def test_dropped_connection(portal, client):
    portal.set_faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(FLOWS)
    entry = portal.request_log()[-1]
    assert entry.status == 0 and entry.fault == "drop"
    portal.set_faults(drop_rate=0.0)
    assert client.get(FLOWS).status_code == 200   # the client reconnects


def test_unauthorized_for_a_live_token(portal, client):
    portal.set_faults(unauthorized_rate=1.0)
    answer = client.get(FLOWS)
    assert answer.status_code == 401
    assert answer.json()["category"] == "INVALID_AUTHENTICATION"
    tokens = portal.issue_tokens_for_tests(portal.portal_ids[0])
    refreshed = httpx.post(portal.base_url + "/oauth/v1/token", data={
        "grant_type": "refresh_token", "client_id": portal.client_id, "client_secret": portal.client_secret,
        "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200          # not applied to the (unauthenticated) token endpoint
    portal.set_faults(unauthorized_rate=0.0)
    assert client.get(FLOWS).status_code == 200  # the token was never really invalid


def test_malformed_json(portal, client):
    portal.set_faults(malformed_json_rate=1.0)
    answer = client.get(FLOWS)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert int(answer.headers["content-length"]) == len(answer.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def test_truncated_body(portal, client):
    portal.set_faults(truncated_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(FLOWS)
    assert portal.request_log()[-1].fault == "truncated"


def test_oversized_body_is_valid_json(portal, client):
    portal.set_faults(oversized_rate=1.0, oversized_bytes=2_000_000)
    answer = client.get(FLOWS)
    assert answer.status_code == 200
    assert len(answer.content) >= 2_000_000
    body = answer.json()
    assert len(body["results"]) == 20


def test_faults_set_at_start():
    with DemoPortal(DemoConfig(workflows=2, faults=Faults(error_5xx_rate=1.0))) as p:
        answer = httpx.get(p.base_url + FLOWS, headers={"Authorization": f"Bearer {p.private_app_token(p.portal_ids[0])}"})
        assert answer.status_code >= 500


def test_faults_spare_control_endpoints_and_authorize_page(portal, client):
    portal.set_faults(drop_rate=1.0, latency_ms=0)
    with httpx.Client(base_url=portal.base_url) as plain:
        assert plain.get("/__demo__/state").status_code == 200
        page = plain.get("/oauth/authorize", params={"client_id": portal.client_id,
                                                     "redirect_uri": portal.redirect_uris[0], "scope": "automation"})
        assert page.status_code == 200 and 'id="allow"' in page.text
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(FLOWS)


def test_control_endpoint_changes_faults_at_runtime(portal, client):
    with httpx.Client(base_url=portal.base_url) as control:
        answer = control.post("/__demo__/faults", json={"error_5xx_rate": 1.0, "latency_ms": 5})
        assert answer.status_code == 200 and answer.json()["error_5xx_rate"] == 1.0
        assert portal.faults.error_5xx_rate == 1.0
        assert client.get(FLOWS).status_code >= 500
        assert control.get("/__demo__/faults").json()["latency_ms"] == 5
        assert control.post("/__demo__/faults", json={"error_5xx_rate": 2}).status_code == 400
        assert control.post("/__demo__/faults", json={"bogus_rate": 0.1}).status_code == 400
        assert control.post("/__demo__/faults", content=b"[1]").status_code == 400
        assert control.post("/__demo__/faults", json={"reset": True}).json() == Faults().as_dict()
        assert client.get(FLOWS).status_code == 200
        state = control.get("/__demo__/state").json()
        assert state["faults"] == Faults().as_dict()
        assert [p["portalId"] for p in state["portals"]] == list(portal.portal_ids)
        log = control.get("/__demo__/requests", params={"limit": 3}).json()["results"]
        assert len(log) == 3 and {"method", "path", "status", "latency_ms", "token_id", "timestamp"} <= set(log[0])
        drift = control.post("/__demo__/drift", json={"n": 2}).json()["results"]
        assert len(drift) == 2


def test_set_faults_validates():
    with pytest.raises(ValueError):
        Faults(drop_rate=1.5)
    with pytest.raises(ValueError):
        Faults(latency_ms=-1)
    portal = DemoPortal(DemoConfig(workflows=1))
    with pytest.raises(TypeError):
        portal.set_faults(no_such_knob=1)
    assert portal.set_faults(Faults(slow_rate=0.5)).slow_rate == 0.5
    assert portal.set_faults(drop_rate=0.1).slow_rate == 0.5


# -- HTTP hygiene ------------------------------------------------------------------------------

def test_keep_alive_reuses_one_connection_and_content_length_everywhere(portal, token):
    answers = []
    with httpx.Client(base_url=portal.base_url, follow_redirects=False) as c:
        auth = {"Authorization": f"Bearer {token}"}
        answers.append(c.get(FLOWS, headers=auth))
        answers.append(c.get(FLOWS + "/999", headers=auth))                   # 404
        answers.append(c.get(FLOWS))                                          # 401
        answers.append(c.patch(FLOWS, headers=auth))                          # 405
        answers.append(c.get("/oauth/authorize", params={"client_id": "x"}))  # HTML error page
        page = c.get("/oauth/authorize", params={"client_id": portal.client_id, "scope": "oauth",
                                                 "redirect_uri": portal.redirect_uris[0]})
        answers.append(page)
        rid = page.text.split('name="request_id" id="request_id" value="')[1].split('"')[0]
        answers.append(c.post("/oauth/authorize/approve", data={"request_id": rid}))   # 302
        answers.append(c.post("/oauth/v1/token", data={"grant_type": "refresh_token"}))  # 400
        answers.append(c.head(FLOWS, headers=auth))
        for _ in range(10):
            answers.append(c.get("/integrations/v1/me", headers=auth))
        state = c.get("/__demo__/state").json()
    assert state["connections"]["opened"] == 1
    assert [a.status_code for a in answers[:9]] == [200, 404, 401, 405, 400, 200, 302, 400, 405]
    for answer in answers:
        assert "content-length" in answer.headers, answer.request.url
        if answer.request.method != "HEAD":
            assert int(answer.headers["content-length"]) == len(answer.content)


def test_request_log_holds_hashes_never_tokens(portal, client, token):
    tokens = portal.issue_tokens_for_tests(portal.portal_ids[0])
    secrets = [token, tokens["access_token"], tokens["refresh_token"], portal.client_secret,
               portal.private_app_token(portal.portal_ids[0])]
    client.get(FLOWS, params={"limit": 2})
    httpx.get(f"{portal.base_url}/oauth/v1/access-tokens/{tokens['access_token']}")
    httpx.get(f"{portal.base_url}/oauth/v1/refresh-tokens/{tokens['refresh_token']}")
    httpx.post(f"{portal.base_url}/oauth/v1/token", params={"client_secret": portal.client_secret,
                                                            "refresh_token": tokens["refresh_token"]},
               data={"grant_type": "refresh_token", "client_id": portal.client_id})
    httpx.get(portal.base_url + FLOWS, headers={"Authorization": f"Bearer {secrets[4]}"})
    entries = portal.request_log()
    assert len(entries) == 5
    listing = entries[0]
    assert listing.method == "GET" and listing.path == FLOWS and listing.status == 200
    assert listing.query == "limit=2" and listing.portal_id == portal.portal_ids[0]
    assert listing.token_id == hashlib.sha256(token.encode()).hexdigest()[:12]
    assert entries[1].path == "/oauth/v1/access-tokens/<redacted>"
    assert "client_secret=%3Credacted%3E" in entries[3].query
    dumped = repr(entries) + json.dumps(httpx.get(portal.base_url + "/__demo__/requests").json()) \
        + json.dumps(httpx.get(portal.base_url + "/__demo__/state").json())
    for secret in secrets:
        assert secret not in dumped


def test_cut_off_success_body_has_a_matching_content_length_and_invalid_json(portal, client):
    with httpx.Client(base_url=portal.base_url) as control:
        answer = control.post("/__demo__/faults", json={"cut_off_rate": 1.0})
        assert answer.status_code == 200 and answer.json()["cut_off_rate"] == 1.0
    opened = portal.state()["connections"]["opened"]
    whole = len(json.dumps(portal.get_flow(portal.portal_ids[0], portal.flow_ids(portal.portal_ids[0])[0])))
    answer = client.get(f"{FLOWS}/{portal.flow_ids(portal.portal_ids[0])[0]}")
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content) < whole
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)
    assert portal.request_log()[-1].fault == "cut_off"
    # only successful answers are cut: an error body stays whole and readable
    missing = client.get(f"{FLOWS}/999999999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert portal.request_log()[-1].fault is None
    # the HTTP exchange was sound, so the keep-alive connection carries on
    assert client.get(FLOWS).status_code == 200
    assert portal.state()["connections"]["opened"] == opened + 1


def test_cut_off_rate_set_at_start():
    with DemoPortal(DemoConfig(workflows=2, faults=Faults(cut_off_rate=1.0))) as p:
        answer = httpx.get(p.base_url + FLOWS,
                           headers={"Authorization": f"Bearer {p.private_app_token(p.portal_ids[0])}"})
        assert answer.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            answer.json()
