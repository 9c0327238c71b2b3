"""The Overview's data: a tile per portal with its own counts, the latest changes
across portals, open alerts counted per portal, next runs soonest first."""

from __future__ import annotations

import datetime as dt
import time

from wg_desktop.services.alerts import AlertService, Condition, Rule, Severity
from wg_desktop.services.backups import BackupService
from wg_desktop.services.changes import ChangeFeed, FeedKind, FeedRecord, record_changes
from wg_desktop.services.overview import (OverviewSources, ScheduledRun, build_overview,
                                          stored_portals)
from wg_desktop.store.models import Portal, PortalStatus, RateLimitUsage, utcnow

NOW = utcnow()


def sources(ctx, backups=False) -> OverviewSources:
    return OverviewSources(ctx.settings, ChangeFeed(ctx.store),
                           AlertService(ctx.store, ctx.settings, ctx.audit),
                           BackupService.from_context(ctx) if backups else None, stored_portals)


def edited(flow: str) -> FeedRecord:
    return FeedRecord(FeedKind.EDITED, flow, f"Flow {flow}")


def test_tiles_count_each_portals_changes_alerts_and_budget(ctx):
    with ctx.store.writing():
        Portal.create(hub_id=101, name="Acme")
        Portal.create(hub_id=202, name="Beta", status=PortalStatus.RECONNECT_NEEDED)
        record_changes(101, [edited("a"), edited("b")], at=NOW - dt.timedelta(hours=3))
        record_changes(101, [edited("c")], at=NOW - dt.timedelta(minutes=5))
        record_changes(202, [edited("z")], at=NOW - dt.timedelta(minutes=1))
        # The budget window is measured from the real clock when the test runs (NOW
        # is fixed at import, minutes earlier in a full run).
        RateLimitUsage.create(portal_key="101", ts=time.time() - 10)
    feed = ChangeFeed(ctx.store)
    feed.mark_looked([101], NOW - dt.timedelta(hours=1))     # saw a and b, not c
    alerts = AlertService(ctx.store, ctx.settings, ctx.audit)
    alerts.raise_event(Condition(Rule.WORKFLOW_DELETED, Severity.WARNING, "202",
                                 "A workflow was deleted", "Flow z was deleted", subject="z"))
    alerts.raise_event(Condition(Rule.BACKUP_FAILED, Severity.WARNING, None,
                                 "Backup failed", "disk full"))

    overview = build_overview(sources(ctx), [])

    acme, beta = overview.tiles
    assert (acme.name, acme.state, acme.changes_since_looked, acme.open_alerts) == \
        ("Acme", "connected", 1, 0)
    assert acme.budget.used_minute == 1
    assert (beta.name, beta.state, beta.changes_since_looked, beta.open_alerts) == \
        ("Beta", "reconnect_needed", 1, 1)          # never looked: everything is new
    assert beta.last_looked is None and beta.budget.used_minute == 0
    assert overview.open_alerts == 2                 # the app-wide backup alert counts too
    assert [c.flow_id for c in overview.latest_changes] == ["z", "c", "b", "a"]   # newest first
    assert overview.latest_changes[0].portal_name == "Beta"
    assert overview.last_backup is None and overview.next_backup is None


def test_latest_changes_are_capped_and_next_runs_sorted(ctx):
    with ctx.store.writing():
        Portal.create(hub_id=101, name="Acme")
        record_changes(101, [edited(str(i)) for i in range(20)])
    later = NOW + dt.timedelta(hours=5)
    soon = NOW + dt.timedelta(minutes=10)
    runs = [ScheduledRun("backup", "Automatic backup", later),
            ScheduledRun("sync", "Workflow sync (all portals)", soon, running=True)]

    overview = build_overview(sources(ctx), runs, latest=5)

    assert len(overview.latest_changes) == 5
    assert [r.name for r in overview.next_runs] == ["sync", "backup"]
    assert overview.next_backup == runs[0]


def test_an_empty_store_gives_an_empty_overview(ctx):
    overview = build_overview(sources(ctx, backups=True), [])
    assert overview.tiles == () and overview.latest_changes == ()
    assert overview.open_alerts == 0 and overview.last_backup is None
