"""A stored version compared with what is live in HubSpot now.

:meth:`CompareService.live` reads the workflow from HubSpot the way the
restore service does (``api.get_flow`` through the portal's shared client,
never from the cache, at interactive priority) and normalizes it as the sync
stores versions, so ``diff_flows(stored, live.definition)`` shows only what
someone changed in HubSpot, not the revision bump every save makes.

The restore service's own fetch is not called: it words every failure as
"Nothing was restored", which is wrong for a comparison. Its client registry
is shared, so the rate-limit budget and the circuit breaker stay one per
portal. Failures keep the types the command line maps to exit statuses: a
portal that needs a reconnect raises :class:`PortalNeedsReconnect`, HubSpot's
refusals and outages raise their :class:`HubSpotError`; a workflow with no
live counterpart (deleted in HubSpot, imported from a file) raises
:class:`LiveFlowGone`.

Core module: no Qt. Blocking: call it off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from wg_desktop.flows.diff import FlowDiff, diff_flows
from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import NotFound
from wg_desktop.hubspot.ratelimit import Priority
from wg_desktop.services.portal_clients import PortalClients
from wg_desktop.services.restore import RestoreService
from wg_desktop.services.sync import PortalNeedsReconnect
from wg_desktop.services.workflows import WorkflowNotFound, WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus, Workflow
from wg_desktop.store.normalize import normalize_flow

LIVE_LABEL = "Live in HubSpot now"
SYNCED_SOURCE = "sync"       # Workflow.source of a workflow read from a connected portal


class LiveFlowGone(WorkflowNotFound):
    """There is no live workflow to compare with: deleted in HubSpot, or the
    stored workflow was imported from a file. The message is one line."""


@dataclass(frozen=True)
class LiveFlow:
    """The workflow as HubSpot holds it at the moment it was read."""

    workflow_id: int                 # the store's Workflow row
    hub_id: int
    flow_id: str
    name: str
    revision_id: str
    updated_at: str
    definition: Mapping[str, Any] = field(repr=False)    # normalized as stored versions are


def can_compare_live(workflow: Workflow) -> bool:
    """Whether a live counterpart can exist: synced from a portal (not imported)."""
    return workflow.source == SYNCED_SOURCE


class CompareService:
    def __init__(self, clients: PortalClients, queries: WorkflowQueries) -> None:
        self.clients = clients
        self.queries = queries

    @classmethod
    def from_restore(cls, restore: RestoreService) -> "CompareService":
        """Over the restore service's client registry and queries (the history
        panel and the command line already hold one)."""
        return cls(restore.clients, restore.queries)

    def live(self, workflow_id: int) -> LiveFlow:
        """Read the workflow from HubSpot now. Raises :class:`LiveFlowGone`,
        :class:`PortalNeedsReconnect` or a :class:`HubSpotError`."""
        # A fresh row: a restore may have re-pointed it to a recreated flow id.
        workflow = self.queries.get(workflow_id)
        label = f"'{workflow.name}' ({workflow.portal.hub_id}:{workflow.flow_id})"
        if not can_compare_live(workflow):
            raise LiveFlowGone(f"{label} was imported from a file; there is no live workflow "
                               "in HubSpot to compare it with.")
        portal = Portal.get_by_id(workflow.portal_id)
        if portal.status == PortalStatus.RECONNECT_NEEDED:
            raise PortalNeedsReconnect(
                f"Portal {portal.name} ({portal.hub_id}) needs a reconnect: HubSpot no longer "
                "accepts its token, so the live workflow cannot be read. Run 'wg-desktop "
                "connect' or use Reconnect on the Connection page.")
        if portal.status != PortalStatus.CONNECTED:
            raise PortalNeedsReconnect(
                f"Portal {portal.name} ({portal.hub_id}) is {portal.status}; connect it again "
                "to read the live workflow.")
        client = self.clients.client(portal.hub_id)
        try:
            # force_refresh: "live now" must not be an answer cached by the last sync.
            flow = api.get_flow(client, workflow.flow_id, force_refresh=True,
                                priority=Priority.INTERACTIVE)
        except NotFound:
            raise LiveFlowGone(f"{label} no longer exists in HubSpot (deleted there); its "
                               "stored history is kept and 'restore' can recreate it.") from None
        return LiveFlow(workflow.id, portal.hub_id, flow.id, flow.name or "",
                        flow.revision_id, flow.updated_at or "", normalize_flow(flow.raw))

    def diff_with_live(self, workflow_id: int, version_id: int
                       ) -> tuple[dict[str, Any], LiveFlow, FlowDiff]:
        """(the stored version, the live flow, stored → live)."""
        workflow = self.queries.get(workflow_id)
        stored = self.queries.version_by_id(workflow, version_id)[3]
        live = self.live(workflow_id)
        return stored, live, diff_flows(stored, live.definition)


__all__ = ["CompareService", "LiveFlow", "LiveFlowGone", "LIVE_LABEL", "can_compare_live"]
