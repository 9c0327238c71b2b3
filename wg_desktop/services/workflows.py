"""Reading the stored workflows and their history (works offline), and
exporting / importing them as JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee as pw

from wg_desktop.constants import APP_VERSION
from wg_desktop.paths import write_private_atomic
from wg_desktop.services.audit import AuditAction, AuditLog
from wg_desktop.services.import_reader import ImportRejected, open_import
from wg_desktop.store.normalize import normalize_flow
from wg_desktop.store.db import Store
from wg_desktop.store.models import (IMPORTED_AUTH_KIND, Portal, PortalStatus, Workflow,
                                     WorkflowVersion, utcnow)
from wg_desktop.store.versions import (VersionInfo, add_version, history, latest_version,
                                       latest_version_id, version_at, version_count,
                                       version_json, version_number)

EXPORT_FORMAT = "workflowguard-export/1"


class WorkflowNotFound(LookupError):
    pass


class ExportFailed(OSError):
    """The export file could not be written; the message names the user's path."""


@dataclass(frozen=True)
class WorkflowRow:
    id: int
    hub_id: int
    portal_name: str
    flow_id: str
    name: str
    object_type_id: str
    is_enabled: bool
    versions: int
    last_changed: dt.datetime | None
    last_synced: dt.datetime | None
    deleted: bool
    source: str


class WorkflowQueries:
    def __init__(self, store: Store, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit

    def list(self, hub_id: int | None = None, *, include_deleted: bool = True
             ) -> list[WorkflowRow]:
        counts = (WorkflowVersion.select(WorkflowVersion.workflow,
                                         pw.fn.COUNT(WorkflowVersion.id).alias("n"),
                                         pw.fn.MAX(WorkflowVersion.captured_at).alias("last"))
                  .group_by(WorkflowVersion.workflow).alias("counts"))
        query = (Workflow.select(Workflow, Portal.hub_id, Portal.name.alias("portal_name"),
                                 counts.c.n, counts.c.last)
                 .join(Portal)
                 .switch(Workflow)
                 .join(counts, pw.JOIN.LEFT_OUTER, on=(counts.c.workflow_id == Workflow.id))
                 .order_by(Workflow.name))
        if hub_id is not None:
            query = query.where(Portal.hub_id == hub_id)
        if not include_deleted:
            query = query.where(Workflow.deleted_at.is_null())
        rows = []
        for w in query.objects():
            last = w.last
            if isinstance(last, str):
                last = dt.datetime.fromisoformat(last)
            rows.append(WorkflowRow(w.id, w.hub_id, w.portal_name, w.flow_id, w.name,
                                    w.object_type_id, w.is_enabled, w.n or 0, last,
                                    w.last_synced_at, w.deleted_at is not None, w.source))
        return rows

    def find(self, ref: str | int, hub_id: int | None = None) -> Workflow:
        """A workflow by flow id, or by (case-insensitive) name."""
        text = str(ref).strip()
        query = Workflow.select().join(Portal)
        if hub_id is not None:
            query = query.where(Portal.hub_id == hub_id)
        by_id = list(query.where(Workflow.flow_id == text).limit(2))
        if len(by_id) > 1:
            raise WorkflowNotFound(f"Flow id {text} is stored for several portals (e.g. an "
                                   "import); name the portal with --portal HUB_ID.")
        match = by_id[0] if by_id else None
        if match is None:
            named = list(query.where(pw.fn.LOWER(Workflow.name) == text.lower()))
            if len(named) > 1:
                raise WorkflowNotFound(f"{len(named)} workflows are named '{text}'; use the "
                                       "flow id (see 'wg-desktop workflows').")
            match = named[0] if named else None
        if match is None:
            raise WorkflowNotFound(f"No stored workflow '{text}' (see 'wg-desktop workflows').")
        return match

    def get(self, workflow_id: int) -> Workflow:
        workflow = Workflow.get_or_none(Workflow.id == workflow_id)
        if workflow is None:
            raise WorkflowNotFound("This workflow is no longer stored.")
        return workflow

    def history(self, workflow: Workflow) -> list[VersionInfo]:
        return history(workflow)

    def version(self, workflow: Workflow, number: str | int | None = None
                ) -> tuple[VersionInfo, dict[str, Any]]:
        """A version by its number in the history (1 = oldest, as 'history'
        prints it, 'v3' accepted too); the latest by default."""
        count = version_count(workflow)
        if not count:
            raise WorkflowNotFound(f"'{workflow.name}' has no stored version.")
        if number is None:
            position = count
        else:
            text = str(number).strip().lower().removeprefix("v")
            position = int(text) if text.isdigit() else 0
            if not 1 <= position <= count:
                raise WorkflowNotFound(f"'{workflow.name}' has no version '{number}' "
                                       f"(1 to {count}).")
        info = version_at(workflow, position)
        if info is None:           # pruned between the count and the read
            raise WorkflowNotFound(f"'{workflow.name}' has no version '{number}'.")
        return info, version_json(WorkflowVersion.get_by_id(info.id))

    def latest_version_id(self, workflow: Workflow) -> int:
        """The id of the latest version (what :meth:`version` returns by
        default), without decoding it."""
        version_id = latest_version_id(workflow)
        if version_id is None:
            raise WorkflowNotFound(f"'{workflow.name}' has no stored version.")
        return version_id

    def version_by_id(self, workflow: Workflow, version_id: int
                      ) -> tuple[VersionInfo, int, int, dict[str, Any]]:
        """A version by its database id: (info, its number, how many versions
        there are, definition)."""
        found = version_number(workflow, version_id)
        if found is None:
            raise WorkflowNotFound("This version is no longer stored.")
        info, number, total = found
        return info, number, total, version_json(WorkflowVersion.get_by_id(info.id))

    # -- export / import -------------------------------------------------------------------

    def export_version_json(self, workflow_id: int, version_id: int, path: Path) -> int:
        """One version as a pretty JSON file; returns its size. Audited."""
        workflow = self.get(workflow_id)
        info, number, _, definition = self.version_by_id(workflow, version_id)
        data = json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False).encode()
        write_private_atomic(path, data + b"\n")
        self.audit.record(AuditAction.EXPORT, portal_hub_id=workflow.portal.hub_id,
                          details={"what": "workflow version", "workflow": workflow.name,
                                   "version": number, "file": str(path)})
        return len(data)

    @staticmethod
    def export_destination(path: Path, now: dt.datetime | None = None) -> Path:
        """Where an export to ``path`` goes: the path itself, or a dated zip
        inside it when it is an existing folder."""
        if path.is_dir():
            stamp = (now or dt.datetime.now()).strftime("%Y-%m-%d-%H%M%S")
            return path / f"workflowguard-export-{stamp}.zip"
        return path

    def export_zip(self, path: Path, hub_id: int | None = None) -> int:
        """The current definition of every live workflow as a zip of JSON files
        plus a manifest (into a dated zip when ``path`` is a folder; callers
        that report the file resolve it first with ``export_destination``).
        Returns the number of workflows written."""
        path = self.export_destination(path)
        rows = [r for r in self.list(hub_id, include_deleted=False) if r.versions]
        buffer = io.BytesIO()
        manifest: dict[str, Any] = {"format": EXPORT_FORMAT, "app_version": APP_VERSION,
                                    "exported_at": utcnow().isoformat(), "workflows": []}
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for row in rows:
                workflow = Workflow.get_by_id(row.id)
                version = latest_version(workflow)
                data = json.dumps(version_json(version), indent=2, sort_keys=True,
                                  ensure_ascii=False).encode("utf-8")
                name = f"workflows/{row.hub_id}/{row.flow_id}.json"
                archive.writestr(name, data)
                manifest["workflows"].append({
                    "file": name, "hub_id": row.hub_id, "portal": row.portal_name,
                    "flow_id": row.flow_id, "name": row.name,
                    "revision_id": version.revision_id, "captured_at":
                    version.captured_at.isoformat(), "sha256": hashlib.sha256(data).hexdigest()})
            archive.writestr("manifest.json", json.dumps(manifest, indent=2,
                                                         ensure_ascii=False))
        try:
            write_private_atomic(path, buffer.getvalue())
        except OSError as exc:
            # The OS error names the temporary file beside the target; the
            # user only knows the path they asked for.
            raise ExportFailed(f"Cannot write {path}: {exc.strerror or exc}.") from None
        self.audit.record(AuditAction.EXPORT, portal_hub_id=hub_id,
                          details={"what": "workflows", "count": len(rows), "file": str(path)})
        return len(rows)

    def import_file(self, path: Path) -> tuple[Portal, int]:
        """Import a WorkflowGuard zip export, or a plain JSON file (one flow, a
        list of flows, or HubSpot's ``{"results": [...]}``), as read-only
        'imported' sources — one per source portal, so flows of different
        portals never share a history. Documents are read and stored one at a
        time inside one transaction, so memory stays bounded and a refusal
        anywhere leaves the store as it was. Returns the (first) imported
        source and the new versions."""
        found = stored = 0
        portals: dict[int, Portal] = {}
        with open_import(path) as reader, self.store.writing():
            sources = _manifest_sources(reader.manifest())
            fallback = _source_for_file(path)
            for name, document in reader.documents():
                flows = _flows_in(document, path)
                source = sources.get(name, fallback)
                stored += sum(self._store_imported(flow, source, portals) for flow in flows)
                found += len(flows)
                del document, flows     # freed before the next document is parsed
            if not found:
                raise ImportRejected(f"{path.name} contains no workflow definitions.")
        self.audit.record(AuditAction.IMPORT, details={
            "file": str(path), "workflows": found, "new_versions": stored,
            "sources": [p.name for p in portals.values()]})
        return next(iter(portals.values())), stored

    @staticmethod
    def _store_imported(flow: dict[str, Any], source: "ImportSource",
                        portals: dict[int, Portal]) -> int:
        """Store one imported flow; 1 if it made a new version."""
        portal = portals.get(source.pseudo_hub_id)
        if portal is None:
            portal, _ = Portal.get_or_create(hub_id=source.pseudo_hub_id, defaults={
                "name": source.label, "auth_kind": IMPORTED_AUTH_KIND,
                "status": PortalStatus.DISCONNECTED})
            portals[source.pseudo_hub_id] = portal
        workflow, _ = Workflow.get_or_create(portal=portal, flow_id=str(flow["id"]),
                                             defaults={"source": "imported"})
        workflow.name = str(flow.get("name") or "")
        workflow.object_type_id = str(flow.get("objectTypeId") or "")
        workflow.is_enabled = bool(flow.get("isEnabled", False))
        workflow.revision_id = str(flow.get("revisionId") or "")
        workflow.save()
        return 1 if add_version(workflow, normalize_flow(flow), origin="import",
                                revision_id=workflow.revision_id,
                                remote_updated_at=str(flow.get("updatedAt") or "")) else 0


@dataclass(frozen=True)
class ImportSource:
    """Where imported flows came from; each source portal gets its own history."""

    pseudo_hub_id: int        # negative: never collides with a real portal
    label: str


def _source_for_file(path: Path) -> ImportSource:
    digest = int(hashlib.sha256(path.name.encode()).hexdigest()[:12], 16)
    return ImportSource(-digest, f"Imported: {path.name}")


def _manifest_sources(manifest: Any) -> dict[str, ImportSource]:
    """The source portal of each file the manifest lists (by file name)."""
    sources: dict[str, ImportSource] = {}
    entries = manifest.get("workflows") if isinstance(manifest, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        hub = entry.get("hub_id") if isinstance(entry, dict) else None
        if isinstance(hub, int) and hub > 0:
            sources[str(entry.get("file"))] = ImportSource(
                -hub, f"Imported: {entry.get('portal') or hub} ({hub})")
    return sources


def _flows_in(document: Any, path: Path) -> list[dict[str, Any]]:
    """The flows of one document: a flow, a list of flows, or ``{"results": [...]}``."""
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        document = document["results"]
    flows = document if isinstance(document, list) else [document]
    for flow in flows:
        if not isinstance(flow, dict) or flow.get("id") in (None, ""):
            raise ImportRejected(f"{path.name}: every workflow needs an 'id'; nothing was "
                                 "imported.")
    return flows
