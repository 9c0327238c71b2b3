"""Daily retention: every table's policy with a fixed clock; latest versions survive."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from wg_desktop.config import Settings
from wg_desktop.services.audit import AuditLog, AuditQuery
from wg_desktop.services.retention import RetentionPolicy, RetentionService
from wg_desktop.store.versions import purge_versions_older_than as purge_versions
from wg_desktop.store.db import open_store
from wg_desktop.store.models import (Alert, ApiCall, AppState, AuditEvent, HealthSample,
                                     JobRunRecord, Portal, RateLimitUsage, Workflow,
                                     WorkflowVersion)

NOW = dt.datetime(2026, 6, 1, 3, 0, tzinfo=dt.timezone.utc)


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def store(data_dir):
    store = open_store(data_dir / "t.db", os.urandom(32))
    yield store
    store.close()


@pytest.fixture
def make_service(store):
    def _make(environ: dict[str, str] | None = None) -> RetentionService:
        settings = Settings.load(None, environ or {})
        return RetentionService(store, settings, AuditLog(store, settings))
    return _make


@pytest.fixture
def service(make_service) -> RetentionService:
    return make_service()


def _workflow(flow_id: str, portal: Portal | None = None) -> Workflow:
    portal = portal or Portal.get_or_create(hub_id=1, defaults={"name": "P"})[0]
    return Workflow.create(portal=portal, flow_id=flow_id)


def _version(workflow: Workflow, days_old: float, label: str = "") -> WorkflowVersion:
    return WorkflowVersion.create(workflow=workflow, captured_at=ago(days_old),
                                  content_hash=label or f"{workflow.flow_id}-{days_old}",
                                  body=b"{}", summary=label)


def _remaining_versions() -> set[str]:
    return {v.content_hash for v in WorkflowVersion.select()}


# -- per-table policies --------------------------------------------------------------------

# (model, factory(days_old) -> row, policy name, default period in days)
TIMESTAMPED = [
    (HealthSample, lambda t: HealthSample.create(timestamp=t, portal_key="p", status="healthy"),
     "health samples", 30),
    (ApiCall, lambda t: ApiCall.create(timestamp=t, portal_key="p", method="GET",
                                       endpoint="/x"), "API call metrics", 30),
    (Alert, lambda t: Alert.create(timestamp=t, severity="info", kind="k", message="m"),
     "alerts", 30),
    (JobRunRecord, lambda t: JobRunRecord.create(job_name="sync", started_at=t,
                                                 outcome="success"), "job runs", 30),
    (AuditEvent, lambda t: AuditEvent.create(timestamp=t, action="sync"), "audit log", 730),
]


@pytest.mark.parametrize("model,factory,policy,days", TIMESTAMPED,
                         ids=[row[2] for row in TIMESTAMPED])
def test_table_policy_with_fixed_now(service, model, factory, policy, days):
    old = factory(ago(days + 1)).id
    older = factory(ago(days * 3)).id
    boundary = factory(ago(days)).id       # exactly at the cutoff: kept
    recent = factory(ago(days - 1)).id
    fresh = factory(NOW).id

    removed = service.run(NOW)

    assert removed[policy] == 2
    remaining = {r.id for r in model.select()}
    assert {old, older}.isdisjoint(remaining)
    assert {boundary, recent, fresh} <= remaining


@pytest.mark.parametrize("env_var,model,factory,policy", [
    ("WG_RETENTION_HEALTH_DAYS", HealthSample, TIMESTAMPED[0][1], "health samples"),
    ("WG_RETENTION_HEALTH_DAYS", Alert, TIMESTAMPED[2][1], "alerts"),
    ("WG_RETENTION_AUDIT_DAYS", AuditEvent, TIMESTAMPED[4][1], "audit log"),
])
def test_periods_come_from_settings(make_service, env_var, model, factory, policy):
    service = make_service({env_var: "5"})
    gone = factory(ago(6)).id
    kept = factory(ago(4)).id
    removed = service.run(NOW)
    assert removed[policy] == 1
    ids = {r.id for r in model.select()}
    assert gone not in ids and kept in ids


def test_rate_limit_counters_keep_two_days(service):
    RateLimitUsage.create(portal_key="p", ts=ago(3).timestamp())
    RateLimitUsage.create(portal_key="p", ts=ago(2.5).timestamp())
    kept = RateLimitUsage.create(portal_key="p", ts=ago(1).timestamp()).id
    removed = service.run(NOW)
    assert removed["rate-limit counters"] == 2
    assert [r.id for r in RateLimitUsage.select()] == [kept]


def test_every_policy_reports_a_count(service):
    removed = service.run(NOW)
    assert set(removed) == {"audit log", "workflow versions", "health samples",
                            "API call metrics", "alerts", "job runs", "rate-limit counters",
                            "health check samples", "alert history", "notification deliveries"}
    assert all(n == 0 for n in removed.values())


# -- workflow versions ---------------------------------------------------------------------

def test_old_versions_go_but_the_latest_of_each_workflow_stays(service):
    a = _workflow("A")
    _version(a, 800, "A-800")
    _version(a, 500, "A-500")
    _version(a, 400, "A-400-latest")          # latest, older than 365 days: kept
    b = _workflow("B")
    _version(b, 400, "B-400")
    _version(b, 366, "B-366")
    _version(b, 364, "B-364")                  # inside the period: kept
    _version(b, 10, "B-10-latest")
    c = _workflow("C")
    _version(c, 3000, "C-only")                # a lone ancient version is the latest
    _workflow("D")                             # no versions at all

    removed = service.run(NOW)

    assert removed["workflow versions"] == 4
    assert _remaining_versions() == {"A-400-latest", "B-364", "B-10-latest", "C-only"}


def test_latest_versions_survive_any_number_of_runs(service):
    workflow = _workflow("A")
    _version(workflow, 900, "old")
    _version(workflow, 700, "latest")
    for day in range(3):
        service.run(NOW + dt.timedelta(days=day * 400))
    assert _remaining_versions() == {"latest"}


def test_latest_means_newest_captured_even_when_an_older_one_was_inserted_later(service):
    """An import (origin="import") can add a version captured before the newest one
    already stored; the newest *captured* version is the one that must survive."""
    workflow = _workflow("A")
    _version(workflow, 400, "newest-captured")
    WorkflowVersion.create(workflow=workflow, captured_at=ago(500), content_hash="imported-old",
                           body=b"{}", origin="import")
    service.run(NOW)
    assert _remaining_versions() == {"newest-captured"}


def test_versions_period_from_settings(make_service):
    workflow = _workflow("A")
    _version(workflow, 40, "40")
    _version(workflow, 20, "20")
    _version(workflow, 1, "latest")
    make_service({"WG_RETENTION_VERSIONS_DAYS": "30"}).run(NOW)
    assert _remaining_versions() == {"20", "latest"}


def test_purge_versions_directly_with_several_portals(store):
    p1 = Portal.create(hub_id=1)
    p2 = Portal.create(hub_id=2)
    w1 = _workflow("same-flow-id", p1)
    w2 = _workflow("same-flow-id", p2)
    _version(w1, 500, "p1-old")
    _version(w1, 450, "p1-latest")
    _version(w2, 480, "p2-latest")
    with store.writing():
        assert purge_versions(ago(365)) == 1
    assert _remaining_versions() == {"p1-latest", "p2-latest"}


# -- auditing of the run -------------------------------------------------------------------

def test_the_run_is_audited_with_counts(service):
    HealthSample.create(timestamp=ago(40), portal_key="p", status="healthy")
    removed = service.run(NOW)
    entry = service.audit.entries(AuditQuery(limit=1))[0]
    assert entry.action == "retention"
    assert entry.outcome == "success"
    assert json.loads(entry.details) == {"removed": removed}
    assert removed["health samples"] == 1
    assert "1 health samples" in service.summary(removed)


def test_the_audit_entry_of_the_run_itself_survives(service):
    service.run(NOW)
    service.run(NOW)
    assert [e.action for e in service.audit.entries()] == ["retention", "retention"]


def test_a_failing_policy_is_audited_and_reraised(service):
    HealthSample.create(timestamp=ago(40), portal_key="p", status="healthy")
    AppState.create(key="k", value="v")

    def exploding(cutoff: dt.datetime) -> int:
        AppState.delete().execute()           # half-done work must be rolled back
        raise RuntimeError("disk on fire")

    service.register(RetentionPolicy("exploding", None, exploding, fixed_days=1))

    with pytest.raises(RuntimeError, match="disk on fire"):
        service.run(NOW)

    entry = service.audit.entries(AuditQuery(limit=1))[0]
    assert entry.action == "retention"
    assert entry.outcome == "failure"
    details = json.loads(entry.details)
    assert "disk on fire" in details["error"]
    assert details["removed"]["health samples"] == 1   # earlier policies completed
    assert "exploding" not in details["removed"]
    assert [s.value for s in AppState.select()] == ["v"]
    assert HealthSample.select().count() == 0


def test_a_failing_first_policy_removes_nothing_else(make_service):
    service = make_service()
    HealthSample.create(timestamp=ago(40), portal_key="p", status="healthy")

    def boom(cutoff: dt.datetime) -> int:
        raise ValueError("first policy broke")

    service.policies.insert(0, RetentionPolicy("boom", None, boom, fixed_days=1))
    with pytest.raises(ValueError):
        service.run(NOW)
    assert HealthSample.select().count() == 1
    failure = service.audit.entries(AuditQuery(outcome="failure"))
    assert len(failure) == 1 and json.loads(failure[0].details)["removed"] == {}


def test_registered_policy_gets_its_cutoff(service):
    seen: list[dt.datetime] = []
    service.register(RetentionPolicy("custom", "retention.backups_days",
                                     lambda cutoff: seen.append(cutoff) or 0))
    service.register(RetentionPolicy("fixed", None, lambda cutoff: seen.append(cutoff) or 0,
                                     fixed_days=7))
    removed = service.run(NOW)
    assert seen == [ago(30), ago(7)]
    assert removed["custom"] == 0 and removed["fixed"] == 0


def test_summary_text(service):
    assert service.summary({"a": 0, "b": 0}) == "Removed 0 old rows"
    assert service.summary({"alerts": 2, "job runs": 0, "audit log": 3}) == \
        "Removed 5 old rows (2 alerts, 3 audit log)"
