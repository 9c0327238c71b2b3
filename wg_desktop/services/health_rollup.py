"""The charts' per-bucket sums read from the samples' hourly rollup.

A chart whose bucket is a whole number of hours (the 30-day chart's 6 h)
sums whole hours: the hours that lie entirely inside the period come from
``health_sample_hourly`` (one row per portal and hour, kept by triggers,
store/health_models.py) and only the period's two partial hours at its ends
from the raw samples. Every sample of the period lands in exactly one of the
three parts and an hour lies in exactly one bucket, so the merged sums are
the raw query's: counts equal, sums equal up to float rounding (SQLite adds
in another order), the least budget and most connections equal.

Rows have the raw query's shape (``services.reports.series_and_totals``):
``(portal_key, slot, samples, up, calls, failed, timed_calls,
response_sum_ms, refreshes_ok, refreshes_failed, min_remaining,
max_connections)`` with ``slot`` = epoch // bucket.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable, Iterable, Sequence

import peewee as pw

from wg_desktop.store.health_models import SAMPLE_HOUR_S, HealthSampleHourly

Row = tuple[Any, ...]
# The raw samples' grouped sums for ``start <= timestamp <= end``.
RawQuery = Callable[[dt.datetime, dt.datetime], Iterable[Row]]

# Stored timestamps have microseconds: one before an hour is "before the hour".
_JUST_BEFORE = dt.timedelta(microseconds=1)
_SUMMED = range(2, 10)           # samples .. refreshes_failed: added up
_MIN, _MAX = 10, 11              # min_remaining, max_connections


def whole_hours(since: dt.datetime, until: dt.datetime) -> tuple[int, int] | None:
    """The hours (epoch // 3600) lying entirely inside [since, until], as a
    half-open range, or None when there is none."""
    first = math.ceil(since.timestamp() / SAMPLE_HOUR_S)
    end = math.floor(until.timestamp() / SAMPLE_HOUR_S)
    return (first, end) if first < end else None


def bucket_rows(raw: RawQuery, portal_keys: Sequence[str] | None, since: dt.datetime,
                until: dt.datetime, bucket_s: int) -> list[Row]:
    """Per (portal, bucket) sums over [since, until], ordered by portal and slot."""
    hours = whole_hours(since, until) if bucket_s % SAMPLE_HOUR_S == 0 else None
    if hours is None:
        return list(raw(since, until))
    first, end = hours
    inner_since = dt.datetime.fromtimestamp(first * SAMPLE_HOUR_S, dt.timezone.utc)
    inner_until = dt.datetime.fromtimestamp(end * SAMPLE_HOUR_S, dt.timezone.utc)
    merged: dict[tuple[str, Any], list[Any]] = {}
    parts = (raw(since, inner_since - _JUST_BEFORE),
             _rollup_rows(portal_keys, first, end, bucket_s // SAMPLE_HOUR_S),
             raw(inner_until, until))
    for part in parts:
        for row in part:
            key = (row[0], row[1])
            if key in merged:
                _merge(merged[key], row)
            else:
                merged[key] = list(row)
    return [tuple(row) for _, row in
            sorted(merged.items(), key=lambda item: (item[0][0], _slot_order(item[0][1])))]


def _slot_order(slot: Any) -> float:
    # A sample without an epoch has no slot (never, with the trigger): first, as SQLite sorts NULL.
    return -math.inf if slot is None else slot


def _merge(into: list[Any], row: Row) -> None:
    for i in _SUMMED:
        if row[i] is not None:
            into[i] = row[i] if into[i] is None else into[i] + row[i]
    for i, pick in ((_MIN, min), (_MAX, max)):
        if row[i] is not None:
            into[i] = row[i] if into[i] is None else pick(into[i], row[i])


def _rollup_rows(portal_keys: Sequence[str] | None, first: int, end: int,
                 hours_per_bucket: int) -> Iterable[Row]:
    h = HealthSampleHourly
    cond = (h.hour >= first) & (h.hour < end)
    if portal_keys is not None:
        cond &= h.portal_key.in_(list(portal_keys))
    slot = (h.hour / hours_per_bucket).alias("slot")
    return (h.select(h.portal_key, slot, pw.fn.SUM(h.samples), pw.fn.SUM(h.up),
                     pw.fn.SUM(h.calls), pw.fn.SUM(h.failed), pw.fn.SUM(h.timed_calls),
                     pw.fn.SUM(h.response_sum_ms), pw.fn.SUM(h.refreshes_ok),
                     pw.fn.SUM(h.refreshes_failed), pw.fn.MIN(h.min_remaining),
                     pw.fn.MAX(h.max_connections))
            .where(cond).group_by(h.portal_key, pw.SQL("slot")).tuples())
