"""Alerts: rules over health samples and events, with a life cycle.

Two pure steps, tested table-driven without a database:

- :func:`evaluate` turns one health sample and the ``alerts.*`` thresholds
  into the conditions that hold right now;
- :func:`decide` compares those conditions with the portal's open alerts and
  says what happens to each: raise, repeat (deduplicated: the count grows,
  a notification goes out again only after the cooldown), reopen (the same
  condition came back within the cooldown of its last notification: no new
  notification, so a flapping connection does not flood anyone), or resolve.

Events (workflow changes found by a sync, a failed backup) have no condition
that could clear; they stay open until acknowledged, and repeats of the same
event within the cooldown are counted, not re-sent.

Mutes (a rule or a portal) and the "failures only" mode only decide who is
notified: every alert is still recorded and audited, so reports stay whole.
"Failures only" sends critical and warning alerts and no info or resolved
notices.

:class:`AlertService` applies the decisions to the store, writes the audit
entries for raised, reopened and resolved alerts, and hands notifications
to the dispatcher.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from wg_desktop.config import Settings
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.notifiers import (DeliveryResult, Dispatcher, Notification,
                                           NoticeKind)
from wg_desktop.store.db import Store
from wg_desktop.store.health_models import AlertMute, AlertRecord
from wg_desktop.store.models import AppState, Outcome, Portal, Workflow, utcnow
from wg_desktop.store.versions import latest_version

if TYPE_CHECKING:
    # Types only: the health checks (and the HubSpot client under them) load
    # when a sample is judged, not when the Overview counts open alerts.
    from wg_desktop.services.health import HealthSample, HealthThresholds

log = logging.getLogger(__name__)

# ``alerts.cooldown_minutes``' default: an hour between repeats of one alert
# keeps a five-minute check from sending twelve mails an hour about one outage.
DEFAULT_COOLDOWN = dt.timedelta(hours=1)
FAILURES_ONLY_KEY = "alerts_failures_only"      # AppState: the user's choice, not a setting


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Rule(enum.StrEnum):
    CONNECTION_FAILURES = "connection_failures"
    ERROR_RATE = "error_rate"
    RATE_LIMIT_LOW = "rate_limit_low"
    SLOW_RESPONSE = "slow_response"
    RECONNECT_NEEDED = "reconnect_needed"
    TOKEN_REFRESH_FAILED = "token_refresh_failed"
    WORKFLOW_DELETED = "workflow_deleted"
    WORKFLOW_TURNED_OFF = "workflow_turned_off"
    WORKFLOW_EDITED = "workflow_edited"
    BACKUP_FAILED = "backup_failed"
    WEEKLY_REPORT_FAILED = "weekly_report_failed"


SAMPLE_RULES = frozenset({Rule.CONNECTION_FAILURES, Rule.ERROR_RATE, Rule.RATE_LIMIT_LOW,
                          Rule.SLOW_RESPONSE, Rule.RECONNECT_NEEDED,
                          Rule.TOKEN_REFRESH_FAILED})


class MuteScope(enum.StrEnum):
    RULE = "rule"
    PORTAL = "portal"


@dataclass(frozen=True)
class Condition:
    rule: Rule
    severity: Severity
    portal_key: str | None
    title: str
    message: str
    subject: str = ""                    # what an event is about (a flow id), for dedup
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return ":".join(p for p in (str(self.rule), self.portal_key or "", self.subject) if p)


def evaluate(sample: "HealthSample", t: "HealthThresholds") -> list[Condition]:
    """The conditions one sample shows (pure)."""
    f = sample.figures
    portal = sample.portal_key
    found: list[Condition] = []
    if f.paused:
        found.append(Condition(Rule.RECONNECT_NEEDED, Severity.CRITICAL, portal,
                               f"Portal {portal} needs a reconnect",
                               f.pause_reason or "HubSpot no longer accepts the portal's token; "
                               "reconnect it. Health checks and syncs are paused."))
    if f.consecutive_failures > t.failures_critical or f.breaker_state == "open":
        why = (f"{f.consecutive_failures} connection tests failed in a row"
               if f.consecutive_failures > t.failures_critical
               else "the circuit breaker is open after repeated failures")
        found.append(Condition(Rule.CONNECTION_FAILURES, Severity.CRITICAL, portal,
                               f"Portal {portal}: connection failing", why,
                               details={"consecutive_failures": f.consecutive_failures,
                                        "breaker": f.breaker_state}))
    rate = f.error_rate
    if rate is not None and rate > t.error_rate_warning:
        found.append(Condition(Rule.ERROR_RATE, Severity.WARNING, portal,
                               f"Portal {portal}: {rate:.0%} of API calls failed",
                               f"{f.failed_calls} of {f.calls} calls failed since the last "
                               f"check (alert above {t.error_rate_warning:.0%}).",
                               details={"error_rate": rate, "calls": f.calls}))
    remaining = f.rate_remaining
    if remaining is not None and remaining < t.rate_remaining_info:
        found.append(Condition(Rule.RATE_LIMIT_LOW, Severity.INFO, portal,
                               f"Portal {portal}: rate limit nearly used up",
                               f"{remaining} requests left in the tightest window (note "
                               f"below {t.rate_remaining_info}).",
                               details={"remaining": remaining}))
    avg = f.avg_response_ms
    if avg is not None and avg > t.response_warning_ms:
        found.append(Condition(Rule.SLOW_RESPONSE, Severity.WARNING, portal,
                               f"Portal {portal}: slow responses",
                               f"Average response {avg / 1000:.1f} s since the last check "
                               f"(target below {t.response_warning_ms / 1000:g} s).",
                               details={"avg_response_ms": avg}))
    if f.last_refresh_ok is False:
        found.append(Condition(Rule.TOKEN_REFRESH_FAILED, Severity.CRITICAL, portal,
                               f"Portal {portal}: token refresh failed",
                               "The last token refresh failed; the app retries, and asks for a "
                               "reconnect if HubSpot refuses the refresh token."))
    return found


@dataclass(frozen=True)
class AlertState:
    id: int
    key: str
    rule: str
    severity: str
    portal_key: str | None
    title: str
    message: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    count: int = 1
    notified_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    event: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def to_dict(self) -> dict[str, Any]:
        def iso(v: dt.datetime | None) -> str | None:
            return v.isoformat() if v else None
        return {"id": self.id, "rule": self.rule, "severity": self.severity,
                "portal": self.portal_key, "title": self.title, "message": self.message,
                "first_seen": iso(self.first_seen), "last_seen": iso(self.last_seen),
                "count": self.count, "notified_at": iso(self.notified_at),
                "resolved_at": iso(self.resolved_at),
                "acknowledged_at": iso(self.acknowledged_at), "event": self.event,
                "details": dict(self.details)}


@dataclass(frozen=True)
class Policy:
    cooldown: dt.timedelta = DEFAULT_COOLDOWN
    failures_only: bool = False
    muted_rules: frozenset[str] = frozenset()
    muted_portals: frozenset[str] = frozenset()

    def may_notify(self, rule: str, severity: str, portal_key: str | None,
                   kind: NoticeKind) -> bool:
        if rule in self.muted_rules or (portal_key is not None
                                        and portal_key in self.muted_portals):
            return False
        if self.failures_only and (kind is NoticeKind.RESOLVED or severity == Severity.INFO):
            return False
        return True


class Action(enum.StrEnum):
    RAISE = "raise"
    REOPEN = "reopen"
    REPEAT = "repeat"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Decision:
    action: Action
    key: str
    notify: bool
    condition: Condition | None = None      # None for RESOLVE
    alert: AlertState | None = None         # None for RAISE


def _within_cooldown(when: dt.datetime | None, now: dt.datetime, policy: Policy) -> bool:
    return when is not None and now - when < policy.cooldown


def _decide_one(cond: Condition, current: AlertState | None, previous: AlertState | None,
                now: dt.datetime, policy: Policy) -> Decision:
    if current is not None:
        renotify = (current.acknowledged_at is None
                    and not _within_cooldown(current.notified_at, now, policy)
                    and policy.may_notify(cond.rule, cond.severity, cond.portal_key,
                                          NoticeKind.REPEATED))
        return Decision(Action.REPEAT, cond.key, renotify, cond, current)
    if previous is not None and _within_cooldown(previous.notified_at, now, policy):
        return Decision(Action.REOPEN, cond.key, False, cond, previous)
    return Decision(Action.RAISE, cond.key,
                    policy.may_notify(cond.rule, cond.severity, cond.portal_key,
                                      NoticeKind.RAISED), cond)


def decide(conditions: Sequence[Condition], open_alerts: Iterable[AlertState],
           recently_resolved: Iterable[AlertState], now: dt.datetime,
           policy: Policy) -> list[Decision]:
    """What the conditions of one sample do to the portal's open sample alerts
    (pure). ``recently_resolved``: the newest resolved alert per key."""
    current = {a.key: a for a in open_alerts}
    previous = {a.key: a for a in recently_resolved}
    decisions = [_decide_one(c, current.get(c.key), previous.get(c.key), now, policy)
                 for c in conditions]
    holding = {c.key for c in conditions}
    for key, alert in current.items():
        if key not in holding:
            notify = alert.notified_at is not None and policy.may_notify(
                alert.rule, alert.severity, alert.portal_key, NoticeKind.RESOLVED)
            decisions.append(Decision(Action.RESOLVE, key, notify, alert=alert))
    return decisions


def decide_event(cond: Condition, current: AlertState | None, now: dt.datetime,
                 policy: Policy) -> Decision:
    """An event: counted into its open alert, or raised (pure)."""
    return _decide_one(cond, current, None, now, policy)


def notification_for(alert: AlertState, kind: NoticeKind) -> Notification:
    return Notification(kind, alert.rule, alert.severity, alert.title, alert.message,
                        alert.portal_key, alert.id, alert.first_seen, alert.last_seen,
                        alert.count, alert.resolved_at, dict(alert.details))


# -- the service --------------------------------------------------------------------

def _state(row: AlertRecord) -> AlertState:
    try:
        details = json.loads(row.details or "{}")
    except ValueError:
        details = {}
    return AlertState(row.id, row.key, row.rule, row.severity, row.portal_key, row.title,
                      row.message, row.first_seen, row.last_seen, row.count, row.notified_at,
                      row.resolved_at, row.acknowledged_at, row.event, details)


class AlertNotFound(LookupError):
    pass


_OUTCOME = {Severity.CRITICAL: Outcome.FAILURE, Severity.WARNING: Outcome.WARNING,
            Severity.INFO: Outcome.INFO}


class AlertService:
    """``cooldown`` overrides ``alerts.cooldown_minutes`` (tests); None reads
    the setting at every decision, so a change applies without a restart."""

    def __init__(self, store: Store, settings: Settings, audit: AuditLog, *,
                 dispatcher: Dispatcher | None = None, cooldown: dt.timedelta | None = None,
                 now: Any = utcnow) -> None:
        self.store = store
        self.settings = settings
        self.audit = audit
        self.dispatcher = dispatcher
        self._cooldown = cooldown
        self.now = now

    @property
    def cooldown(self) -> dt.timedelta:
        if self._cooldown is not None:
            return self._cooldown
        return dt.timedelta(minutes=int(self.settings.get("alerts.cooldown_minutes")))

    # -- wiring ------------------------------------------------------------------------

    def subscribe(self, monitor: Any = None, sync: Any = None, backups: Any = None) -> None:
        """Listen to a HealthMonitor's samples, a SyncService's changes and a
        BackupService's outcomes."""
        if monitor is not None:
            monitor.on_sample(self.on_sample)
        if sync is not None:
            sync.on_changes(self.on_sync_changes)
        if backups is not None:
            backups.on_outcome(self.on_backup_outcome)

    # -- preferences -------------------------------------------------------------------

    def policy(self) -> Policy:
        mutes = list(AlertMute.select())
        return Policy(self.cooldown, self.failures_only(),
                      frozenset(m.value for m in mutes if m.scope == MuteScope.RULE),
                      frozenset(m.value for m in mutes if m.scope == MuteScope.PORTAL))

    def failures_only(self) -> bool:
        row = AppState.get_or_none(AppState.key == FAILURES_ONLY_KEY)
        return row is not None and row.value == "1"

    def set_failures_only(self, on: bool) -> None:
        with self.store.writing():
            AppState.replace(key=FAILURES_ONLY_KEY, value="1" if on else "0").execute()

    def mute(self, scope: MuteScope | str, value: str) -> None:
        scope = MuteScope(scope)
        if scope is MuteScope.RULE:
            value = str(Rule(value))          # a typo must not mute nothing silently
        with self.store.writing():
            AlertMute.insert(scope=str(scope), value=value).on_conflict_ignore().execute()

    def unmute(self, scope: MuteScope | str, value: str) -> None:
        with self.store.writing():
            AlertMute.delete().where((AlertMute.scope == str(MuteScope(scope)))
                                     & (AlertMute.value == value)).execute()

    def mutes(self) -> list[tuple[MuteScope, str]]:
        return [(MuteScope(m.scope), m.value)
                for m in AlertMute.select().order_by(AlertMute.scope, AlertMute.value)]

    # -- reading -----------------------------------------------------------------------

    def alerts(self, *, open_only: bool = False, portal_key: str | None = None,
               since: dt.datetime | None = None, limit: int | None = 200) -> list[AlertState]:
        """Newest first."""
        query = AlertRecord.select().order_by(AlertRecord.last_seen.desc(),
                                              AlertRecord.id.desc())
        if open_only:
            query = query.where(AlertRecord.resolved_at.is_null())
        if portal_key is not None:
            query = query.where(AlertRecord.portal_key == portal_key)
        if since is not None:
            query = query.where(AlertRecord.last_seen >= since)
        if limit is not None:
            query = query.limit(limit)
        return [_state(r) for r in query]

    def get(self, alert_id: int) -> AlertState:
        row = AlertRecord.get_or_none(AlertRecord.id == alert_id)
        if row is None:
            raise AlertNotFound(f"There is no alert {alert_id}.")
        return _state(row)

    # -- acting ------------------------------------------------------------------------

    def acknowledge(self, alert_id: int) -> AlertState:
        """Stops repeats of an open alert; an event alert is closed by it."""
        now = self.now()
        with self.store.writing():
            row = AlertRecord.get_or_none(AlertRecord.id == alert_id)
            if row is None:
                raise AlertNotFound(f"There is no alert {alert_id}.")
            if row.acknowledged_at is None:
                row.acknowledged_at = now
                if row.event and row.resolved_at is None:
                    row.resolved_at = now
                row.save()
        state = _state(row)
        self.audit.record(AuditAction.ALERT, portal_hub_id=_hub_id(state.portal_key),
                          outcome=Outcome.INFO,
                          details={"alert": state.id, "rule": state.rule,
                                   "event": "acknowledged"})
        return state

    def on_sample(self, sample: "HealthSample") -> list[Decision]:
        """Apply one health sample: raise, repeat, reopen and resolve its alerts."""
        now = self.now()
        from wg_desktop.services.health import HealthThresholds

        conditions = evaluate(sample, HealthThresholds.from_settings(self.settings))
        rules = [str(r) for r in SAMPLE_RULES]
        base = ((AlertRecord.portal_key == sample.portal_key) & (AlertRecord.event == False)  # noqa: E712
                & AlertRecord.rule.in_(rules))
        open_alerts = [_state(r) for r in AlertRecord.select().where(
            base & AlertRecord.resolved_at.is_null())]
        resolved: dict[str, AlertState] = {}
        for r in (AlertRecord.select().where(base & AlertRecord.resolved_at.is_null(False))
                  .order_by(AlertRecord.resolved_at.desc())):
            resolved.setdefault(r.key, _state(r))
        decisions = decide(conditions, open_alerts, resolved.values(), now, self.policy())
        self._apply(decisions, now, event=False)
        return decisions

    def raise_event(self, condition: Condition) -> Decision:
        """A one-off event (workflow change, failed backup): raised or counted."""
        now = self.now()
        row = AlertRecord.get_or_none((AlertRecord.key == condition.key)
                                      & AlertRecord.resolved_at.is_null())
        decision = decide_event(condition, _state(row) if row else None, now, self.policy())
        self._apply([decision], now, event=True)
        return decision

    def on_sync_changes(self, hub_id: int, changes: Sequence[Any]) -> list[Decision]:
        """SyncService.on_changes listener: deleted, turned off or edited workflows."""
        decisions = []
        for change in changes:
            condition = workflow_change_condition(hub_id, change)
            if condition is not None:
                decisions.append(self.raise_event(condition))
        return decisions

    def on_backup_outcome(self, outcome: Any) -> list[Decision]:
        """BackupService.on_outcome listener: a failed backup raises (or counts
        into) the "backup failed" alert; the next backup that works resolves
        it, with a "resolved" notice to whoever heard of the failure."""
        if not outcome.ok:
            return [self.raise_event(backup_failed_condition(outcome.message,
                                                             str(outcome.trigger)))]
        now = self.now()
        open_alerts = [_state(r) for r in AlertRecord.select().where(
            (AlertRecord.rule == str(Rule.BACKUP_FAILED)) & AlertRecord.resolved_at.is_null())]
        if not open_alerts:
            return []
        decisions = decide([], open_alerts, [], now, self.policy())
        self._apply(decisions, now, event=True)
        return decisions

    def send_test(self, channels: Iterable[Any] | None = None) -> list[DeliveryResult]:
        from wg_desktop.services.notifiers import probe_notification
        if self.dispatcher is None:
            return []
        return self.dispatcher.send(probe_notification(), channels)

    def _apply(self, decisions: Sequence[Decision], now: dt.datetime, *, event: bool) -> None:
        to_send: list[tuple[AlertState, NoticeKind]] = []
        audits: list[tuple[AlertState, str]] = []
        with self.store.writing():
            for d in decisions:
                if d.action is Action.RAISE:
                    c = d.condition
                    row = AlertRecord.create(
                        key=d.key, rule=str(c.rule), severity=str(c.severity),
                        portal_key=c.portal_key, title=c.title, message=c.message,
                        details=json.dumps(dict(c.details), default=str), first_seen=now,
                        last_seen=now, count=1, notified_at=now if d.notify else None,
                        event=event)
                    audits.append((_state(row), "raised"))
                    if d.notify:
                        to_send.append((_state(row), NoticeKind.RAISED))
                    continue
                row = AlertRecord.get_by_id(d.alert.id)
                if d.action is Action.RESOLVE:
                    row.resolved_at = now
                    audits.append((_state(row), "resolved"))
                    kind = NoticeKind.RESOLVED
                else:
                    c = d.condition
                    row.last_seen = now
                    row.count += 1
                    row.message = c.message          # the latest figures
                    row.details = json.dumps(dict(c.details), default=str)
                    if d.action is Action.REOPEN:
                        row.resolved_at = None
                        row.acknowledged_at = None
                        audits.append((_state(row), "reopened"))
                    kind = NoticeKind.REPEATED
                if d.notify:
                    row.notified_at = now
                row.save()
                if d.notify:
                    to_send.append((_state(row), kind))
        for alert, what in audits:
            self.audit.record(AuditAction.ALERT, portal_hub_id=_hub_id(alert.portal_key),
                              outcome=(Outcome.SUCCESS if what == "resolved"
                                       else _OUTCOME.get(Severity(alert.severity), Outcome.INFO)),
                              details={"alert": alert.id, "rule": alert.rule, "event": what,
                                       "severity": alert.severity, "title": alert.title})
        if self.dispatcher is not None:
            for alert, kind in to_send:
                try:
                    self.dispatcher.send(notification_for(alert, kind))
                except Exception:   # notifying must never undo the alert's record
                    log.exception("sending alert %s failed", alert.id)


def backup_failed_condition(message: str, trigger: str) -> Condition:
    """A backup that could not be made or verified: nothing was counted as a
    backup, the earlier ones are untouched, and the history is at risk until
    one works again."""
    return Condition(Rule.BACKUP_FAILED, Severity.CRITICAL, None, "Backup failed",
                     f"The {trigger} backup failed: {message}. Earlier backups are intact; "
                     "the next one is tried on schedule (or use Back up now).",
                     details={"trigger": trigger, "error": message})


def workflow_change_condition(hub_id: int, change: Any) -> Condition | None:
    """The alert a sync change stands for: deleted and turned off warn, edits
    inform; new workflows are not alerts."""
    kind = str(change.kind)
    portal = str(hub_id)
    name = change.name or change.flow_id
    if kind == "deleted":
        return Condition(Rule.WORKFLOW_DELETED, Severity.WARNING, portal,
                         f"Workflow '{name}' deleted",
                         f"The workflow '{name}' ({change.flow_id}) was deleted in portal "
                         f"{portal}; its history is kept and it can be restored.",
                         subject=change.flow_id, details={"flow_id": change.flow_id})
    if kind != "changed":
        return None
    workflow = (Workflow.select().join(Portal)
                .where((Portal.hub_id == hub_id) & (Workflow.flow_id == change.flow_id)).first())
    version = latest_version(workflow) if workflow is not None else None
    summary = version.summary if version is not None else ""
    details = {"flow_id": change.flow_id, "summary": summary}
    if workflow is not None and not workflow.is_enabled and "turned off" in summary.lower():
        return Condition(Rule.WORKFLOW_TURNED_OFF, Severity.WARNING, portal,
                         f"Workflow '{name}' turned off",
                         f"The workflow '{name}' ({change.flow_id}) in portal {portal} was "
                         f"turned off. Changes: {summary}",
                         subject=change.flow_id, details=details)
    return Condition(Rule.WORKFLOW_EDITED, Severity.INFO, portal, f"Workflow '{name}' edited",
                     f"The workflow '{name}' ({change.flow_id}) in portal {portal} changed"
                     + (f": {summary}" if summary else "."),
                     subject=change.flow_id, details=details)


def report_failed_condition(message: str) -> Condition:
    """The weekly report could not be mailed: heard on the other channels."""
    return Condition(Rule.WEEKLY_REPORT_FAILED, Severity.WARNING, None,
                     "Weekly health report not sent", message)


def _hub_id(portal_key: str | None) -> int | None:
    return int(portal_key) if portal_key and portal_key.isdigit() else None


@dataclass
class HealthServices:
    """The health monitor, the alert service listening to it (and to the
    sync's changes) and the dispatcher with the channels the settings turn on."""

    monitor: Any
    alerts: AlertService
    dispatcher: Dispatcher


def build_health_services(settings: Settings, store: Store, audit: AuditLog, hubspot: Any, *,
                          desktop: Any = None) -> HealthServices:
    """Wire health checks, alerts and channels over ``hubspot`` (HubSpotServices).
    ``desktop`` is the UI's notification callback (None on the command line)."""
    from wg_desktop.services.health import HealthMonitor

    monitor = HealthMonitor(store, settings, hubspot.connection, hubspot.clients)
    alerts = build_alert_service(settings, store, audit, desktop=desktop)
    alerts.subscribe(monitor, hubspot.sync)
    return HealthServices(monitor, alerts, alerts.dispatcher)


def build_alert_service(settings: Settings, store: Store, audit: AuditLog, *,
                        desktop: Any = None) -> AlertService:
    """Alerts over the channels the settings name (no HubSpot needed): what a
    command that can fail on its own, such as 'backup now', raises through."""
    from wg_desktop.services.notifiers import channels_from_settings

    dispatcher = Dispatcher(channels_from_settings(settings, desktop=desktop), store)
    return AlertService(store, settings, audit, dispatcher=dispatcher)
