"""The pure parts of a restore plan: references, dangling warnings, the PUT body."""

from __future__ import annotations

import pytest

from wg_desktop.services.restore import (READ_ONLY_KEYS, create_body, matches, type_change,
                                         writable_body)
from wg_desktop.services.restore_refs import (DanglingReason, RefKind, Reference, build_index,
                                              dangling_references, references)

FLOW = {
    "id": "501", "type": "CONTACT_FLOW", "objectTypeId": "0-1", "flowType": "WORKFLOW",
    "createdAt": "2026-01-01T00:00:00Z", "nextAvailableActionId": "5", "dataSources": [],
    "crmObjectCreationStatus": "COMPLETE", "isEnabled": True, "name": "Nurture",
    "startActionId": "1",
    "actions": [
        {"actionId": "1", "actionTypeId": "0-4", "type": "SINGLE_CONNECTION",
         "fields": {"content_id": "123456"}, "connection": {"nextActionId": "2"}},
        {"actionId": "2", "actionTypeId": "0-63809083", "type": "SINGLE_CONNECTION",
         "fields": {"listId": "88"}, "connection": {"nextActionId": "3"}},
        {"actionId": "3", "actionTypeId": "0-8", "type": "SINGLE_CONNECTION",
         "fields": {"user_ids": ["7001", "7002"]}, "connection": {"nextActionId": "4"}},
        {"actionId": "4", "actionTypeId": "0-5", "type": "SINGLE_CONNECTION",
         "fields": {"property_name": "hubspot_owner_id",
                    "value": {"type": "STATIC_VALUE", "staticValue": "7003"}}},
    ],
    "enrollmentCriteria": {"type": "LIST_BASED", "listFilterBranch": {"filterBranches": [
        {"filters": [{"filterType": "PROPERTY", "property": "pipeline",
                      "operation": {"operator": "IS_ANY_OF", "values": ["renewals"]}}]}]}},
    "suppressionListIds": [99], "unEnrollmentSetting": {"type": "SELECTIVE", "flowIds": ["602"]},
    "blockedDates": [], "timeWindows": [], "customProperties": {},
    "canEnrollFromSalesforce": False, "futureField": {"x": 1},
}


def test_references_cover_every_kind():
    refs = references(FLOW)
    expected = {Reference(RefKind.EMAIL, "123456"), Reference(RefKind.LIST, "88"),
                Reference(RefKind.LIST, "99"), Reference(RefKind.OWNER, "7001"),
                Reference(RefKind.OWNER, "7002"), Reference(RefKind.OWNER, "7003"),
                Reference(RefKind.PROPERTY, "hubspot_owner_id"),
                Reference(RefKind.PROPERTY, "pipeline"), Reference(RefKind.PIPELINE, "renewals"),
                Reference(RefKind.WORKFLOW, "602")}
    assert refs == expected


def test_references_of_an_empty_or_odd_flow():
    assert references({}) == frozenset()
    assert references({"actions": [None, 3, "x", {"fields": {"listId": ""}}]}) == frozenset()
    assert references({"x": {"listIds": [1, [2, True]]}}) == {
        Reference(RefKind.LIST, "1"), Reference(RefKind.LIST, "2")}


@pytest.mark.parametrize("seen, live, deleted, expected", [
    # nothing known: every id unconfirmed, the workflow unknown
    (set(), set(), set(), {("list", "88"): DanglingReason.NOT_SEEN,
                           ("workflow", "602"): DanglingReason.UNKNOWN}),
    # the list is used elsewhere, the workflow is live: neither is warned about
    ({Reference(RefKind.LIST, "88")}, {"602"}, set(), {}),
    # the workflow was deleted (last sync)
    ({Reference(RefKind.LIST, "88")}, set(), {"602"}, {("workflow", "602"):
                                                       DanglingReason.DELETED}),
    # live wins over deleted (a re-created id)
    ({Reference(RefKind.LIST, "88")}, {"602"}, {"602"}, {}),
])
def test_dangling_reasons(seen, live, deleted, expected):
    target = {"actions": [{"fields": {"listId": "88"}}],
              "unEnrollmentSetting": {"flowIds": ["602"]}}
    index = build_index([{"x": {"listId": r.value}} for r in seen], live, deleted)
    got = {(str(d.reference.kind), d.reference.value): d.reason
           for d in dangling_references(target, index)}
    assert got == expected


def test_a_workflow_referring_to_itself_is_not_dangling():
    index = build_index([], [], [])
    target = {"unEnrollmentSetting": {"flowIds": ["501"]}}
    assert dangling_references(target, index, self_flow_id="501") == ()


def test_warning_texts_never_claim_more_than_known():
    index = build_index([], [], ["602"])
    texts = [d.text for d in dangling_references(FLOW, index)]
    assert "Workflow 602 was deleted in HubSpot (last sync); the restored version refers to it" \
        in texts
    unconfirmed = [t for t in texts if "could not be confirmed" in t]
    assert len(unconfirmed) == len(references(FLOW)) - 1
    assert all("deleted" not in t.split(":")[0] for t in unconfirmed)


def test_writable_body_of_a_contact_flow():
    body, dropped, filled = writable_body(FLOW, as_disabled=False)
    assert not set(body) & READ_ONLY_KEYS
    assert "revisionId" not in body and "futureField" not in body
    assert dropped == ("futureField",) and filled == ()
    assert body["isEnabled"] is True and body["type"] == "CONTACT_FLOW"
    assert body["suppressionListIds"] == [99] and body["unEnrollmentSetting"]["flowIds"] == ["602"]


def test_writable_body_as_disabled_and_with_missing_required_fields():
    old = {"objectTypeId": "0-1", "name": "Old capture", "actions": [], "isEnabled": True}
    body, dropped, filled = writable_body(old, as_disabled=True)
    assert body["isEnabled"] is False and dropped == ()
    assert set(filled) == {"blockedDates", "canEnrollFromSalesforce", "customProperties",
                           "suppressionListIds", "timeWindows"}
    assert body["blockedDates"] == [] and body["canEnrollFromSalesforce"] is False


def test_writable_body_of_a_platform_flow_drops_contact_only_fields():
    deal = {**FLOW, "objectTypeId": "0-3", "type": "PLATFORM_FLOW",
            "suppressionFilterBranch": {"filters": []}}
    body, dropped, _ = writable_body(deal, as_disabled=False)
    assert "suppressionListIds" not in body and "canEnrollFromSalesforce" not in body
    assert "suppressionFilterBranch" in body
    assert {"suppressionListIds", "canEnrollFromSalesforce", "unEnrollmentSetting",
            "futureField"} <= set(dropped)


def test_create_body_names_the_object_and_flow_type():
    body, _, _ = writable_body(FLOW, as_disabled=True)
    created = create_body(FLOW, body)
    assert created["objectTypeId"] == "0-1" and created["flowType"] == "WORKFLOW"
    assert "id" not in created and "revisionId" not in created


@pytest.mark.parametrize("live, target, refused", [
    ({"objectTypeId": "0-1", "flowType": "WORKFLOW"}, {"objectTypeId": "0-1"}, None),
    ({"objectTypeId": "0-1"}, {"objectTypeId": "0-3"}, "object type"),
    ({"flowType": "WORKFLOW"}, {"flowType": "ACTION_SET"}, "flow type"),
    ({"type": "CONTACT_FLOW"}, {"type": "PLATFORM_FLOW"}, "workflow type"),
    ({}, {"objectTypeId": "0-3"}, None),        # unknown on one side: nothing to compare
])
def test_type_change(live, target, refused):
    reason = type_change(live, target)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_matches_compares_sent_fields_by_content():
    body, _, _ = writable_body(FLOW, as_disabled=False)
    live = {**FLOW, "revisionId": "9", "updatedAt": "now",
            "actions": list(reversed(FLOW["actions"]))}     # order means nothing
    assert matches(live, body)
    assert not matches({**live, "name": "Other"}, body)
