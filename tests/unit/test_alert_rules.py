"""Alert rules with synthetic samples: every rule fires, deduplicates,
resolves, and respects mutes, the cooldown and "failures only"; then the
service's bookkeeping (store, audit, notifications, acknowledge, sync events)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.channels import RecordingChannel
from wg_desktop.services.alerts import (Action, AlertNotFound, AlertService, AlertState,
                                        Condition, MuteScope, Policy, Rule, Severity, decide,
                                        decide_event, evaluate)
from wg_desktop.services.audit import AuditAction, AuditQuery
from wg_desktop.services.health import HealthFigures, HealthSample, HealthStatus, HealthThresholds
from wg_desktop.services.notifiers import Dispatcher, NoticeKind
from wg_desktop.services.sync import ChangeKind, SyncChange
from wg_desktop.store.models import Portal, Workflow, WorkflowVersion

T = HealthThresholds()
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)
MIN = dt.timedelta(minutes=1)


def sample(portal="1", **figures) -> HealthSample:
    return HealthSample(portal, NOW, HealthStatus.HEALTHY, (), HealthFigures(**figures))


HEALTHY = dict(check_ok=True, calls=50, failed_calls=0, avg_response_ms=200,
               client_remaining=500)

RULE_CASES = [
    # (figures that trigger, rule, severity, figures just inside the threshold)
    (dict(check_ok=False, consecutive_failures=4), Rule.CONNECTION_FAILURES, Severity.CRITICAL,
     dict(check_ok=False, consecutive_failures=3)),
    (dict(check_ok=True, breaker_state="open"), Rule.CONNECTION_FAILURES, Severity.CRITICAL,
     dict(check_ok=True, breaker_state="half_open")),
    (dict(check_ok=True, calls=100, failed_calls=6), Rule.ERROR_RATE, Severity.WARNING,
     dict(check_ok=True, calls=100, failed_calls=5)),
    (dict(check_ok=True, client_remaining=99), Rule.RATE_LIMIT_LOW, Severity.INFO,
     dict(check_ok=True, client_remaining=100)),
    (dict(check_ok=True, client_remaining=500, hubspot_remaining=10), Rule.RATE_LIMIT_LOW,
     Severity.INFO, dict(check_ok=True, client_remaining=500, hubspot_remaining=100)),
    (dict(check_ok=True, calls=3, avg_response_ms=5_500), Rule.SLOW_RESPONSE, Severity.WARNING,
     dict(check_ok=True, calls=3, avg_response_ms=5_000)),
    (dict(paused=True, pause_reason="revoked"), Rule.RECONNECT_NEEDED, Severity.CRITICAL,
     dict(paused=False, check_ok=True)),
    (dict(check_ok=True, last_refresh_ok=False), Rule.TOKEN_REFRESH_FAILED, Severity.CRITICAL,
     dict(check_ok=True, last_refresh_ok=True)),
]


@pytest.mark.parametrize("firing, rule, severity, quiet", RULE_CASES)
def test_each_rule_fires_above_its_threshold_only(firing, rule, severity, quiet):
    found = {c.rule: c for c in evaluate(sample(**firing), T)}
    assert rule in found and found[rule].severity is severity and found[rule].portal_key == "1"
    assert rule not in {c.rule for c in evaluate(sample(**quiet), T)}


def test_a_healthy_sample_raises_nothing():
    assert evaluate(sample(**HEALTHY), T) == []


def _open(cond: Condition, *, notified=NOW - 2 * MIN, ack=None, resolved=None, id=1):
    return AlertState(id, cond.key, str(cond.rule), str(cond.severity), cond.portal_key,
                      cond.title, cond.message, NOW - 10 * MIN, NOW - 5 * MIN, 2, notified,
                      resolved, ack)


COND = evaluate(sample(check_ok=True, calls=10, failed_calls=5), T)[0]     # error rate, warning
INFO = evaluate(sample(check_ok=True, client_remaining=1), T)[0]           # rate limit, info
P = Policy(cooldown=dt.timedelta(minutes=30))


@pytest.mark.parametrize("name, conds, open_, resolved, policy, expected", [
    ("fires", [COND], [], [], P, [(Action.RAISE, True)]),
    ("dedup within the cooldown", [COND], [_open(COND)], [], P, [(Action.REPEAT, False)]),
    ("repeat after the cooldown", [COND], [_open(COND, notified=NOW - 31 * MIN)], [], P,
     [(Action.REPEAT, True)]),
    ("acknowledged: no repeats", [COND], [_open(COND, notified=NOW - 99 * MIN, ack=NOW)], [],
     P, [(Action.REPEAT, False)]),
    ("resolves when the condition clears", [], [_open(COND)], [], P, [(Action.RESOLVE, True)]),
    ("a never-notified alert resolves quietly", [], [_open(COND, notified=None)], [], P,
     [(Action.RESOLVE, False)]),
    ("flapping: reopened within the cooldown, not re-sent", [COND], [],
     [_open(COND, resolved=NOW - MIN)], P, [(Action.REOPEN, False)]),
    ("back after the cooldown: a new alert", [COND], [],
     [_open(COND, notified=NOW - 40 * MIN, resolved=NOW - 35 * MIN)], P,
     [(Action.RAISE, True)]),
    ("rule muted", [COND], [], [], Policy(muted_rules=frozenset({"error_rate"})),
     [(Action.RAISE, False)]),
    ("portal muted", [COND], [], [], Policy(muted_portals=frozenset({"1"})),
     [(Action.RAISE, False)]),
    ("other portal muted", [COND], [], [], Policy(muted_portals=frozenset({"2"})),
     [(Action.RAISE, True)]),
    ("failures only: info not sent", [INFO], [], [], Policy(failures_only=True),
     [(Action.RAISE, False)]),
    ("failures only: warning sent", [COND], [], [], Policy(failures_only=True),
     [(Action.RAISE, True)]),
    ("failures only: no resolved notice", [], [_open(COND)], [], Policy(failures_only=True),
     [(Action.RESOLVE, False)]),
])
def test_decide(name, conds, open_, resolved, policy, expected):
    decisions = decide(conds, open_, resolved, NOW, policy)
    assert [(d.action, d.notify) for d in decisions] == expected, name


def test_event_dedup():
    cond = Condition(Rule.WORKFLOW_DELETED, Severity.WARNING, "1", "t", "m", subject="f1")
    assert decide_event(cond, None, NOW, P).action is Action.RAISE
    assert (decide_event(cond, _open(cond), NOW, P).action, decide_event(
        cond, _open(cond), NOW, P).notify) == (Action.REPEAT, False)
    assert cond.key == "workflow_deleted:1:f1"


# -- the service ------------------------------------------------------------------------

@pytest.fixture
def service(ctx):
    clock = {"now": NOW}
    channel = RecordingChannel()
    svc = AlertService(ctx.store, ctx.settings, ctx.audit,
                       dispatcher=Dispatcher([channel], ctx.store),
                       cooldown=dt.timedelta(minutes=30), now=lambda: clock["now"])
    svc.clock, svc.channel = clock, channel
    return svc


def _advance(svc, minutes):
    svc.clock["now"] += dt.timedelta(minutes=minutes)


def test_service_raises_counts_resolves_and_audits(ctx, service):
    failing = sample(check_ok=False, consecutive_failures=4)
    service.on_sample(failing)
    _advance(service, 5)
    service.on_sample(failing)
    [alert] = service.alerts(open_only=True)
    assert (alert.rule, alert.severity, alert.count) == ("connection_failures", "critical", 2)
    assert alert.first_seen == NOW and alert.last_seen == NOW + 5 * MIN
    assert [n.kind for n in service.channel.sent] == [NoticeKind.RAISED]   # dedup
    _advance(service, 5)
    service.on_sample(sample(**HEALTHY))
    assert service.alerts(open_only=True) == []
    resolved = service.get(alert.id)
    assert resolved.resolved_at == NOW + 10 * MIN
    assert [n.kind for n in service.channel.sent] == [NoticeKind.RAISED, NoticeKind.RESOLVED]
    events = [e.details for e in ctx.audit.entries(AuditQuery(action=AuditAction.ALERT))]
    assert any('"raised"' in d for d in events) and any('"resolved"' in d for d in events)
    # deliveries are logged
    from wg_desktop.services.notifiers import delivery_log
    assert [e.event for e in delivery_log()] == ["resolved", "raised"]


def test_service_mutes_and_failures_only_are_persisted(ctx, service):
    service.mute(MuteScope.PORTAL, "1")
    service.on_sample(sample(check_ok=False, consecutive_failures=9))
    assert service.alerts(open_only=True) and service.channel.sent == []   # recorded, quiet
    service.unmute(MuteScope.PORTAL, "1")
    service.mute(MuteScope.RULE, "rate_limit_low")
    assert service.mutes() == [(MuteScope.RULE, "rate_limit_low")]
    with pytest.raises(ValueError):
        service.mute(MuteScope.RULE, "no_such_rule")
    service.on_sample(sample("2", check_ok=True, client_remaining=3))
    assert service.channel.sent == []
    service.unmute(MuteScope.RULE, "rate_limit_low")
    service.set_failures_only(True)
    assert service.failures_only()
    service.on_sample(sample("3", check_ok=True, client_remaining=3))
    assert service.channel.sent == []
    service.on_sample(sample("3", check_ok=True, calls=10, failed_calls=9, client_remaining=3))
    assert [n.rule for n in service.channel.sent] == ["error_rate"]


def test_acknowledge_stops_repeats_and_closes_events(ctx, service):
    service.on_sample(sample(paused=True))
    [alert] = service.alerts()
    service.acknowledge(alert.id)
    _advance(service, 60)                     # past the cooldown
    service.on_sample(sample(paused=True))
    assert len(service.channel.sent) == 1 and service.get(alert.id).count == 2
    with pytest.raises(AlertNotFound):
        service.acknowledge(999)


def test_workflow_changes_from_a_sync_become_alerts(ctx, service):
    portal = Portal.create(hub_id=5, name="P")
    off = Workflow.create(portal=portal, flow_id="f-off", name="Nurture", is_enabled=False)
    WorkflowVersion.create(workflow=off, content_hash="h", body=b"", summary="Turned off")
    edited = Workflow.create(portal=portal, flow_id="f-ed", name="Onboard", is_enabled=True)
    WorkflowVersion.create(workflow=edited, content_hash="h2", body=b"",
                           summary="1 action changed")
    changes = [SyncChange(ChangeKind.DELETED, "f-del", "Old"),
               SyncChange(ChangeKind.CHANGED, "f-off", "Nurture"),
               SyncChange(ChangeKind.CHANGED, "f-ed", "Onboard"),
               SyncChange(ChangeKind.CREATED, "f-new", "New")]
    service.on_sync_changes(5, changes)
    by_rule = {a.rule: a for a in service.alerts()}
    assert set(by_rule) == {"workflow_deleted", "workflow_turned_off", "workflow_edited"}
    assert by_rule["workflow_turned_off"].severity == "warning"
    assert "1 action changed" in by_rule["workflow_edited"].message
    service.on_sync_changes(5, changes[:1])                 # the same event again: counted
    assert service.get(by_rule["workflow_deleted"].id).count == 2
    assert len(service.channel.sent) == 3
    service.acknowledge(by_rule["workflow_deleted"].id)     # an event closes on acknowledge
    assert service.get(by_rule["workflow_deleted"].id).resolved_at is not None


def test_a_failing_dispatcher_does_not_lose_the_alert(ctx):
    class Boom:
        def send(self, n, channels=None):
            raise RuntimeError("boom")
    svc = AlertService(ctx.store, ctx.settings, ctx.audit, dispatcher=Boom(), now=lambda: NOW)
    svc.on_sample(sample(paused=True))
    assert svc.alerts(open_only=True)[0].notified_at == NOW


@pytest.mark.parametrize("minutes, repeated_after_20", [(15, True), (60, False)])
def test_the_cooldown_comes_from_the_setting(ctx, minutes, repeated_after_20):
    clock = {"now": NOW}
    channel = RecordingChannel()
    ctx.settings.updated({"alerts.cooldown_minutes": minutes})
    svc = AlertService(ctx.store, ctx.settings, ctx.audit,
                       dispatcher=Dispatcher([channel], ctx.store), now=lambda: clock["now"])
    assert svc.cooldown == dt.timedelta(minutes=minutes)
    failing = sample(check_ok=False, consecutive_failures=4)
    svc.on_sample(failing)
    clock["now"] += 20 * MIN
    svc.on_sample(failing)
    kinds = [n.kind for n in channel.sent]
    expected = [NoticeKind.RAISED] + ([NoticeKind.REPEATED] if repeated_after_20 else [])
    assert kinds == expected


def test_the_cooldown_setting_applies_without_a_restart(ctx):
    svc = AlertService(ctx.store, ctx.settings, ctx.audit)
    assert svc.cooldown == dt.timedelta(minutes=60)          # the default: today's hour
    ctx.settings.updated({"alerts.cooldown_minutes": 5})
    assert svc.policy().cooldown == dt.timedelta(minutes=5)
    from wg_desktop.config import SettingError
    with pytest.raises(SettingError, match="at least 1"):
        ctx.settings.updated({"alerts.cooldown_minutes": 0})
