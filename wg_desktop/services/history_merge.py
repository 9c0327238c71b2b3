"""Restoring one workflow's history from a backup into the live store.

The versions the live store lacks (by content hash) are added with their
original capture time, origin and revision, through the version store's own
``add_version`` — so they are delta-encoded and enter the full-text index
like a sync's — and the live store's own versions, newer ones included, are
kept. The one-line summaries are then recomputed from the earliest inserted
version on, as an inserted older version changes what its successor changed
from; the versions before it keep theirs. One audit entry records it. The
workflow (and its portal) is created when the live store no longer has it.

Only the versions the live store lacks are decoded, each keyframe once for a
run of its deltas; the merge takes the plan its confirmation showed and checks
the live store's content hashes again inside its transaction, so a sync that
ran in between never makes a version twice.

The per-workflow version cap (``limits.versions_per_workflow``) is not applied
here — it would delete at once the old versions the user asked back; the next
sync's cap trims them, and the result says when that will happen.

Core module: no Qt. Blocking: call it off the GUI thread.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wg_desktop.config import Settings
from wg_desktop.flows.diff import version_summary
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.workflows import WorkflowNotFound, WorkflowQueries
from wg_desktop.store.db import Store
from wg_desktop.store.models import Portal, PortalStatus, Workflow, WorkflowVersion
from wg_desktop.store.versions import (Keyframes, VersionCorrupt, add_version, latest_version,
                                       version_count, version_json)


@dataclass(frozen=True)
class BackupVersion:
    captured_at: dt.datetime
    revision_id: str
    remote_updated_at: str
    origin: str
    content_hash: str
    definition: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class HistoryMergePlan:
    """What a merge would do (the confirmation and the CLI's dry run)."""

    hub_id: int
    flow_id: str
    name: str
    backup_versions: int
    live_versions: int               # 0 when the live store lacks the workflow
    missing: tuple[BackupVersion, ...]
    creates_workflow: bool
    creates_portal: bool
    _portal: dict[str, Any] = field(repr=False, default_factory=dict)
    _workflow: dict[str, Any] = field(repr=False, default_factory=dict)

    def text(self) -> str:
        label = f"'{self.name}' ({self.hub_id}:{self.flow_id})"
        if not self.missing:
            return (f"{label}: the live store already has all {self.backup_versions} versions "
                    "of the backup; nothing to restore.")
        where = ("a workflow the live store no longer has" if self.creates_workflow else
                 f"the live store's {self.live_versions} versions, which are all kept")
        return (f"{label}: {len(self.missing)} of the backup's {self.backup_versions} versions "
                f"are missing from the live store and will be added to {where}.")


@dataclass(frozen=True)
class HistoryMergeResult:
    plan: HistoryMergePlan
    added: int
    workflow_id: int                 # in the live store
    total_versions: int
    over_cap: int                    # versions beyond the cap the next sync trims
    duration_s: float

    def text(self) -> str:
        if not self.added:
            return self.plan.text()
        cap = (f"; {self.over_cap} of the oldest exceed the versions-per-workflow limit and "
               "the next sync trims them" if self.over_cap else "")
        return (f"Added {self.added} version{'s' if self.added != 1 else ''} of "
                f"'{self.plan.name}' from the backup; it now has {self.total_versions}{cap}.")


def find_backup_workflow(backup: Store, ref: str | int, hub_id: int | None = None) -> int:
    """A workflow of the backup by flow id or name (as the CLI names one)."""
    with backup.session():
        return WorkflowQueries(backup, None).find(ref, hub_id).id   # type: ignore[arg-type]


def plan_history_merge(backup: Store, live: Store, workflow_id: int) -> HistoryMergePlan:
    """Read the backup's workflow (in the backup's binding) and compare its
    versions with the live store's (in the live store's). Only the versions
    the live store lacks are decoded. No writes."""
    with backup.session():
        workflow = Workflow.get_or_none(Workflow.id == workflow_id)
        if workflow is None:
            raise WorkflowNotFound("This workflow is not in the backup.")
        portal = workflow.portal
        portal_row = {name: getattr(portal, name) for name in
                      ("hub_id", "name", "domain", "account_type", "time_zone", "auth_kind",
                       "is_demo")}
        workflow_row = {name: getattr(workflow, name) for name in
                        ("flow_id", "name", "object_type_id", "flow_type", "is_enabled",
                         "revision_id", "remote_updated_at", "first_seen_at", "source",
                         "deleted_at")}
    hub_id, flow_id = portal_row["hub_id"], workflow_row["flow_id"]
    with live.session():
        live_portal = Portal.get_or_none(Portal.hub_id == hub_id)
        live_workflow = None if live_portal is None else Workflow.get_or_none(
            (Workflow.portal == live_portal) & (Workflow.flow_id == flow_id))
        known = set() if live_workflow is None else _content_hashes(live_workflow)
    missing: list[BackupVersion] = []
    seen, count = set(known), 0
    with backup.session():
        keyframes = Keyframes()
        for row in _timeline(workflow_id):
            count += 1
            if row.content_hash in seen:
                continue           # the live store has it (or an earlier one of the backup)
            try:
                definition = version_json(row, keyframes)
            except VersionCorrupt:
                count -= 1         # a damaged version of the backup is not carried over
                continue
            seen.add(row.content_hash)
            missing.append(BackupVersion(row.captured_at, row.revision_id,
                                         row.remote_updated_at, row.origin, row.content_hash,
                                         definition))
    return HistoryMergePlan(hub_id, flow_id, workflow_row["name"], count, len(known),
                            tuple(missing), live_workflow is None, live_portal is None,
                            portal_row, workflow_row)


def merge_workflow_history(backup: Store, live: Store, audit: AuditLog, settings: Settings,
                           workflow_id: int, *, source: Path,
                           plan: HistoryMergePlan | None = None) -> HistoryMergeResult:
    """Add the backup's versions of ``workflow_id`` (a backup's id) that the
    live store lacks, in one transaction. ``plan``: the one
    :func:`plan_history_merge` made for this workflow and these stores (the
    confirmation showed it); made here when not given. Versions the live store
    gained since the plan was made are not added again. Raises StoreReadOnly
    on a read-only live store, WorkflowNotFound when the backup lacks the
    workflow."""
    started = time.perf_counter()
    if plan is None:
        plan = plan_history_merge(backup, live, workflow_id)
    with live.writing():
        portal = Portal.get_or_none(Portal.hub_id == plan.hub_id)
        if portal is None:
            # Its history comes back; its connection does not (no tokens here).
            portal = Portal.create(**plan._portal, status=PortalStatus.DISCONNECTED)
        workflow = Workflow.get_or_none((Workflow.portal == portal)
                                        & (Workflow.flow_id == plan.flow_id))
        if workflow is None:
            workflow = Workflow.create(portal=portal, **plan._workflow)
        # Again inside the transaction: a sync may have stored some meanwhile.
        known = _content_hashes(workflow)
        latest = latest_version(workflow)
        newest: dict[str, Any] | None = None      # the latest version's definition
        if latest is not None and any(v.content_hash not in known for v in plan.missing):
            try:
                newest = version_json(latest)
            except VersionCorrupt:
                newest = None
        inserted: list[WorkflowVersion] = []
        for version in plan.missing:
            if version.content_hash in known:
                continue
            row = add_version(workflow, version.definition, origin=version.origin,
                              revision_id=version.revision_id,
                              remote_updated_at=version.remote_updated_at,
                              captured_at=version.captured_at, previous=newest)
            if row is None:
                continue
            inserted.append(row)
            if latest is None or (row.captured_at, row.id) >= (latest.captured_at, latest.id):
                latest, newest = row, version.definition
        if inserted:
            _resummarize(workflow, inserted)
        total = version_count(workflow)
    added = len(inserted)
    cap = int(settings.get("limits.versions_per_workflow"))
    if added:
        audit.record(AuditAction.BACKUP_RESTORE, portal_hub_id=plan.hub_id, details={
            "what": "workflow history", "file": str(source), "workflow": plan.name,
            "flow_id": plan.flow_id, "versions_added": added, "versions_now": total})
    return HistoryMergeResult(plan, added, workflow.id, total, max(0, total - cap),
                              time.perf_counter() - started)


def _content_hashes(workflow: Workflow | int) -> set[str]:
    return {v.content_hash for v in WorkflowVersion.select(WorkflowVersion.content_hash)
            .where(WorkflowVersion.workflow == workflow)}


def _timeline(workflow: Workflow | int, after: WorkflowVersion | None = None
              ) -> list[WorkflowVersion]:
    """The versions of ``workflow`` oldest first (as the history numbers
    them), bodies included; only those from ``after`` on when given."""
    v = WorkflowVersion
    cond = v.workflow == workflow
    if after is not None:
        cond &= ((v.captured_at > after.captured_at)
                 | ((v.captured_at == after.captured_at) & (v.id >= after.id)))
    return list(v.select().where(cond).order_by(v.captured_at, v.id))


def _resummarize(workflow: Workflow, inserted: list[WorkflowVersion]) -> None:
    """Recompute each version's summary against its predecessor in time, from
    the earliest inserted version on (an inserted older version changes its
    successor's; the ones before it are unchanged). Inside the transaction."""
    first = min(inserted, key=lambda row: (row.captured_at, row.id))
    v = WorkflowVersion
    before = (v.select().where((v.workflow == workflow)
                               & ((v.captured_at < first.captured_at)
                                  | ((v.captured_at == first.captured_at) & (v.id < first.id))))
              .order_by(v.captured_at.desc(), v.id.desc()).first())
    keyframes = Keyframes()
    previous: dict[str, Any] | None = None
    if before is not None:
        try:
            previous = version_json(before, keyframes)
        except VersionCorrupt:
            previous = None       # a damaged version: its successor summarises from scratch
    for row in _timeline(workflow, first):
        try:
            current = version_json(row, keyframes)
        except VersionCorrupt:
            previous = None
            continue
        summary = version_summary(previous, current)
        if summary != row.summary:
            v.update(summary=summary).where(v.id == row.id).execute()
        previous = current


__all__ = ["BackupVersion", "HistoryMergePlan", "HistoryMergeResult", "find_backup_workflow",
           "merge_workflow_history", "plan_history_merge"]
