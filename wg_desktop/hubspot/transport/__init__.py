"""HTTP transport of the HubSpot client."""

from wg_desktop.hubspot.transport.client import ApiResponse, Cached, HubSpotClient

__all__ = ["ApiResponse", "Cached", "HubSpotClient"]
