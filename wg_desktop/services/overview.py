"""What the Overview page shows, gathered in one pass off the GUI thread: a tile
per portal, the latest changes across portals, the last backup and what the
scheduler runs next. Pure assembly over the other services; no Qt."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from wg_desktop.config import Settings
from wg_desktop.services.backups import BackupInfo, BackupService
from wg_desktop.services.changes import ChangeEntry, ChangeFeed
from wg_desktop.services.status import BudgetUse, app_status, budget_use
from wg_desktop.store.models import IMPORTED_AUTH_KIND, Portal

if TYPE_CHECKING:      # its module loads the notifiers (httpx, smtplib): see lazy_alerts
    from wg_desktop.services.alerts import AlertService

LATEST_CHANGES = 8
# Counting changes since the last look stops here: "200+" says enough.
CHANGES_COUNT_CAP = 200
BACKUP_JOB = "backup"       # the scheduler's name for the automatic backup


@dataclass(frozen=True)
class ScheduledRun:
    """One job as the scheduler plans it."""

    name: str
    description: str
    due: dt.datetime
    running: bool = False


@dataclass(frozen=True)
class PortalTile:
    hub_id: int
    name: str
    state: str                      # PortalStatus, or IMPORTED_AUTH_KIND for an imported source
    last_sync: dt.datetime | None
    last_looked: dt.datetime | None
    changes_since_looked: int       # capped at CHANGES_COUNT_CAP
    budget: BudgetUse
    open_alerts: int


@dataclass(frozen=True)
class Overview:
    tiles: tuple[PortalTile, ...]
    latest_changes: tuple[ChangeEntry, ...]
    next_runs: tuple[ScheduledRun, ...]       # soonest first
    next_backup: ScheduledRun | None          # None: automatic backups are off
    last_backup: BackupInfo | None
    open_alerts: int                          # over all portals and app-wide alerts


@dataclass(frozen=True)
class OverviewSources:
    settings: Settings
    feed: ChangeFeed
    alerts: AlertService
    backups: BackupService | None
    portals: Callable[[], list[Portal]]


def stored_portals() -> list[Portal]:
    """Every portal in the store, by name: the tiles' source when the app runs
    without HubSpot services (imported data only)."""
    return list(Portal.select().order_by(Portal.name))


def _tile(sources: OverviewSources, portal: Portal, open_by_portal: dict[str, int]) -> PortalTile:
    hub_id = int(portal.hub_id)
    looked = sources.feed.last_looked(hub_id)
    # Never looked: every change recorded so far is new to the user.
    changes = sources.feed.entries(hub_id, since=looked, limit=CHANGES_COUNT_CAP)
    if looked is not None:
        # ``since`` is inclusive; a change stamped at the very moment of the look was seen.
        changes = [c for c in changes if c.at > looked]
    state = IMPORTED_AUTH_KIND if portal.auth_kind == IMPORTED_AUTH_KIND else str(portal.status)
    return PortalTile(hub_id=hub_id, name=portal.name or str(hub_id), state=state,
                      last_sync=app_status(sources.settings, hub_id).last_sync,
                      last_looked=looked, changes_since_looked=len(changes),
                      budget=budget_use(sources.settings, str(hub_id)),
                      open_alerts=open_by_portal.get(str(hub_id), 0))


def build_overview(sources: OverviewSources, scheduled: Sequence[ScheduledRun], *,
                   latest: int = LATEST_CHANGES) -> Overview:
    open_alerts = sources.alerts.alerts(open_only=True, limit=None)
    open_by_portal: dict[str, int] = {}
    for alert in open_alerts:
        if alert.portal_key is not None:
            open_by_portal[alert.portal_key] = open_by_portal.get(alert.portal_key, 0) + 1
    tiles = tuple(_tile(sources, portal, open_by_portal) for portal in sources.portals())
    backups = sources.backups.list() if sources.backups is not None else []
    runs = tuple(sorted(scheduled, key=lambda run: run.due))
    return Overview(
        tiles=tiles,
        latest_changes=tuple(sources.feed.entries(limit=latest)),
        next_runs=runs,
        next_backup=next((run for run in runs if run.name == BACKUP_JOB), None),
        last_backup=backups[0] if backups else None,
        open_alerts=len(open_alerts))
