"""The legacy contact-workflows API ``/automation/v3/workflows``: epoch-ms
timestamps, integer ids, v3 action shapes (derived from the v4 flow; what v3
cannot express comes back as ``UNSUPPORTED_ACTION``)."""

from __future__ import annotations

from typing import Any

from wg_desktop.demo.config import PortalProfile
from wg_desktop.demo.data import FlowNotFound, FlowRecord, FlowStore
from wg_desktop.demo.flows import Call, workflow_store
from wg_desktop.demo.wire import Response, json_response, not_found

_UNIT_MS = {"MINUTES": 60_000, "HOURS": 3_600_000, "DAYS": 86_400_000, "SECONDS": 1_000}
_MAX_DEPTH = 20


def _v3_type(record: FlowRecord) -> str:
    return {"PROPERTY": "PROPERTY_ANCHOR", "STATIC": "STATIC_ANCHOR"}.get(record.anchor or "", "DRIP_DELAY")


def _list_ids(workflow_id: int) -> dict[str, int]:
    base = 100_000 + (workflow_id % 90_000) * 4
    return {"enrolled": base, "active": base + 1, "completed": base + 2, "succeeded": base + 3}


def _v3_filters(branch: Any) -> list[list[dict[str, Any]]]:
    """v4 OR-of-ANDs filter branch -> v3 list of filter lists."""
    if not isinstance(branch, dict):
        return []
    groups = []
    for and_branch in branch.get("filterBranches") or []:
        group = []
        for f in (and_branch or {}).get("filters") or []:
            operation = f.get("operation") or {}
            values = operation.get("values") or []
            group.append({"filterFamily": "PropertyValue", "withinTimeMode": "PAST",
                          "property": f.get("property"), "value": ";".join(str(v) for v in values),
                          "type": "enumeration", "operator": "SET_ANY"})
        if group:
            groups.append(group)
    return groups


def _single(action: dict[str, Any]) -> dict[str, Any]:
    type_id = action.get("actionTypeId")
    fields = action.get("fields") or {}
    try:
        if type_id == "0-1":
            return {"type": "DELAY",
                    "delayMillis": int(fields.get("delta", 0)) * _UNIT_MS.get(fields.get("time_unit"), 60_000)}
        if type_id == "0-5":
            value = fields.get("value") or {}
            return {"type": "SET_CONTACT_PROPERTY", "propertyName": fields.get("property_name"),
                    "newValue": value.get("staticValue")}
        if type_id == "0-4":
            return {"type": "EMAIL", "emailContentId": int(fields.get("content_id", 0))}
        if type_id == "0-3":
            return {"type": "TASK", "subject": fields.get("subject"), "body": fields.get("body")}
    except (TypeError, ValueError):
        pass
    return {"type": "UNSUPPORTED_ACTION"}


def convert_actions(flow: dict[str, Any]) -> list[dict[str, Any]]:
    by_id = {a.get("actionId"): a for a in flow.get("actions") or [] if isinstance(a, dict)}
    seen: set[str] = set()

    def chain(start: Any, depth: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        current = start
        while current in by_id and current not in seen and depth < _MAX_DEPTH:
            seen.add(current)
            action = by_id[current]
            kind = action.get("type")
            if kind == "LIST_BRANCH" and action.get("listBranches"):
                first = action["listBranches"][0]
                accept = (first.get("connection") or {}).get("nextActionId")
                reject = (action.get("defaultBranch") or {}).get("nextActionId")
                out.append({"type": "BRANCH", "filters": _v3_filters(first.get("filterBranch")),
                            "acceptActions": chain(accept, depth + 1),
                            "rejectActions": chain(reject, depth + 1)})
                return out
            if kind in ("STATIC_BRANCH", "AB_TEST_BRANCH", "LIST_BRANCH"):
                out.append({"type": "UNSUPPORTED_ACTION"})
                return out
            if kind == "WEBHOOK":
                out.append({"type": "WEBHOOK", "url": action.get("webhookUrl"),
                            "method": action.get("method", "POST")})
            elif kind == "SINGLE_CONNECTION":
                out.append(_single(action))
            else:
                out.append({"type": "UNSUPPORTED_ACTION"})
            connection = action.get("connection") or {}
            if connection.get("edgeType", "STANDARD") != "STANDARD":
                break
            current = connection.get("nextActionId")
        return out

    return chain(flow.get("startActionId"), 0)


class LegacyWorkflowsApi:
    def __init__(self, stores: dict[int, FlowStore], profiles: dict[int, PortalProfile]) -> None:
        self._stores = stores
        self._profiles = profiles

    def _store(self, call: Call) -> FlowStore | Response:
        return workflow_store(call, self._stores, self._profiles)

    def list(self, call: Call) -> Response:
        store = self._store(call)
        if isinstance(store, Response):
            return store
        items = []
        for record in store.records():
            if record.workflow_id is None:
                continue
            items.append({"id": record.workflow_id, "name": record.name or "", "type": _v3_type(record),
                          "enabled": record.is_enabled, "insertedAt": record.created_ms,
                          "updatedAt": record.updated_ms, "personaTagIds": [],
                          "contactListIds": {**_list_ids(record.workflow_id), "steps": []}})
        items.sort(key=lambda item: item["id"])
        return json_response(200, {"workflows": items})

    def get(self, call: Call) -> Response:
        store = self._store(call)
        if isinstance(store, Response):
            return store
        text = call.params["workflow_id"]
        flow_id = store.by_workflow_id(int(text)) if text.isdigit() and len(text) < 12 else None
        if flow_id is None:
            return not_found(f"Workflow {text} not found")
        try:
            record = store.record(flow_id)
            flow = store.get(flow_id)
        except FlowNotFound:
            return not_found(f"Workflow {text} not found")
        assert record.workflow_id is not None
        profile = self._profiles[store.portal_id]
        windows = flow.get("timeWindows") or []
        enrollment = flow.get("enrollmentCriteria") or {}
        lists = _list_ids(record.workflow_id)
        payload = {
            "name": record.name or "",
            "actions": convert_actions(flow),
            "id": record.workflow_id,
            "type": _v3_type(record),
            "enabled": record.is_enabled,
            "portalId": store.portal_id,
            "internal": False,
            "onlyExecOnBizDays": bool(windows),
            "nurtureTimeRange": {
                "enabled": bool(windows),
                "startHour": (windows[0].get("startTime") or {}).get("hour", 9) if windows else 9,
                "stopHour": (windows[0].get("endTime") or {}).get("hour", 10) if windows else 10},
            "listening": enrollment.get("type") == "EVENT_BASED",
            "insertedAt": record.created_ms,
            "updatedAt": record.updated_ms,
            "allowContactToTriggerMultipleTimes": bool(enrollment.get("shouldReEnroll")),
            "unenrollmentSetting": {"type": "NONE", "excludedWorkflows": []},
            "recurringSetting": {"type": "NONE"},
            "enrollOnCriteriaUpdate": bool(enrollment.get("shouldReEnroll")),
            "onlyEnrollsManually": enrollment.get("type") == "MANUAL",
            "goalCriteria": _v3_filters(flow.get("goalFilterBranch")),
            "reEnrollmentTriggerSets": [],
            "suppressionListIds": list(flow.get("suppressionListIds") or []),
            "lastUpdatedBy": profile.user_email,
            "segmentCriteria": _v3_filters(enrollment.get("listFilterBranch")),
            "metaData": {"triggeredByWorkflowIds": [], "succeededListId": lists["succeeded"],
                         "contactListIds": {"active": lists["active"], "completed": lists["completed"],
                                            "succeeded": lists["succeeded"], "enrolled": lists["enrolled"]}},
        }
        return json_response(200, payload)
