"""The facts the status bar shows, gathered in one query pass (off the GUI thread)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import peewee as pw

from wg_desktop.config import Settings
from wg_desktop.store.models import Portal, PortalStatus, RateLimitUsage, Workflow


@dataclass(frozen=True)
class BudgetUse:
    used_minute: int
    used_hour: int
    used_day: int
    limit_minute: int
    limit_hour: int
    limit_day: int

    @property
    def remaining(self) -> int:
        return min(self.limit_minute - self.used_minute, self.limit_hour - self.used_hour,
                   self.limit_day - self.used_day)


@dataclass(frozen=True)
class AppStatus:
    portals_connected: int
    portals_needing_reconnect: int
    budget: BudgetUse
    last_sync: dt.datetime | None


def budget_use(settings: Settings, portal_key: str, now: float | None = None) -> BudgetUse:
    """One portal's client budget (the budget is kept per portal)."""
    now = time.time() if now is None else now

    def used(seconds: int) -> int:
        return (RateLimitUsage.select()
                .where((RateLimitUsage.portal_key == portal_key)
                       & (RateLimitUsage.ts > now - seconds)).count())

    return BudgetUse(used(60), used(3600), used(86_400), int(settings.get("ratelimit.per_minute")),
                     int(settings.get("ratelimit.per_hour")), int(settings.get("ratelimit.per_day")))


def app_status(settings: Settings, hub_id: int | None = None) -> AppStatus:
    """The status bar's facts, for the current portal when there is one."""
    connected = Portal.select().where(Portal.status == PortalStatus.CONNECTED).count()
    reconnect = Portal.select().where(Portal.status == PortalStatus.RECONNECT_NEEDED).count()
    synced = Workflow.select(pw.fn.MAX(Workflow.last_synced_at)).join(Portal)
    if hub_id is not None:
        synced = synced.where(Portal.hub_id == hub_id)
    last_sync = synced.scalar()
    if isinstance(last_sync, str):
        last_sync = dt.datetime.fromisoformat(last_sync)
    return AppStatus(connected, reconnect, budget_use(settings, str(hub_id)), last_sync)
