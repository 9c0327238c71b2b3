"""Incremental workflow sync: capture every change with the fewest API calls.

1. List every flow (cursor paging; the listing carries ``revisionId``).
2. Compare with the store: new, changed (revision or updatedAt), re-created.
3. Fetch only those, 100 per ``flows/batch/read`` call — never one GET per flow.
4. Store each batch in one transaction: a new version only when the
   normalized definition changed. A crash or cancel leaves whole batches, and
   the next sync resumes because unchanged flows compare equal again.
5. Flows gone from the listing are marked deleted; their history stays.
6. Every change found (with the stored version's summary) is written to the
   Changes feed (services/changes.py) in the same transaction as the batch or
   the deletions, so the feed never lists a change the store does not hold.
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable

from wg_desktop.config import Settings
from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import MalformedResponse, RequestCancelled
from wg_desktop.hubspot.ratelimit import Priority
from wg_desktop.instance import held_by, sync_lock_path
from wg_desktop.portable import FileLock
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.changes import FeedKind, FeedRecord, Turned, cap_feed, record_changes
from wg_desktop.store.normalize import normalize_flow
from wg_desktop.services.portal_clients import PortalClients
from wg_desktop.services.schedule import CancelToken, JobCancelled
from wg_desktop.store.db import Store
from wg_desktop.store.models import Outcome, Portal, PortalStatus, Workflow, utcnow
from wg_desktop.store.versions import add_version, enforce_version_cap

log = logging.getLogger(__name__)

BATCH_SIZE = 100


class SyncPaused(RuntimeError):
    """The portal cannot be synced now (reconnect needed, disconnected, busy)."""


class PortalNeedsReconnect(SyncPaused):
    """HubSpot no longer accepts the portal's tokens; only a reconnect helps."""


class SyncBusy(SyncPaused):
    """Another sync of the portal runs (in this process or another one)."""

    def __init__(self, message: str, holder_pid: int | None = None) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid


class SyncFailed(RuntimeError):
    """A sync stopped part-way. The message says how far it got; batches
    already stored are kept and the next sync does not fetch them again.
    The original error is ``__cause__``."""

    def __init__(self, message: str, result: "SyncResult") -> None:
        super().__init__(message)
        self.result = result


class ChangeKind(enum.StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    RECREATED = "recreated"


@dataclass(frozen=True)
class SyncChange:
    kind: ChangeKind
    flow_id: str
    name: str
    summary: str = ""                    # the stored version's one-line summary
    renamed_from: str | None = None      # the name before, when this sync saw a rename
    turned: str | None = None            # "on" | "off" when this sync saw that flip


@dataclass(frozen=True)
class SyncProgress:
    phase: str              # listing | fetching | storing | done
    listed: int
    changed: int
    fetched: int
    stored: int


@dataclass
class SyncResult:
    hub_id: int
    listed: int = 0
    changed: int = 0
    fetched: int = 0
    stored: int = 0
    deleted: int = 0
    skipped: list[str] = field(default_factory=list)      # malformed / unreadable items
    untracked: int = 0                                     # beyond the workflow limit
    first_capture: bool = False                            # the portal's first sync
    changes: list[SyncChange] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{self.listed} workflows listed, {self.stored} new version"
                f"{'s' if self.stored != 1 else ''}, {self.deleted} deleted")
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        if self.untracked:
            text += f", {self.untracked} beyond the workflow limit not tracked"
        return text


ProgressCallback = Callable[[SyncProgress], None]


def describe_changes(changes: list[SyncChange]) -> str:
    """'"Lead nurture" changed', '2 workflows deleted', ... for notifications."""
    if not changes:
        return ""
    if len(changes) == 1:
        c = changes[0]
        return f"'{c.name}' {c.kind}"
    by_kind: dict[str, int] = {}
    for c in changes:
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
    return ", ".join(f"{n} workflow{'s' if n != 1 else ''} {kind}"
                     for kind, n in by_kind.items())


class SyncService:
    def __init__(self, store: Store, audit: AuditLog, clients: PortalClients,
                 settings: Settings) -> None:
        self.store = store
        self.audit = audit
        self.clients = clients
        self.settings = settings
        # Beside the database it protects: one sync per portal across every
        # process (window, command line) that opens this data folder.
        self.lock_dir = store.path.parent
        self.listeners: list[Callable[[int, list[SyncChange]], None]] = []
        self._running: set[int] = set()
        self._running_lock = threading.Lock()

    def on_changes(self, listener: Callable[[int, list[SyncChange]], None]) -> None:
        """Subscribe to changes found by a sync (notifications, alerts)."""
        self.listeners.append(listener)

    def sync(self, hub_id: int, *, cancel: CancelToken | None = None,
             progress: ProgressCallback | None = None, interactive: bool = False
             ) -> SyncResult:
        cancel = cancel or CancelToken()
        report = progress or (lambda p: None)
        if self.store.read_only:
            raise self.store.read_only_error()
        portal = Portal.get_or_none(Portal.hub_id == hub_id)
        if portal is None:
            raise SyncPaused(f"No portal {hub_id} here.")
        if portal.status == PortalStatus.RECONNECT_NEEDED:
            raise PortalNeedsReconnect(
                f"Portal {portal.name} ({hub_id}) needs a reconnect: HubSpot no longer "
                "accepts its token. Run 'wg-desktop connect' or use Reconnect on the "
                "Connection page.")
        if portal.status != PortalStatus.CONNECTED:
            raise SyncPaused(f"Portal {portal.name} ({hub_id}) is {portal.status}; "
                             "connect it again to sync.")
        with self._running_lock:
            if hub_id in self._running:
                raise SyncBusy(f"A sync of portal {portal.name} ({hub_id}) is already "
                               "running in this window.")
            self._running.add(hub_id)
        try:
            with self._process_lock(portal):
                return self._sync(portal, cancel, report, interactive)
        finally:
            with self._running_lock:
                self._running.discard(hub_id)

    def _process_lock(self, portal: Portal) -> AbstractContextManager[FileLock]:
        def busy(pid: int | None) -> SyncBusy:
            return SyncBusy(f"A sync of portal {portal.name} ({portal.hub_id}) is already "
                            f"running{held_by(pid)}; try again when it has finished.", pid)

        return FileLock(sync_lock_path(self.lock_dir, portal.hub_id)).holding(busy)

    def _sync(self, portal: Portal, cancel: CancelToken, report: ProgressCallback,
              interactive: bool) -> SyncResult:
        hub_id = portal.hub_id
        priority = Priority.INTERACTIVE if interactive else Priority.BACKGROUND
        client = self.clients.client(hub_id)
        result = SyncResult(hub_id)
        try:
            try:
                self._run(portal, client, priority, cancel, report, result)
            except RequestCancelled as exc:
                raise JobCancelled("sync cancelled") from exc
        except JobCancelled:
            self.audit.record(AuditAction.SYNC, portal_hub_id=hub_id, outcome=Outcome.WARNING,
                              details={"cancelled": True, "stored": result.stored})
            raise
        except Exception as exc:
            self.audit.record(AuditAction.SYNC, portal_hub_id=hub_id, outcome=Outcome.FAILURE,
                              details={"error": str(exc), "stored": result.stored})
            raise SyncFailed(f"Sync of {portal.name} stopped: {_reason(exc)}. "
                             f"{_progress_text(result)}", result) from exc
        self.audit.record(AuditAction.SYNC, portal_hub_id=hub_id,
                          outcome=Outcome.WARNING if result.skipped else Outcome.SUCCESS,
                          details={"summary": result.summary(),
                                   "first_capture": result.first_capture,
                                   "skipped": result.skipped[:20]})
        # Every change is its own audit event — except a portal's first capture,
        # where "1,000 workflows created" is one fact, not 1,000 (the audit log
        # is capped at 10,000 entries and must keep its history).
        if not result.first_capture:
            for change in result.changes:
                self.audit.record(AuditAction.SYNC, portal_hub_id=hub_id,
                                  outcome=Outcome.INFO,
                                  details={"workflow": change.name, "flow_id": change.flow_id,
                                           "change": str(change.kind)})
        if result.changes:
            for listener in self.listeners:
                try:
                    listener(hub_id, list(result.changes))
                except Exception:  # an observer must not turn a good sync into a failure
                    log.exception("a sync listener failed")
        return result

    def sync_all(self, portals: list[Portal], *, cancel: CancelToken | None = None,
                 progress: Callable[[str, SyncProgress], None] | None = None) -> str:
        """The background job: every given portal, one after another. A failing
        portal does not stop the others; the summary names it."""
        cancel = cancel or CancelToken()
        lines, failures = [], []
        for portal in portals:
            def report(p: SyncProgress, name: str = portal.name) -> None:
                if progress is not None:
                    progress(name, p)
            try:
                result = self.sync(portal.hub_id, cancel=cancel, progress=report)
                lines.append(f"{portal.name}: {result.summary()}")
            except JobCancelled:
                raise
            except SyncBusy as exc:
                # Another process (the command line) is syncing it right now: not a failure.
                lines.append(f"{portal.name}: skipped — {exc}")
            except Exception as exc:
                failures.append(f"{portal.name}: {exc}")
        summary = "; ".join(lines + failures) or "No connected portal"
        if failures and not lines:
            raise RuntimeError(summary)
        return summary

    # -- the steps ------------------------------------------------------------------------

    def _run(self, portal: Portal, client: Any, priority: Priority, cancel: CancelToken,
             report: ProgressCallback, result: SyncResult) -> None:
        listing: dict[str, api.FlowSummary] = {}
        # iter_flows guards against a repeating cursor and caps the page count.
        for flow in api.iter_flows(client, priority=priority, cancel_event=cancel.event):
            listing[flow.id] = flow
            if len(listing) % api.PAGE_SIZE == 0:
                cancel.raise_if_cancelled()
                report(SyncProgress("listing", len(listing), 0, 0, 0))
        result.listed = len(listing)
        report(SyncProgress("listing", result.listed, 0, 0, 0))

        known = {w.flow_id: w for w in Workflow.select().where(Workflow.portal == portal)}
        result.first_capture = not known
        limit = int(self.settings.get("limits.workflows"))
        tracked_ids = [fid for fid in listing if fid in known]
        new_ids = [fid for fid in listing if fid not in known]
        room = max(0, limit - len(tracked_ids))
        if len(new_ids) > room:
            result.untracked = len(new_ids) - room
            new_ids = new_ids[:room]
        wanted = [fid for fid in tracked_ids + new_ids if _needs_fetch(known.get(fid),
                                                                      listing[fid])]
        result.changed = len(wanted)
        report(SyncProgress("fetching", result.listed, result.changed, 0, 0))

        for start in range(0, len(wanted), BATCH_SIZE):
            cancel.raise_if_cancelled()
            chunk = wanted[start:start + BATCH_SIZE]
            batches = self._fetch(client, chunk, priority, cancel, result)
            result.fetched += self._store_batch(portal, batches, known, result)
            report(SyncProgress("storing", result.listed, result.changed, result.fetched,
                                result.stored))

        gone = [w for fid, w in known.items() if fid not in listing and w.deleted_at is None
                and w.source == "sync"]
        now = utcnow()
        with self.store.writing():
            for workflow in gone:
                workflow.deleted_at = now
                workflow.save()
                result.changes.append(SyncChange(ChangeKind.DELETED, workflow.flow_id,
                                                 workflow.name))
            seen = [known[fid].id for fid in listing if fid in known]
            if seen:
                Workflow.update(last_synced_at=now).where(Workflow.id.in_(seen)).execute()
            feed = [FeedRecord(FeedKind.DELETED, w.flow_id, w.name, workflow_id=w.id)
                    for w in gone]
            if result.first_capture and result.stored:
                # One row, not one per workflow: a first capture is one fact.
                feed.append(FeedRecord(FeedKind.FIRST_CAPTURE, "", "",
                                       summary=f"First capture: {result.stored} workflow"
                                               f"{'s' if result.stored != 1 else ''} stored"))
            record_changes(portal.hub_id, feed, now)
            cap_feed(portal.hub_id)
        result.deleted = len(gone)
        report(SyncProgress("done", result.listed, result.changed, result.fetched,
                            result.stored))

    def _fetch(self, client: Any, ids: list[str], priority: Priority, cancel: CancelToken,
               result: SyncResult) -> list[api.FlowBatch]:
        """Batch-read ``ids``; a batch too large for one answer is split in halves.
        The flows are decoded later, one at a time, as they are stored."""
        try:
            answer = api.read_flow_batch(client, ids, priority=priority,
                                         cancel_event=cancel.event)
        except MalformedResponse as exc:
            if len(ids) == 1:
                result.skipped.append(f"{ids[0]}: {exc.message}")
                return []
            middle = len(ids) // 2
            return (self._fetch(client, ids[:middle], priority, cancel, result)
                    + self._fetch(client, ids[middle:], priority, cancel, result))
        for error in answer.errors:
            if error.category != "OBJECT_NOT_FOUND":
                _skip(result, error)
        return [answer]

    def _store_batch(self, portal: Portal, batches: list[api.FlowBatch],
                     known: dict[str, Workflow], result: SyncResult) -> int:
        """Store the flows of ``batches`` in one transaction; returns how many
        flows it held (counted as fetched once committed)."""
        cap = int(self.settings.get("limits.versions_per_workflow"))
        now = utcnow()
        feed: list[FeedRecord] = []
        flows = 0
        with self.store.writing():
            for flow in itertools.chain.from_iterable(batches):
                if isinstance(flow, api.BatchItemError):
                    _skip(result, flow)
                    continue
                flows += 1
                workflow = known.get(flow.id)
                kind = None
                # The row mirrors the latest captured version: comparing it with
                # HubSpot's answer is the diff's name / isEnabled change.
                before = None if workflow is None else (workflow.name, workflow.is_enabled)
                if workflow is None:
                    workflow = Workflow.create(portal=portal, flow_id=flow.id,
                                               first_seen_at=now)
                    known[flow.id] = workflow
                    kind = ChangeKind.CREATED
                elif workflow.deleted_at is not None:
                    workflow.deleted_at = None
                    kind = ChangeKind.RECREATED
                version = add_version(workflow, normalize_flow(flow.raw), origin="sync",
                                      revision_id=flow.revision_id,
                                      remote_updated_at=flow.updated_at or "",
                                      captured_at=now)
                workflow.name = flow.name or ""
                workflow.object_type_id = flow.object_type_id or ""
                workflow.flow_type = flow.flow_type or ""
                workflow.is_enabled = flow.is_enabled
                workflow.revision_id = flow.revision_id
                workflow.remote_updated_at = flow.updated_at or ""
                workflow.last_synced_at = now
                workflow.save()
                renamed_from = turned = None
                if before is not None and version is not None:
                    if before[0] != workflow.name:
                        renamed_from = before[0]
                    if before[1] != workflow.is_enabled:
                        turned = Turned.ON if workflow.is_enabled else Turned.OFF
                if version is not None:
                    result.stored += 1
                    change = SyncChange(kind or ChangeKind.CHANGED, flow.id, workflow.name,
                                        version.summary, renamed_from,
                                        str(turned) if turned is not None else None)
                    version_id = version.id
                    enforce_version_cap(workflow, cap)
                elif kind is ChangeKind.RECREATED:
                    change, version_id = SyncChange(kind, flow.id, workflow.name), None
                else:
                    continue
                result.changes.append(change)
                feed.append(FeedRecord(_FEED_KINDS[change.kind], flow.id, workflow.name,
                                       workflow_id=workflow.id, version_id=version_id,
                                       renamed_from=renamed_from, turned=turned,
                                       summary=change.summary))
            if not result.first_capture:
                record_changes(portal.hub_id, feed, now)
        return flows


_FEED_KINDS = {ChangeKind.CREATED: FeedKind.CREATED, ChangeKind.CHANGED: FeedKind.EDITED,
               ChangeKind.DELETED: FeedKind.DELETED, ChangeKind.RECREATED: FeedKind.RECREATED}


def _skip(result: SyncResult, error: api.BatchItemError) -> None:
    result.skipped.append(f"{', '.join(error.flow_ids) or '?'}: {error.message}")


def _reason(exc: BaseException) -> str:
    user_message = getattr(exc, "user_message", None)
    return f"{user_message} ({exc})" if user_message else str(exc)


def _progress_text(result: SyncResult) -> str:
    if not result.listed:
        return "Nothing was stored; run the sync again."
    if not result.changed:
        return "Nothing needed storing."
    return (f"{result.fetched} of {result.changed} changed workflows were stored and are "
            "kept; the next sync fetches only the rest.")


def _needs_fetch(workflow: Workflow | None, listed: api.FlowSummary) -> bool:
    if workflow is None or workflow.deleted_at is not None:
        return True
    return (workflow.revision_id != listed.revision_id
            or workflow.remote_updated_at != (listed.updated_at or ""))
