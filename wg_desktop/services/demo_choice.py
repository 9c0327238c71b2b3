"""Whether the app uses the built-in demo portal: read from the settings
alone, so the window can say so in its first frame without loading the
HubSpot client."""

from __future__ import annotations

from wg_desktop.config import Settings, Source


def wants_demo(settings: Settings) -> bool:
    """The demo portal is used when asked for, or when nothing points
    elsewhere: no HubSpot app configured, no API base set, and mock mode not
    explicitly turned off. An explicit base URL is always honoured."""
    if settings.get("hubspot.mock_mode"):
        return True
    explicitly_off = settings.source("hubspot.mock_mode") is not Source.DEFAULT
    points_elsewhere = (bool(settings.get("hubspot.client_id"))
                        or settings.source("hubspot.api_base") is not Source.DEFAULT)
    return not explicitly_off and not points_elsewhere
