"""Tables of health monitoring and alerting (created by migration 7; the
sample's HubSpot usage and epoch columns by migration 9).

They replace the placeholder ``health_sample`` and ``alert`` tables of
migration 1, whose few columns cannot hold what a health sample and an alert
with a life cycle need (first/last seen, count, resolution, acknowledgement).
Bound to the same ``database_proxy`` as every other model.
"""

from __future__ import annotations

import peewee as pw

from wg_desktop.store.models import BaseModel, UtcDateTimeField, utcnow


class PortalHealthSample(BaseModel):
    """One health check of one portal: its verdict and the figures behind it."""

    timestamp = UtcDateTimeField(default=utcnow)
    portal_key = pw.TextField()
    status = pw.TextField()                              # healthy | degraded | unhealthy
    reason = pw.TextField(default="")                    # why, one line per finding
    paused = pw.BooleanField(default=False)              # reconnect needed: no network call
    check_ok = pw.BooleanField(null=True)                # None when paused
    check_ms = pw.FloatField(null=True)
    consecutive_failures = pw.IntegerField(default=0)
    breaker_state = pw.TextField(default="")
    calls = pw.IntegerField(default=0)                   # API calls since the previous sample
    failed_calls = pw.IntegerField(default=0)
    error_rate = pw.FloatField(null=True)
    avg_response_ms = pw.FloatField(null=True)
    client_remaining = pw.IntegerField(null=True)        # the client's own budget
    hubspot_remaining = pw.IntegerField(null=True)       # HubSpot's headers, when seen
    refreshes_ok = pw.IntegerField(default=0)            # token refreshes since the previous sample
    refreshes_failed = pw.IntegerField(default=0)
    last_refresh_ok = pw.BooleanField(null=True)         # the portal's latest refresh, ever
    last_sync = UtcDateTimeField(null=True)
    # HubSpot's own daily count, private-app portals only (migration 9)
    hubspot_usage = pw.IntegerField(null=True)
    hubspot_usage_limit = pw.IntegerField(null=True)
    hubspot_usage_resets_at = UtcDateTimeField(null=True)
    # ``timestamp`` in epoch seconds, for charts that bucket a month of samples:
    # integer division is far cheaper than strftime over ISO text. Filled by
    # the store's trigger (migration 9) for every writer, the ORM or raw SQL.
    epoch = pw.IntegerField(null=True)

    class Meta:
        indexes = ((("portal_key", "timestamp"), False),)


class AlertRecord(BaseModel):
    """One alert over its life: raised, repeated (count), resolved, acknowledged."""

    key = pw.TextField(index=True)                       # rule:portal[:subject], for dedup
    rule = pw.TextField()
    severity = pw.TextField()                            # critical | warning | info
    portal_key = pw.TextField(null=True)
    title = pw.TextField()
    message = pw.TextField(default="")
    details = pw.TextField(default="{}")                 # JSON
    first_seen = UtcDateTimeField(default=utcnow, index=True)
    last_seen = UtcDateTimeField(default=utcnow)
    count = pw.IntegerField(default=1)
    notified_at = UtcDateTimeField(null=True)            # last notification sent for it
    resolved_at = UtcDateTimeField(null=True, index=True)
    acknowledged_at = UtcDateTimeField(null=True)
    event = pw.BooleanField(default=False)               # a one-off event: never auto-resolved


class AlertMute(BaseModel):
    """A muted rule or portal: alerts are still recorded, but nobody is notified."""

    scope = pw.TextField()                               # rule | portal
    value = pw.TextField()
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("scope", "value"), True),)


class NotificationDelivery(BaseModel):
    """The delivery log of every channel (webhooks, email, desktop)."""

    timestamp = UtcDateTimeField(default=utcnow, index=True)
    channel = pw.TextField()                             # desktop | email | webhook
    target = pw.TextField(default="")                    # URL without credentials, or recipients
    alert_id = pw.IntegerField(null=True)
    event = pw.TextField(default="")                     # raised | repeated | resolved | test
    ok = pw.BooleanField()
    attempts = pw.IntegerField(default=1)
    status = pw.IntegerField(null=True)
    error = pw.TextField(default="")
    elapsed_ms = pw.FloatField(default=0)


MIGRATION_7_MODELS = (PortalHealthSample, AlertRecord, AlertMute, NotificationDelivery)

# Migration 9: the columns added to ``portal_health_sample`` and the trigger
# that keeps ``epoch`` in step with ``timestamp``.
MIGRATION_9_COLUMNS = ("hubspot_usage", "hubspot_usage_limit", "hubspot_usage_resets_at", "epoch")
SAMPLE_EPOCH_SQL = "CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"
SAMPLE_EPOCH_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS portal_health_sample_epoch AFTER INSERT ON portal_health_sample "
    "FOR EACH ROW WHEN NEW.epoch IS NULL BEGIN "
    "UPDATE portal_health_sample SET epoch = " + SAMPLE_EPOCH_SQL.format(ts="NEW.timestamp")
    + " WHERE id = NEW.id; END")
