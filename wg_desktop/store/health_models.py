"""Tables of health monitoring and alerting (created by migration 7; the
sample's HubSpot usage and epoch columns by migration 9, its open connections
and the dashboard's covering indexes by migration 10, the samples' hourly
rollup and the triggers that keep it by migration 11).

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
    # Open HTTP connections in the portal client's pool when sampled (migration 10);
    # None when the client keeps no pool of its own (a test transport) or is paused.
    active_connections = pw.IntegerField(null=True)

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

# Migration 10: the open-connections column, and covering indexes for the
# dashboard's period scans. A 30-day dashboard reads every sample of the
# period (43,200 for 5 portals) and every API call record in it: with every
# column those aggregates need in the index, SQLite answers from the index
# alone instead of looking up each row (calls per endpoint about 3x faster;
# see docs/benchmarks.md for the samples).
MIGRATION_10_COLUMNS = ("active_connections",)
SAMPLE_PERIOD_INDEX = (
    "CREATE INDEX IF NOT EXISTS portal_health_sample_period ON portal_health_sample "
    "(portal_key, timestamp, epoch, status, calls, failed_calls, avg_response_ms, "
    "client_remaining, hubspot_remaining, refreshes_ok, refreshes_failed, active_connections)")
API_CALL_PERIOD_INDEX = (
    "CREATE INDEX IF NOT EXISTS api_call_period ON api_call "
    "(timestamp, portal_key, method, endpoint, error_category, latency_ms)")

# Migration 11: the hourly rollup of the samples. A 30-day chart with 6-hour
# buckets read every sample of the month (8,640 per portal); it now reads 720
# hourly rows per portal plus the raw samples of the period's two partial
# hours (services/health_rollup.py). The rollup holds exactly the sums the
# charts take (``services.reports._sums``): counts and sums add up across
# hours, the least budget remaining and the most open connections are a MIN
# and a MAX of the hours'. It is kept by triggers in the statement that writes
# the samples, so it cannot disagree with them whoever writes (the ORM, raw
# SQL, the retention purge): an insert adds itself to its hour; an update or
# delete re-aggregates the hours it touched from the samples left in them.
SAMPLE_HOUR_S = 3600
# The statuses counted as up (services.health.UP_STATUSES; a test keeps them equal).
UP_STATUS_SQL = "('healthy', 'degraded')"
SAMPLE_HOURLY_TABLE = (
    "CREATE TABLE IF NOT EXISTS health_sample_hourly ("
    "portal_key TEXT NOT NULL, hour INTEGER NOT NULL, "          # epoch // 3600
    "samples INTEGER NOT NULL, up INTEGER NOT NULL, calls INTEGER NOT NULL, "
    "failed INTEGER NOT NULL, timed_calls INTEGER NOT NULL, response_sum_ms REAL, "
    "refreshes_ok INTEGER NOT NULL, refreshes_failed INTEGER NOT NULL, "
    "min_remaining INTEGER, max_connections INTEGER, "
    "PRIMARY KEY (portal_key, hour)) WITHOUT ROWID")
# Re-aggregating one hour finds its samples by epoch.
SAMPLE_HOUR_INDEX = ("CREATE INDEX IF NOT EXISTS portal_health_sample_hour "
                     "ON portal_health_sample (portal_key, epoch)")
# The period's two partial hours are read from the samples of every portal
# at once: without an index on the time alone that was two scans of the
# whole (portal, time) index.
SAMPLE_TIME_INDEX = ("CREATE INDEX IF NOT EXISTS portal_health_sample_time "
                     "ON portal_health_sample (timestamp)")


def _hour(row: str) -> str:
    """The hour of a sample row (NEW or OLD) as the epoch trigger will store
    it: the epoch column when set, else computed from the timestamp."""
    return (f"(COALESCE({row}.epoch, " + SAMPLE_EPOCH_SQL.format(ts=f"{row}.timestamp")
            + f") / {SAMPLE_HOUR_S})")


def _remaining(row: str) -> str:
    """The tighter of the client's and HubSpot's counts (``reports._REMAINING``)."""
    return (f"MIN(COALESCE({row}client_remaining, {row}hubspot_remaining), "
            f"COALESCE({row}hubspot_remaining, {row}client_remaining))")


_HOURLY_COLUMNS = ("portal_key, hour, samples, up, calls, failed, timed_calls, response_sum_ms, "
                   "refreshes_ok, refreshes_failed, min_remaining, max_connections")


def _reaggregate(row: str) -> str:
    """Statements that rebuild the hour of ``row`` (OLD or NEW) from its samples."""
    hour = _hour(row)
    return (
        f"DELETE FROM health_sample_hourly WHERE portal_key = {row}.portal_key "
        f"AND hour = {hour}; "
        f"INSERT INTO health_sample_hourly ({_HOURLY_COLUMNS}) "
        f"SELECT portal_key, {hour}, COUNT(*), SUM(status IN {UP_STATUS_SQL}), SUM(calls), "
        "SUM(failed_calls), SUM(CASE WHEN avg_response_ms IS NOT NULL THEN calls ELSE 0 END), "
        "SUM(avg_response_ms * calls), SUM(refreshes_ok), SUM(refreshes_failed), "
        f"MIN({_remaining('')}), MAX(active_connections) "
        f"FROM portal_health_sample WHERE portal_key = {row}.portal_key "
        f"AND epoch >= {hour} * {SAMPLE_HOUR_S} AND epoch < ({hour} + 1) * {SAMPLE_HOUR_S} "
        "GROUP BY portal_key; ")


def _merge_known(column: str, both: str) -> str:
    """Upsert merge of a nullable column: a NULL side adds nothing, ``both``
    combines two values."""
    return (f"{column} = CASE WHEN excluded.{column} IS NULL THEN {column} "
            f"WHEN {column} IS NULL THEN excluded.{column} ELSE {both} END")


# The columns the rollup reads; ``epoch`` is left out on purpose: the epoch
# trigger's own UPDATE must not re-aggregate every inserted sample's hour.
_ROLLED_UP = ("timestamp, portal_key, status, calls, failed_calls, avg_response_ms, "
              "client_remaining, hubspot_remaining, refreshes_ok, refreshes_failed, "
              "active_connections")
SAMPLE_HOURLY_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS health_sample_hourly_insert AFTER INSERT ON "
    "portal_health_sample FOR EACH ROW BEGIN "
    f"INSERT INTO health_sample_hourly ({_HOURLY_COLUMNS}) VALUES (NEW.portal_key, "
    f"{_hour('NEW')}, 1, NEW.status IN {UP_STATUS_SQL}, NEW.calls, NEW.failed_calls, "
    "CASE WHEN NEW.avg_response_ms IS NOT NULL THEN NEW.calls ELSE 0 END, "
    "NEW.avg_response_ms * NEW.calls, NEW.refreshes_ok, NEW.refreshes_failed, "
    f"{_remaining('NEW.')}, NEW.active_connections) "
    "ON CONFLICT (portal_key, hour) DO UPDATE SET samples = samples + 1, "
    "up = up + excluded.up, calls = calls + excluded.calls, "
    "failed = failed + excluded.failed, timed_calls = timed_calls + excluded.timed_calls, "
    "refreshes_ok = refreshes_ok + excluded.refreshes_ok, "
    "refreshes_failed = refreshes_failed + excluded.refreshes_failed, "
    + ", ".join((
        _merge_known("response_sum_ms", "response_sum_ms + excluded.response_sum_ms"),
        _merge_known("min_remaining", "MIN(min_remaining, excluded.min_remaining)"),
        _merge_known("max_connections", "MAX(max_connections, excluded.max_connections)")))
    + "; END",
    f"CREATE TRIGGER IF NOT EXISTS health_sample_hourly_update AFTER UPDATE OF {_ROLLED_UP} "
    "ON portal_health_sample FOR EACH ROW BEGIN "
    + _reaggregate("OLD") + _reaggregate("NEW") + "END",
    "CREATE TRIGGER IF NOT EXISTS health_sample_hourly_delete AFTER DELETE ON "
    "portal_health_sample FOR EACH ROW BEGIN " + _reaggregate("OLD") + "END",
)
# Migration 11's one fill of the rollup from the samples stored before it.
SAMPLE_HOURLY_BACKFILL = (
    f"INSERT INTO health_sample_hourly ({_HOURLY_COLUMNS}) "
    f"SELECT portal_key, epoch / {SAMPLE_HOUR_S} AS h, COUNT(*), SUM(status IN {UP_STATUS_SQL}), "
    "SUM(calls), SUM(failed_calls), "
    "SUM(CASE WHEN avg_response_ms IS NOT NULL THEN calls ELSE 0 END), "
    "SUM(avg_response_ms * calls), SUM(refreshes_ok), SUM(refreshes_failed), "
    f"MIN({_remaining('')}), MAX(active_connections) FROM portal_health_sample "
    "WHERE epoch IS NOT NULL GROUP BY portal_key, h")


class HealthSampleHourly(BaseModel):
    """One portal's samples of one hour, summed (migration 11; see above).
    Written by the triggers only: read it, never write it."""

    portal_key = pw.TextField()
    hour = pw.IntegerField()                             # epoch seconds // 3600
    samples = pw.IntegerField()
    up = pw.IntegerField()
    calls = pw.IntegerField()
    failed = pw.IntegerField()
    timed_calls = pw.IntegerField()                      # calls of samples with a response time
    response_sum_ms = pw.FloatField(null=True)           # sum of avg_response_ms * calls
    refreshes_ok = pw.IntegerField()
    refreshes_failed = pw.IntegerField()
    min_remaining = pw.IntegerField(null=True)
    max_connections = pw.IntegerField(null=True)

    class Meta:
        table_name = "health_sample_hourly"
        primary_key = pw.CompositeKey("portal_key", "hour")
