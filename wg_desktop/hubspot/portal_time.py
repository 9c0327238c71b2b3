"""A portal's local time: HubSpot's daily limits reset at the account's midnight."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET = re.compile(r"^([+-])(\d{1,2}):?(\d{2})$")


@dataclass(frozen=True)
class PortalTimezone:
    """What is known about a portal's time zone (from account details or
    ``/integrations/v1/me``): an IANA name and/or a UTC offset."""

    name: str | None = None
    utc_offset_ms: int | None = None

    def tzinfo(self) -> tzinfo:
        if self.name:
            try:
                return ZoneInfo(self.name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        if self.utc_offset_ms is not None:
            return timezone(timedelta(milliseconds=self.utc_offset_ms))
        return timezone.utc

    @classmethod
    def from_offset_text(cls, name: str | None, offset: str | None) -> "PortalTimezone":
        """Build from ``timeZone`` and ``utcOffset`` ("-05:00") as HubSpot sends them."""
        ms = None
        match = _OFFSET.match(offset.strip()) if isinstance(offset, str) else None
        if match:
            sign = -1 if match.group(1) == "-" else 1
            ms = sign * (int(match.group(2)) * 3600 + int(match.group(3)) * 60) * 1000
        return cls(name=name or None, utc_offset_ms=ms)


UTC = PortalTimezone()


def next_portal_midnight(now_epoch: float, tz: PortalTimezone | None = None) -> datetime:
    """The next midnight in the portal's time zone (UTC when unknown), as an aware datetime."""
    zone = (tz or UTC).tzinfo()
    local = datetime.fromtimestamp(now_epoch, zone)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)
