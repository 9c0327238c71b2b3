"""peewee models of the local store.

All models bind to ``database_proxy``: :func:`wg_desktop.store.db.open_store`
makes the live store its process-wide default, and ``bound_to(db)`` (or
``Store.bound()``, which ``Store.session()`` and ``Store.writing()`` use)
points the same models at another open store for the current thread only — a
worker reads an opened backup while every other thread keeps the live store.
Timestamps are stored as fixed-width UTC ISO-8601 text so they sort and
compare correctly in SQL and read back as aware datetimes.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import peewee as pw


class ThreadBoundProxy(pw.DatabaseProxy):
    """A ``DatabaseProxy`` whose target can be overridden per thread.

    ``initialize(db)`` sets the process default (the live store); inside
    ``with proxy.bound(other):`` the calling thread's queries go to ``other``
    and every other thread still sees the default. Bindings nest and are
    undone on exit, exceptions included. peewee reads ``obj`` on every query,
    so overriding it is enough: models, their metadata and their SQL are
    shared, only the connection they run on differs.
    """

    __slots__ = ("_default", "_local")
    _SETTABLE = frozenset({"obj", "_callbacks", "_Model", "_default", "_local"})

    def __init__(self) -> None:
        object.__setattr__(self, "_local", threading.local())
        object.__setattr__(self, "_default", None)
        super().__init__()

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr not in self._SETTABLE:
            raise AttributeError("Cannot set attribute on proxy.")
        object.__setattr__(self, attr, value)

    @property        # type: ignore[override]  # a slot in Proxy, a property here
    def obj(self) -> pw.Database | None:
        stack = getattr(self._local, "stack", None)
        return stack[-1] if stack else self._default

    @obj.setter
    def obj(self, value: pw.Database | None) -> None:
        object.__setattr__(self, "_default", value)

    @property
    def default(self) -> pw.Database | None:
        """The process-wide target, whatever this thread is bound to."""
        return self._default

    @contextmanager
    def bound(self, db: pw.Database) -> Iterator[pw.Database]:
        """Send this thread's queries to ``db`` for the block."""
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        stack.append(db)
        try:
            yield db
        finally:
            stack.pop()


database_proxy = ThreadBoundProxy()


def bound_to(db: pw.Database) -> Any:
    """``with bound_to(db):`` — the models use ``db`` in this thread for the block."""
    return database_proxy.bound(db)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UtcDateTimeField(pw.TextField):
    """Aware datetime <-> '2026-11-28T12:00:00.000000+00:00' (always UTC)."""

    field_type = "TEXT"

    def db_value(self, value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):  # already serialised (e.g. a bound parameter)
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware datetime")
        return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")

    def python_value(self, value: str | None) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromisoformat(value)


class PortalStatus(enum.StrEnum):
    CONNECTED = "connected"
    RECONNECT_NEEDED = "reconnect_needed"
    DISCONNECTED = "disconnected"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    WARNING = "warning"
    INFO = "info"


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = pw.IntegerField(primary_key=True)
    applied_at = UtcDateTimeField(default=utcnow)


# Portal.auth_kind of an imported file's pseudo portal (a negative hub id):
# read-only, never synced, no connection.
IMPORTED_AUTH_KIND = "import"


class Portal(BaseModel):
    hub_id = pw.BigIntegerField(unique=True)
    name = pw.TextField(default="")
    domain = pw.TextField(default="")
    account_type = pw.TextField(default="")
    user_email = pw.TextField(default="")
    time_zone = pw.TextField(default="")
    auth_kind = pw.TextField(default="oauth")          # oauth | private_app | import
    status = pw.TextField(default=PortalStatus.CONNECTED)
    scopes = pw.TextField(default="")                   # space separated, as granted
    is_demo = pw.BooleanField(default=False)
    connected_at = UtcDateTimeField(default=utcnow)
    last_refresh_at = UtcDateTimeField(null=True)
    token_expires_at = UtcDateTimeField(null=True)


class Workflow(BaseModel):
    portal = pw.ForeignKeyField(Portal, backref="workflows", on_delete="CASCADE")
    flow_id = pw.TextField()
    name = pw.TextField(default="")
    object_type_id = pw.TextField(default="")
    flow_type = pw.TextField(default="")
    is_enabled = pw.BooleanField(default=False)
    revision_id = pw.TextField(default="")
    remote_updated_at = pw.TextField(default="")       # HubSpot's own updatedAt, verbatim
    first_seen_at = UtcDateTimeField(default=utcnow)
    last_synced_at = UtcDateTimeField(null=True)
    deleted_at = UtcDateTimeField(null=True)
    source = pw.TextField(default="sync")               # sync | imported

    class Meta:
        indexes = ((("portal", "flow_id"), True),)


class WorkflowVersion(BaseModel):
    workflow = pw.ForeignKeyField(Workflow, backref="versions", on_delete="CASCADE")
    captured_at = UtcDateTimeField(default=utcnow, index=True)
    revision_id = pw.TextField(default="")
    remote_updated_at = pw.TextField(default="")
    origin = pw.TextField(default="sync")               # sync | restore | import
    content_hash = pw.TextField(index=True)
    raw_size = pw.IntegerField(default=0)
    body = pw.BlobField()                               # compressed normalized JSON
    summary = pw.TextField(default="")
    # -- added by migration 3: delta encoding against a keyframe version
    encoding = pw.TextField(default="zstd")             # zstd | zstd-delta
    base_id = pw.IntegerField(null=True, index=True)    # the keyframe of a delta


GENESIS_HASH = "0" * 64          # what the first entry of a new trail links to
_CHAIN_FORMAT = "wg-audit-chain-1"   # names the serialisation below; change it, change this


def audit_entry_hash(entry_id: int, timestamp: str, action: str, portal_hub_id: int | None,
                     outcome: str, details: str, prev_hash: str) -> str:
    """SHA-256 (hex) of one audit entry: a JSON array of the format name and
    every stored field, the timestamp in its stored text form and the previous
    entry's hash included, so an entry cannot be edited, moved or re-linked
    without its hash changing. Shared by the audit log and migration 4."""
    canonical = json.dumps([_CHAIN_FORMAT, entry_id, timestamp, action, portal_hub_id, outcome,
                            details, prev_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def audit_chain_seal(anchor_hash: str, anchor_id: int, pruned: int, head_hash: str,
                     head_id: int) -> str:
    """SHA-256 over the chain state row, so that row cannot be edited alone either."""
    canonical = json.dumps([_CHAIN_FORMAT, "state", anchor_hash, anchor_id, pruned, head_hash,
                            head_id], separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AuditEvent(BaseModel):
    timestamp = UtcDateTimeField(default=utcnow, index=True)
    action = pw.TextField(index=True)
    portal_hub_id = pw.BigIntegerField(null=True, index=True)
    outcome = pw.TextField(default=Outcome.SUCCESS)
    details = pw.TextField(default="")
    # -- added by migration 4: the hash chain (see services/audit.py)
    prev_hash = pw.TextField(null=True)
    entry_hash = pw.TextField(null=True)


class AuditChainState(BaseModel):
    """The one row (id 1) that anchors the audit hash chain.

    ``anchor_hash`` is what the oldest kept entry links to: the genesis hash,
    or the hash of the last entry removed by retention or the cap
    (``anchor_id``; ``pruned`` counts all removed). ``head_hash``/``head_id``
    name the newest entry, so deleting the newest entries shows too. ``seal``
    hashes the row itself. Added by migration 4.
    """

    anchor_hash = pw.TextField(default=GENESIS_HASH)
    anchor_id = pw.IntegerField(default=0)
    pruned = pw.IntegerField(default=0)
    head_hash = pw.TextField(default=GENESIS_HASH)
    head_id = pw.IntegerField(default=0)
    seal = pw.TextField(default="")

    def sealed(self) -> str:
        return audit_chain_seal(self.anchor_hash, self.anchor_id, self.pruned, self.head_hash,
                                self.head_id)

    def as_row(self) -> dict[str, Any]:
        return {"anchor_hash": self.anchor_hash, "anchor_id": self.anchor_id,
                "pruned": self.pruned, "head_hash": self.head_hash, "head_id": self.head_id}


class ApiCall(BaseModel):
    timestamp = UtcDateTimeField(default=utcnow, index=True)
    portal_key = pw.TextField(index=True)
    method = pw.TextField()
    endpoint = pw.TextField()
    status = pw.IntegerField(null=True)
    latency_ms = pw.FloatField(default=0)
    bytes = pw.IntegerField(default=0)
    error_category = pw.TextField(null=True)
    retries = pw.IntegerField(default=0)
    waited_ms = pw.FloatField(default=0)


class HealthSample(BaseModel):
    timestamp = UtcDateTimeField(default=utcnow, index=True)
    portal_key = pw.TextField(index=True)
    status = pw.TextField()                             # healthy | degraded | unhealthy
    avg_response_ms = pw.FloatField(null=True)
    error_rate = pw.FloatField(null=True)
    rate_limit_remaining = pw.IntegerField(null=True)
    details = pw.TextField(default="{}")


class Alert(BaseModel):
    timestamp = UtcDateTimeField(default=utcnow, index=True)
    portal_key = pw.TextField(null=True)
    severity = pw.TextField()                           # critical | warning | info
    kind = pw.TextField()
    message = pw.TextField()
    acknowledged = pw.BooleanField(default=False)


class Backup(BaseModel):
    created_at = UtcDateTimeField(default=utcnow, index=True)
    path = pw.TextField()
    size = pw.IntegerField(default=0)
    sha256 = pw.TextField(default="")
    verified = pw.BooleanField(default=False)
    outcome = pw.TextField(default=Outcome.SUCCESS)
    message = pw.TextField(default="")


class AppState(BaseModel):
    """Small key/value state the app keeps between runs (not user settings,
    which live in the settings file)."""

    key = pw.TextField(primary_key=True)
    value = pw.TextField()


# -- added by migration 2 ---------------------------------------------------

class JobRunRecord(BaseModel):
    job_name = pw.TextField(index=True)
    started_at = UtcDateTimeField(index=True)
    ended_at = UtcDateTimeField(null=True)
    outcome = pw.TextField()
    message = pw.TextField(default="")


class RateLimitUsage(BaseModel):
    """One row per admitted request: the hourly and daily windows of the client
    budget survive a restart."""

    portal_key = pw.TextField()
    ts = pw.DoubleField()

    class Meta:
        indexes = ((("portal_key", "ts"), False),)


CORE_MODELS = (SchemaVersion, Portal, Workflow, WorkflowVersion, AuditEvent, ApiCall,
               HealthSample, Alert, Backup, AppState)
MIGRATION_2_MODELS = (JobRunRecord, RateLimitUsage)
MIGRATION_4_MODELS = (AuditChainState,)
ALL_MODELS = CORE_MODELS + MIGRATION_2_MODELS + MIGRATION_4_MODELS
