"""Finding a portal the user named (hub id or name), with an answer that
helps when it is not there."""

from __future__ import annotations

from typing import Iterable

from wg_desktop.store.models import Portal, PortalStatus


class PortalNotFound(LookupError):
    """No stored portal matches what the user typed. The message lists the known ones."""

    def __str__(self) -> str:       # LookupError would quote the message
        return str(self.args[0])


def find_portal(ref: str | int, statuses: Iterable[PortalStatus] | None = None) -> Portal:
    """The portal with this hub id or (case-insensitive) name, among those
    whose status is in ``statuses`` (every stored portal when None)."""
    text = str(ref).strip()
    query = Portal.select().order_by(Portal.name)
    if statuses is not None:
        query = query.where(Portal.status.in_([str(s) for s in statuses]))
    candidates = list(query)
    match = next((p for p in candidates if text.isdigit() and p.hub_id == int(text)), None)
    if match is None:
        match = next((p for p in candidates if p.name.lower() == text.lower()), None)
    if match is None:
        known = ", ".join(f"{p.hub_id} ({p.name})" for p in candidates) or "none"
        raise PortalNotFound(f"No portal {text} here; known: {known}.")
    return match
