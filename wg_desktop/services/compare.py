"""Comparisons beyond two versions of one workflow: a stored version with
what is live in HubSpot now, two workflows (any portals, imported sources
too), and a stored version with a workflow in a file.

``compare_workflows`` and ``compare_with_file`` are the one use case behind
both the command line (``diff --workflows``, ``diff --file``) and the
window's Compare menu: they resolve the sides, name them, and diff them. They
read the local store only and work offline.

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
from pathlib import Path
from typing import Any, Mapping

from wg_desktop.flows.diff import FlowDiff, diff_flows
from wg_desktop.hubspot import api
from wg_desktop.hubspot.errors import HubSpotError, NotFound
from wg_desktop.hubspot.ratelimit import Priority
from wg_desktop.services.compare_file import FileFlow, read_file_flow
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
    # What the diff view says while the live side is read.
    reading_text = "Reading the live workflow from HubSpot…"

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


# -- two workflows, or a workflow and a file (offline) -------------------------------------

FILE_SHORT_LABEL = "file"


@dataclass(frozen=True)
class WorkflowSide:
    """A stored workflow's version to compare: ``version_id`` (the store's
    id, as the history lists it) or, when None, its latest version."""

    workflow_id: int
    version_id: int | None = None


@dataclass(frozen=True)
class ComparedSide:
    label: str                  # e.g. "Production › Welcome (123:456) v3 of 5"
    short_label: str            # how a unified diff names the side: "v3", "file"
    definition: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Comparison:
    old: ComparedSide
    new: ComparedSide
    diff: FlowDiff


def version_label(workflow: Workflow, number: int, count: int) -> str:
    """A stored version named with its workflow: "Welcome (123:456) v3 of 5"."""
    return f"{workflow.name} ({workflow.portal.hub_id}:{workflow.flow_id}) v{number} of {count}"


def stored_side(queries: WorkflowQueries, side: WorkflowSide) -> ComparedSide:
    """The version ``side`` names, labelled with its portal: sides of two
    portals (sandbox and production) may hold the same names."""
    workflow = queries.get(side.workflow_id)
    version_id = (queries.latest_version_id(workflow) if side.version_id is None
                  else side.version_id)
    _, number, count, definition = queries.version_by_id(workflow, version_id)
    label = f"{workflow.portal.name} › {version_label(workflow, number, count)}"
    return ComparedSide(label, f"v{number}", definition)


def compare_workflows(queries: WorkflowQueries, old: WorkflowSide, new: WorkflowSide
                      ) -> Comparison:
    """Two stored workflows (or two versions of one), old → new."""
    old_side, new_side = stored_side(queries, old), stored_side(queries, new)
    return Comparison(old_side, new_side, diff_flows(old_side.definition, new_side.definition))


def file_flow_for(queries: WorkflowQueries, workflow_id: int, path: Path,
                  choice: str | None = None) -> FileFlow:
    """The workflow in the file to compare with stored workflow ``workflow_id``
    (see :func:`read_file_flow` for how it is chosen). Raises
    :class:`FileNotComparable` or :class:`FileWorkflowChoiceNeeded`."""
    workflow = queries.get(workflow_id)
    return read_file_flow(path, flow_id=workflow.flow_id, hub_id=workflow.portal.hub_id,
                          choice=choice)


def compare_with_flow(queries: WorkflowQueries, side: WorkflowSide, found: FileFlow
                      ) -> Comparison:
    """The stored version → the file's workflow: what the file would change."""
    stored = stored_side(queries, side)
    in_file = ComparedSide(found.label, FILE_SHORT_LABEL, found.definition)
    return Comparison(stored, in_file, diff_flows(stored.definition, in_file.definition))


def compare_with_file(queries: WorkflowQueries, side: WorkflowSide, path: Path,
                      choice: str | None = None) -> Comparison:
    return compare_with_flow(queries, side, file_flow_for(queries, side.workflow_id, path,
                                                          choice))


__all__ = ["CompareService", "Comparison", "ComparedSide", "LiveFlow", "LiveFlowGone",
           "LIVE_LABEL", "WorkflowSide", "can_compare_live", "compare_with_file",
           "compare_with_flow", "compare_workflows", "file_flow_for", "stored_side",
           "version_label"]


def failure_text(error: BaseException) -> str:
    """One line for a comparison that could not run (HubSpot's errors carry a
    message written for the user besides the technical one)."""
    if isinstance(error, HubSpotError):
        return f"Could not read the live workflow: {error.user_message} ({error})"
    return f"Could not compare these versions: {error}"
