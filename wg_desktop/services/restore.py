"""Safe restore of a stored workflow version to HubSpot.

Two steps, never one click:

1. :meth:`RestoreService.plan_restore` fetches the live flow, diffs live →
   the chosen version with the flow diff, lists dangling references
   (``restore_refs``) and fields HubSpot's update does not accept, refuses a
   type change, and records the live ``revisionId`` it was made against. A
   workflow deleted in HubSpot is planned as a re-creation (it gets a new id).
2. :meth:`RestoreService.apply_restore` re-reads the live flow: a newer
   ``revisionId`` (or HubSpot's 409 on the PUT) raises :class:`RestoreConflict`
   carrying a fresh plan, and nothing is sent. Otherwise it stores the live
   definition first (origin ``pre-restore``: the undo target), sends one PUT —
   HubSpot's full replace — with the plan's ``revisionId`` and only the writable
   fields, and stores HubSpot's answer as a new version (origin ``restore``)
   plus an audit entry. One PUT is atomic: HubSpot holds either the old or the
   restored definition, never a mix.

A deleted workflow is recreated with one POST. The store keeps one history
per workflow: the existing row is re-pointed to the new flow id, so the old
versions, the restore and later syncs read as one history. The old → new id
mapping is kept in the (hash-chained) audit entry and returned in the result;
:meth:`RestoreService.recreated_as` finds it again.

Undo is one more restore: :meth:`RestoreService.plan_undo` plans the
captured pre-restore version (a recreated workflow has no previous live state:
undoing that means deleting it in HubSpot, which this service does not do).

Core module: no Qt.
"""

from __future__ import annotations

import enum
import json
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from wg_desktop.config import Settings
from wg_desktop.flows.diff import FlowDiff, diff_flows
from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import (ConflictError, HubSpotError, NotFound,
                                       ReauthenticationNeeded)
from wg_desktop.hubspot.ratelimit import Priority
from wg_desktop.instance import held_by, sync_lock_path
from wg_desktop.portable import FileLock
from wg_desktop.services.audit import AuditAction, AuditLog, AuditQuery
from wg_desktop.services.portal_clients import PortalClients
from wg_desktop.services.restore_refs import (DanglingReference, build_index,
                                              dangling_references)
from wg_desktop.services.sync import PortalNeedsReconnect, SyncBusy
from wg_desktop.services.workflows import WorkflowNotFound, WorkflowQueries
from wg_desktop.store.db import Store
from wg_desktop.store.models import (Outcome, Portal, PortalStatus, Workflow, WorkflowVersion,
                                     utcnow)
from wg_desktop.store.normalize import normalize_flow
from wg_desktop.store.versions import (VersionCorrupt, add_version, enforce_version_cap,
                                       latest_version, version_json)

log = logging.getLogger(__name__)

ORIGIN_PRE_RESTORE = "pre-restore"
ORIGIN_RESTORE = "restore"
CONTACT_OBJECT = "0-1"
CONTACT_FLOW = "CONTACT_FLOW"
PLATFORM_FLOW = "PLATFORM_FLOW"
LOCK_WAIT_S = 2.0

# HubSpot's PUT schema (shared/reference/hubspot/README.md, "Update (PUT)
# semantics"): required and accepted keys per flow type. Everything else —
# the read-only keys id, createdAt, updatedAt, dataSources,
# crmObjectCreationStatus, nextAvailableActionId, objectTypeId, flowType, and
# any key HubSpot adds later — is refused with 400 "Unrecognized field".
PUT_REQUIRED = {
    CONTACT_FLOW: ("actions", "blockedDates", "canEnrollFromSalesforce", "customProperties",
                   "isEnabled", "revisionId", "suppressionListIds", "timeWindows", "type"),
    PLATFORM_FLOW: ("actions", "blockedDates", "customProperties", "isEnabled", "revisionId",
                    "timeWindows", "type"),
}
PUT_OPTIONAL = {
    CONTACT_FLOW: ("name", "description", "startActionId", "enrollmentCriteria",
                   "enrollmentSchedule", "eventAnchor", "goalFilterBranch",
                   "unEnrollmentSetting", "uuid"),
    PLATFORM_FLOW: ("name", "description", "startActionId", "enrollmentCriteria",
                    "enrollmentSchedule", "suppressionFilterBranch", "uuid"),
}
READ_ONLY_KEYS = api.READ_ONLY_FLOW_KEYS | {"revisionId"}
# A required key an old capture lacks: HubSpot's own value for "none".
REQUIRED_DEFAULTS: dict[str, Any] = {"actions": [], "blockedDates": [], "customProperties": {},
                                     "timeWindows": [], "suppressionListIds": [],
                                     "canEnrollFromSalesforce": False, "isEnabled": False}


class RestoreError(RuntimeError):
    """A restore could not be planned or applied; the message says whether
    anything changed. The original error, if any, is ``__cause__``."""


class RestoreRefused(RestoreError):
    """The plan cannot be applied (type change, imported workflow)."""


class RestoreConflict(RestoreError):
    """The workflow changed in HubSpot since the plan; nothing was sent.
    ``plan`` is a fresh plan against the new live state (its ``diff`` is what
    a restore would now change); ``drift`` is what changed in HubSpot since
    the old plan."""

    def __init__(self, message: str, plan: "RestorePlan", drift: FlowDiff) -> None:
        super().__init__(message)
        self.plan = plan
        self.drift = drift

    @property
    def diff(self) -> FlowDiff:
        return self.plan.diff


class RestoreMode(enum.StrEnum):
    UPDATE = "update"        # PUT over the live flow
    RECREATE = "recreate"    # deleted in HubSpot: POST, new id


class WarningKind(enum.StrEnum):
    DANGLING = "dangling_reference"
    DROPPED_FIELD = "dropped_field"
    FILLED_FIELD = "filled_field"
    TURNS_ON = "turns_on"
    RECREATE = "recreate"
    NO_CHANGE = "no_change"


@dataclass(frozen=True)
class RestoreWarning:
    kind: WarningKind
    text: str
    reference: DanglingReference | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": str(self.kind), "text": self.text}
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
        return out


@dataclass(frozen=True)
class RestorePlan:
    hub_id: int
    portal_name: str
    workflow_id: int                     # the store's Workflow row
    flow_id: str                         # HubSpot's id of the workflow now
    workflow_name: str
    target_version_id: int
    target_number: int                   # as 'history' numbers it (1 = oldest)
    version_count: int
    mode: RestoreMode
    live_revision_id: str | None         # None when the flow is gone from HubSpot
    as_disabled: bool
    diff: FlowDiff                       # live → what HubSpot will hold
    warnings: tuple[RestoreWarning, ...]
    refusal: str | None                  # why it cannot be applied; None when it can
    body: Mapping[str, Any] = field(repr=False)         # the writable fields to send
    live: Mapping[str, Any] | None = field(repr=False, default=None)   # normalized

    @property
    def can_apply(self) -> bool:
        return self.refusal is None

    def summary_text(self) -> str:
        """The plan as plain text (the CLI prints it, the dialog can too)."""
        what = (f"Restore '{self.workflow_name}' ({self.hub_id}:{self.flow_id}) to version "
                f"{self.target_number} of {self.version_count}")
        if self.as_disabled:
            what += ", turned off"
        lines = [what + "."]
        if self.mode is RestoreMode.RECREATE:
            lines.append("The workflow was deleted in HubSpot: it will be recreated with a new "
                         "id.")
        else:
            lines.append(f"Against live revision {self.live_revision_id}.")
        lines.append("Changes from live:")
        lines.extend("  " + line for line in self.diff.summary_text().rstrip("\n").split("\n"))
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  ! {w.text}" for w in self.warnings)
        if self.refusal:
            lines.append(f"Cannot restore: {self.refusal}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"hub_id": self.hub_id, "portal": self.portal_name, "flow_id": self.flow_id,
                "workflow": self.workflow_name, "version": self.target_number,
                "versions": self.version_count, "mode": str(self.mode),
                "live_revision_id": self.live_revision_id, "as_disabled": self.as_disabled,
                "can_apply": self.can_apply, "refusal": self.refusal,
                "warnings": [w.to_dict() for w in self.warnings], "diff": self.diff.to_dict()}


@dataclass(frozen=True)
class RestoreResult:
    plan: RestorePlan
    flow_id: str                         # the workflow's id in HubSpot now
    old_flow_id: str | None              # set when recreated: the id it had
    new_revision_id: str
    restore_version_id: int | None       # the stored result (None: equal to the latest)
    restore_number: int                  # its number in the history
    undo_version_id: int | None          # the captured pre-restore state (None: recreated)
    undo_number: int | None
    is_enabled: bool

    @property
    def recreated(self) -> bool:
        return self.old_flow_id is not None

    def summary(self) -> str:
        text = (f"Restored '{self.plan.workflow_name}' to version {self.plan.target_number}: "
                f"now revision {self.new_revision_id}, turned "
                f"{'on' if self.is_enabled else 'off'}, stored as version "
                f"{self.restore_number}.")
        if self.recreated:
            text += f" Recreated as flow {self.flow_id} (was {self.old_flow_id})."
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"hub_id": self.plan.hub_id, "workflow": self.plan.workflow_name,
                "flow_id": self.flow_id, "old_flow_id": self.old_flow_id,
                "recreated": self.recreated, "from_version": self.plan.target_number,
                "new_revision_id": self.new_revision_id, "is_enabled": self.is_enabled,
                "stored_version": self.restore_number, "undo_version": self.undo_number}


def flow_kind(definition: Mapping[str, Any]) -> str:
    """CONTACT_FLOW or PLATFORM_FLOW (HubSpot's ``type``; from objectTypeId when absent)."""
    kind = definition.get("type")
    if kind in PUT_REQUIRED:
        return str(kind)
    return CONTACT_FLOW if definition.get("objectTypeId", CONTACT_OBJECT) == CONTACT_OBJECT \
        else PLATFORM_FLOW


def writable_body(target: Mapping[str, Any], *, as_disabled: bool
                  ) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """The PUT body of ``target`` without ``revisionId``: only keys HubSpot's
    update accepts for its flow type. Returns (body, dropped keys — present but
    not writable, filled keys — required but absent, sent as HubSpot's empty value)."""
    kind = flow_kind(target)
    accepted = set(PUT_REQUIRED[kind]) | set(PUT_OPTIONAL[kind])
    body = {k: v for k, v in target.items() if k in accepted and k != "revisionId"}
    body["type"] = kind
    filled = []
    for key in PUT_REQUIRED[kind]:
        if key not in body and key != "revisionId":
            body[key] = json.loads(json.dumps(REQUIRED_DEFAULTS[key]))
            filled.append(key)
    if as_disabled:
        body["isEnabled"] = False
    dropped = tuple(sorted(k for k in target if k not in accepted and k not in READ_ONLY_KEYS))
    return body, dropped, tuple(filled)


def create_body(target: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A create (POST) carries the writable fields plus the flow's object and
    flow type, which a PUT may not name."""
    out = dict(body)
    out["objectTypeId"] = str(target.get("objectTypeId") or CONTACT_OBJECT)
    out["flowType"] = str(target.get("flowType") or "WORKFLOW")
    return out


def type_change(live: Mapping[str, Any], target: Mapping[str, Any]) -> str | None:
    """Why a restore across a type change is refused, or None."""
    for key, label in (("objectTypeId", "object type"), ("flowType", "flow type"),
                       ("type", "workflow type")):
        a, b = live.get(key), target.get(key)
        if a is not None and b is not None and a != b:
            return (f"the workflow's {label} changed ({b} in this version, {a} in HubSpot); "
                    "HubSpot cannot change it in place")
    return None


def matches(live: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether HubSpot holds ``body`` now (every sent field equal by content)."""
    a, b = normalize_flow(live), normalize_flow(body)
    return all(a.get(k) == v for k, v in b.items() if k not in READ_ONLY_KEYS)


class RestoreService:
    def __init__(self, store: Store, audit: AuditLog, clients: PortalClients,
                 settings: Settings) -> None:
        self.store = store
        self.audit = audit
        self.clients = clients
        self.settings = settings
        self.queries = WorkflowQueries(store, audit)
        self.lock_dir = store.path.parent

    # -- plan ---------------------------------------------------------------------------

    def plan_restore(self, workflow: Workflow, version: str | int, *,
                     as_disabled: bool = False) -> RestorePlan:
        """Plan restoring ``workflow`` to version ``version`` (its number as
        'history' prints it, 1 = oldest). Reads HubSpot, writes nothing."""
        info, _ = self.queries.version(workflow, version)
        return self.plan_version(workflow, info.id, as_disabled=as_disabled)

    def plan_version(self, workflow: Workflow, version_id: int, *,
                     as_disabled: bool = False) -> RestorePlan:
        """Plan restoring the stored version with database id ``version_id``."""
        workflow = self.queries.get(workflow.id)
        info, number, count, target = self.queries.version_by_id(workflow, version_id)
        portal = self._portal(workflow)
        live_raw = self._fetch_live(portal, workflow.flow_id)
        return self._plan(workflow, portal, info.id, number, count, target, live_raw,
                          as_disabled)

    def _plan(self, workflow: Workflow, portal: Portal, version_id: int, number: int,
              count: int, target: Mapping[str, Any], live_raw: Mapping[str, Any] | None,
              as_disabled: bool) -> RestorePlan:
        body, dropped, filled = writable_body(target, as_disabled=as_disabled)
        live = normalize_flow(live_raw) if live_raw is not None else None
        warnings: list[RestoreWarning] = []
        refusal = None
        if workflow.source != "sync":
            refusal = ("this workflow was imported from a file, not synced from a connected "
                       "portal; there is no live workflow to restore it to")
        if live is not None:
            mode = RestoreMode.UPDATE
            refusal = refusal or type_change(live, target)
            after = {**live, **normalize_flow(body)}
            for key in set(PUT_OPTIONAL[flow_kind(live)]) - set(body):
                after.pop(key, None)       # a full replace clears what the body omits
            diff = diff_flows(live, after)
            if diff.identical:
                warnings.append(RestoreWarning(WarningKind.NO_CHANGE,
                                               "HubSpot already holds this version; restoring "
                                               "it changes nothing but the revision."))
            if body.get("isEnabled") and not live.get("isEnabled"):
                warnings.append(RestoreWarning(
                    WarningKind.TURNS_ON, "This version is turned on: restoring it turns the "
                    "workflow on and it starts enrolling (restore it turned off to avoid that)."))
        else:
            mode = RestoreMode.RECREATE
            after = normalize_flow(create_body(target, body))
            diff = diff_flows({}, after)
            warnings.append(RestoreWarning(
                WarningKind.RECREATE, f"Flow {workflow.flow_id} no longer exists in HubSpot: "
                "it will be recreated with a new id; its enrollment history does not come back."))
            if body.get("isEnabled"):
                warnings.append(RestoreWarning(
                    WarningKind.TURNS_ON, "This version is turned on: the recreated workflow "
                    "starts enrolling at once (restore it turned off to avoid that)."))
        for key in dropped:
            warnings.append(RestoreWarning(WarningKind.DROPPED_FIELD,
                                           f"Field '{key}' is not accepted by HubSpot's update "
                                           "and will not be restored."))
        for key in filled:
            warnings.append(RestoreWarning(WarningKind.FILLED_FIELD,
                                           f"This version has no '{key}'; it is sent empty "
                                           "(HubSpot requires it)."))
        index = self._reference_index(portal, workflow, live)
        for ref in dangling_references(target, index, self_flow_id=workflow.flow_id):
            warnings.append(RestoreWarning(WarningKind.DANGLING, ref.text, ref))
        return RestorePlan(
            hub_id=portal.hub_id, portal_name=portal.name, workflow_id=workflow.id,
            flow_id=workflow.flow_id, workflow_name=workflow.name or str(target.get("name", "")),
            target_version_id=version_id, target_number=number, version_count=count,
            mode=mode, live_revision_id=str(live_raw.get("revisionId", "")) if live_raw
            is not None else None, as_disabled=as_disabled, diff=diff,
            warnings=tuple(warnings), refusal=refusal, body=body, live=live)

    def _reference_index(self, portal: Portal, workflow: Workflow,
                         live: Mapping[str, Any] | None):
        """The latest synced state of the portal: the latest stored version of
        every other live workflow, plus the live flow itself."""
        others = (Workflow.select().where((Workflow.portal == portal)
                                          & (Workflow.id != workflow.id)))
        flows: list[Mapping[str, Any]] = [live] if live is not None else []
        live_ids, deleted_ids = [], []
        for other in others:
            if other.deleted_at is not None:
                deleted_ids.append(other.flow_id)
                continue
            live_ids.append(other.flow_id)
            version = latest_version(other)
            if version is None:
                continue
            try:
                flows.append(version_json(version))
            except VersionCorrupt:  # a damaged version only weakens the evidence
                log.warning("skipping damaged version %s in the reference index", version.id)
        return build_index(flows, live_ids, deleted_ids)

    # -- apply --------------------------------------------------------------------------

    def apply_restore(self, plan: RestorePlan, *, as_disabled: bool = False) -> RestoreResult:
        """Apply a confirmed plan. Raises :class:`RestoreConflict` when the
        workflow changed since the plan (nothing sent), :class:`RestoreError`
        when HubSpot cannot be reached or refuses (the message says whether
        anything changed)."""
        if self.store.read_only:
            raise RestoreError(str(self.store.read_only_error()))
        if not plan.can_apply:
            raise RestoreRefused(f"Cannot restore '{plan.workflow_name}': {plan.refusal}.")
        if as_disabled and not plan.as_disabled:
            body, _, _ = writable_body({**plan.body}, as_disabled=True)
            plan = replace(plan, as_disabled=True, body=body)
        workflow = self.queries.get(plan.workflow_id)
        portal = self._portal(workflow)
        with self._portal_lock(portal):
            if plan.mode is RestoreMode.RECREATE:
                return self._recreate(plan, workflow, portal)
            return self._update(plan, workflow, portal)

    def _update(self, plan: RestorePlan, workflow: Workflow, portal: Portal) -> RestoreResult:
        client = self.clients.client(portal.hub_id)
        live_raw = self._fetch_live(portal, plan.flow_id)
        if live_raw is None or str(live_raw.get("revisionId", "")) != plan.live_revision_id:
            raise self._conflict(plan, workflow, portal, live_raw)
        # The undo target, stored before anything is sent.
        with self.store.writing():
            captured = add_version(workflow, normalize_flow(live_raw), origin=ORIGIN_PRE_RESTORE,
                                   revision_id=str(live_raw.get("revisionId", "")),
                                   remote_updated_at=str(live_raw.get("updatedAt", "")))
        undo_id = captured.id if captured is not None else latest_version(workflow).id
        try:
            flow = api.update_flow(client, plan.flow_id, plan.body, str(plan.live_revision_id),
                                   priority=Priority.INTERACTIVE)
        except ConflictError as exc:
            flow = self._settle_conflict(plan, workflow, portal, exc)
        except HubSpotError as exc:
            flow = self._settle_failure(plan, portal, exc)
        return self._record(plan, workflow, portal, flow, undo_id=undo_id, old_flow_id=None)

    def _recreate(self, plan: RestorePlan, workflow: Workflow, portal: Portal
                  ) -> RestoreResult:
        client = self.clients.client(portal.hub_id)
        live_raw = self._fetch_live(portal, plan.flow_id)
        if live_raw is not None:
            raise self._conflict(plan, workflow, portal, live_raw)
        target = version_json(WorkflowVersion.get_by_id(plan.target_version_id))
        try:
            flow = api.create_flow(client, create_body(target, plan.body),
                                   priority=Priority.INTERACTIVE)
        except ReauthenticationNeeded as exc:
            raise self._reconnect_error(portal, exc) from exc
        except HubSpotError as exc:
            sent = exc.status is None    # no answer: the create may have happened
            raise RestoreError(
                f"HubSpot did not recreate '{plan.workflow_name}': {exc.user_message} ({exc}). "
                + ("The request may have reached HubSpot: run a sync and check for a new "
                   "copy before trying again." if sent else "Nothing was created.")) from exc
        return self._record(plan, workflow, portal, flow, undo_id=None,
                            old_flow_id=plan.flow_id)

    def _record(self, plan: RestorePlan, workflow: Workflow, portal: Portal, flow: api.Flow,
                *, undo_id: int | None, old_flow_id: str | None) -> RestoreResult:
        now = utcnow()
        with self.store.writing():
            version = add_version(workflow, normalize_flow(flow.raw), origin=ORIGIN_RESTORE,
                                  revision_id=flow.revision_id,
                                  remote_updated_at=flow.updated_at or "", captured_at=now)
            # The row follows HubSpot, so the next sync finds nothing new.
            workflow.flow_id = flow.id
            workflow.name = flow.name or ""
            workflow.is_enabled = flow.is_enabled
            workflow.revision_id = flow.revision_id
            workflow.remote_updated_at = flow.updated_at or ""
            workflow.object_type_id = flow.object_type_id or workflow.object_type_id
            workflow.flow_type = flow.flow_type or workflow.flow_type
            workflow.deleted_at = None
            workflow.last_synced_at = now
            workflow.save()
        stored_id = version.id if version is not None else latest_version(workflow).id
        undo_number = None
        if undo_id is not None:
            _, undo_number, _, _ = self.queries.version_by_id(workflow, undo_id)
        _, number, _, _ = self.queries.version_by_id(workflow, stored_id)
        details: dict[str, Any] = {
            "workflow": plan.workflow_name, "flow_id": flow.id,
            "from_version": plan.target_number, "from_version_id": plan.target_version_id,
            "to_version": number, "previous_revision_id": plan.live_revision_id,
            "new_revision_id": flow.revision_id, "as_disabled": plan.as_disabled,
            "undo_version": undo_number}
        if old_flow_id is not None:
            details.update(recreated=True, old_flow_id=old_flow_id, new_flow_id=flow.id)
        self.audit.record(AuditAction.RESTORE, portal_hub_id=portal.hub_id,
                          outcome=Outcome.SUCCESS, details=details)
        # Retention after the audit: the undo target is the version just before
        # the restore, never the oldest, so the cap does not take it.
        with self.store.writing():
            enforce_version_cap(workflow, self._version_cap())
        return RestoreResult(plan=plan, flow_id=flow.id, old_flow_id=old_flow_id,
                             new_revision_id=flow.revision_id, restore_version_id=stored_id,
                             restore_number=number, undo_version_id=undo_id,
                             undo_number=undo_number, is_enabled=flow.is_enabled)

    def _version_cap(self) -> int:
        return int(self.settings.get("limits.versions_per_workflow"))

    def _settle_conflict(self, plan: RestorePlan, workflow: Workflow, portal: Portal,
                         exc: ConflictError) -> api.Flow:
        """A 409: either someone saved meanwhile (a conflict), or our own PUT
        went through and its retry met the new revision (then it is done)."""
        live_raw = self._fetch_live(portal, plan.flow_id)
        if live_raw is not None and matches(live_raw, plan.body):
            return api.Flow.from_json(live_raw)
        if live_raw is not None and str(live_raw.get("revisionId", "")) == plan.live_revision_id:
            # Not a newer revision: HubSpot refused for another reason (a flow
            # still being created answers 409 too).
            raise RestoreError(f"HubSpot refused the restore of '{plan.workflow_name}': "
                               f"{exc.user_message} ({exc}). Nothing was changed.") from exc
        raise self._conflict(plan, workflow, portal, live_raw) from exc

    def _settle_failure(self, plan: RestorePlan, portal: Portal, exc: HubSpotError) -> api.Flow:
        """The PUT failed: find out which of the two states HubSpot holds."""
        if isinstance(exc, ReauthenticationNeeded):
            raise self._reconnect_error(portal, exc) from exc
        if exc.status is not None and exc.status < 500:
            raise RestoreError(f"HubSpot refused the restore of '{plan.workflow_name}': "
                               f"{exc.user_message} ({exc}). Nothing was changed.") from exc
        try:
            live_raw = self._fetch_live(portal, plan.flow_id)
        except RestoreError:
            live_raw = None
            known = False
        else:
            known = True
        if known and live_raw is not None and matches(live_raw, plan.body):
            return api.Flow.from_json(live_raw)
        if known and live_raw is not None and \
                str(live_raw.get("revisionId", "")) == plan.live_revision_id:
            raise RestoreError(f"HubSpot could not be reached to restore "
                               f"'{plan.workflow_name}': {exc.user_message} ({exc}). Nothing "
                               "was changed.") from exc
        raise RestoreError(f"HubSpot did not confirm the restore of '{plan.workflow_name}' "
                           f"({exc.user_message}). An update is all or nothing: HubSpot holds "
                           "either the old or the restored version; run a sync to see "
                           "which.") from exc

    def _conflict(self, plan: RestorePlan, workflow: Workflow, portal: Portal,
                  live_raw: Mapping[str, Any] | None) -> RestoreConflict:
        target = version_json(WorkflowVersion.get_by_id(plan.target_version_id))
        _, number, count, _ = self.queries.version_by_id(workflow, plan.target_version_id)
        fresh = self._plan(workflow, portal, plan.target_version_id, number, count, target,
                           live_raw, plan.as_disabled)
        drift = diff_flows(plan.live or {}, normalize_flow(live_raw) if live_raw else {})
        if live_raw is None:
            what = "was deleted in HubSpot"
        elif plan.live is None:
            what = "exists again in HubSpot"
        else:
            what = (f"was changed in HubSpot (revision {plan.live_revision_id} → "
                    f"{live_raw.get('revisionId')}): {drift.summary()}")
        return RestoreConflict(f"'{plan.workflow_name}' {what} since the plan was made. "
                               "Nothing was sent; review the new plan and confirm again.",
                               fresh, drift)

    # -- undo and lookups -----------------------------------------------------------------

    def plan_undo(self, result: RestoreResult) -> RestorePlan:
        """The plan that undoes ``result``: restoring the captured pre-restore
        version. Confirm it like any plan (apply_restore)."""
        if result.undo_version_id is None:
            raise RestoreRefused(
                f"'{result.plan.workflow_name}' did not exist in HubSpot before it was "
                f"recreated as flow {result.flow_id}; to undo, delete that flow in HubSpot.")
        workflow = self.queries.get(result.plan.workflow_id)
        return self.plan_version(workflow, result.undo_version_id)

    def recreated_as(self, hub_id: int, old_flow_id: str) -> str | None:
        """The flow id a recreated workflow got (from the audit trail), or None."""
        entries = self.audit.entries(AuditQuery(text=f'"old_flow_id": "{old_flow_id}"',
                                                action=str(AuditAction.RESTORE),
                                                portal_hub_id=hub_id))
        for entry in entries:
            try:
                details = json.loads(entry.details)
            except ValueError:
                continue
            if details.get("old_flow_id") == str(old_flow_id):
                return str(details.get("new_flow_id"))
        return None

    def find(self, ref: str, hub_id: int | None = None) -> Workflow:
        """A workflow by id or name, also by the id it had before a re-creation."""
        try:
            return self.queries.find(ref, hub_id)
        except WorkflowNotFound:
            hubs = [hub_id] if hub_id is not None else [p.hub_id for p in Portal.select()]
            for hub in hubs:
                new_id = self.recreated_as(hub, str(ref).strip())
                if new_id is not None:
                    return self.queries.find(new_id, hub)
            raise

    # -- HubSpot access ---------------------------------------------------------------------

    def _portal(self, workflow: Workflow) -> Portal:
        portal = Portal.get_by_id(workflow.portal_id)
        if portal.status == PortalStatus.RECONNECT_NEEDED:
            raise RestoreError(
                f"Portal {portal.name} ({portal.hub_id}) needs a reconnect: HubSpot no longer "
                "accepts its token, so nothing was restored. Run 'wg-desktop connect' or use "
                "Reconnect on the Connection page.") from PortalNeedsReconnect(portal.name)
        if portal.status != PortalStatus.CONNECTED:
            raise RestoreError(f"Portal {portal.name} ({portal.hub_id}) is {portal.status}; "
                               "connect it again to restore. Nothing was restored.")
        return portal

    def _reconnect_error(self, portal: Portal, exc: BaseException) -> RestoreError:
        return RestoreError(f"Portal {portal.name} ({portal.hub_id}) needs a reconnect: "
                            f"HubSpot refused its token ({exc}). Nothing was restored.")

    def _fetch_live(self, portal: Portal, flow_id: str) -> dict[str, Any] | None:
        """The live flow, never from the cache; None when HubSpot says it is gone."""
        client = self.clients.client(portal.hub_id)
        try:
            flow = api.get_flow(client, flow_id, force_refresh=True,
                                priority=Priority.INTERACTIVE)
        except NotFound:
            return None
        except ReauthenticationNeeded as exc:
            raise self._reconnect_error(portal, exc) from exc
        except HubSpotError as exc:
            raise RestoreError(f"Could not read '{flow_id}' from HubSpot: {exc.user_message} "
                               f"({exc}). Nothing was restored.") from exc
        return dict(flow.raw)

    def _portal_lock(self, portal: Portal) -> AbstractContextManager[FileLock]:
        """The portal's sync lock: no sync (in any process) interleaves with a
        restore, so the store and HubSpot are compared and written in one piece."""
        def busy(pid: int | None) -> RestoreError:
            message = (f"A sync or restore of portal {portal.name} ({portal.hub_id}) "
                       f"is running{held_by(pid)}; nothing was restored. Try again when it "
                       "has finished.")
            # RestoreError like every restore failure; the SyncBusy cause gives
            # the command line its 'busy' exit status.
            error = RestoreError(message)
            error.__cause__ = SyncBusy(message, pid)
            return error

        return FileLock(sync_lock_path(self.lock_dir, portal.hub_id)).holding(
            busy, timeout=LOCK_WAIT_S)


__all__ = ["RestoreService", "RestorePlan", "RestoreResult", "RestoreError", "RestoreRefused",
           "RestoreConflict", "RestoreMode", "RestoreWarning", "WarningKind", "writable_body",
           "create_body", "type_change"]
