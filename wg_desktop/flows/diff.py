"""What changed between two workflow definitions, read as HubSpot's editor
shows a workflow: actions matched by ``actionId`` (array order means
nothing), edges compared per outlet, enrollment, settings and the workflow's
own switches compared by meaning. Whatever this module has no words for
(a new action type, a new field) is still compared and shown verbatim.

Three views of one comparison: a plain-language summary (grouped, and as one
line for the version history), structured changes (``to_dict`` for JSON and
the diff view), and line diffs of the canonical JSON. Pure, no Qt.
"""

from __future__ import annotations

import difflib
import enum
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from wg_desktop.flows.words import (ENROLLMENT_TYPES, action_index, compact,
                                            dates_text, filters_text, graph_order, kind_name,
                                            outlets, schedule_text, step_detail, step_text,
                                            time_windows_text)
from wg_desktop.store.normalize import normalize_flow

NO_DIFFERENCES = "no differences"
SUMMARY_PARTS = 5            # the one-line summary names this many changes, then counts
SEPARATOR = " · "
# Where an action keeps its edges: compared as rewiring, not as content.
EDGE_PATH = re.compile(r"(connection|defaultBranch|\w+\[\d+\]\.connection)(\.|\[|$)")

# HubSpot's own bookkeeping: it moves on every save or add, says nothing to a reader.
BOOKKEEPING_KEYS = frozenset({"revisionId", "updatedAt", "nextAvailableActionId",
                              "crmObjectCreationStatus"})
WORKFLOW_KEYS = frozenset({"name", "isEnabled", "description", "id", "uuid", "type", "flowType",
                           "objectTypeId", "createdAt"}) | BOOKKEEPING_KEYS
TRIGGER_KEYS = frozenset({"enrollmentCriteria", "enrollmentSchedule", "eventAnchor"})
ACTION_KEYS = frozenset({"actions", "startActionId"})
SWITCHES = {"shouldReEnroll": "Re-enrollment",
            "unEnrollObjectsNotMeetingCriteria": "Unenrolling records that no longer meet the criteria",
            "canEnrollFromSalesforce": "Enrollment from Salesforce"}


class Section(enum.StrEnum):
    WORKFLOW = "workflow"
    TRIGGERS = "triggers"
    ACTIONS = "actions"
    SETTINGS = "settings"


SECTION_TITLES = {Section.WORKFLOW: "Workflow", Section.TRIGGERS: "Triggers",
                  Section.ACTIONS: "Actions", Section.SETTINGS: "Settings"}


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    REWIRED = "rewired"      # an outlet now leads elsewhere
    MOVED = "moved"          # an action now follows a different action


@dataclass(frozen=True)
class FieldChange:
    """One leaf that differs: ``path`` from the compared object, dotted with
    [i] for list items; ``old`` is None when added, ``new`` None when removed."""

    path: str
    kind: ChangeKind
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": str(self.kind), "old": self.old, "new": self.new}


@dataclass(frozen=True)
class FlowChange:
    section: Section
    kind: ChangeKind
    text: str                              # one plain-language sentence
    action_id: str | None = None
    fields: tuple[FieldChange, ...] = ()
    # Follows from another change (the edge into an added action, HubSpot's
    # counters): kept for the record, left out of the summaries.
    implied: bool = False
    anchor: str | None = None              # added actions: where, e.g. "after 'Delay 2 days'"

    def to_dict(self) -> dict[str, Any]:
        return {"section": str(self.section), "kind": str(self.kind), "text": self.text,
                "action_id": self.action_id, "implied": self.implied, "anchor": self.anchor,
                "fields": [f.to_dict() for f in self.fields]}


@dataclass(frozen=True)
class FlowDiff:
    changes: tuple[FlowChange, ...]
    old_actions: int
    new_actions: int

    @property
    def identical(self) -> bool:
        return not self.changes

    @property
    def visible(self) -> tuple[FlowChange, ...]:
        return tuple(c for c in self.changes if not c.implied)

    def grouped(self) -> list[tuple[Section, list[str]]]:
        """The summary by section (workflow, triggers, actions, settings)."""
        groups = []
        for section in Section:
            texts = _phrases([c for c in self.visible if c.section is section])
            if texts:
                groups.append((section, texts))
        return groups

    def summary(self, limit: int = SUMMARY_PARTS) -> str:
        """One line, as the version history shows it."""
        if self.identical:
            return NO_DIFFERENCES
        parts = [text for _, texts in self.grouped() for text in texts]
        if not parts:
            return "only HubSpot's internal counters changed"
        if len(parts) > limit:
            rest = len(parts) - limit
            parts = parts[:limit] + [f"{rest} more change{'s' if rest != 1 else ''}"]
        return SEPARATOR.join(parts)

    def summary_text(self) -> str:
        """The grouped summary as plain text, one change a line."""
        if self.identical:
            return NO_DIFFERENCES + "\n"
        lines = []
        for section, texts in self.grouped():
            lines.append(f"{SECTION_TITLES[section]}:")
            lines.extend(f"  {t}" for t in texts)
        if not lines:
            lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"identical": self.identical, "summary": self.summary(),
                "groups": {str(s): texts for s, texts in self.grouped()},
                "old_actions": self.old_actions, "new_actions": self.new_actions,
                "changes": [c.to_dict() for c in self.changes]}


def _phrases(changes: list[FlowChange]) -> list[str]:
    """Changes as summary phrases; actions added at the same place become one."""
    counts: dict[str, int] = {}
    for change in changes:
        if change.kind is ChangeKind.ADDED and change.section is Section.ACTIONS:
            counts[change.anchor or ""] = counts.get(change.anchor or "", 0) + 1
    texts: list[str] = []
    for change in changes:
        if change.kind is not ChangeKind.ADDED or change.section is not Section.ACTIONS:
            texts.append(change.text)
            continue
        place = change.anchor or ""
        n = counts.pop(place, 0)
        if n:
            texts.append(f"{n} action{'s' if n != 1 else ''} added {place}".rstrip())
    return texts


# -- values -----------------------------------------------------------------

def show(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "none"
    return f"'{value}'" if isinstance(value, str) else compact(value)


def leaf_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Every leaf that differs between two JSON values, unknown keys included."""
    if old == new:
        return []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found: list[FieldChange] = []
        for key in sorted(old.keys() | new.keys(), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                found.append(FieldChange(where, ChangeKind.REMOVED, old=old[key]))
            elif key not in old:
                found.append(FieldChange(where, ChangeKind.ADDED, new=new[key]))
            else:
                found.extend(leaf_changes(old[key], new[key], where))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (a, b) in enumerate(zip(old, new)):
            found.extend(leaf_changes(a, b, f"{path}[{i}]"))
        return found
    return [FieldChange(path, ChangeKind.CHANGED, old=old, new=new)]


def _switch(label: str, new: Any) -> str:
    return f"{label} turned {'on' if new else 'off'}"


# -- the parts of a flow ----------------------------------------------------

def _workflow_changes(old: Mapping[str, Any], new: Mapping[str, Any], key: str) -> FlowChange:
    a, b = old.get(key), new.get(key)
    fields = tuple(leaf_changes(a, b, key)) if key in old and key in new else (
        FieldChange(key, ChangeKind.ADDED if key in new else ChangeKind.REMOVED, a, b),)
    if key == "name":
        text = f"Renamed {show(a)} → {show(b)}"
    elif key == "isEnabled":
        text = "Turned on" if b else "Turned off"
    elif key == "description":
        text = f"Description: {show(a)} → {show(b)}"
    else:
        text = f"{key}: {show(a)} → {show(b)}"
    return FlowChange(Section.WORKFLOW, ChangeKind.CHANGED, text, fields=fields,
                      implied=key in BOOKKEEPING_KEYS)


def _branches_text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(filters_text(b) for b in value) or "none"
    return filters_text(value) if value else "none"


def _criteria_changes(old: Any, new: Any) -> list[FlowChange]:
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        kind = ChangeKind.ADDED if old is None else (ChangeKind.REMOVED if new is None
                                                      else ChangeKind.CHANGED)
        words = {ChangeKind.ADDED: f"Enrollment trigger added: {compact(new)}",
                 ChangeKind.REMOVED: "Enrollment trigger removed",
                 ChangeKind.CHANGED: f"Enrollment trigger: {show(old)} → {show(new)}"}[kind]
        return [FlowChange(Section.TRIGGERS, kind, words,
                           fields=(FieldChange("enrollmentCriteria", kind, old, new),))]
    found: list[FlowChange] = []

    def add(text: str, *keys: str) -> None:
        fields = tuple(f for k in keys for f in leaf_changes({k: old.get(k)} if k in old else {},
                                                             {k: new.get(k)} if k in new else {},
                                                             "enrollmentCriteria"))
        found.append(FlowChange(Section.TRIGGERS, ChangeKind.CHANGED, text, fields=fields))

    if old.get("type") != new.get("type"):
        def enroll(kind: Any) -> str:
            return ENROLLMENT_TYPES.get(str(kind), str(kind))
        add(f"Trigger: enroll {enroll(old.get('type'))} → enroll {enroll(new.get('type'))}",
            *sorted((old.keys() | new.keys()) - set(SWITCHES), key=str))
        keys = sorted((old.keys() | new.keys()) & set(SWITCHES))
    else:
        keys = sorted(old.keys() | new.keys(), key=str)
    for key in keys:
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key in SWITCHES:
            add(_switch(SWITCHES[key], b), key)
        elif key == "reEnrollmentTriggersFilterBranches":
            add(f"Re-enrollment triggers: {_branches_text(a)} → {_branches_text(b)}", key)
        elif key in ("listFilterBranch", "refinementCriteria", "eventFilterBranches",
                     "listMembershipFilterBranches"):
            add(f"Enrollment criteria: {_branches_text(a)} → {_branches_text(b)}", key)
        else:
            add(f"Enrollment {key}: {show(a)} → {show(b)}", key)
    return found


def _setting_text(key: str, a: Any, b: Any) -> str:
    if key in SWITCHES:
        return _switch(SWITCHES[key], b)
    if key == "timeWindows":
        return f"Time windows: {time_windows_text(a)} → {time_windows_text(b)}"
    if key == "blockedDates":
        return f"Blocked dates: {dates_text(a)} → {dates_text(b)}"
    if key == "suppressionListIds":
        def ids(v: Any) -> str:
            return ", ".join(str(i) for i in v) if isinstance(v, list) and v else show(v)
        return f"Suppression lists: {ids(a)} → {ids(b)}"
    if key in ("goalFilterBranch", "suppressionFilterBranch"):
        label = "Goal" if key == "goalFilterBranch" else "Suppression criteria"
        return f"{label}: {_branches_text(a)} → {_branches_text(b)}"
    if key == "enrollmentSchedule":
        def sched(v: Any) -> str:
            return schedule_text(v) if isinstance(v, Mapping) else show(v)
        return f"Enrollment schedule: {sched(a)} → {sched(b)}"
    if key == "eventAnchor":
        return f"Anchor: {show(a)} → {show(b)}"
    if key == "unEnrollmentSetting":
        return f"Unenrollment setting: {show(a)} → {show(b)}"
    return f"{key}: {show(a)} → {show(b)}"


def _setting_changes(old: Mapping[str, Any], new: Mapping[str, Any], key: str,
                     section: Section) -> list[FlowChange]:
    a, b = old.get(key), new.get(key)
    if key == "customProperties" and isinstance(a, Mapping) and isinstance(b, Mapping):
        return [FlowChange(section, ChangeKind.CHANGED,
                           f"Custom property '{name}': {show(a.get(name))} → {show(b.get(name))}",
                           fields=tuple(leaf_changes({name: a[name]} if name in a else {},
                                                     {name: b[name]} if name in b else {},
                                                     key)))
                for name in sorted(a.keys() | b.keys(), key=str) if a.get(name) != b.get(name)
                or (name in a) != (name in b)]
    fields = tuple(leaf_changes({key: a} if key in old else {}, {key: b} if key in new else {}))
    return [FlowChange(section, ChangeKind.CHANGED, _setting_text(key, a, b), fields=fields)]


# -- actions ----------------------------------------------------------------

@dataclass
class _Graph:
    flow: Mapping[str, Any]
    index: dict[str, Any] = field(init=False)
    order: list[str] = field(init=False)
    number: dict[str, int] = field(init=False)
    pred: dict[str, str] = field(init=False)      # action -> the first action leading to it

    def __post_init__(self) -> None:
        self.index = action_index(self.flow)
        self.order = graph_order(self.flow, self.index)
        self.number = {k: n for n, k in enumerate(self.order, start=1)}
        self.pred = {}
        for key in self.order:
            action = self.index[key]
            for outlet in outlets(action) if isinstance(action, Mapping) else []:
                if outlet.next_id is not None and outlet.edge_type != "GOTO":
                    self.pred.setdefault(outlet.next_id, key)

    def name(self, key: str | None) -> str:
        if key is None:
            return "the end"
        action = self.index.get(key)
        if not isinstance(action, Mapping):
            return f"missing action {key}"
        return f"Action {self.number[key]} '{kind_name(action)}'"

    def step(self, key: str) -> str:
        action = self.index.get(key)
        return step_text(action) if action is not None else f"missing action {key}"

    def edges(self, key: str) -> dict[str, tuple[str | None, str | None]]:
        action = self.index[key]
        if not isinstance(action, Mapping):
            return {}
        return {o.key: (o.next_id, o.label) for o in outlets(action)}


def _action_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FlowChange]:
    a, b = _Graph(old), _Graph(new)
    added = [k for k in b.order if k not in a.index]
    removed = [k for k in a.order if k not in b.index]
    added_set, removed_set = set(added), set(removed)
    common = [k for k in b.order if k in a.index]
    found: list[FlowChange] = []

    def anchor_of(graph: _Graph, key: str, skip: set[str]) -> str | None:
        seen = {key}
        source = graph.pred.get(key)
        while source is not None and source in skip and source not in seen:
            seen.add(source)
            source = graph.pred.get(source)
        return None if source is None or source in seen else graph.step(source)

    for key in added:
        action = b.index[key]
        anchor = anchor_of(b, key, added_set)
        place = (f"after '{anchor}'" if anchor else "at the start" if _starts_chain(b, key, added_set)
                 else "not connected to the start")
        found.append(FlowChange(
            Section.ACTIONS, ChangeKind.ADDED, f"Added {b.name(key)} '{b.step(key)}' {place}",
            action_id=_id(action), anchor=place,
            fields=(FieldChange(f"actions[{key}]", ChangeKind.ADDED, new=action),)))
    for key in removed:
        action = a.index[key]
        found.append(FlowChange(
            Section.ACTIONS, ChangeKind.REMOVED, f"Removed action {a.number[key]} '{a.step(key)}'",
            action_id=_id(action),
            fields=(FieldChange(f"actions[{key}]", ChangeKind.REMOVED, old=action),)))

    # Moved: out of the longest run of actions that kept their relative
    # order, and following a different action than before (a swapped
    # branch keeps its order and its predecessor: that is rewiring).
    kept_order = difflib.SequenceMatcher(None, [k for k in a.order if k in b.index], common,
                                         autojunk=False)
    in_order = {common[block.b + i] for block in kept_order.get_matching_blocks()
                for i in range(block.size)}
    moved: set[str] = set()
    for key in common:
        was, now = a.pred.get(key), b.pred.get(key)
        if key in in_order or was == now or was in removed_set or now in added_set:
            continue
        moved.add(key)
        found.append(FlowChange(Section.ACTIONS, ChangeKind.MOVED,
                                f"{b.name(key)} moved: now {_place(b, key, now)} "
                                f"(was {_place(a, key, was)})",
                                action_id=key,
                                fields=(FieldChange(f"actions[{key}].predecessor",
                                                    ChangeKind.CHANGED, was, now),)))
    around_moves = moved | {a.pred.get(k) for k in moved} | {b.pred.get(k) for k in moved}

    for key in common:
        before, after = a.index[key], b.index[key]
        if before == after:
            continue
        if not isinstance(before, Mapping) or not isinstance(after, Mapping):
            continue        # keyed by content: equal keys mean equal values
        content = _content_change(a, b, key, before, after)
        if content is not None:
            found.append(content)
        old_edges, new_edges = a.edges(key), b.edges(key)
        for outlet in [*new_edges, *(k for k in old_edges if k not in new_edges)]:
            was = old_edges.get(outlet, (None, None))[0]
            now, label = new_edges.get(outlet, old_edges.get(outlet, (None, None)))
            if outlet not in new_edges:
                now = None
            if was == now:
                continue
            implied = (now in added_set or was in removed_set or key in around_moves)
            where = f" {label}" if label else ""
            found.append(FlowChange(
                Section.ACTIONS, ChangeKind.REWIRED,
                f"{b.name(key)}{where}: now goes to {b.name(now)} (was {a.name(was)})",
                action_id=key, implied=implied,
                fields=(FieldChange(f"actions[{key}].{outlet}.nextActionId", ChangeKind.CHANGED,
                                    was, now),)))

    start_a, start_b = old.get("startActionId"), new.get("startActionId")
    if start_a != start_b:
        key_b = str(start_b) if start_b is not None else None
        key_a = str(start_a) if start_a is not None else None
        found.append(FlowChange(
            Section.ACTIONS, ChangeKind.REWIRED,
            f"Now starts with {b.name(key_b)} (was {a.name(key_a)})",
            implied=key_b in added_set or key_a in removed_set or key_a in moved
            or key_b in moved,
            fields=(FieldChange("startActionId", ChangeKind.CHANGED, start_a, start_b),)))
    return found


def _place(graph: _Graph, key: str, pred: str | None) -> str:
    if pred is not None:
        return f"after '{graph.step(pred)}'"
    return "at the start" if str(graph.flow.get("startActionId")) == key else "not connected to the start"


def _starts_chain(graph: _Graph, key: str, added: set[str]) -> bool:
    """Whether ``key`` is reached from the start through added actions only."""
    source = graph.pred.get(key)
    seen = {key}
    while source is not None and source in added and source not in seen:
        seen.add(source)
        key, source = source, graph.pred.get(source)
    return source is None and str(graph.flow.get("startActionId")) == key


def _id(action: Any) -> str | None:
    return str(action["actionId"]) if isinstance(action, Mapping) and "actionId" in action else None


def _content_change(a: _Graph, b: _Graph, key: str, before: Mapping[str, Any],
                    after: Mapping[str, Any]) -> FlowChange | None:
    edge_free = [leaf for leaf in leaf_changes(before, after, f"actions[{key}]")
                 if not _is_edge_path(leaf.path, key)]
    if not edge_free:
        return None
    name = b.name(key)
    if kind_name(before) != kind_name(after):
        text = f"Action {b.number[key]} was '{a.step(key)}', now '{b.step(key)}'"
    elif step_detail(before) != step_detail(after):
        text = f"{name}: {step_detail(before)} → {step_detail(after)}"
    else:
        paths = [leaf.path.removeprefix(f"actions[{key}].") for leaf in edge_free]
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        text = f"{name}: {shown} changed"
    return FlowChange(Section.ACTIONS, ChangeKind.CHANGED, text, action_id=key,
                      fields=tuple(edge_free))


def _is_edge_path(path: str, key: str) -> bool:
    return EDGE_PATH.match(path.removeprefix(f"actions[{key}].")) is not None


# -- the whole flow ---------------------------------------------------------

def diff_flows(old: Mapping[str, Any], new: Mapping[str, Any]) -> FlowDiff:
    """Compare two definitions (raw or normalized) by meaning."""
    changes: list[FlowChange] = []
    order = {Section.WORKFLOW: 0, Section.TRIGGERS: 1, Section.ACTIONS: 2, Section.SETTINGS: 3}
    keys = sorted(old.keys() | new.keys(), key=str)
    for key in keys:
        if key in ACTION_KEYS or (old.get(key) == new.get(key) and (key in old) == (key in new)):
            continue
        if key in WORKFLOW_KEYS:
            changes.append(_workflow_changes(old, new, key))
        elif key == "enrollmentCriteria":
            changes.extend(_criteria_changes(old.get(key), new.get(key)))
        elif key in TRIGGER_KEYS:
            changes.extend(_setting_changes(old, new, key, Section.TRIGGERS))
        else:
            changes.extend(_setting_changes(old, new, key, Section.SETTINGS))
    if old.get("actions") != new.get("actions") or old.get("startActionId") != new.get("startActionId"):
        changes.extend(_action_changes(old, new))
    first = {"isEnabled": 0, "name": 1}
    changes.sort(key=lambda c: (order[c.section],
                                first.get(c.fields[0].path if c.fields else "", 2)))
    return FlowDiff(tuple(changes), _count(old), _count(new))


def _count(flow: Mapping[str, Any]) -> int:
    actions = flow.get("actions")
    return len(actions) if isinstance(actions, list) else 0


def first_capture_summary(flow: Mapping[str, Any]) -> str:
    count = _count(flow)
    return f"first captured ({count} action{'s' if count != 1 else ''})"


def version_summary(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str:
    """The one-line summary stored with a version: what changed since the one before."""
    if previous is None:
        return first_capture_summary(current)
    return diff_flows(previous, current).summary()


# -- line views of the canonical JSON ---------------------------------------

class RowTag(enum.StrEnum):
    EQUAL = "equal"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class SideBySideRow:
    left_number: int | None
    left: str
    right_number: int | None
    right: str
    tag: RowTag

    def to_dict(self) -> dict[str, Any]:
        return {"left_number": self.left_number, "left": self.left,
                "right_number": self.right_number, "right": self.right, "tag": str(self.tag)}


def canonical_lines(flow: Mapping[str, Any]) -> list[str]:
    """The stored form, pretty-printed: actions by id, keys sorted, so equal
    meaning gives equal lines."""
    return json.dumps(normalize_flow(flow), indent=2, sort_keys=True,
                      ensure_ascii=False, default=str).splitlines()


def unified_lines(old: Mapping[str, Any], new: Mapping[str, Any], *, old_label: str = "old",
                  new_label: str = "new", context: int = 3) -> list[str]:
    return list(difflib.unified_diff(canonical_lines(old), canonical_lines(new), old_label,
                                     new_label, n=context, lineterm=""))


def side_by_side(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[SideBySideRow]:
    """Every line of both versions, paired, with the changed ones tagged."""
    left, right = canonical_lines(old), canonical_lines(new)
    rows: list[SideBySideRow] = []
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(SideBySideRow(i + 1, left[i], j + 1, right[j], RowTag.EQUAL)
                        for i, j in zip(range(i1, i2), range(j1, j2)))
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            has_left, has_right = i < i2, j < j2
            tag = (RowTag.CHANGED if has_left and has_right
                   else RowTag.REMOVED if has_left else RowTag.ADDED)
            rows.append(SideBySideRow(i + 1 if has_left else None, left[i] if has_left else "",
                                      j + 1 if has_right else None, right[j] if has_right else "",
                                      tag))
    return rows


__all__ = ["NO_DIFFERENCES", "ChangeKind", "FieldChange", "FlowChange", "FlowDiff", "RowTag",
           "Section", "SideBySideRow", "canonical_lines", "diff_flows", "first_capture_summary",
           "leaf_changes", "side_by_side", "unified_lines", "version_summary"]
