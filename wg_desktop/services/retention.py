"""Daily retention cleanup: every table's policy in one registry.

Each policy names the setting that holds its period in days and a purge
function deleting rows older than a cutoff. Later capabilities register their
own policies. The workflow-version policy (store.versions) never deletes the newest
version of a workflow, however old.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import peewee as pw

from wg_desktop.config import Settings
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.store.db import Store
from wg_desktop.store.health_models import AlertRecord, NotificationDelivery, PortalHealthSample
from wg_desktop.store.models import (Alert, ApiCall, HealthSample, JobRunRecord, Outcome,
                                     RateLimitUsage, utcnow)
from wg_desktop.store.versions import purge_versions_older_than


@dataclass(frozen=True)
class RetentionPolicy:
    name: str
    days_setting: str | None            # None: a fixed period, see fixed_days
    purge: Callable[[dt.datetime], int]
    fixed_days: int = 0

    def days(self, settings: Settings) -> int:
        return int(settings.get(self.days_setting)) if self.days_setting else self.fixed_days


def _purge(model: type[pw.Model], field: pw.Field) -> Callable[[dt.datetime], int]:
    return lambda cutoff: model.delete().where(field < cutoff).execute()


def _purge_rate_usage(cutoff: dt.datetime) -> int:
    return RateLimitUsage.delete().where(RateLimitUsage.ts < cutoff.timestamp()).execute()


class RetentionService:
    def __init__(self, store: Store, settings: Settings, audit: AuditLog) -> None:
        self.store = store
        self.settings = settings
        self.audit = audit
        self.policies: list[RetentionPolicy] = [
            RetentionPolicy("audit log", "retention.audit_days",
                            lambda cutoff: audit.purge_older_than(cutoff)),
            RetentionPolicy("workflow versions", "retention.versions_days",
                            purge_versions_older_than),
            RetentionPolicy("health samples", "retention.health_days",
                            _purge(HealthSample, HealthSample.timestamp)),
            RetentionPolicy("API call metrics", "retention.health_days",
                            _purge(ApiCall, ApiCall.timestamp)),
            RetentionPolicy("alerts", "retention.health_days", _purge(Alert, Alert.timestamp)),
            RetentionPolicy("job runs", "retention.health_days",
                            _purge(JobRunRecord, JobRunRecord.started_at)),
            RetentionPolicy("health check samples", "retention.health_days",
                            _purge(PortalHealthSample, PortalHealthSample.timestamp)),
            # Open alerts stay whatever their age: they still describe a live problem.
            RetentionPolicy("alert history", "retention.health_days",
                            lambda cutoff: AlertRecord.delete().where(
                                (AlertRecord.last_seen < cutoff)
                                & AlertRecord.resolved_at.is_null(False)).execute()),
            RetentionPolicy("notification deliveries", "retention.health_days",
                            _purge(NotificationDelivery, NotificationDelivery.timestamp)),
            # The client budget's longest window is one day; older rows are dead weight.
            RetentionPolicy("rate-limit counters", None, _purge_rate_usage, fixed_days=2),
        ]

    def register(self, policy: RetentionPolicy) -> None:
        self.policies.append(policy)

    def run(self, now: dt.datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        removed: dict[str, int] = {}
        try:
            for policy in self.policies:
                cutoff = now - dt.timedelta(days=policy.days(self.settings))
                with self.store.writing():
                    removed[policy.name] = policy.purge(cutoff)
        except Exception as exc:
            self.audit.record(AuditAction.RETENTION, outcome=Outcome.FAILURE,
                              details={"error": str(exc), "removed": removed})
            raise
        self.audit.record(AuditAction.RETENTION, details={"removed": removed})
        return removed

    def summary(self, removed: dict[str, int]) -> str:
        total = sum(removed.values())
        parts = ", ".join(f"{n} {name}" for name, n in removed.items() if n)
        return f"Removed {total} old rows" + (f" ({parts})" if parts else "")
