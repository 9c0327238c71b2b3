"""Workflows over loopback HTTP: paging, get, batch read (207), PUT with
revision conflicts and full-replace semantics, create, delete, revisions,
date versions, v3, the no-workflows portal, and drift."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from wg_desktop.demo.flows import READ_ONLY_KEYS
from wg_desktop.demo.server import DemoConfig, DemoPortal


def put_body(flow: dict) -> dict:
    """What a restore sends: the flow with the read-only keys removed."""
    return {k: v for k, v in flow.items() if k not in READ_ONLY_KEYS}


@pytest.fixture
def portal():
    with DemoPortal(DemoConfig(seed=5, workflows=57, burst_limit=100_000)) as p:
        yield p


@pytest.fixture
def client(portal):
    token = portal.private_app_token(portal.portal_ids[0])
    with httpx.Client(base_url=portal.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as c:
        yield c


def list_all(client: httpx.Client, path: str = "/automation/v4/flows", limit: int = 10) -> list[dict]:
    items: list[dict] = []
    after = None
    for _ in range(1000):
        params = {"limit": limit} | ({"after": after} if after else {})
        page = client.get(path, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["results"]) <= limit
        items += body["results"]
        if "paging" not in body:
            return items
        after = body["paging"]["next"]["after"]
    raise AssertionError("paging never ended")


# -- list / get / batch -----------------------------------------------------------------

def test_cursor_paging_visits_every_flow_once_in_order(portal, client):
    items = list_all(client, limit=10)
    ids = [int(i["id"]) for i in items]
    assert len(ids) == 57 == portal.workflow_count(portal.portal_ids[0])
    assert ids == sorted(ids) and len(set(ids)) == 57
    assert {str(i) for i in ids} == set(portal.flow_ids(portal.portal_ids[0]))


def test_paging_link_and_last_page(portal, client):
    first = client.get("/automation/v4/flows", params={"limit": 50}).json()
    link = first["paging"]["next"]["link"]
    assert link.startswith(portal.base_url + "/automation/v4/flows?")
    assert parse_qs(urlsplit(link).query)["after"] == [first["paging"]["next"]["after"]]
    second = client.get(link).json()
    assert len(second["results"]) == 7 and "paging" not in second
    exact = client.get("/automation/v4/flows", params={"limit": 57}).json()
    assert len(exact["results"]) == 57 and "paging" not in exact


def test_default_and_maximum_limit_is_100():
    with DemoPortal(DemoConfig(workflows=130)) as p:
        token = p.private_app_token(p.portal_ids[0])
        with httpx.Client(base_url=p.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
            assert len(c.get("/automation/v4/flows").json()["results"]) == 100
            assert len(c.get("/automation/v4/flows", params={"limit": 500}).json()["results"]) == 100


@pytest.mark.parametrize("params", [{"after": "not-a-cursor"}, {"limit": "ten"}, {"limit": "0"}])
def test_bad_list_parameters(client, params):
    answer = client.get("/automation/v4/flows", params=params)
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_get_flow_matches_server_truth_and_404(portal, client):
    pid = portal.portal_ids[0]
    for flow_id in portal.flow_ids(pid)[:5]:
        assert client.get(f"/automation/v4/flows/{flow_id}").json() == portal.get_flow(pid, flow_id)
    for missing in ("1", "abc"):
        answer = client.get(f"/automation/v4/flows/{missing}")
        assert answer.status_code == 404 and answer.json()["category"] == "OBJECT_NOT_FOUND"


def test_date_version_paths_serve_the_same_flows(portal, client):
    flow_id = portal.flow_ids(portal.portal_ids[0])[3]
    v4 = client.get(f"/automation/v4/flows/{flow_id}").json()
    for version in ("2026-09-beta", "2026-03"):
        assert client.get(f"/automation/{version}/flows/{flow_id}").json() == v4
    assert list_all(client, "/automation/2026-09-beta/flows", 25) == list_all(client, limit=25)
    assert client.get(f"/automation/v5/flows/{flow_id}").status_code == 404


def test_batch_read_all_found(portal, client):
    ids = portal.flow_ids(portal.portal_ids[0])[:4]
    answer = client.post("/automation/v4/flows/batch/read",
                         json={"inputs": [{"type": "FLOW_ID", "flowId": i} for i in ids + ids[:1]]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "COMPLETE" and "errors" not in body and "numErrors" not in body
    assert [r["id"] for r in body["results"]] == ids


def test_batch_read_unknown_ids_gives_207(portal, client):
    ids = portal.flow_ids(portal.portal_ids[0])[:2]
    inputs = [{"type": "FLOW_ID", "flowId": i} for i in (ids[0], "123", ids[1], "456")]
    answer = client.post("/automation/v4/flows/batch/read", json={"inputs": inputs})
    assert answer.status_code == 207
    body = answer.json()
    assert [r["id"] for r in body["results"]] == ids
    assert body["numErrors"] == 2
    (error,) = body["errors"]
    assert error["status"] == "error" and error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"]["ids"] == ["123", "456"]


def test_batch_read_limits_and_validation(client):
    too_many = [{"type": "FLOW_ID", "flowId": str(i)} for i in range(101)]
    assert client.post("/automation/v4/flows/batch/read", json={"inputs": too_many}).status_code == 400
    assert client.post("/automation/v4/flows/batch/read",
                       json={"inputs": [{"type": "WORKFLOW_ID", "flowId": "1"}]}).status_code == 400
    assert client.post("/automation/v4/flows/batch/read", content=b"{nope",
                       headers={"Content-Type": "application/json"}).status_code == 400
    assert client.post("/automation/v4/flows/batch/read", json={"ids": []}).status_code == 400


# -- PUT ---------------------------------------------------------------------------------

def test_put_full_replace_bumps_revision(portal, client):
    pid = portal.portal_ids[0]
    flow_id = portal.flow_ids(pid)[0]
    current = client.get(f"/automation/v4/flows/{flow_id}").json()
    body = put_body(current)
    body["name"] = "Restored by test"
    body.pop("enrollmentCriteria", None)
    body.pop("description", None)
    answer = client.put(f"/automation/v4/flows/{flow_id}", json=body)
    assert answer.status_code == 200, answer.text
    updated = answer.json()
    assert int(updated["revisionId"]) == int(current["revisionId"]) + 1
    assert updated["updatedAt"] > current["updatedAt"]
    assert updated["createdAt"] == current["createdAt"]
    assert updated["name"] == "Restored by test"
    assert "enrollmentCriteria" not in updated          # omitted optional field -> cleared
    assert updated["actions"] == current["actions"]
    assert updated["dataSources"] == current["dataSources"]
    assert portal.get_flow(pid, flow_id) == updated == client.get(f"/automation/v4/flows/{flow_id}").json()
    listing = {i["id"]: i for i in list_all(client, limit=100)}
    assert listing[flow_id]["revisionId"] == updated["revisionId"]


def test_put_with_stale_revision_is_a_409_conflict(portal, client):
    flow_id = portal.flow_ids(portal.portal_ids[0])[1]
    stale = client.get(f"/automation/v4/flows/{flow_id}").json()
    # a colleague saves first...
    assert client.put(f"/automation/v4/flows/{flow_id}", json=put_body(stale)).status_code == 200
    # ...then our restore, still based on the old revision, must not overwrite it
    conflict = client.put(f"/automation/v4/flows/{flow_id}", json=put_body(stale))
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["status"] == "error" and body["category"] == "CONFLICT"
    assert body["context"]["currentRevisionId"] == [str(int(stale["revisionId"]) + 1)]
    assert portal.get_flow(portal.portal_ids[0], flow_id)["revisionId"] == str(int(stale["revisionId"]) + 1)


def test_concurrent_puts_with_same_revision_only_one_wins(portal):
    pid = portal.portal_ids[0]
    flow_id = portal.flow_ids(pid)[2]
    body = put_body(portal.get_flow(pid, flow_id))
    token = portal.private_app_token(pid)
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        with httpx.Client(base_url=portal.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
            barrier.wait()
            statuses.append(c.put(f"/automation/v4/flows/{flow_id}", json={**body, "name": f"w{n}"}).status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 5
    assert portal.get_flow(pid, flow_id)["revisionId"] == str(int(body["revisionId"]) + 1)


def test_put_rejects_read_only_keys_and_validates(portal, client):
    flow_id = portal.flow_ids(portal.portal_ids[0])[3]
    flow = client.get(f"/automation/v4/flows/{flow_id}").json()
    with_read_only = client.put(f"/automation/v4/flows/{flow_id}", json=flow)
    assert with_read_only.status_code == 400
    flagged = {e["in"] for e in with_read_only.json()["errors"]}
    assert {"id", "createdAt", "updatedAt", "dataSources", "flowType", "objectTypeId"} <= flagged
    missing = put_body(flow)
    del missing["timeWindows"]
    answer = client.put(f"/automation/v4/flows/{flow_id}", json=missing)
    assert answer.status_code == 400 and answer.json()["errors"][0]["in"] == "timeWindows"
    broken = put_body(flow)
    broken["actions"] = [*broken["actions"], {"type": "SINGLE_CONNECTION", "actionId": "9999",
                                              "actionTypeId": "0-1", "actionTypeVersion": 0, "fields": {},
                                              "connection": {"edgeType": "STANDARD", "nextActionId": "77777"}}]
    assert client.put(f"/automation/v4/flows/{flow_id}", json=broken).status_code == 400
    other_type = put_body(flow) | {"type": "PLATFORM_FLOW" if flow["type"] == "CONTACT_FLOW" else "CONTACT_FLOW"}
    assert client.put(f"/automation/v4/flows/{flow_id}", json=other_type).status_code == 400
    assert client.put("/automation/v4/flows/42", json=put_body(flow)).status_code == 404
    # nothing above changed the flow
    assert portal.get_flow(portal.portal_ids[0], flow_id)["revisionId"] == flow["revisionId"]


def test_lenient_put_ignores_read_only_keys():
    with DemoPortal(DemoConfig(workflows=3, strict_put_keys=False)) as p:
        pid = p.portal_ids[0]
        flow_id = p.flow_ids(pid)[0]
        flow = p.get_flow(pid, flow_id)
        token = p.private_app_token(pid)
        answer = httpx.put(f"{p.base_url}/automation/v4/flows/{flow_id}",
                           json=flow | {"id": "1", "createdAt": "2000-01-01T00:00:00.000Z"},
                           headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        assert answer.json()["id"] == flow_id and answer.json()["createdAt"] == flow["createdAt"]


def test_revision_history_endpoint(portal, client):
    flow_id = portal.flow_ids(portal.portal_ids[0])[4]
    before = client.get(f"/automation/v4/flows/{flow_id}").json()
    client.put(f"/automation/v4/flows/{flow_id}", json=put_body(before) | {"name": "changed"})
    old = client.get(f"/automation/2026-09-beta/flows/{flow_id}/revisions/{before['revisionId']}")
    assert old.status_code == 200
    body = old.json()
    assert body["revisionId"] == before["revisionId"] and body["flow"] == before
    assert isinstance(body["revisionCreatedAt"], str)
    assert client.get(f"/automation/2026-09-beta/flows/{flow_id}/revisions/0").status_code == 404


# -- create / delete ---------------------------------------------------------------------

def test_create_then_delete(portal, client):
    pid = portal.portal_ids[0]
    count = portal.workflow_count(pid)
    answer = client.post("/automation/v4/flows", json={
        "name": "Created by test", "type": "CONTACT_FLOW", "flowType": "WORKFLOW", "isEnabled": False,
        "objectTypeId": "0-1", "actions": []})
    assert answer.status_code == 201, answer.text
    flow = answer.json()
    assert answer.headers["Location"] == f"{portal.base_url}/automation/v4/flows/{flow['id']}"
    assert flow["revisionId"] == "1" and flow["crmObjectCreationStatus"] == "COMPLETE"
    assert flow["suppressionListIds"] == [] and flow["canEnrollFromSalesforce"] is False
    assert client.get(answer.headers["Location"]).json() == flow
    assert portal.workflow_count(pid) == count + 1
    v3_names = [w["name"] for w in client.get("/automation/v3/workflows").json()["workflows"]]
    assert "Created by test" in v3_names
    assert client.delete(f"/automation/v4/flows/{flow['id']}").status_code == 204
    assert client.get(f"/automation/v4/flows/{flow['id']}").status_code == 404
    assert client.delete(f"/automation/v4/flows/{flow['id']}").status_code == 404
    assert client.delete("/automation/v4/flows/not-a-number").status_code == 400
    assert portal.workflow_count(pid) == count


def test_create_validation(client):
    assert client.post("/automation/v4/flows", json={"name": "x", "isEnabled": False}).status_code == 400
    assert client.post("/automation/v4/flows", json={"type": "CONTACT_FLOW", "objectTypeId": "0-3",
                                                     "actions": []}).status_code == 400
    platform = client.post("/automation/v4/flows", json={"objectTypeId": "0-3", "actions": [], "isEnabled": True})
    assert platform.status_code == 201 and platform.json()["type"] == "PLATFORM_FLOW"
    assert "suppressionListIds" not in platform.json()


def test_put_while_creation_pending_is_refused():
    with DemoPortal(DemoConfig(workflows=1, creation_pending_s=0.4)) as p:
        token = p.private_app_token(p.portal_ids[0])
        with httpx.Client(base_url=p.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
            flow = c.post("/automation/v4/flows", json={"objectTypeId": "0-2", "actions": []}).json()
            assert flow["crmObjectCreationStatus"] == "PENDING"
            first = c.put(f"/automation/v4/flows/{flow['id']}", json=put_body(flow))
            assert first.status_code == 409
            time.sleep(0.5)
            assert c.get(f"/automation/v4/flows/{flow['id']}").json()["crmObjectCreationStatus"] == "COMPLETE"
            assert c.put(f"/automation/v4/flows/{flow['id']}", json=put_body(flow)).status_code == 200


# -- the portal without workflows, portal isolation ---------------------------------------

@pytest.mark.parametrize("method, path", [
    ("GET", "/automation/v4/flows"), ("GET", "/automation/v4/flows/1"),
    ("POST", "/automation/v4/flows/batch/read"), ("GET", "/automation/v3/workflows"),
    ("GET", "/automation/2026-09-beta/flows"),
])
def test_starter_portal_gets_403(portal, method, path):
    for token in (portal.private_app_token(portal.portal_ids[1]),
                  portal.issue_tokens_for_tests(portal.portal_ids[1])["access_token"]):
        answer = httpx.request(method, portal.base_url + path, json={"inputs": []} if method == "POST" else None,
                               headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403
        body = answer.json()
        assert body["category"] == "MISSING_SCOPES" and "doesn't include workflows" in body["message"]
    assert portal.workflow_count(portal.portal_ids[1]) == 0


def test_tokens_are_bound_to_their_portal():
    with DemoPortal(DemoConfig(workflows=4, extra_portals=1)) as p:
        first, _, third = p.portal_ids
        flow_id = p.flow_ids(first)[0]
        assert flow_id not in p.flow_ids(third)
        token = p.issue_tokens_for_tests(third)["access_token"]
        answer = httpx.get(f"{p.base_url}/automation/v4/flows/{flow_id}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404
        listing = httpx.get(f"{p.base_url}/automation/v4/flows", headers={"Authorization": f"Bearer {token}"}).json()
        assert {i["id"] for i in listing["results"]} == set(p.flow_ids(third))


# -- v3 ----------------------------------------------------------------------------------

def test_v3_list_and_get(portal, client):
    workflows = client.get("/automation/v3/workflows").json()["workflows"]
    contact_flows = [i for i in list_all(client, limit=100) if i["objectTypeId"] == "0-1"]
    assert len(workflows) == len(contact_flows) > 0
    ids = [w["id"] for w in workflows]
    assert ids == sorted(ids)
    for item in workflows[:5]:
        full = client.get(f"/automation/v3/workflows/{item['id']}")
        assert full.status_code == 200
        body = full.json()
        assert body["id"] == item["id"] and body["portalId"] == portal.portal_ids[0]
        assert body["insertedAt"] == item["insertedAt"] and isinstance(body["updatedAt"], int)
        assert all(isinstance(a.get("type"), str) for a in body["actions"])
    mapping = client.post("/automation/v4/workflow-id-mappings/batch/read",
                          json={"inputs": [{"type": "WORKFLOW_ID", "workflowId": str(workflows[0]["id"])}]}).json()
    flow = client.get(f"/automation/v4/flows/{mapping['results'][0]['flowId']}").json()
    assert flow["objectTypeId"] == "0-1" and flow.get("name") == workflows[0]["name"]
    assert client.get("/automation/v3/workflows/1").status_code == 404


# -- drift -------------------------------------------------------------------------------

def test_drift_once_changes_are_visible_over_http(portal, client):
    pid = portal.portal_ids[0]
    before = {i["id"]: i for i in list_all(client, limit=100)}
    changes = portal.drift_once(12)
    assert len(changes) == 12
    after = {i["id"]: i for i in list_all(client, limit=100)}
    kinds = {c.kind for c in changes}
    assert kinds <= {"changed", "added", "disabled", "deleted"} and len(kinds) >= 2
    for change in changes:
        if change.kind == "deleted":
            assert change.flow_id not in after
            continue
        if any(c.flow_id == change.flow_id and c.kind == "deleted" for c in changes):
            continue
        current = after[change.flow_id]
        if change.kind == "added":
            assert change.flow_id not in before
        else:
            assert int(current["revisionId"]) > int(before[change.flow_id]["revisionId"])
            assert current["updatedAt"] > before[change.flow_id]["updatedAt"]
        if change.kind == "disabled":
            assert portal.get_flow(pid, change.flow_id)["isEnabled"] is False or \
                any(c.flow_id == change.flow_id and c is not change for c in changes)
    assert len(after) == portal.workflow_count(pid)


def test_background_drift():
    with DemoPortal(DemoConfig(workflows=10, drift_interval=0.1, drift_changes=2)) as p:
        pid = p.portal_ids[0]
        before = {fid: p.get_flow(pid, fid)["revisionId"] for fid in p.flow_ids(pid)}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            now = {fid: p.get_flow(pid, fid)["revisionId"] for fid in p.flow_ids(pid)}
            if now != before:
                break
            time.sleep(0.05)
        assert now != before
        assert p.state()["drift"]["applied"] >= 1
