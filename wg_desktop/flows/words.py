"""A workflow version in words, the way HubSpot's editor reads it: the
trigger, then the actions in graph order from ``startActionId`` with branches
indented under their conditions, then the settings.

The diff summary (``flow_diff``) names actions with the same words, so a
step reads the same in the history, the diff and the readable text. Action
types this module does not know are shown as their raw type with their
fields, never dropped: HubSpot adds and splits action types over time.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

# Keys holding an action's outgoing edges (the rest of an action is its content).
EDGE_KEYS = frozenset({"connection", "defaultBranch"})
BRANCH_LIST_KEYS = ("listBranches", "staticBranches", "testBranches")

KIND_NAMES: dict[str, str] = {
    "0-1": "Delay",
    "0-3": "Create task",
    "0-4": "Send email",
    "0-5": "Set property",
    "0-8": "Send internal notification",
    "0-63809083": "Add to list",
    "WEBHOOK": "Webhook",
    "CUSTOM_CODE": "Custom code",
    "LIST_BRANCH": "Branch",
    "STATIC_BRANCH": "Value branch",
    "AB_TEST_BRANCH": "A/B test",
}

PROPERTY_LABELS: dict[str, str] = {
    "lifecyclestage": "lifecycle stage", "hs_lead_status": "lead status",
    "hs_persona": "persona", "hs_language": "preferred language", "country": "country",
    "industry": "industry", "type": "type", "icp_tier": "ICP tier", "dealstage": "deal stage",
    "dealtype": "deal type", "hs_priority": "priority", "pipeline": "pipeline",
    "hs_pipeline_stage": "ticket status", "hs_ticket_priority": "ticket priority",
    "hs_ticket_category": "ticket category", "source_type": "source",
}

LIFECYCLE_LABELS: dict[str, str] = {
    "subscriber": "Subscriber", "lead": "Lead", "marketingqualifiedlead": "Marketing qualified lead",
    "salesqualifiedlead": "Sales qualified lead", "opportunity": "Opportunity",
    "customer": "Customer", "evangelist": "Evangelist", "other": "Other",
}

UNIT_MINUTES = {"MINUTES": 1, "HOURS": 60, "DAYS": 1440, "WEEKS": 10080}
OPERATORS = {"IS_ANY_OF": "is any of", "IS_NONE_OF": "is none of", "IS_EQUAL_TO": "is",
             "IS_NOT_EQUAL_TO": "is not", "HAS_PROPERTY": "is known",
             "NOT_HAS_PROPERTY": "is unknown", "CONTAINS": "contains"}
ENROLLMENT_TYPES = {"LIST_BASED": "when records meet the criteria",
                    "EVENT_BASED": "when an event happens", "MANUAL": "manually only",
                    "DATASET_BASED": "from a data set"}
MAX_VALUE_CHARS = 80


class LineKind(enum.StrEnum):
    HEADING = "heading"      # "Trigger", "Actions", "Settings"
    TRIGGER = "trigger"
    ACTION = "action"
    BRANCH = "branch"        # a branch's condition; its path is indented below
    GOTO = "goto"            # a jump back to an action shown earlier
    SETTING = "setting"


@dataclass(frozen=True)
class WordLine:
    indent: int
    text: str
    kind: LineKind
    action_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"indent": self.indent, "text": self.text, "kind": str(self.kind),
                "action_id": self.action_id}


@dataclass(frozen=True)
class Outlet:
    """One outgoing edge of an action: where it is in the action (``key``, a
    stable name such as ``listBranches[0].connection``), the condition that
    takes it, and the action it leads to."""

    key: str
    label: str | None
    next_id: str | None
    edge_type: str


# -- values -----------------------------------------------------------------

def compact(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as short text: strings bare, everything else as compact JSON."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True,
                                                           ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(amount: Any, unit: Any = "MINUTES") -> str:
    """'2880', 'MINUTES' -> '2 days'; unreadable input is shown as given."""
    try:
        minutes = float(str(amount)) * UNIT_MINUTES[str(unit or "MINUTES").upper()]
    except (KeyError, ValueError):
        return f"{amount} {str(unit).lower()}".strip()
    for size, name in ((10080, "week"), (1440, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size and minutes % size == 0:
            count = int(minutes // size)
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{minutes:g} minutes"


def property_label(name: Any) -> str:
    return PROPERTY_LABELS.get(str(name), str(name))


def property_value(prop: Any, value: Any) -> str:
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind == "STATIC_VALUE":
            value = value.get("staticValue")
        elif kind == "OBJECT_PROPERTY":
            return f"the value of {property_label(value.get('propertyName'))}"
        else:
            return compact(value)
    if prop == "lifecyclestage" and str(value) in LIFECYCLE_LABELS:
        return LIFECYCLE_LABELS[str(value)]
    return compact(value)


# -- actions ----------------------------------------------------------------

def action_key(action: Any) -> str:
    """The id an action is known by; actions without one are keyed by content."""
    if isinstance(action, Mapping) and action.get("actionId") is not None:
        return str(action["actionId"])
    return "#" + compact(action, limit=10_000)


def raw_type(action: Mapping[str, Any]) -> str:
    return str(action.get("actionTypeId") or action.get("type") or "unknown")


def kind_name(action: Mapping[str, Any]) -> str:
    """The short name of an action's kind ('Delay', 'Webhook', ...)."""
    known = KIND_NAMES.get(str(action.get("actionTypeId"))) or KIND_NAMES.get(str(action.get("type")))
    return known or f"Action type {raw_type(action)}"


def content_of(action: Mapping[str, Any]) -> dict[str, Any]:
    """An action without its id, type keys and edges: what it does."""
    skip = EDGE_KEYS | {"actionId", "type", "actionTypeId", "actionTypeVersion"}
    content = {k: v for k, v in action.items() if k not in skip}
    for key in BRANCH_LIST_KEYS:
        if isinstance(content.get(key), list):
            content[key] = [{k: v for k, v in b.items() if k != "connection"}
                            if isinstance(b, Mapping) else b for b in content[key]]
    return content


def step_detail(action: Mapping[str, Any]) -> str:
    """What an action does, without its kind: '2 days', 'lifecycle stage to
    Customer', '123'. Unknown kinds: their fields verbatim."""
    fields = action.get("fields") if isinstance(action.get("fields"), Mapping) else {}
    type_id = str(action.get("actionTypeId"))
    kind = str(action.get("type"))
    if type_id == "0-1":
        return duration(fields.get("delta"), fields.get("time_unit"))
    if type_id == "0-5":
        prop = fields.get("property_name", fields.get("property"))
        return f"{property_label(prop)} to {property_value(prop, fields.get('value'))}"
    if type_id == "0-4":
        return compact(fields.get("content_id"))
    if type_id == "0-3":
        return f"'{compact(fields.get('subject', ''))}'"
    if type_id == "0-8":
        users = fields.get("user_ids") or []
        who = ", ".join(str(u) for u in users) if isinstance(users, list) else compact(users)
        return f"'{compact(fields.get('subject', ''))}' to user {who}"
    if type_id == "0-63809083":
        return compact(fields.get("listId"))
    if kind == "WEBHOOK":
        return f"{action.get('method', '')} {compact(action.get('webhookUrl', ''), 200)}".strip()
    if kind == "CUSTOM_CODE":
        return f"({action.get('runtime', 'runtime not set')})"
    if kind == "STATIC_BRANCH":
        value = action.get("inputValue")
        prop = value.get("propertyName") if isinstance(value, Mapping) else value
        return f"on {property_label(prop)}"
    if kind in ("LIST_BRANCH", "AB_TEST_BRANCH"):
        return "by conditions" if kind == "LIST_BRANCH" else "by test group"
    return compact(content_of(action), limit=200)


def step_text(action: Mapping[str, Any]) -> str:
    """One line for an action: 'Delay 2 days', 'Send email 123', 'Webhook POST https://…'."""
    if not isinstance(action, Mapping):
        return f"Unreadable action {compact(action)}"
    if str(action.get("actionTypeId")) == "0-5":
        return f"Set {step_detail(action)}"
    return f"{kind_name(action)} {step_detail(action)}".strip()


def _connection(value: Any) -> tuple[str | None, str]:
    if isinstance(value, Mapping):
        target = value.get("nextActionId")
        return (str(target) if target is not None else None), str(value.get("edgeType", "STANDARD"))
    return None, "STANDARD"


def outlets(action: Mapping[str, Any]) -> list[Outlet]:
    """Every outgoing edge of an action, in the editor's order: the plain
    connection, each branch (whatever list holds them), then the default."""
    found: list[Outlet] = []
    if "connection" in action:
        found.append(Outlet("connection", None, *_connection(action["connection"])))
    for key, value in action.items():
        if not isinstance(value, list):
            continue
        for index, branch in enumerate(value):
            # A known branch list shows every branch, even one with no path yet.
            if isinstance(branch, Mapping) and ("connection" in branch or key in BRANCH_LIST_KEYS):
                found.append(Outlet(f"{key}[{index}].connection", branch_label(action, branch, index),
                                    *_connection(branch.get("connection"))))
    if "defaultBranch" in action or "defaultBranchName" in action:
        name = action.get("defaultBranchName")
        found.append(Outlet("defaultBranch", f"Otherwise{f' ({name})' if name else ''}",
                            *_connection(action.get("defaultBranch"))))
    return found


def branch_label(action: Mapping[str, Any], branch: Mapping[str, Any], index: int) -> str:
    if "branchValue" in branch:
        value = action.get("inputValue")
        prop = value.get("propertyName") if isinstance(value, Mapping) else value
        return f"If {property_label(prop)} is {property_value(prop, branch['branchValue'])}"
    name = branch.get("branchName") or f"Branch {index + 1}"
    if isinstance(branch.get("filterBranch"), Mapping):
        return f"If {name}: {filters_text(branch['filterBranch'])}"
    rest = {k: v for k, v in branch.items() if k not in ("connection", "branchName")}
    return f"If {name}" + (f": {compact(rest)}" if rest else "")


# -- filters ----------------------------------------------------------------

def filters_text(branch: Any) -> str:
    """A filter tree as words: 'lifecycle stage is any of lead, customer or ...'."""
    if not isinstance(branch, Mapping):
        return compact(branch)
    joiner = " or " if str(branch.get("filterBranchOperator", "AND")).upper() == "OR" else " and "
    parts = [_filter_text(f) for f in branch.get("filters") or []]
    nested = [filters_text(b) for b in branch.get("filterBranches") or [] if isinstance(b, Mapping)]
    # Brackets only where a nested group sits beside others.
    alone = len(parts) + len(nested) == 1
    parts += [text if alone or " and " not in text and " or " not in text else f"({text})"
              for text in nested]
    if branch.get("eventTypeId"):
        parts.insert(0, f"event {branch['eventTypeId']} "
                        f"{str(branch.get('operator', 'HAS_COMPLETED')).lower().replace('_', ' ')}")
    return joiner.join(parts) if parts else "no conditions"


def _filter_text(item: Any) -> str:
    if not isinstance(item, Mapping) or not isinstance(item.get("operation"), Mapping):
        return compact(item)
    operation = item["operation"]
    prop = item.get("property")
    operator = str(operation.get("operator", ""))
    words = OPERATORS.get(operator, operator.lower().replace("_", " "))
    values = operation.get("values", operation.get("value"))
    if isinstance(values, list):
        shown = ", ".join(property_value(prop, v) for v in values)
    else:
        shown = "" if values is None else property_value(prop, values)
    return f"{property_label(prop)} {words} {shown}".strip()


# -- graph order ------------------------------------------------------------

def action_index(flow: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    actions = flow.get("actions") if isinstance(flow.get("actions"), list) else []
    return {action_key(a): a for a in actions}


def _id_sort(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)


def graph_order(flow: Mapping[str, Any], index: dict[str, Mapping[str, Any]] | None = None
                ) -> list[str]:
    """Action keys in the order the editor shows them: depth first from
    ``startActionId``, each branch's path before the next branch; actions
    nothing leads to come last, by id."""
    index = action_index(flow) if index is None else index
    order: list[str] = []
    seen: set[str] = set()
    start = flow.get("startActionId")
    stack = [str(start)] if start is not None else []
    while stack:
        key = stack.pop()
        if key in seen or key not in index:
            continue
        seen.add(key)
        order.append(key)
        action = index[key]
        if isinstance(action, Mapping):
            stack.extend(o.next_id for o in reversed(outlets(action)) if o.next_id is not None)
    order.extend(sorted((k for k in index if k not in seen), key=_id_sort))
    return order


# -- the readable version ---------------------------------------------------

def trigger_lines(flow: Mapping[str, Any]) -> list[WordLine]:
    lines = [WordLine(0, "Trigger", LineKind.HEADING)]
    criteria = flow.get("enrollmentCriteria")
    if not isinstance(criteria, Mapping):
        lines.append(WordLine(1, "No enrollment trigger", LineKind.TRIGGER))
    else:
        kind = str(criteria.get("type", "unknown"))
        lines.append(WordLine(1, f"Enroll {ENROLLMENT_TYPES.get(kind, f'({kind})')}", LineKind.TRIGGER))
        for key, value in criteria.items():
            if key in ("type", "shouldReEnroll", "unEnrollObjectsNotMeetingCriteria"):
                continue
            if key in ("listFilterBranch", "refinementCriteria") and isinstance(value, Mapping):
                lines.append(WordLine(2, filters_text(value), LineKind.TRIGGER))
            elif key in ("eventFilterBranches", "listMembershipFilterBranches",
                         "reEnrollmentTriggersFilterBranches") and isinstance(value, list):
                label = {"eventFilterBranches": "", "listMembershipFilterBranches": "List membership: ",
                         "reEnrollmentTriggersFilterBranches": "Re-enroll when: "}[key]
                lines.extend(WordLine(2, label + filters_text(b), LineKind.TRIGGER) for b in value)
            else:
                lines.append(WordLine(2, f"{key}: {compact(value)}", LineKind.TRIGGER))
        if "shouldReEnroll" in criteria:
            lines.append(WordLine(1, "Re-enrollment " + ("on" if criteria["shouldReEnroll"] else "off"),
                                  LineKind.TRIGGER))
        if criteria.get("unEnrollObjectsNotMeetingCriteria"):
            lines.append(WordLine(1, "Unenroll records that no longer meet the criteria",
                                  LineKind.TRIGGER))
    if isinstance(flow.get("enrollmentSchedule"), Mapping):
        lines.append(WordLine(1, f"Schedule: {schedule_text(flow['enrollmentSchedule'])}",
                              LineKind.TRIGGER))
    if flow.get("eventAnchor") is not None:
        lines.append(WordLine(1, f"Anchored on {compact(flow['eventAnchor'])}", LineKind.TRIGGER))
    return lines


def schedule_text(schedule: Mapping[str, Any]) -> str:
    time_of_day = schedule.get("timeOfDay")
    at = (f" at {clock(time_of_day)}" if isinstance(time_of_day, Mapping) else "")
    rest = {k: v for k, v in schedule.items() if k not in ("type", "timeOfDay")}
    return f"{str(schedule.get('type', '')).lower()}{at}" + (f" {compact(rest)}" if rest else "")


def clock(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"{int(value.get('hour', 0)):02d}:{int(value.get('minute', 0)):02d}"
    return compact(value)


WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def _days_text(days: list[str]) -> str:
    positions = [WEEK.index(d) if d in WEEK else -1 for d in days]
    if len(days) > 2 and -1 not in positions and positions == list(range(positions[0],
                                                                           positions[0] + len(days))):
        return f"{days[0][:3].title()}–{days[-1][:3].title()}"
    return ", ".join(d[:3].title() for d in days)


def time_windows_text(windows: Any) -> str:
    """'Mon–Fri 09:00–17:00': days sharing the same hours are named together."""
    if not windows:
        return "any time"
    if not isinstance(windows, list):
        return compact(windows)
    groups: dict[str, list[str]] = {}
    loose: list[str] = []
    for w in windows:
        if isinstance(w, Mapping):
            hours = f"{clock(w.get('startTime'))}–{clock(w.get('endTime'))}"
            groups.setdefault(hours, []).append(str(w.get("day", "?")))
        else:
            loose.append(compact(w))
    return ", ".join([f"{_days_text(days)} {hours}" for hours, days in groups.items()] + loose)


def dates_text(dates: Any) -> str:
    if not dates:
        return "none"
    if not isinstance(dates, list):
        return compact(dates)
    return ", ".join(f"{d.get('year', '?')}-{int(d.get('month', 0)):02d}-{int(d.get('dayOfMonth', 0)):02d}"
                     if isinstance(d, Mapping) else compact(d) for d in dates)


def setting_lines(flow: Mapping[str, Any]) -> list[WordLine]:
    found: list[str] = []
    if flow.get("timeWindows"):
        found.append(f"Run actions only: {time_windows_text(flow['timeWindows'])}")
    if flow.get("blockedDates"):
        found.append(f"Never run on: {dates_text(flow['blockedDates'])}")
    if flow.get("suppressionListIds"):
        found.append("Suppression lists: " + ", ".join(str(i) for i in flow["suppressionListIds"]))
    if flow.get("suppressionFilterBranch"):
        found.append(f"Suppress records where {filters_text(flow['suppressionFilterBranch'])}")
    if flow.get("goalFilterBranch"):
        found.append(f"Goal: {filters_text(flow['goalFilterBranch'])}")
    if isinstance(flow.get("unEnrollmentSetting"), Mapping):
        found.append(f"Unenrollment: {compact(flow['unEnrollmentSetting'])}")
    for key, value in sorted((flow.get("customProperties") or {}).items()
                             if isinstance(flow.get("customProperties"), Mapping) else []):
        found.append(f"Custom property {key}: {compact(value)}")
    lines = [WordLine(1, text, LineKind.SETTING) for text in found]
    return [WordLine(0, "Settings", LineKind.HEADING), *lines] if lines else []


def action_lines(flow: Mapping[str, Any]) -> list[WordLine]:
    index = action_index(flow)
    order = graph_order(flow, index)
    number = {key: n for n, key in enumerate(order, start=1)}
    lines = [WordLine(0, "Actions", LineKind.HEADING)]
    if not order:
        lines.append(WordLine(1, "No actions", LineKind.ACTION))
        return lines
    shown: set[str] = set()

    def path(start: str | None, indent: int) -> Iterator[WordLine]:
        # Iterative along a path, recursive only per branch, so a 300-step
        # chain does not nest 300 calls deep.
        key = start
        while key is not None:
            if key in shown or key not in index:
                target = f"action {number[key]}" if key in number else f"missing action {key}"
                yield WordLine(indent, f"Go to {target}", LineKind.GOTO, key)
                return
            shown.add(key)
            action = index[key]
            yield WordLine(indent, f"{number[key]}. {step_text(action)}", LineKind.ACTION, key)
            exits = outlets(action) if isinstance(action, Mapping) else []
            if len(exits) == 1 and exits[0].label is None:
                key = exits[0].next_id
                continue
            for outlet in exits:
                yield WordLine(indent + 1, outlet.label or "Then", LineKind.BRANCH, key)
                if outlet.next_id is None:
                    yield WordLine(indent + 2, "End", LineKind.ACTION)
                else:
                    yield from path(outlet.next_id, indent + 2)
            return

    start = flow.get("startActionId")
    lines.extend(path(str(start) if start is not None else None, 1))
    loose = [k for k in order if k not in shown]
    if loose:
        lines.append(WordLine(1, "Not connected to the start:", LineKind.HEADING))
        for key in loose:
            if key not in shown:
                lines.extend(path(key, 2))
    return lines


def readable_lines(flow: Mapping[str, Any]) -> list[WordLine]:
    """The whole version in words, as structured lines for a view."""
    return [*trigger_lines(flow), *action_lines(flow), *setting_lines(flow)]


def readable_text(flow: Mapping[str, Any], *, indent: str = "  ") -> str:
    """The plain-text rendering of ``readable_lines``."""
    title = flow.get("name") or "(unnamed workflow)"
    state = "on" if flow.get("isEnabled") else "off"
    body = "\n".join(indent * line.indent + line.text for line in readable_lines(flow))
    return f"{title} ({state})\n{body}\n"


__all__ = ["LineKind", "Outlet", "WordLine", "action_index", "action_key", "action_lines",
           "compact", "content_of", "duration", "filters_text", "graph_order", "kind_name",
           "outlets", "readable_lines", "readable_text", "setting_lines", "step_detail",
           "step_text", "trigger_lines"]
