"""Account information: ``/account-info/{v3|date}/details``, the daily
private-app usage ``/account-info/{v3|date}/api-usage/daily/private-apps``
and the legacy ``/integrations/v1/me``."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Callable
from zoneinfo import ZoneInfo

from wg_desktop.demo.config import PortalProfile
from wg_desktop.demo.flows import Call, missing_scopes
from wg_desktop.demo.wire import Response, json_response


def utc_offset(time_zone: str, when: dt.datetime | None = None) -> tuple[str, int]:
    """("-04:00", -14400000) for the zone at ``when`` (default now)."""
    moment = (when or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(time_zone))
    offset = moment.utcoffset() or dt.timedelta(0)
    ms = int(offset.total_seconds() * 1000)
    sign = "-" if ms < 0 else "+"
    minutes = abs(ms) // 60_000
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}", ms


def details_payload(profile: PortalProfile) -> dict[str, Any]:
    text, ms = utc_offset(profile.time_zone)
    return {"portalId": profile.portal_id, "accountType": profile.account_type,
            "timeZone": profile.time_zone, "companyCurrency": profile.currency,
            "additionalCurrencies": list(profile.additional_currencies), "utcOffset": text,
            "utcOffsetMilliseconds": ms, "uiDomain": profile.ui_domain,
            "dataHostingLocation": profile.data_hosting, "portalName": profile.name,
            "createdAt": profile.created_ms}


def me_payload(profile: PortalProfile) -> dict[str, Any]:
    text, ms = utc_offset(profile.time_zone)
    return {"portalId": profile.portal_id, "timeZone": profile.time_zone, "currency": profile.currency,
            "utcOffsetMilliseconds": ms, "utcOffset": text}


PRIVATE_APP_USAGE_NAME = "private-apps-api-calls-daily"


def _iso_ms(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def next_midnight(time_zone: str, wall: float) -> dt.datetime:
    """The portal's next local midnight: when HubSpot's daily count resets."""
    zone = ZoneInfo(time_zone)
    local = dt.datetime.fromtimestamp(wall, zone)
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0, 0), zone)


class PrivateAppUsage:
    """Private-app calls admitted per portal today (the portal's own day).

    HubSpot's usage endpoint counts every private app of the account and no
    OAuth call, so the server counts a call here only when a private-app token
    made it and the rate limiter admitted it (a refused call is not served)."""

    def __init__(self, profiles: dict[int, PortalProfile],
                 wall: Callable[[], float] = time.time) -> None:
        self._profiles = profiles
        self._wall = wall
        self._lock = threading.Lock()
        self._days: dict[int, tuple[str, int]] = {}

    def _today(self, portal_id: int) -> str:
        zone = ZoneInfo(self._profiles[portal_id].time_zone)
        return dt.datetime.fromtimestamp(self._wall(), zone).date().isoformat()

    def count(self, portal_id: int) -> None:
        today = self._today(portal_id)
        with self._lock:
            day, n = self._days.get(portal_id, (today, 0))
            self._days[portal_id] = (today, (n if day == today else 0) + 1)

    def today(self, portal_id: int) -> int:
        today = self._today(portal_id)
        with self._lock:
            day, n = self._days.get(portal_id, (today, 0))
        return n if day == today else 0

    def payload(self, portal_id: int, usage_limit: int) -> dict[str, Any]:
        """HubSpot's answer shape (reference §account info)."""
        wall = self._wall()
        profile = self._profiles[portal_id]
        return {"results": [{
            "name": PRIVATE_APP_USAGE_NAME, "usageLimit": usage_limit,
            "currentUsage": self.today(portal_id),
            "collectedAt": _iso_ms(dt.datetime.fromtimestamp(wall, dt.timezone.utc)),
            "resetsAt": _iso_ms(next_midnight(profile.time_zone, wall)),
            "fetchStatus": "SUCCESS"}]}


class AccountApi:
    def __init__(self, profiles: dict[int, PortalProfile], usage: PrivateAppUsage | None = None,
                 daily_limit: int | None = None) -> None:
        self._profiles = profiles
        self.usage = usage or PrivateAppUsage(profiles)
        # The demo's enforced daily limit, when set, replaces the plan's figure
        # for private apps (as the server's rate limiter does), so report that.
        self._daily_limit = daily_limit

    def details(self, call: Call) -> Response:
        assert call.principal is not None
        if "oauth" not in call.principal.scopes:
            return missing_scopes("oauth")
        return json_response(200, details_payload(self._profiles[call.principal.portal_id]))

    def me(self, call: Call) -> Response:
        assert call.principal is not None
        return json_response(200, me_payload(self._profiles[call.principal.portal_id]))

    def private_app_usage(self, call: Call) -> Response:
        assert call.principal is not None
        if "oauth" not in call.principal.scopes:
            return missing_scopes("oauth")
        portal_id = call.principal.portal_id
        limit = self._daily_limit or self._profiles[portal_id].private_app_daily_limit
        return json_response(200, self.usage.payload(portal_id, limit))
