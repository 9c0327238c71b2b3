"""The flow-aware diff: table-driven, one edit per row, read back as the
one-line summary and as structured changes."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from wg_desktop.flows.diff import (NO_DIFFERENCES, ChangeKind, RowTag, Section,
                                           diff_flows, side_by_side, unified_lines,
                                           version_summary)


def base() -> dict[str, Any]:
    """Start -> 1 send email -> 2 delay -> 3 branch (Path A -> 4 set property, else -> 5 task)."""
    return {
        "name": "Onboarding", "isEnabled": True, "startActionId": "1", "nextAvailableActionId": "6",
        "enrollmentCriteria": {"type": "LIST_BASED", "shouldReEnroll": False,
                               "listFilterBranch": {"filterBranchOperator": "OR", "filters": [],
                                                    "filterBranches": [{
                                                        "filterBranchOperator": "AND",
                                                        "filterBranches": [],
                                                        "filters": [{"property": "lifecyclestage",
                                                                     "operation": {"operator": "IS_ANY_OF",
                                                                                   "values": ["lead"]}}]}]},
                               "reEnrollmentTriggersFilterBranches": []},
        "timeWindows": [], "blockedDates": [], "suppressionListIds": [], "customProperties": {},
        "actions": [
            {"type": "SINGLE_CONNECTION", "actionId": "1", "actionTypeId": "0-4",
             "fields": {"content_id": "123"},
             "connection": {"edgeType": "STANDARD", "nextActionId": "2"}},
            {"type": "SINGLE_CONNECTION", "actionId": "2", "actionTypeId": "0-1",
             "fields": {"delta": "30", "time_unit": "MINUTES"},
             "connection": {"edgeType": "STANDARD", "nextActionId": "3"}},
            {"type": "LIST_BRANCH", "actionId": "3", "defaultBranchName": "None met",
             "listBranches": [{"branchName": "Path A", "filterBranch": {"filters": []},
                               "connection": {"edgeType": "STANDARD", "nextActionId": "4"}}],
             "defaultBranch": {"edgeType": "STANDARD", "nextActionId": "5"}},
            {"type": "SINGLE_CONNECTION", "actionId": "4", "actionTypeId": "0-5",
             "fields": {"property_name": "lifecyclestage",
                        "value": {"type": "STATIC_VALUE", "staticValue": "lead"}}},
            {"type": "SINGLE_CONNECTION", "actionId": "5", "actionTypeId": "0-3",
             "fields": {"subject": "Call back", "priority": "HIGH"}},
        ],
    }


def action(flow: dict, action_id: str) -> dict:
    return next(a for a in flow["actions"] if a["actionId"] == action_id)


def set_delay(flow):
    action(flow, "2")["fields"]["delta"] = "2880"


def add_after_email(flow):
    action(flow, "1")["connection"]["nextActionId"] = "6"
    flow["actions"].append({"type": "SINGLE_CONNECTION", "actionId": "6", "actionTypeId": "0-3",
                            "fields": {"subject": "Review"},
                            "connection": {"edgeType": "STANDARD", "nextActionId": "2"}})


def remove_delay(flow):
    flow["actions"] = [a for a in flow["actions"] if a["actionId"] != "2"]
    action(flow, "1")["connection"]["nextActionId"] = "3"


def move_delay_to_the_end(flow):
    # 1 email -> 2 delay -> 3 branch  becomes  1 email -> 3 branch, ... 5 task -> 2 delay
    action(flow, "1")["connection"]["nextActionId"] = "3"
    action(flow, "5")["connection"] = {"edgeType": "STANDARD", "nextActionId": "2"}
    del action(flow, "2")["connection"]


def swap_branches(flow):
    branch = action(flow, "3")
    branch["listBranches"][0]["connection"]["nextActionId"] = "5"
    branch["defaultBranch"]["nextActionId"] = "4"


def reorder_array(flow):
    flow["actions"].reverse()


def re_enroll_on(flow):
    flow["enrollmentCriteria"]["shouldReEnroll"] = True


def enrollment_filter(flow):
    flow["enrollmentCriteria"]["listFilterBranch"]["filterBranches"][0]["filters"][0][
        "operation"]["values"] = ["lead", "customer"]


def weekdays(flow):
    flow["timeWindows"] = [{"day": d, "startTime": {"hour": 9, "minute": 0},
                            "endTime": {"hour": 17, "minute": 0}}
                           for d in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")]


def unknown_type(flow):
    flow["actions"][0] = {"type": "SINGLE_CONNECTION", "actionId": "1", "actionTypeId": "0-99999",
                          "fields": {"mystery": "x"},
                          "connection": {"edgeType": "STANDARD", "nextActionId": "2"}}


def unknown_action_field(flow):
    action(flow, "5")["fields"]["brandNewField"] = {"depth": 1}


def unknown_top_field(flow):
    flow["aiAssist"] = {"mode": "auto"}


def rename(flow):
    flow["name"] = "Onboarding v2"


def turn_off(flow):
    flow["isEnabled"] = False


def blocked(flow):
    flow["blockedDates"] = [{"dayOfMonth": 25, "month": 12, "year": 2026}]


def suppress(flow):
    flow["suppressionListIds"] = [42]


def goal(flow):
    flow["goalFilterBranch"] = {"filterBranchOperator": "AND", "filterBranches": [],
                                "filters": [{"property": "lifecyclestage",
                                             "operation": {"operator": "IS_ANY_OF",
                                                           "values": ["customer"]}}]}


def custom_property(flow):
    flow["customProperties"] = {"owner_team": "RevOps"}


def webhook_url(flow):
    flow["actions"].append({"type": "WEBHOOK", "actionId": "7", "method": "POST",
                            "webhookUrl": "https://hooks.example.com/a"})


CASES: list[tuple[str, Callable[[dict], None], str, Section, ChangeKind | list[ChangeKind]]] = [
    ("changed delay", set_delay, "Action 2 'Delay': 30 minutes → 2 days",
     Section.ACTIONS, ChangeKind.CHANGED),
    ("added action", add_after_email, "1 action added after 'Send email 123'",
     Section.ACTIONS, ChangeKind.ADDED),
    ("removed action", remove_delay, "Removed action 2 'Delay 30 minutes'",
     Section.ACTIONS, ChangeKind.REMOVED),
    ("moved action", move_delay_to_the_end,
     "Action 5 'Delay' moved: now after 'Create task 'Call back'' (was after 'Send email 123')",
     Section.ACTIONS, ChangeKind.MOVED),
    ("branches swapped", swap_branches,
     "Action 3 'Branch' If Path A: no conditions: now goes to Action 4 'Create task' "
     "(was Action 4 'Set property') · Action 3 'Branch' Otherwise (None met): now goes to "
     "Action 5 'Set property' (was Action 5 'Create task')",
     Section.ACTIONS, [ChangeKind.REWIRED, ChangeKind.REWIRED]),
    ("re-enrollment on", re_enroll_on, "Re-enrollment turned on",
     Section.TRIGGERS, ChangeKind.CHANGED),
    ("enrollment criteria", enrollment_filter,
     "Enrollment criteria: lifecycle stage is any of Lead → lifecycle stage is any of Lead, Customer",
     Section.TRIGGERS, ChangeKind.CHANGED),
    ("schedule", weekdays, "Time windows: any time → Mon–Fri 09:00–17:00",
     Section.SETTINGS, ChangeKind.CHANGED),
    ("blocked dates", blocked, "Blocked dates: none → 2026-12-25", Section.SETTINGS, ChangeKind.CHANGED),
    ("suppression", suppress, "Suppression lists: none → 42", Section.SETTINGS, ChangeKind.CHANGED),
    ("goal", goal, "Goal: none → lifecycle stage is any of Customer",
     Section.SETTINGS, ChangeKind.CHANGED),
    ("custom property", custom_property, "Custom property 'owner_team': none → 'RevOps'",
     Section.SETTINGS, ChangeKind.CHANGED),
    ("unknown action type", unknown_type,
     "Action 1 was 'Send email 123', now 'Action type 0-99999 {\"fields\": {\"mystery\": \"x\"}}'",
     Section.ACTIONS, ChangeKind.CHANGED),
    ("unknown action field", unknown_action_field,
     "Action 5 'Create task': fields.brandNewField changed", Section.ACTIONS, ChangeKind.CHANGED),
    ("unknown top-level field", unknown_top_field, "aiAssist: none → {\"mode\": \"auto\"}",
     Section.SETTINGS, ChangeKind.CHANGED),
    ("renamed", rename, "Renamed 'Onboarding' → 'Onboarding v2'", Section.WORKFLOW, ChangeKind.CHANGED),
    ("turned off", turn_off, "Turned off", Section.WORKFLOW, ChangeKind.CHANGED),
    ("unconnected webhook", webhook_url, "1 action added not connected to the start",
     Section.ACTIONS, ChangeKind.ADDED),
]


@pytest.mark.parametrize("edit, summary, section, kind", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_one_edit_reads_as_one_change(edit, summary, section, kind):
    old = base()
    new = copy.deepcopy(old)
    edit(new)
    diff = diff_flows(old, new)
    assert diff.summary() == summary
    kinds = kind if isinstance(kind, list) else [kind]
    assert [(c.section, c.kind) for c in diff.visible] == [(section, k) for k in kinds]
    json.dumps(diff.to_dict())              # serialisable as is


def test_the_edges_of_a_move_are_implied_by_it():
    new = base()
    move_delay_to_the_end(new)
    diff = diff_flows(base(), new)
    rewires = [c for c in diff.changes if c.kind is ChangeKind.REWIRED]
    assert rewires and all(c.implied for c in rewires)


@pytest.mark.parametrize("edit", [lambda f: None, reorder_array], ids=["same", "array order"])
def test_identical_versions_have_no_differences(edit):
    new = base()
    edit(new)
    diff = diff_flows(base(), new)
    assert diff.identical and diff.summary() == NO_DIFFERENCES
    assert diff.summary_text() == NO_DIFFERENCES + "\n"


def test_changed_fields_carry_old_and_new_values():
    new = base()
    set_delay(new)
    (change,) = diff_flows(base(), new).changes
    assert [(f.path, f.old, f.new) for f in change.fields] == [("actions[2].fields.delta", "30", "2880")]
    assert change.action_id == "2"


def test_unknown_values_are_kept_verbatim_in_the_structured_change():
    new = base()
    unknown_top_field(new)
    (change,) = diff_flows(base(), new).changes
    assert change.to_dict()["fields"] == [{"path": "aiAssist", "kind": "added", "old": None,
                                           "new": {"mode": "auto"}}]


def test_added_action_edge_is_implied_and_kept():
    new = base()
    add_after_email(new)
    changes = diff_flows(base(), new).changes
    rewire = [c for c in changes if c.kind is ChangeKind.REWIRED]
    assert len(rewire) == 1 and rewire[0].implied
    assert rewire[0].fields[0].path == "actions[1].connection.nextActionId"


def test_summary_is_grouped_and_ordered_and_capped():
    new = base()
    for edit in (set_delay, re_enroll_on, add_after_email, turn_off, weekdays, rename, suppress,
                 blocked):
        edit(new)
    diff = diff_flows(base(), new)
    assert [s for s, _ in diff.grouped()] == [Section.WORKFLOW, Section.TRIGGERS, Section.ACTIONS,
                                              Section.SETTINGS]
    assert diff.summary() == ("Turned off · Renamed 'Onboarding' → 'Onboarding v2' · "
                              "Re-enrollment turned on · 1 action added after 'Send email 123' · "
                              "Action 3 'Delay': 30 minutes → 2 days · 3 more changes")
    assert diff.summary_text().splitlines()[:3] == ["Workflow:", "  Turned off",
                                                    "  Renamed 'Onboarding' → 'Onboarding v2'"]


def test_bookkeeping_only_changes_say_so():
    new = base()
    new["nextAvailableActionId"] = "9"
    diff = diff_flows(base(), new)
    assert not diff.identical and diff.summary() == "only HubSpot's internal counters changed"


@pytest.mark.parametrize("previous, expected", [
    (None, "first captured (5 actions)"),
    (base(), NO_DIFFERENCES),
])
def test_version_summary(previous, expected):
    assert version_summary(previous, base()) == expected


def test_line_views_mark_the_changed_lines():
    new = base()
    set_delay(new)
    unified = unified_lines(base(), new, old_label="v1", new_label="v2")
    assert unified[:2] == ["--- v1", "+++ v2"]
    assert [line[0] + line[1:].strip() for line in unified[2:] if line[:1] in "+-"] \
        == ['-"delta": "30",', '+"delta": "2880",']
    rows = side_by_side(base(), new)
    changed = [r for r in rows if r.tag is not RowTag.EQUAL]
    assert [(r.left.strip(), r.right.strip(), r.tag) for r in changed] == [
        ('"delta": "30",', '"delta": "2880",', RowTag.CHANGED)]
    assert changed[0].left_number == changed[0].right_number
    # every line once: the full-context unified diff less its 3 header lines
    # and the second half of the one changed pair
    assert len(rows) == len(unified_lines(base(), new, context=10_000)) - 4
