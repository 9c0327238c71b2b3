"""The portal switcher's list as typed rows: what the window shows of each
portal, without the window knowing the store's models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from wg_desktop.store.models import IMPORTED_AUTH_KIND, Portal, PortalStatus


def portal_name(name: str, hub_id: int) -> str:
    """A portal's name wherever the pages show one; a portal without a name
    (HubSpot gave none) by its hub id."""
    return name or f"Portal {hub_id}"


@dataclass(frozen=True)
class PortalRow:
    hub_id: int
    name: str
    status: str        # a PortalStatus value
    imported: bool     # an imported export: read-only, never synced

    @property
    def needs_reconnect(self) -> bool:
        return not self.imported and self.status == PortalStatus.RECONNECT_NEEDED

    @property
    def disconnected(self) -> bool:
        return not self.imported and self.status == PortalStatus.DISCONNECTED

    @property
    def label(self) -> str:
        """The portal's name in the switcher, with its state when it is not plainly usable."""
        label = portal_name(self.name, self.hub_id)
        if self.imported:
            return label + " (imported, read-only)"
        if self.needs_reconnect:
            return label + " (reconnect needed)"
        if self.disconnected:
            return label + " (disconnected, history kept)"
        return label


def portal_rows(portals: Iterable[Portal]) -> tuple[PortalRow, ...]:
    return tuple(PortalRow(int(p.hub_id), p.name, str(p.status), p.auth_kind == IMPORTED_AUTH_KIND)
                 for p in portals)


def browsable_rows(browsable: Callable[[], list[Portal]]) -> tuple[PortalRow, ...]:
    """Rows of every browsable portal, in the order ``browsable`` gives them
    (``ConnectionService.browsable_portals``: connected first, imports last)."""
    return portal_rows(browsable())
