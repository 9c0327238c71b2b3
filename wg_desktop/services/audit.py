"""The one audit logger: every operation the admin (or a background job) does
is recorded here — what, when, which portal, outcome, details.

It enforces the per-user cap (oldest entries go first) and the retention
period; both numbers come from the settings.

The trail is hash-chained. Each entry stores the hash of the entry before it
(``prev_hash``) and its own hash (``entry_hash``, SHA-256 over its fields and
``prev_hash``, see :func:`wg_desktop.store.models.audit_entry_hash`). Pruning
(the cap, retention) only ever cuts the oldest end and moves the chain's anchor
forward to the hash of the last removed entry; the one state row also names
the head (newest entry) and carries a seal over itself. :meth:`AuditLog.verify`
walks the chain and names the first entry that was edited, inserted or deleted.

What this does and does not protect against, honestly: the database is
encrypted with SQLCipher, so only someone holding the key can change it at all.
The chain is keyless, so such a person who also knows this scheme can rewrite
the whole trail consistently (recompute every hash and the seal) or drop the
oldest entries and move the anchor as if retention had run; nothing inside the
database can prevent that. What it does catch is every change made without
recomputing the chain: rows edited, inserted or deleted with another SQLite
tool, by a bug in some other part of the app, or by a partial restore that
mixes rows of different copies. A CSV export carries the head hash of its
moment, so a copy kept elsewhere pins the trail up to that point: a later
trail that no longer contains that hash was rewritten.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import peewee as pw

from wg_desktop.config import Settings
from wg_desktop.paths import write_private_atomic
from wg_desktop.security.redaction import SecretRegistry, redact
from wg_desktop.store.db import Store
from wg_desktop.store.models import (GENESIS_HASH, AuditChainState, AuditEvent, Outcome,
                                     Portal, audit_entry_hash)

log = logging.getLogger(__name__)


class AuditAction(enum.StrEnum):
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    TOKEN_REFRESH = "token_refresh"
    SYNC = "sync"
    RESTORE = "restore"
    EXPORT = "export"
    IMPORT = "import"
    BACKUP = "backup"
    BACKUP_RESTORE = "backup_restore"
    SETTINGS_CHANGE = "settings_change"
    ALERT = "alert"
    RETENTION = "retention"
    JOB = "job"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    timestamp: dt.datetime
    action: str
    portal_hub_id: int | None
    outcome: str
    details: str
    entry_hash: str | None = None    # its link in the hash chain (None: never chained)


@dataclass(frozen=True)
class AuditBrowse:
    """What the audit page shows for one query: the entries, the actions the
    trail actually holds (for the filter) and portal names by hub id."""
    entries: list[AuditEntry]
    actions: list[str]
    portal_names: dict[int, str]
    readable: list[str]          # each entry's details in words (readable_details)


def readable_details(details: str) -> str:
    """An entry's details as a person reads them: ``change: deleted · workflow:
    Re-engagement – SMB``, not JSON with ``\\u2013`` escapes. Details that are
    not a JSON object are shown as they are."""
    try:
        data = json.loads(details)
    except ValueError:
        return details
    if not isinstance(data, dict):
        return details
    parts = []
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, list):
            text = ", ".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                             for v in value)
        elif isinstance(value, dict):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        parts.append(f"{key.replace('_', ' ')}: {text}")
    return " · ".join(parts)


@dataclass(frozen=True)
class AuditQuery:
    text: str = ""
    action: str | None = None
    outcome: str | None = None
    portal_hub_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None
    offset: int = 0


# The outcomes an entry can have, for filters.
OUTCOMES: tuple[str, ...] = tuple(str(o) for o in Outcome)

CSV_COLUMNS = ("id", "timestamp", "action", "portal", "outcome", "details", "entry_hash",
               "trail_head")

_FIELDS = "id, timestamp, action, portal_hub_id, outcome, details"


class ChainFault(enum.StrEnum):
    EDITED = "edited"
    INSERTED = "inserted"
    DELETED = "deleted"
    STATE = "state"          # the chain's own state row is missing or was edited


@dataclass(frozen=True)
class ChainProblem:
    entry_id: int | None
    fault: ChainFault
    message: str             # one line, names the entry


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the audit chain."""

    entries: int
    head_hash: str
    anchor_id: int = 0       # the last entry removed by retention or the cap (0: none)
    pruned: int = 0
    problem: ChainProblem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return f"audit trail broken: {self.problem.message}"
        return f"audit trail intact: {self.entries} entries, head {self.head_hash[:12]}"

    def as_dict(self) -> dict[str, Any]:
        problem = self.problem
        return {"intact": self.intact, "entries": self.entries, "head": self.head_hash,
                "anchor_id": self.anchor_id, "pruned": self.pruned,
                "problem": None if problem is None else {
                    "entry_id": problem.entry_id, "fault": str(problem.fault),
                    "message": problem.message}}


@dataclass(frozen=True)
class ChainHead:
    """The newest link of the chain: what an export pins."""

    hash: str
    entry_id: int            # 0 when the trail is empty


class AuditLog:
    def __init__(self, store: Store, settings: Settings,
                 registry: SecretRegistry | None = None) -> None:
        self.store = store
        self.settings = settings
        self.registry = registry

    @property
    def enabled(self) -> bool:
        return self.settings.feature_enabled("audit_logging")

    def record(self, action: AuditAction | str, *, portal_hub_id: int | None = None,
               outcome: Outcome | str = Outcome.SUCCESS,
               details: str | dict[str, Any] = "") -> AuditEntry | None:
        """Record one operation. Details pass the redaction filter first: an
        audit entry must never carry a token, even inside the encrypted store."""
        if not self.enabled:
            return None
        if self.store.read_only:
            # A store opened read-only (a read-only folder, a damaged file) can
            # be browsed and exported from, but its trail cannot grow; the log says so.
            log.info("not recorded in the read-only store's audit log: %s", action)
            return None
        text = details if isinstance(details, str) else json.dumps(details, sort_keys=True,
                                                                   default=str)
        text = redact(text, self.registry)
        with self.store.writing():
            # The insert comes first so this transaction holds SQLite's write lock
            # before it reads the head: two writers (threads or processes) can
            # never link to the same previous entry.
            row = AuditEvent.create(action=str(action), portal_hub_id=portal_hub_id,
                                    outcome=str(outcome), details=text)
            state, sealed = self._state()
            stored = self.store.db.execute_sql(
                f"SELECT {_FIELDS} FROM audit_event WHERE id = ?", (row.id,)).fetchone()
            entry_hash = audit_entry_hash(*stored, state.head_hash)
            AuditEvent.update(prev_hash=state.head_hash, entry_hash=entry_hash).where(
                AuditEvent.id == row.id).execute()
            row.prev_hash, row.entry_hash = state.head_hash, entry_hash
            state.head_hash, state.head_id = entry_hash, row.id
            self._enforce_cap(state)
            self._save_state(state, sealed)
        return _entry(row)

    @staticmethod
    def _state() -> tuple[AuditChainState, bool]:
        """The chain state row and whether its seal held when read. A missing row
        is recreated from genesis; the walk then shows where the chain broke."""
        state = AuditChainState.get_or_none(AuditChainState.id == 1)
        if state is None:
            state = AuditChainState(id=1)
            state.seal = state.sealed()
            state.save(force_insert=True)
        return state, state.seal == state.sealed()

    @staticmethod
    def _save_state(state: AuditChainState, sealed: bool) -> None:
        # A seal that was already broken stays broken: resealing would erase
        # the evidence of whoever edited the row.
        if sealed:
            state.seal = state.sealed()
        state.save()

    @staticmethod
    def _prune_through(state: AuditChainState, last_id: int, last_hash: str | None) -> int:
        """Delete every entry up to ``last_id`` and anchor the chain at its hash."""
        removed = AuditEvent.delete().where(AuditEvent.id <= last_id).execute()
        state.anchor_hash, state.anchor_id = last_hash or "", last_id
        state.pruned += removed
        return removed

    def _enforce_cap(self, state: AuditChainState) -> int:
        cap = int(self.settings.get("limits.audit_entries"))
        newest_beyond = (AuditEvent.select(AuditEvent.id, AuditEvent.entry_hash)
                         .order_by(AuditEvent.id.desc()).limit(1).offset(cap).first())
        if newest_beyond is None:
            return 0
        return self._prune_through(state, newest_beyond.id, newest_beyond.entry_hash)

    def purge_older_than(self, cutoff: dt.datetime) -> int:
        """Delete entries older than ``cutoff`` from the old end of the trail.

        Only the oldest end is ever cut, so the chain stays whole: an entry
        older than the cutoff that follows a younger one (the clock was set
        back) stays until the entries before it are old enough too.
        """
        with self.store.writing():
            first_kept = (AuditEvent.select(pw.fn.MIN(AuditEvent.id))
                          .where(AuditEvent.timestamp >= cutoff).scalar())
            gone = AuditEvent.select(AuditEvent.id, AuditEvent.entry_hash)
            if first_kept is not None:
                gone = gone.where(AuditEvent.id < first_kept)
            last_gone = gone.order_by(AuditEvent.id.desc()).first()
            if last_gone is None:
                return 0
            state, sealed = self._state()
            removed = self._prune_through(state, last_gone.id, last_gone.entry_hash)
            self._save_state(state, sealed)
            return removed

    def head(self) -> ChainHead:
        state = AuditChainState.get_or_none(AuditChainState.id == 1)
        return (ChainHead(GENESIS_HASH, 0) if state is None
                else ChainHead(state.head_hash, state.head_id))

    def verify(self) -> ChainReport:
        """Walk the chain from its anchor to its head; report the first break.

        Reads the whole trail (at most the cap, 10,000 entries by default):
        call it off the GUI thread.
        """
        with self.store.db.atomic():     # one snapshot: the state row and the rows agree
            state = AuditChainState.get_or_none(AuditChainState.id == 1)
            rows = self.store.db.execute_sql(
                f"SELECT {_FIELDS}, prev_hash, entry_hash FROM audit_event ORDER BY id"
            ).fetchall()
        if state is None:
            return ChainReport(len(rows), GENESIS_HASH, problem=ChainProblem(
                None, ChainFault.STATE, "the chain's state row is missing (deleted outside "
                                        "the app)"))

        def broken(entry_id: int | None, fault: ChainFault, message: str) -> ChainReport:
            return ChainReport(len(rows), state.head_hash, state.anchor_id, state.pruned,
                               ChainProblem(entry_id, fault, message))

        expected, before_previous, previous_id = state.anchor_hash, None, None
        for *fields, prev_hash, entry_hash in rows:
            entry_id = fields[0]
            if previous_id is not None and expected == state.head_hash:
                # The state row moves with every entry the log writes, in the same
                # transaction: nothing legitimate comes after the head.
                return broken(entry_id, ChainFault.INSERTED, f"entry {entry_id} was inserted "
                              f"outside the audit log (after the head, entry {state.head_id})")
            if not entry_hash or not prev_hash:
                return broken(entry_id, ChainFault.INSERTED, f"entry {entry_id} was inserted "
                              "outside the audit log (it has no hash)")
            if audit_entry_hash(*fields, prev_hash) != entry_hash:
                return broken(entry_id, ChainFault.EDITED, f"entry {entry_id} was edited (its "
                              "content no longer matches its hash)")
            if prev_hash != expected:
                if previous_id is not None and prev_hash == before_previous:
                    return broken(previous_id, ChainFault.INSERTED, f"entry {previous_id} was "
                                  f"inserted (entry {entry_id} links to the entry before it)")
                if previous_id is None:
                    return broken(entry_id, ChainFault.DELETED, f"entry {entry_id}: the "
                                  "entries before it were deleted (it does not link to the "
                                  f"retention anchor, entry {state.anchor_id})")
                return broken(entry_id, ChainFault.DELETED, f"entry {entry_id} does not link "
                              f"to entry {previous_id}: an entry between them was deleted (or "
                              f"entry {previous_id} was replaced)")
            before_previous, expected, previous_id = expected, entry_hash, entry_id
        if expected != state.head_hash:
            last = f"entry {previous_id}" if previous_id is not None else "the anchor"
            return broken(state.head_id, ChainFault.DELETED, f"entry {state.head_id} was "
                          f"deleted (the newest entries after {last} are missing)")
        if state.seal != state.sealed():
            return broken(None, ChainFault.STATE, "the chain's state row was edited (its seal "
                                                  "no longer matches)")
        return ChainReport(len(rows), state.head_hash, state.anchor_id, state.pruned)

    def count(self, query: AuditQuery | None = None) -> int:
        return self._select(query or AuditQuery()).count()

    def entries(self, query: AuditQuery | None = None) -> list[AuditEntry]:
        query = query or AuditQuery()
        select = self._select(query).order_by(AuditEvent.id.desc())
        if query.limit is not None:
            select = select.limit(query.limit).offset(query.offset)
        return [_entry(row) for row in select]

    def actions(self) -> list[str]:
        return [row.action for row in
                AuditEvent.select(AuditEvent.action).distinct().order_by(AuditEvent.action)]

    def browse(self, query: AuditQuery | None = None) -> AuditBrowse:
        """The page's one read: entries, recorded actions and portal names."""
        with self.store.db.atomic():
            names = {row.hub_id: row.name for row in Portal.select(Portal.hub_id, Portal.name)
                     if row.name}
            entries = self.entries(query)
            actions = self.actions()
        # Worded here, off the GUI thread: up to 10,000 JSON documents.
        return AuditBrowse(entries, actions, names,
                           [readable_details(entry.details) for entry in entries])

    def _select(self, query: AuditQuery) -> pw.ModelSelect:
        select = AuditEvent.select()
        if query.action:
            select = select.where(AuditEvent.action == query.action)
        if query.outcome:
            select = select.where(AuditEvent.outcome == query.outcome)
        if query.portal_hub_id is not None:
            select = select.where(AuditEvent.portal_hub_id == query.portal_hub_id)
        if query.since is not None:
            select = select.where(AuditEvent.timestamp >= query.since)
        if query.until is not None:
            select = select.where(AuditEvent.timestamp < query.until)
        if query.text:
            # contains() escapes LIKE wildcards: searching "50%" means the text "50%".
            select = select.where(AuditEvent.details.contains(query.text)
                                  | AuditEvent.action.contains(query.text))
        return select

    def export_csv(self, path: Path, query: AuditQuery | None = None) -> int:
        """Write the matching entries (newest first) as CSV; the export is audited.

        Two columns pin the chain. ``entry_hash`` is each row's own link;
        ``trail_head`` is the hash of the newest entry of the whole trail when the
        rows were read (a filter does not change it), the same on every row. They
        are columns rather than a comment or trailer row because plain CSV has no
        comments: an extra row would be read as an entry by a spreadsheet and by
        ``csv.DictReader`` alike. A verifier checks that ``trail_head`` (and any
        ``entry_hash``) still occurs in the trail; the export's own audit entry
        links to it (its ``prev_hash`` is that head). An export without rows pins
        nothing.
        """
        with self.store.db.atomic():     # the rows and the head from one snapshot
            rows = self.entries(query)
            head = self.head()
        write_private_atomic(path, to_csv(rows, head).encode("utf-8"))
        self.record(AuditAction.EXPORT, details={"what": "audit log", "rows": len(rows),
                                                 "file": str(path)})
        return len(rows)


def to_csv(rows: Iterable[AuditEntry], head: ChainHead | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.id, row.timestamp.isoformat(), row.action,
                         "" if row.portal_hub_id is None else row.portal_hub_id, row.outcome,
                         _csv_safe(row.details), row.entry_hash or "",
                         "" if head is None else head.hash])
    return buffer.getvalue()


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ (or tab / CR) is run as a formula by spreadsheet apps.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _entry(row: AuditEvent) -> AuditEntry:
    return AuditEntry(row.id, row.timestamp, row.action, row.portal_hub_id, row.outcome,
                      row.details, row.entry_hash)
