"""The facts the status bar shows, gathered in one query pass (off the GUI thread)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from wg_desktop.config import Settings
from wg_desktop.store.models import AuditEvent, Portal, PortalStatus, RateLimitUsage, Outcome


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


def budget_use(settings: Settings, now: float | None = None) -> BudgetUse:
    now = time.time() if now is None else now

    def used(seconds: int) -> int:
        return RateLimitUsage.select().where(RateLimitUsage.ts > now - seconds).count()

    return BudgetUse(used(60), used(3600), used(86_400), int(settings.get("ratelimit.per_minute")),
                     int(settings.get("ratelimit.per_hour")), int(settings.get("ratelimit.per_day")))


def app_status(settings: Settings) -> AppStatus:
    connected = Portal.select().where(Portal.status == PortalStatus.CONNECTED).count()
    reconnect = Portal.select().where(Portal.status == PortalStatus.RECONNECT_NEEDED).count()
    last_sync = (AuditEvent.select(AuditEvent.timestamp)
                 .where((AuditEvent.action == "sync") & (AuditEvent.outcome == Outcome.SUCCESS))
                 .order_by(AuditEvent.id.desc()).first())
    return AppStatus(connected, reconnect, budget_use(settings),
                     last_sync.timestamp if last_sync else None)
