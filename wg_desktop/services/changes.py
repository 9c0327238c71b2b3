"""The Changes feed and "changed since you last looked".

Design: the sync records what it found into the ``workflow_change`` table
(migration 8, ``store/change_models.py``) in the same transaction as the
versions it stores. A table, not a view over the versions, because the feed
must show what versions cannot: deletions (no version is stored), the summary
of a version the retention policy has since pruned, and each sync's changes as
that sync saw them. Renamed and turned on/off come from comparing the stored
row (which mirrors the latest captured version) with HubSpot's answer — the
same facts the flow diff reports for ``name`` and ``isEnabled``, without
diffing twice. The feed keeps the newest ``FEED_CAP`` rows per portal.

"Last looked" is one ``AppState`` row per portal (an aware UTC instant),
written when the user views the Workflows page; a row is marked when the app
stored a change of it (a version, or the deletion) after that instant.

Core module: no Qt.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any, Iterable

import peewee as pw

from wg_desktop.services.workflows import WorkflowQueries, WorkflowRow
from wg_desktop.store.change_models import WorkflowChange
from wg_desktop.store.db import Store
from wg_desktop.store.models import AppState, Portal, Workflow, utcnow

FEED_CAP = 5_000                  # rows kept per portal
DEFAULT_LIMIT = 200
LAST_LOOKED_KEY = "workflows.last_looked.{hub_id}"
_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class FeedKind(enum.StrEnum):
    CREATED = "created"
    EDITED = "edited"
    DELETED = "deleted"
    RECREATED = "recreated"
    FIRST_CAPTURE = "first_capture"      # a portal's first sync: one row for all


class Turned(enum.StrEnum):
    ON = "on"
    OFF = "off"


KIND_LABELS = {FeedKind.CREATED: "Created", FeedKind.EDITED: "Edited",
               FeedKind.DELETED: "Deleted", FeedKind.RECREATED: "Recreated",
               FeedKind.FIRST_CAPTURE: "First capture"}


class BadSince(ValueError):
    """``--since`` is not a duration like 30m, 12h, 7d or 2w."""


def parse_since(text: str) -> dt.timedelta:
    """'7d' -> 7 days (m, h, d, w)."""
    match = _SINCE.match(text or "")
    if not match or int(match.group(1)) <= 0:
        raise BadSince(f"'{text}' is not a duration: use a number and a unit, e.g. 30m, 12h, "
                       "7d or 2w")
    return dt.timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def change_label(kind: str, renamed_from: str | None, turned: str | None) -> str:
    """What happened, in words: 'Turned off', 'Renamed · Turned on', 'Edited'."""
    try:
        feed_kind = FeedKind(kind)
    except ValueError:
        return kind                       # a kind a newer version wrote: shown verbatim
    if feed_kind is not FeedKind.EDITED:
        return KIND_LABELS[feed_kind]
    parts = []
    if renamed_from is not None:
        parts.append("Renamed")
    if turned is not None:
        parts.append(f"Turned {turned}")
    return " · ".join(parts) or KIND_LABELS[feed_kind]


@dataclass(frozen=True)
class FeedRecord:
    """One change as the sync hands it to the feed."""

    kind: FeedKind
    flow_id: str
    name: str
    workflow_id: int | None = None
    version_id: int | None = None
    renamed_from: str | None = None
    turned: Turned | None = None
    summary: str = ""


@dataclass(frozen=True)
class ChangeEntry:
    id: int
    at: dt.datetime
    hub_id: int
    portal_name: str
    workflow_id: int | None
    version_id: int | None
    flow_id: str
    name: str
    kind: str
    renamed_from: str | None
    turned: str | None
    summary: str

    @property
    def label(self) -> str:
        return change_label(self.kind, self.renamed_from, self.turned)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "hub_id": self.hub_id, "portal": self.portal_name,
                "flow_id": self.flow_id, "name": self.name, "kind": self.kind,
                "label": self.label, "renamed_from": self.renamed_from,
                "turned": self.turned, "summary": self.summary,
                "version_id": self.version_id}


def record_changes(hub_id: int, records: Iterable[FeedRecord],
                   at: dt.datetime | None = None) -> int:
    """Add records to the feed. Call inside the sync's write transaction."""
    when = at or utcnow()
    rows = [{"at": when, "portal_hub_id": hub_id, "workflow": r.workflow_id,
             "version_id": r.version_id, "flow_id": r.flow_id, "name": r.name,
             "kind": str(r.kind), "renamed_from": r.renamed_from,
             "turned": str(r.turned) if r.turned is not None else None,
             "summary": r.summary} for r in records]
    for start in range(0, len(rows), 200):      # SQLite's bound-variable limit
        WorkflowChange.insert_many(rows[start:start + 200]).execute()
    return len(rows)


def cap_feed(hub_id: int, keep: int = FEED_CAP) -> int:
    """Drop all but the newest ``keep`` rows of a portal. Call inside a transaction."""
    newest = (WorkflowChange.select(WorkflowChange.id)
              .where(WorkflowChange.portal_hub_id == hub_id)
              .order_by(WorkflowChange.id.desc()).limit(keep))
    return (WorkflowChange.delete()
            .where((WorkflowChange.portal_hub_id == hub_id)
                   & WorkflowChange.id.not_in(newest)).execute())


@dataclass(frozen=True)
class RowMarks:
    """What the Workflows table shows beside a stored row."""

    remote_updated: dt.datetime | None     # HubSpot's updatedAt (None: unknown)
    remote_updated_text: str               # verbatim, when it does not parse
    changed_since_look: bool


@dataclass(frozen=True)
class WorkflowListing:
    rows: list[WorkflowRow]
    marks: dict[int, RowMarks]
    last_looked: dt.datetime | None        # of the shown portal (the oldest, for all)


def parse_remote_time(text: str) -> dt.datetime | None:
    """HubSpot's ISO-8601 ``updatedAt`` ('…Z' too) as an aware instant, else None."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


class ChangeFeed:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- the feed ---------------------------------------------------------------------

    def entries(self, hub_id: int | None = None, *, since: dt.datetime | None = None,
                limit: int = DEFAULT_LIMIT) -> list[ChangeEntry]:
        """Newest first."""
        query = (WorkflowChange.select(WorkflowChange, Portal.name.alias("portal_name"))
                 .join(Portal, pw.JOIN.LEFT_OUTER,
                       on=(Portal.hub_id == WorkflowChange.portal_hub_id))
                 .order_by(WorkflowChange.at.desc(), WorkflowChange.id.desc()).limit(limit))
        if hub_id is not None:
            query = query.where(WorkflowChange.portal_hub_id == hub_id)
        if since is not None:
            query = query.where(WorkflowChange.at >= since)
        return [ChangeEntry(r.id, r.at, r.portal_hub_id, r.portal_name or "", r.workflow_id,
                            r.version_id, r.flow_id, r.name, r.kind, r.renamed_from, r.turned,
                            r.summary) for r in query.objects()]

    # -- last looked ------------------------------------------------------------------

    def last_looked(self, hub_id: int) -> dt.datetime | None:
        row = AppState.get_or_none(AppState.key == LAST_LOOKED_KEY.format(hub_id=hub_id))
        if row is None:
            return None
        try:
            return dt.datetime.fromisoformat(row.value)
        except ValueError:
            return None                   # a damaged value: as if never looked

    def mark_looked(self, hub_ids: Iterable[int], when: dt.datetime | None = None) -> None:
        if self.store.read_only:
            return                        # a read-only store only shows; nothing to remember
        value = (when or utcnow()).astimezone(dt.timezone.utc).isoformat()
        with self.store.writing():
            for hub_id in hub_ids:
                AppState.replace(key=LAST_LOOKED_KEY.format(hub_id=hub_id),
                                 value=value).execute()

    def listing(self, queries: WorkflowQueries, hub_id: int | None, *, look: bool = False
                ) -> WorkflowListing:
        """The Workflows table's rows with their marks. With ``look`` the user
        is looking now: marks compare with the previous look, then now is
        remembered as the last look. Worker thread."""
        rows = queries.list(hub_id)
        hubs = sorted({row.hub_id for row in rows} | ({hub_id} if hub_id is not None else set()))
        looked = {hub: self.last_looked(hub) for hub in hubs}
        facts = Workflow.select(Workflow.id, Workflow.remote_updated_at, Workflow.deleted_at)
        if hub_id is not None:
            facts = facts.join(Portal).where(Portal.hub_id == hub_id)
        by_id = {w.id: w for w in facts}
        marks = {}
        for row in rows:
            fact = by_id.get(row.id)
            remote_text = fact.remote_updated_at if fact is not None else ""
            since = looked.get(row.hub_id)
            latest = max((t for t in (row.last_changed,
                                      fact.deleted_at if fact is not None else None)
                          if t is not None), default=None)
            marks[row.id] = RowMarks(parse_remote_time(remote_text), remote_text,
                                     since is not None and latest is not None and latest > since)
        known = [t for t in looked.values() if t is not None]
        if look and hubs:
            self.mark_looked(hubs)
        return WorkflowListing(rows, marks, min(known) if known else None)


__all__ = ["ChangeFeed", "ChangeEntry", "FeedKind", "FeedRecord", "Turned", "RowMarks",
           "WorkflowListing", "BadSince", "parse_since", "change_label", "record_changes",
           "cap_feed", "parse_remote_time", "FEED_CAP"]
