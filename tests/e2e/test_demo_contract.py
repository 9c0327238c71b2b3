"""Contract tests: the demo portal's answers against the field lists and the
example payloads in /work/shared/reference/hubspot (required keys, types,
paging, error shapes, headers)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import httpx
import pytest

from tests.support.demo import reference_examples
from wg_desktop.demo.server import DemoConfig, DemoPortal

EXAMPLES = reference_examples()
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")

# Field lists restated from the reference README (§2.2, §1.2, §1.4, §3, §4.5).
LISTING_REQUIRED = {"id": str, "isEnabled": bool, "flowType": str, "objectTypeId": str, "revisionId": str,
                    "createdAt": str, "updatedAt": str}
LISTING_OPTIONAL = {"name": str, "uuid": str}
CONTACT_FLOW_REQUIRED = {"actions", "blockedDates", "canEnrollFromSalesforce", "createdAt",
                         "crmObjectCreationStatus", "customProperties", "dataSources", "flowType", "id",
                         "isEnabled", "nextAvailableActionId", "objectTypeId", "revisionId",
                         "suppressionListIds", "timeWindows", "type", "updatedAt"}
PLATFORM_FLOW_REQUIRED = CONTACT_FLOW_REQUIRED - {"canEnrollFromSalesforce", "suppressionListIds"}
FLOW_KNOWN_KEYS = CONTACT_FLOW_REQUIRED | {
    "uuid", "name", "description", "startActionId", "enrollmentCriteria", "enrollmentSchedule", "eventAnchor",
    "goalFilterBranch", "unEnrollmentSetting", "suppressionFilterBranch"}
ACTION_KEYS = {
    "SINGLE_CONNECTION": {"actionId", "actionTypeId", "actionTypeVersion", "fields"},
    "STATIC_BRANCH": {"actionId", "inputValue", "staticBranches"},
    "LIST_BRANCH": {"actionId", "listBranches"},
    "WEBHOOK": {"actionId", "webhookUrl", "method", "queryParams", "authSettings"},
    "CUSTOM_CODE": {"actionId", "runtime", "sourceCode", "secretNames", "inputFields", "outputFields"},
}
TOKEN_RESPONSE = {"access_token": str, "refresh_token": str, "expires_in": int, "token_type": str,
                  "token_use": str}
TOKEN_RESPONSE_OPTIONAL = {"hub_id": int, "user_id": int, "scopes": list}
ACCESS_INFO = {"token": str, "user_id": int, "hub_id": int, "app_id": int, "scopes": list, "token_type": str,
               "expires_in": int}
ACCESS_INFO_OPTIONAL = {"user": str, "hub_domain": str, "is_private_distribution": bool,
                        "signed_access_token": dict}
REFRESH_INFO = {"token": str, "user_id": int, "hub_id": int, "client_id": str, "scopes": list, "token_type": str}
INTROSPECT_REFRESH = {"active", "app_id", "client_id", "hub_id", "scopes", "token", "token_type", "token_use",
                      "user_id"}
ACCOUNT_DETAILS = {"portalId": int, "accountType": str, "timeZone": str, "companyCurrency": str,
                   "additionalCurrencies": list, "utcOffset": str, "utcOffsetMilliseconds": int,
                   "uiDomain": str, "dataHostingLocation": str}
V3_LIST_ITEM = {"id": int, "name": str, "type": str, "enabled": bool, "insertedAt": int, "updatedAt": int,
                "personaTagIds": list, "contactListIds": dict}
RATE_HEADERS = ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining",
                "X-HubSpot-RateLimit-Interval-Milliseconds", "X-HubSpot-RateLimit-Secondly",
                "X-HubSpot-RateLimit-Secondly-Remaining")


def example(name: str):
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip("HubSpot reference examples not available")
    return json.loads(path.read_text())


def check_types(body: dict, required: dict, optional: dict | None = None) -> None:
    for key, kind in required.items():
        assert key in body, f"missing required key {key}"
        assert isinstance(body[key], kind) and not (kind is int and isinstance(body[key], bool)), \
            f"{key} should be {kind.__name__}: {body[key]!r}"
    for key, kind in (optional or {}).items():
        if key in body:
            assert isinstance(body[key], kind), f"{key} should be {kind.__name__}"


def same_shape(actual, expected, where: str = "$") -> None:
    """Same JSON types, recursively through objects (keys of the example must be present)."""
    assert type(actual) is type(expected), f"{where}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} missing"
            same_shape(actual[key], value, f"{where}.{key}")


def check_error(body: dict) -> None:
    """HubSpot's standard Error schema (§4.5)."""
    assert body["status"] == "error"
    assert isinstance(body["message"], str) and body["message"]
    uuid.UUID(body["correlationId"])
    assert isinstance(body["category"], str)
    for key, values in body.get("context", {}).items():
        assert isinstance(key, str) and all(isinstance(v, str) for v in values)
    for item in body.get("errors", []):
        assert isinstance(item["message"], str)
    for value in body.get("links", {}).values():
        assert isinstance(value, str)


@pytest.fixture(scope="module")
def portal():
    with DemoPortal(DemoConfig(seed=21, workflows=240, burst_limit=1_000_000)) as p:
        yield p


@pytest.fixture(scope="module")
def tokens(portal):
    return portal.issue_tokens_for_tests(portal.portal_ids[0])


@pytest.fixture(scope="module")
def client(portal, tokens):
    with httpx.Client(base_url=portal.base_url, timeout=20,
                      headers={"Authorization": f"Bearer {tokens['access_token']}"}) as c:
        yield c


@pytest.fixture(scope="module")
def all_flows(portal, client):
    ids = portal.flow_ids(portal.portal_ids[0])
    flows = []
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        answer = client.post("/automation/v4/flows/batch/read",
                             json={"inputs": [{"type": "FLOW_ID", "flowId": i} for i in chunk]})
        assert answer.status_code == 200
        flows += answer.json()["results"]
    return flows


# -- workflows ---------------------------------------------------------------------------------

def test_listing_items(client):
    answer = client.get("/automation/v4/flows", params={"limit": 100})
    body = answer.json()
    assert set(body) == {"results", "paging"}
    assert set(body["paging"]) == {"next"} and set(body["paging"]["next"]) == {"after", "link"}
    assert isinstance(body["paging"]["next"]["after"], str)
    for item in body["results"]:
        check_types(item, LISTING_REQUIRED, LISTING_OPTIONAL)
        assert set(item) <= set(LISTING_REQUIRED) | set(LISTING_OPTIONAL)
        assert item["id"].isdigit() and item["revisionId"].isdigit()
        assert item["flowType"] in {"WORKFLOW", "ACTION_SET", "UNKNOWN"}
        assert re.match(r"^\d+-\d+$", item["objectTypeId"])
        assert ISO.match(item["createdAt"]) and ISO.match(item["updatedAt"])
        assert item["createdAt"] <= item["updatedAt"]


def test_full_flows_have_the_required_keys_and_types(all_flows):
    for flow in all_flows:
        required = CONTACT_FLOW_REQUIRED if flow["type"] == "CONTACT_FLOW" else PLATFORM_FLOW_REQUIRED
        assert required <= set(flow), required - set(flow)
        assert set(flow) <= FLOW_KNOWN_KEYS, set(flow) - FLOW_KNOWN_KEYS
        assert flow["type"] == ("CONTACT_FLOW" if flow["objectTypeId"] == "0-1" else "PLATFORM_FLOW")
        assert flow["crmObjectCreationStatus"] in {"PENDING", "COMPLETE"}
        assert isinstance(flow["nextAvailableActionId"], str) and isinstance(flow["startActionId"], str)
        for key in ("actions", "blockedDates", "timeWindows", "dataSources"):
            assert isinstance(flow[key], list)
        assert isinstance(flow["customProperties"], dict)
        for window in flow["timeWindows"]:
            assert set(window) == {"day", "startTime", "endTime"}
            assert set(window["startTime"]) == {"hour", "minute"}
        for blocked in flow["blockedDates"]:
            assert set(blocked) == {"dayOfMonth", "month", "year"}
        criteria = flow.get("enrollmentCriteria")
        if criteria is not None:
            assert criteria["type"] in {"LIST_BASED", "EVENT_BASED", "MANUAL", "DATASET_BASED"}
            assert isinstance(criteria["shouldReEnroll"], bool)


def test_actions_form_a_valid_graph_of_the_documented_shapes(all_flows):
    for flow in all_flows:
        by_id = {a["actionId"]: a for a in flow["actions"]}
        assert len(by_id) == len(flow["actions"])
        assert flow["startActionId"] in by_id
        assert int(flow["nextAvailableActionId"]) > max(int(i) for i in by_id)
        for action in flow["actions"]:
            assert ACTION_KEYS[action["type"]] <= set(action)
            connections = [action.get("connection"), action.get("defaultBranch")]
            connections += [b.get("connection") for b in action.get("listBranches", []) + action.get("staticBranches", [])]
            for conn in filter(None, connections):
                assert conn["edgeType"] in {"STANDARD", "GOTO"} and conn["nextActionId"] in by_id
            if action["type"] == "SINGLE_CONNECTION":
                assert isinstance(action["actionTypeVersion"], int) and isinstance(action["fields"], dict)
            if action["type"] == "LIST_BRANCH":
                for branch in action["listBranches"]:
                    assert {"branchName", "filterBranch"} <= set(branch)


def test_generated_data_covers_what_the_app_must_handle(all_flows):
    object_types = {f["objectTypeId"] for f in all_flows}
    assert object_types == {"0-1", "0-2", "0-3", "0-5"}
    kinds = {a["type"] for f in all_flows for a in f["actions"]}
    assert kinds == set(ACTION_KEYS)
    type_ids = {a.get("actionTypeId") for f in all_flows for a in f["actions"]}
    assert {"0-1", "0-3", "0-4", "0-5"} <= type_ids      # delay, task, email, set property
    sizes = [len(f["actions"]) for f in all_flows]
    assert min(sizes) == 2 and max(sizes) == 300
    assert {f["enrollmentCriteria"]["type"] for f in all_flows if "enrollmentCriteria" in f} >= \
        {"LIST_BASED", "EVENT_BASED", "MANUAL"}
    assert any(f["timeWindows"] for f in all_flows) and any(f["blockedDates"] for f in all_flows)
    assert any(f["isEnabled"] for f in all_flows) and not all(f["isEnabled"] for f in all_flows)
    names = [f["name"] for f in all_flows]
    assert len(set(names)) == len(names)


def test_batch_response_shapes(portal, client):
    ids = portal.flow_ids(portal.portal_ids[0])[:2]
    ok = client.post("/automation/v4/flows/batch/read", json={"inputs": [{"type": "FLOW_ID", "flowId": ids[0]}]})
    body = ok.json()
    assert set(body) == {"status", "results", "startedAt", "completedAt"}
    assert body["status"] == "COMPLETE" and ISO.match(body["startedAt"]) and ISO.match(body["completedAt"])
    multi = client.post("/automation/v4/flows/batch/read",
                        json={"inputs": [{"type": "FLOW_ID", "flowId": ids[1]}, {"type": "FLOW_ID", "flowId": "9"}]})
    assert multi.status_code == 207
    body = multi.json()
    assert set(body) == {"status", "results", "numErrors", "errors", "startedAt", "completedAt"}
    for error in body["errors"]:
        assert set(error) == {"status", "category", "message", "context"}
        assert error["status"] == "error" and isinstance(error["context"]["ids"], list)


@pytest.mark.parametrize("method, path, payload, status, category", [
    ("GET", "/automation/v4/flows/1", None, 404, "OBJECT_NOT_FOUND"),
    ("GET", "/automation/v4/flows?after=%%%", None, 400, "VALIDATION_ERROR"),
    ("POST", "/automation/v4/flows/batch/read", {"inputs": "x"}, 400, "VALIDATION_ERROR"),
    ("PUT", "/automation/v4/flows/{id}", {"revisionId": "1"}, 400, "VALIDATION_ERROR"),
    ("DELETE", "/automation/v4/flows/x", None, 400, "VALIDATION_ERROR"),
    ("GET", "/automation/v3/workflows/1", None, 404, "OBJECT_NOT_FOUND"),
    ("GET", "/no/such/endpoint", None, 404, "OBJECT_NOT_FOUND"),
])
def test_error_shapes(portal, client, method, path, payload, status, category):
    path = path.replace("{id}", portal.flow_ids(portal.portal_ids[0])[0])
    answer = client.request(method, path, json=payload)
    assert answer.status_code == status
    check_error(answer.json())
    assert answer.json()["category"] == category
    assert answer.headers["X-HubSpot-Correlation-Id"] == answer.json()["correlationId"]


def test_conflict_and_auth_and_scope_error_shapes(portal, client):
    flow = portal.get_flow(portal.portal_ids[0], portal.flow_ids(portal.portal_ids[0])[5])
    body = {k: v for k, v in flow.items() if k not in {"id", "createdAt", "updatedAt", "dataSources",
                                                        "crmObjectCreationStatus", "nextAvailableActionId",
                                                        "objectTypeId", "flowType"}}
    body["revisionId"] = str(int(body["revisionId"]) - 1)
    conflict = client.put(f"/automation/v4/flows/{flow['id']}", json=body)
    assert conflict.status_code == 409
    check_error(conflict.json())
    unauth = httpx.get(portal.base_url + "/automation/v4/flows")
    assert unauth.status_code == 401
    check_error(unauth.json())
    starter = portal.issue_tokens_for_tests(portal.portal_ids[1])["access_token"]
    forbidden = httpx.get(portal.base_url + "/automation/v4/flows", headers={"Authorization": f"Bearer {starter}"})
    assert forbidden.status_code == 403
    check_error(forbidden.json())
    assert forbidden.json()["category"] == "MISSING_SCOPES"


def test_rate_limit_headers_on_api_answers(portal, client):
    for path in ("/automation/v4/flows?limit=1", "/account-info/v3/details", "/integrations/v1/me",
                 "/automation/v4/flows/1"):
        answer = client.get(path)
        for header in RATE_HEADERS:
            assert answer.headers[header].isdigit(), (path, header)
        assert "X-HubSpot-RateLimit-Daily" not in answer.headers
    assert client.get("/automation/v4/flows?limit=1").headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert "X-HubSpot-RateLimit-Max" not in httpx.get(portal.base_url + "/__demo__/state").headers


# -- v3 ------------------------------------------------------------------------------------------

def test_v3_workflow_matches_the_docs_example(client):
    reference = example("v3-workflow-get.docs-example.json")
    workflows = client.get("/automation/v3/workflows").json()
    assert set(workflows) == {"workflows"}
    for item in workflows["workflows"]:
        check_types(item, V3_LIST_ITEM)
        assert {"enrolled", "active", "completed", "succeeded"} <= set(item["contactListIds"])
    full = client.get(f"/automation/v3/workflows/{workflows['workflows'][0]['id']}").json()
    assert set(full) == set(reference)
    same_shape(full, {k: v for k, v in reference.items() if k not in ("goalCriteria", "actions")})
    assert full["type"] in {"DRIP_DELAY", "STATIC_ANCHOR", "PROPERTY_ANCHOR"}
    assert full["insertedAt"] > 1_000_000_000_000   # epoch milliseconds


# -- account -------------------------------------------------------------------------------------

def test_account_details(portal, client):
    for path in ("/account-info/v3/details", "/account-info/2026-03/details"):
        body = client.get(path).json()
        check_types(body, ACCOUNT_DETAILS, {"portalName": str, "createdAt": int})
        assert body["portalId"] == portal.portal_ids[0]
        assert body["accountType"] in {"STANDARD", "DEVELOPER_TEST", "SANDBOX", "APP_DEVELOPER"}
        assert re.match(r"^[+-]\d{2}:\d{2}$", body["utcOffset"])
        sign = -1 if body["utcOffset"].startswith("-") else 1
        hours, minutes = map(int, body["utcOffset"][1:].split(":"))
        assert body["utcOffsetMilliseconds"] == sign * (hours * 60 + minutes) * 60_000


def test_integrations_me_matches_the_docs_example(portal, client):
    reference = example("integrations-v1-me.docs-example.json")
    body = client.get("/integrations/v1/me").json()
    assert set(body) == set(reference)
    same_shape(body, reference)
    assert body["portalId"] == portal.portal_ids[0]


# -- OAuth -----------------------------------------------------------------------------------------

def test_token_response_and_metadata_shapes(portal, tokens):
    check_types(tokens, TOKEN_RESPONSE, TOKEN_RESPONSE_OPTIONAL)
    assert tokens["token_type"] == "bearer" and tokens["token_use"] == "access_token"
    assert len(tokens["access_token"]) <= 300
    refreshed = httpx.post(portal.base_url + "/oauth/2026-03/token", data={
        "grant_type": "refresh_token", "client_id": portal.client_id, "client_secret": portal.client_secret,
        "refresh_token": tokens["refresh_token"]})
    assert refreshed.headers["Cache-Control"] == "no-store"
    check_types(refreshed.json(), TOKEN_RESPONSE, TOKEN_RESPONSE_OPTIONAL)
    info = httpx.get(f"{portal.base_url}/oauth/v1/access-tokens/{tokens['access_token']}").json()
    check_types(info, ACCESS_INFO, ACCESS_INFO_OPTIONAL)
    assert {"expiresAt", "hubId", "userId", "appId", "scopes", "signature", "hublet"} <= set(info["signed_access_token"])
    check_types(httpx.get(f"{portal.base_url}/oauth/v1/refresh-tokens/{tokens['refresh_token']}").json(), REFRESH_INFO)
    creds = {"client_id": portal.client_id, "client_secret": portal.client_secret}
    access = httpx.post(portal.base_url + "/oauth/2026-03/token/introspect",
                        data={**creds, "token": tokens["access_token"]}).json()
    check_types(access, ACCESS_INFO | {"active": bool, "client_id": str, "token_use": str})
    refresh = httpx.post(portal.base_url + "/oauth/2026-03/token/introspect",
                         data={**creds, "token": tokens["refresh_token"], "token_type_hint": "refresh_token"}).json()
    assert INTROSPECT_REFRESH <= set(refresh) and refresh["token_use"] == "refresh_token"


def test_oauth_error_bodies_match_the_examples(portal):
    legacy = example("oauth-error-bad-refresh-token.legacy-blog-example.json")
    new = example("oauth-error-invalid-grant.changelog-example.json")
    form = {"grant_type": "refresh_token", "client_id": portal.client_id, "client_secret": portal.client_secret,
            "refresh_token": "demo-rt-na1-unknown"}
    old_style = httpx.post(portal.base_url + "/oauth/v1/token", data=form)
    assert old_style.status_code == 400 and old_style.json() == legacy
    for path in ("/oauth/2026-03/token", "/oauth/v3/token"):
        new_style = httpx.post(portal.base_url + path, data=form)
        assert new_style.status_code == 400 and new_style.json() == new


def test_429_bodies_match_the_examples():
    rolling = example("error-429-ten-secondly-rolling.github-issue.json")
    with DemoPortal(DemoConfig(workflows=1, burst_limit=1, burst_window_s=30)) as p:
        headers = {"Authorization": f"Bearer {p.issue_tokens_for_tests(p.portal_ids[0])['access_token']}"}
        httpx.get(p.base_url + "/integrations/v1/me", headers=headers)
        body = httpx.get(p.base_url + "/integrations/v1/me", headers=headers).json()
    assert set(body) == set(rolling)
    same_shape(body, rolling)
    uuid.UUID(body["correlationId"])
    assert body["groupName"].startswith("publicapi:")


def test_timestamps_are_iso_in_v4_and_epoch_ms_in_v3(portal, client):
    workflows = client.get("/automation/v3/workflows").json()["workflows"]
    mapping = client.post("/automation/v4/workflow-id-mappings/batch/read",
                          json={"inputs": [{"type": "WORKFLOW_ID", "workflowId": str(workflows[0]["id"])}]}).json()
    flow = client.get(f"/automation/v4/flows/{mapping['results'][0]['flowId']}").json()
    created = dt.datetime.strptime(flow["createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    assert int(created.timestamp() * 1000) == workflows[0]["insertedAt"]
