"""A version in words: each step one line, the graph in the editor's order,
unknown action types shown as their raw type with their fields."""

from __future__ import annotations

import pytest

from tests.unit.test_flow_diff import base
from wg_desktop.flows.words import (LineKind, duration, graph_order, readable_lines,
                                            readable_text, step_text)

STEPS = [
    ({"actionTypeId": "0-1", "fields": {"delta": "2880", "time_unit": "MINUTES"}}, "Delay 2 days"),
    ({"actionTypeId": "0-1", "fields": {"delta": "90", "time_unit": "MINUTES"}}, "Delay 90 minutes"),
    ({"actionTypeId": "0-1", "fields": {"delta": "3", "time_unit": "HOURS"}}, "Delay 3 hours"),
    ({"actionTypeId": "0-5", "fields": {"property_name": "lifecyclestage",
                                        "value": {"type": "STATIC_VALUE", "staticValue": "customer"}}},
     "Set lifecycle stage to Customer"),
    ({"actionTypeId": "0-5", "fields": {"property_name": "dealstage",
                                        "value": {"type": "STATIC_VALUE", "staticValue": "closedwon"}}},
     "Set deal stage to closedwon"),
    ({"actionTypeId": "0-4", "fields": {"content_id": "123"}}, "Send email 123"),
    ({"type": "WEBHOOK", "method": "POST", "webhookUrl": "https://hooks.example.com/x"},
     "Webhook POST https://hooks.example.com/x"),
    ({"actionTypeId": "0-3", "fields": {"subject": "Call back"}}, "Create task 'Call back'"),
    ({"actionTypeId": "0-8", "fields": {"subject": "Heads up", "user_ids": ["7"]}},
     "Send internal notification 'Heads up' to user 7"),
    ({"actionTypeId": "0-63809083", "fields": {"listId": "55"}}, "Add to list 55"),
    ({"type": "CUSTOM_CODE", "runtime": "NODE20X", "sourceCode": "x"}, "Custom code (NODE20X)"),
    ({"type": "SINGLE_CONNECTION", "actionTypeId": "0-13", "fields": {"listId": "9"}},
     'Action type 0-13 {"fields": {"listId": "9"}}'),
    ({"type": "FUTURE_THING", "knob": 3}, 'Action type FUTURE_THING {"knob": 3}'),
]


@pytest.mark.parametrize("action, text", STEPS, ids=[t for _, t in STEPS])
def test_each_step_is_one_line(action, text):
    assert step_text({"actionId": "1", **action}) == text


@pytest.mark.parametrize("amount, unit, text", [
    ("30", "MINUTES", "30 minutes"), ("60", "MINUTES", "1 hour"), ("10080", "MINUTES", "1 week"),
    ("2", "DAYS", "2 days"), ("soon", "MINUTES", "soon minutes"), ("5", "FORTNIGHTS", "5 fortnights"),
])
def test_durations(amount, unit, text):
    assert duration(amount, unit) == text


def test_graph_order_follows_edges_not_the_array():
    flow = base()
    flow["actions"].reverse()
    flow["actions"].append({"actionId": "9", "actionTypeId": "0-4", "fields": {"content_id": "1"}})
    assert graph_order(flow) == ["1", "2", "3", "4", "5", "9"]


def test_readable_version_in_the_editors_order():
    assert readable_text(base()).splitlines() == [
        "Onboarding (on)",
        "Trigger",
        "  Enroll when records meet the criteria",
        "    lifecycle stage is any of Lead",
        "  Re-enrollment off",
        "Actions",
        "  1. Send email 123",
        "  2. Delay 30 minutes",
        "  3. Branch by conditions",
        "    If Path A: no conditions",
        "      4. Set lifecycle stage to Lead",
        "    Otherwise (None met)",
        "      5. Create task 'Call back'",
    ]


def test_lines_carry_indent_kind_and_action_id():
    lines = readable_lines(base())
    set_lead = next(line for line in lines if line.text.startswith("4."))
    assert (set_lead.indent, set_lead.kind, set_lead.action_id) == (3, LineKind.ACTION, "4")
    assert [line.kind for line in lines if line.indent == 0] == [LineKind.HEADING] * 2
    assert set_lead.to_dict() == {"indent": 3, "text": "4. Set lifecycle stage to Lead",
                                  "kind": "action", "action_id": "4"}


def test_loops_settings_and_loose_actions_are_shown():
    flow = base()
    flow["actions"][4]["connection"] = {"edgeType": "GOTO", "nextActionId": "2"}
    flow["actions"].append({"actionId": "8", "actionTypeId": "0-4", "fields": {"content_id": "8"}})
    flow["timeWindows"] = [{"day": "MONDAY", "startTime": {"hour": 9, "minute": 0},
                            "endTime": {"hour": 17, "minute": 30}}]
    flow["enrollmentCriteria"]["shouldReEnroll"] = True
    text = readable_text(flow).splitlines()
    assert text[text.index("      5. Create task 'Call back'") + 1] == "      Go to action 2"
    assert "  Re-enrollment on" in text
    assert text[-4:] == ["  Not connected to the start:", "    6. Send email 8",
                         "Settings", "  Run actions only: Mon 09:00–17:30"]
