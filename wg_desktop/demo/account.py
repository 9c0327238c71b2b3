"""Account information: ``/account-info/{v3|date}/details`` and the legacy
``/integrations/v1/me``."""

from __future__ import annotations

import datetime as dt
from typing import Any
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


class AccountApi:
    def __init__(self, profiles: dict[int, PortalProfile]) -> None:
        self._profiles = profiles

    def details(self, call: Call) -> Response:
        assert call.principal is not None
        if "oauth" not in call.principal.scopes:
            return missing_scopes("oauth")
        return json_response(200, details_payload(self._profiles[call.principal.portal_id]))

    def me(self, call: Call) -> Response:
        assert call.principal is not None
        return json_response(200, me_payload(self._profiles[call.principal.portal_id]))
