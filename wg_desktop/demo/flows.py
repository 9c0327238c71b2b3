"""The workflows API (``/automation/{version}/flows``, v4 or a date version):
list, get, batch read, create, full-replace PUT, delete, revisions and the
v3<->v4 id mapping. Portal-scoped by the caller's token."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

from wg_desktop.demo.config import PortalProfile
from wg_desktop.demo.data import (CONTACT, CONTACT_FLOW, CreationPending, FlowNotFound, FlowStore,
                                  RevisionConflict, flow_type_for, iso_ms)
from wg_desktop.demo.oauth import Principal
from wg_desktop.demo.wire import (BadRequestBody, Request, Response, empty_response, hubspot_error,
                                  json_response, not_found, validation_error)

LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 100
BATCH_LIMIT = 100
SCOPES_LINK = "https://developers.hubspot.com/scopes"

_CONTACT_REQUIRED = ("actions", "blockedDates", "canEnrollFromSalesforce", "customProperties",
                     "isEnabled", "revisionId", "suppressionListIds", "timeWindows", "type")
_CONTACT_OPTIONAL = ("name", "description", "startActionId", "enrollmentCriteria", "enrollmentSchedule",
                     "eventAnchor", "goalFilterBranch", "unEnrollmentSetting", "uuid")
_PLATFORM_REQUIRED = ("actions", "blockedDates", "customProperties", "isEnabled", "revisionId",
                      "timeWindows", "type")
_PLATFORM_OPTIONAL = ("name", "description", "startActionId", "enrollmentCriteria", "enrollmentSchedule",
                      "suppressionFilterBranch", "uuid")
READ_ONLY_KEYS = ("id", "createdAt", "updatedAt", "dataSources", "crmObjectCreationStatus",
                  "nextAvailableActionId", "objectTypeId", "flowType")
# Keys of a PUT body that live on the record, not in the stored content.
_RECORD_KEYS = ("revisionId", "type", "isEnabled", "name", "uuid")
_OBJECT_TYPE = re.compile(r"^\d+-\d+$")
_DIGITS = re.compile(r"^\d{1,18}$")


@dataclass
class Call:
    req: Request
    params: dict[str, str]
    principal: Principal | None
    base_url: str


def missing_scopes(scope: str) -> Response:
    return hubspot_error(
        403, "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about "
        f"required scopes here: {SCOPES_LINK}.",
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": [scope]}}],
        links={"scopes": SCOPES_LINK})


def plan_without_workflows(profile: PortalProfile) -> Response:
    return hubspot_error(
        403, "MISSING_SCOPES",
        f"This portal's plan ({profile.plan}) doesn't include workflows. The automation API "
        "requires a Professional or Enterprise subscription.",
        sub_category="PORTAL_TIER_DOES_NOT_INCLUDE_WORKFLOWS",
        context={"requiredTier": ["PROFESSIONAL"], "portalId": [str(profile.portal_id)]},
        errors=[{"message": "Workflows are not available on this portal's plan.",
                 "context": {"requiredGranularScopes": ["automation"]}}],
        links={"scopes": SCOPES_LINK})


def encode_cursor(flow_id: int) -> str:
    return base64.urlsafe_b64encode(f"flow:{flow_id}".encode()).rstrip(b"=").decode()


def decode_cursor(text: str) -> int:
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(text) from None
    kind, _, number = raw.partition(":")
    if kind != "flow" or not number.isdigit():
        raise ValueError(text)
    return int(number)


def _now_iso() -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _field_error(key: str, message: str, code: str) -> dict[str, Any]:
    return {"message": message, "code": code, "in": key}


def validate_actions(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Structural checks of an actions graph; returns error items."""
    errors: list[dict[str, Any]] = []
    actions = body.get("actions")
    if not isinstance(actions, list):
        return [_field_error("actions", "actions must be an array", "INVALID_TYPE")]
    ids: set[str] = set()
    for index, action in enumerate(actions):
        if not isinstance(action, dict):
            errors.append(_field_error(f"actions[{index}]", "each action must be an object", "INVALID_TYPE"))
            continue
        action_id = action.get("actionId")
        if not isinstance(action_id, str) or not action_id:
            errors.append(_field_error(f"actions[{index}].actionId", "actionId must be a non-empty string",
                                       "INVALID_TYPE"))
            continue
        if not isinstance(action.get("type"), str):
            errors.append(_field_error(f"actions[{index}].type", "type is required", "REQUIRED_FIELD"))
        if action_id in ids:
            errors.append(_field_error(f"actions[{index}].actionId", f"duplicate actionId {action_id}",
                                       "DUPLICATE"))
        ids.add(action_id)
    if errors:
        return errors
    for action in actions:
        for target in _targets(action):
            if target not in ids:
                errors.append(_field_error("actions", f"action {action['actionId']} points to unknown "
                                           f"action {target}", "INVALID_REFERENCE"))
    start = body.get("startActionId")
    if start is not None and (not isinstance(start, str) or (start not in ids)):
        errors.append(_field_error("startActionId", f"startActionId {start!r} is not an action of this flow",
                                   "INVALID_REFERENCE"))
    return errors


def _targets(action: dict[str, Any]) -> list[str]:
    found = []
    connections = [action.get("connection"), action.get("defaultBranch")]
    for key in ("listBranches", "staticBranches", "testBranches"):
        for branch in action.get(key) or []:
            if isinstance(branch, dict):
                connections.append(branch.get("connection"))
    for conn in connections:
        if isinstance(conn, dict) and "nextActionId" in conn:
            found.append(str(conn["nextActionId"]))
    return found


_TYPE_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "actions": (lambda v: isinstance(v, list), "an array"),
    "blockedDates": (lambda v: isinstance(v, list), "an array"),
    "timeWindows": (lambda v: isinstance(v, list), "an array"),
    "suppressionListIds": (lambda v: isinstance(v, list), "an array"),
    "customProperties": (lambda v: isinstance(v, dict), "an object"),
    "isEnabled": (lambda v: isinstance(v, bool), "a boolean"),
    "canEnrollFromSalesforce": (lambda v: isinstance(v, bool), "a boolean"),
    "name": (lambda v: isinstance(v, str), "a string"),
    "description": (lambda v: isinstance(v, str), "a string"),
    "uuid": (lambda v: isinstance(v, str), "a string"),
    "enrollmentCriteria": (lambda v: isinstance(v, dict), "an object"),
}


def _type_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    for key, (check, what) in _TYPE_CHECKS.items():
        if key in body and body[key] is not None and not check(body[key]):
            errors.append(_field_error(key, f"{key} must be {what}", "INVALID_TYPE"))
    return errors


def workflow_store(call: Call, stores: dict[int, FlowStore],
                   profiles: dict[int, PortalProfile]) -> FlowStore | Response:
    """The caller's portal's flows, or HubSpot's 403 when the token lacks the
    automation scope or the portal's plan has no workflows (v3 and v4 alike)."""
    principal = call.principal
    assert principal is not None
    profile = profiles[principal.portal_id]
    if "automation" not in principal.scopes:
        return missing_scopes("automation")
    if not profile.has_workflows:
        return plan_without_workflows(profile)
    return stores[principal.portal_id]


def batch_inputs(call: Call) -> list[Any] | Response:
    """The ``inputs`` array of a batch request (at most BATCH_LIMIT), or a 400."""
    try:
        body = call.req.json()
    except BadRequestBody as exc:
        return validation_error(str(exc))
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        return validation_error("The request body must be an object with an 'inputs' array.")
    if len(inputs) > BATCH_LIMIT:
        return validation_error(f"Too many inputs: {len(inputs)}; the maximum batch size is "
                                f"{BATCH_LIMIT}.", context={"maxInputs": [str(BATCH_LIMIT)]})
    return inputs


class FlowsApi:
    def __init__(self, stores: dict[int, FlowStore], profiles: dict[int, PortalProfile], *,
                 strict_put_keys: bool) -> None:
        self._stores = stores
        self._profiles = profiles
        self._strict = strict_put_keys

    # -- access -------------------------------------------------------------------
    def store_for(self, call: Call) -> FlowStore | Response:
        return workflow_store(call, self._stores, self._profiles)

    @staticmethod
    def _flow_id(text: str) -> int | None:
        return int(text) if _DIGITS.match(text or "") else None

    # -- handlers -----------------------------------------------------------------
    def list(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        req = call.req
        limit_text = req.arg("limit")
        limit = LIST_LIMIT_DEFAULT
        if limit_text is not None:
            try:
                limit = int(limit_text)
            except ValueError:
                return validation_error(f"limit must be an integer, got '{limit_text}'")
            if limit < 1:
                return validation_error("limit must be at least 1")
            limit = min(limit, LIST_LIMIT_MAX)
        after_text = req.arg("after")
        after_id = None
        if after_text:
            try:
                after_id = decode_cursor(after_text)
            except ValueError:
                return validation_error("Invalid 'after' cursor; pass back paging.next.after unchanged.")
        results, last = store.page(after_id, limit)
        payload: dict[str, Any] = {"results": results}
        if last is not None:
            cursor = encode_cursor(last)
            payload["paging"] = {"next": {
                "after": cursor,
                "link": f"{call.base_url}{req.path}?{urlencode({'after': cursor, 'limit': limit})}"}}
        return json_response(200, payload)

    def get(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        flow_id = self._flow_id(call.params["flow_id"])
        if flow_id is None:
            return not_found(f"Flow {call.params['flow_id']} not found")
        try:
            return json_response(200, store.get(flow_id))
        except FlowNotFound:
            return not_found(f"Flow {flow_id} not found")

    def batch_read(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        started = _now_iso()
        inputs = batch_inputs(call)
        if isinstance(inputs, Response):
            return inputs
        wanted: list[str] = []
        for index, item in enumerate(inputs):
            if not isinstance(item, dict) or item.get("type") != "FLOW_ID" or "flowId" not in item:
                return validation_error(f"inputs[{index}] must be {{\"type\": \"FLOW_ID\", \"flowId\": \"...\"}}")
            text = str(item["flowId"])
            if text not in wanted:
                wanted.append(text)
        results, missing = [], []
        for text in wanted:
            flow_id = self._flow_id(text)
            try:
                if flow_id is None:
                    raise FlowNotFound(text)
                results.append(store.get(flow_id))
            except FlowNotFound:
                missing.append(text)
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            payload["numErrors"] = len(missing)
            payload["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                                  "message": f"Could not find flows with ids: {', '.join(missing)}",
                                  "context": {"ids": missing}}]
        payload["startedAt"] = started
        payload["completedAt"] = _now_iso()
        return json_response(207 if missing else 200, payload)

    def create(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        try:
            body = call.req.json()
        except BadRequestBody as exc:
            return validation_error(str(exc))
        if not isinstance(body, dict):
            return validation_error("The request body must be a JSON object.")
        flow_type = body.get("type")
        object_type = body.get("objectTypeId")
        if object_type is None and flow_type == CONTACT_FLOW:
            object_type = CONTACT
        if not isinstance(object_type, str) or not _OBJECT_TYPE.match(object_type):
            return validation_error("objectTypeId is required (e.g. \"0-1\" for contacts).",
                                    errors=[_field_error("objectTypeId", "objectTypeId is required",
                                                         "REQUIRED_FIELD")])
        expected_type = flow_type_for(object_type)
        if flow_type is None:
            flow_type = expected_type
        if flow_type != expected_type:
            return validation_error(f"type {flow_type!r} does not match objectTypeId {object_type!r}; "
                                    f"expected {expected_type!r}.")
        if body.get("flowType", "WORKFLOW") != "WORKFLOW":
            return validation_error("Only flowType WORKFLOW can be created through this demo API.")
        errors = _type_errors(body) + validate_actions({"actions": body.get("actions", []),
                                                        "startActionId": body.get("startActionId")})
        if errors:
            return validation_error("Invalid flow definition.", errors=errors)
        allowed = _CONTACT_OPTIONAL if flow_type == CONTACT_FLOW else _PLATFORM_OPTIONAL
        required = _CONTACT_REQUIRED if flow_type == CONTACT_FLOW else _PLATFORM_REQUIRED
        content: dict[str, Any] = {"actions": [], "blockedDates": [], "customProperties": {},
                                   "timeWindows": []}
        if flow_type == CONTACT_FLOW:
            content.update(suppressionListIds=[], canEnrollFromSalesforce=False)
        for key in (*required, *allowed):
            if key in body and key not in _RECORD_KEYS:
                content[key] = body[key]
        if content["actions"] and "startActionId" not in content:
            content["startActionId"] = content["actions"][0]["actionId"]
        flow = store.create(object_type, content, name=body.get("name"),
                            is_enabled=bool(body.get("isEnabled", False)), uuid=body.get("uuid"))
        location = f"{call.base_url}/automation/{call.params['ver']}/flows/{flow['id']}"
        return json_response(201, flow, [("Location", location)])

    def put(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        flow_id = self._flow_id(call.params["flow_id"])
        if flow_id is None or not store.has(flow_id):
            return not_found(f"Flow {call.params['flow_id']} not found")
        try:
            body = call.req.json()
        except BadRequestBody as exc:
            return validation_error(str(exc))
        if not isinstance(body, dict):
            return validation_error("The request body must be a JSON object.")
        try:
            record = store.record(flow_id)
        except FlowNotFound:
            return not_found(f"Flow {flow_id} not found")
        current_type = flow_type_for(record.object_type_id)
        required = _CONTACT_REQUIRED if current_type == CONTACT_FLOW else _PLATFORM_REQUIRED
        optional = _CONTACT_OPTIONAL if current_type == CONTACT_FLOW else _PLATFORM_OPTIONAL
        accepted = set(required) | set(optional)
        errors = [_field_error(k, f"{k} is required", "REQUIRED_FIELD") for k in required if k not in body]
        extra = [k for k in body if k not in accepted]
        if extra and self._strict:
            for key in extra:
                why = "is read-only" if key in READ_ONLY_KEYS else "is not a field of this flow type"
                errors.append(_field_error(key, f"Unrecognized field \"{key}\": it {why} and is not "
                                           "accepted by PUT", "UNRECOGNIZED_FIELD"))
        if "type" in body and body["type"] != current_type:
            errors.append(_field_error("type", f"type must stay {current_type}", "INVALID_VALUE"))
        revision_text = str(body.get("revisionId", ""))
        if "revisionId" in body and not revision_text.isdigit():
            errors.append(_field_error("revisionId", "revisionId must be a revision id string", "INVALID_TYPE"))
        errors += _type_errors(body)
        if not errors:
            errors += validate_actions(body)
        if errors:
            return validation_error("Invalid flow definition.", errors=errors)
        content = {k: v for k, v in body.items() if k in accepted and k not in _RECORD_KEYS}
        try:
            flow = store.replace(flow_id, int(revision_text), content, name=body.get("name"),
                                 is_enabled=body["isEnabled"], uuid=body.get("uuid"))
        except FlowNotFound:
            return not_found(f"Flow {flow_id} not found")
        except RevisionConflict as conflict:
            return hubspot_error(
                409, "CONFLICT",
                f"The flow was changed since revision {revision_text}; the current revision is "
                f"{conflict.current}. Fetch the flow again and retry with its revisionId.",
                context={"flowId": [str(flow_id)], "currentRevisionId": [str(conflict.current)],
                         "providedRevisionId": [revision_text]})
        except CreationPending:
            return hubspot_error(409, "CONFLICT",
                                 "The flow is still being created (crmObjectCreationStatus PENDING); "
                                 "retry shortly.", sub_category="FLOW_CREATION_PENDING")
        return json_response(200, flow)

    def delete(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        flow_id = self._flow_id(call.params["flow_id"])
        if flow_id is None:
            return validation_error("flowId must be an integer (int64).")
        try:
            store.delete(flow_id)
        except FlowNotFound:
            return not_found(f"Flow {flow_id} not found")
        return empty_response(204)

    def revision(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        flow_id = self._flow_id(call.params["flow_id"])
        revision_text = call.params["revision_id"]
        found = store.revision(flow_id, int(revision_text)) \
            if flow_id is not None and revision_text.isdigit() else None
        if found is None:
            return not_found(f"Revision {revision_text} of flow {call.params['flow_id']} not found")
        flow, created_ms = found
        return json_response(200, {"id": f"{flow_id}-{revision_text}", "revisionId": revision_text,
                                   "revisionCreatedAt": iso_ms(created_ms), "flow": flow})

    def id_mappings(self, call: Call) -> Response:
        store = self.store_for(call)
        if isinstance(store, Response):
            return store
        started = _now_iso()
        inputs = batch_inputs(call)
        if isinstance(inputs, Response):
            return inputs
        results, missing = [], []
        for index, item in enumerate(inputs):
            if not isinstance(item, dict):
                return validation_error(f"inputs[{index}] must be an object")
            kind = item.get("type")
            if kind == "WORKFLOW_ID":
                text = str(item.get("workflowId", ""))
                flow_id = store.by_workflow_id(int(text)) if text.isdigit() else None
                if flow_id is None:
                    missing.append(text)
                else:
                    results.append({"flowId": flow_id, "workflowId": int(text)})
            elif kind == "FLOW_ID":
                text = str(item.get("flowId", ""))
                flow_id = self._flow_id(text)
                try:
                    record = store.record(flow_id) if flow_id is not None else None
                except FlowNotFound:
                    record = None
                if record is None or record.workflow_id is None:
                    missing.append(text)
                else:
                    results.append({"flowId": record.flow_id, "workflowId": record.workflow_id})
            else:
                return validation_error(f"inputs[{index}].type must be WORKFLOW_ID or FLOW_ID")
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            payload["numErrors"] = len(missing)
            payload["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                                  "message": f"Could not find mappings for ids: {', '.join(missing)}",
                                  "context": {"ids": missing}}]
        payload["startedAt"] = started
        payload["completedAt"] = _now_iso()
        return json_response(207 if missing else 200, payload)


__all__ = ["Call", "FlowsApi", "READ_ONLY_KEYS", "encode_cursor", "decode_cursor"]
