"""Drift: "a colleague changes things". Each step changes, adds, disables or
deletes a few workflows; every change makes a new revision (new revisionId,
new updatedAt)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from wg_desktop.demo.data import (OBJECT_TYPE_WEIGHTS, FlowRecord, FlowStore, weighted_choice,
                                  make_name, new_body, next_action_id)

KINDS = (("changed", 55), ("added", 15), ("disabled", 15), ("deleted", 15))


@dataclass(frozen=True)
class DriftChange:
    kind: str                 # "changed" | "added" | "disabled" | "deleted"
    portal_id: int
    flow_id: str
    revision_id: str | None   # the new revision; None when deleted
    detail: str


class Drifter:
    def __init__(self, stores: dict[int, FlowStore], seed: int) -> None:
        self._stores = stores
        self._rng = random.Random(f"wg-demo-drift:{seed}")
        self._lock = threading.Lock()

    def step(self, n: int) -> list[DriftChange]:
        changes: list[DriftChange] = []
        with self._lock:
            portals = sorted(self._stores)
            if not portals:
                return changes
            for _ in range(max(0, n)):
                store = self._stores[self._rng.choice(portals)]
                change = self._one(store)
                if change is not None:
                    changes.append(change)
        return changes

    def _one(self, store: FlowStore) -> DriftChange | None:
        rng = self._rng
        kind = weighted_choice(rng, KINDS)
        if kind == "deleted" and store.count() <= 1:
            kind = "changed"
        if kind == "added" or store.count() == 0:
            obj = weighted_choice(rng, OBJECT_TYPE_WEIGHTS)
            content = new_body(rng, obj, rng.randint(2, 12))
            name = make_name(rng, obj, set()) + " (new)"
            flow = store.create(obj, content, name=name, is_enabled=rng.random() < 0.5)
            return DriftChange("added", store.portal_id, flow["id"], flow["revisionId"], f"added '{name}'")
        if kind == "deleted":
            flow_id = store.pick(rng)
            if flow_id is None:
                return None
            store.delete(flow_id)
            return DriftChange("deleted", store.portal_id, str(flow_id), None, "deleted")
        if kind == "disabled":
            flow_id = store.pick(rng, lambda r: r.is_enabled)
            if flow_id is not None:
                def disable(record: FlowRecord, body: dict[str, Any]) -> None:
                    record.is_enabled = False
                revision = store.modify(flow_id, disable)
                return DriftChange("disabled", store.portal_id, str(flow_id), str(revision), "turned off")
        flow_id = store.pick(rng)
        if flow_id is None:
            return None
        detail: list[str] = []

        def edit(record: FlowRecord, body: dict[str, Any]) -> None:
            detail.append(_mutate(rng, record, body))
        revision = store.modify(flow_id, edit)
        return DriftChange("changed", store.portal_id, str(flow_id), str(revision), detail[0])


def _mutate(rng: random.Random, record: FlowRecord, body: dict[str, Any]) -> str:
    actions = body.get("actions")
    if not isinstance(actions, list):
        actions = body["actions"] = []
    pick = rng.random()
    singles = [a for a in actions if isinstance(a, dict) and a.get("type") == "SINGLE_CONNECTION"]
    delays = [a for a in singles if a.get("actionTypeId") == "0-1"]
    setters = [a for a in singles if a.get("actionTypeId") == "0-5"]
    if pick < 0.2 and delays:
        action = rng.choice(delays)
        old = action.get("fields", {}).get("delta")
        new = str(rng.choice((10, 45, 90, 180, 720, 1440, 2880, 7200)))
        action.setdefault("fields", {})["delta"] = new
        action["fields"].setdefault("time_unit", "MINUTES")
        return f"delay of action {action.get('actionId')} {old} -> {new} minutes"
    if pick < 0.4 and setters:
        action = rng.choice(setters)
        value = action.setdefault("fields", {}).setdefault("value", {"type": "STATIC_VALUE"})
        old = value.get("staticValue")
        value["staticValue"] = f"{old}_v{record.revision + 1}" if old else "updated"
        return f"set-property value of action {action.get('actionId')} changed"
    if pick < 0.6:
        new_id = next_action_id(actions)
        ends = [a for a in singles if "connection" not in a]
        new_action = {"type": "SINGLE_CONNECTION", "actionId": new_id, "actionTypeVersion": 0,
                      "actionTypeId": "0-3",
                      "fields": {"task_type": "TODO", "subject": "Review this record (added by a colleague)",
                                 "body": "<p>Added during a review.</p>", "priority": "MEDIUM"}}
        if ends:
            rng.choice(ends)["connection"] = {"edgeType": "STANDARD", "nextActionId": new_id}
        elif not actions:
            body["startActionId"] = new_id
        else:
            new_action["connection"] = {"edgeType": "STANDARD", "nextActionId": body.get("startActionId")
                                        or actions[0].get("actionId")}
            body["startActionId"] = new_id
        actions.append(new_action)
        return f"added task action {new_id}"
    if pick < 0.75:
        enrollment = body.get("enrollmentCriteria")
        if isinstance(enrollment, dict) and "shouldReEnroll" in enrollment:
            enrollment["shouldReEnroll"] = not enrollment["shouldReEnroll"]
            return f"re-enrollment {'on' if enrollment['shouldReEnroll'] else 'off'}"
    if pick < 0.88:
        if body.get("timeWindows"):
            body["timeWindows"] = []
            return "time windows removed"
        body["timeWindows"] = [{"day": d, "startTime": {"hour": 9, "minute": 0},
                                "endTime": {"hour": 17, "minute": 0}}
                               for d in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")]
        return "time windows set to weekdays 9-17"
    old_name = record.name or ""
    suffix = " (edited)"
    record.name = old_name[: -len(suffix)] if old_name.endswith(suffix) else old_name + suffix
    return f"renamed to '{record.name}'"


__all__ = ["DriftChange", "Drifter"]
