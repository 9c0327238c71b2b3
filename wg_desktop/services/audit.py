"""The one audit logger: every operation the admin (or a background job) does
is recorded here — what, when, which portal, outcome, details.

It enforces the per-user cap (oldest entries go first) and the retention
period; both numbers come from the settings.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import peewee as pw

from wg_desktop.config import Settings
from wg_desktop.paths import write_private_atomic
from wg_desktop.security.redaction import SecretRegistry, redact
from wg_desktop.store.db import Store
from wg_desktop.store.models import AuditEvent, Outcome


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


CSV_COLUMNS = ("id", "timestamp", "action", "portal", "outcome", "details")


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
        text = details if isinstance(details, str) else json.dumps(details, sort_keys=True,
                                                                   default=str)
        text = redact(text, self.registry)
        with self.store.writing():
            row = AuditEvent.create(action=str(action), portal_hub_id=portal_hub_id,
                                    outcome=str(outcome), details=text)
            self._enforce_cap()
        return _entry(row)

    def _enforce_cap(self) -> int:
        cap = int(self.settings.get("limits.audit_entries"))
        newest_beyond = (AuditEvent.select(AuditEvent.id).order_by(AuditEvent.id.desc())
                         .limit(1).offset(cap))
        return AuditEvent.delete().where(AuditEvent.id <= newest_beyond).execute()

    def purge_older_than(self, cutoff: dt.datetime) -> int:
        with self.store.writing():
            return AuditEvent.delete().where(AuditEvent.timestamp < cutoff).execute()

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
        """Write the matching entries (newest first) as CSV; the export is audited."""
        rows = self.entries(query)
        write_private_atomic(path, to_csv(rows).encode("utf-8"))
        self.record(AuditAction.EXPORT, details={"what": "audit log", "rows": len(rows),
                                                 "file": str(path)})
        return len(rows)


def to_csv(rows: Iterable[AuditEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.id, row.timestamp.isoformat(), row.action,
                         "" if row.portal_hub_id is None else row.portal_hub_id, row.outcome,
                         _csv_safe(row.details)])
    return buffer.getvalue()


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ (or tab / CR) is run as a formula by spreadsheet apps.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _entry(row: AuditEvent) -> AuditEntry:
    return AuditEntry(row.id, row.timestamp, row.action, row.portal_hub_id, row.outcome,
                      row.details)
