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
from wg_desktop.store.normalize import normalize_flow
from wg_desktop.store.db import Store
from wg_desktop.store.models import Portal, PortalStatus, Workflow, WorkflowVersion, utcnow
from wg_desktop.store.versions import (VersionInfo, add_version, history, latest_version,
                                       version_json)

EXPORT_FORMAT = "workflowguard-export/1"
MAX_IMPORT_BYTES = 200 * 1024 * 1024
MAX_IMPORT_FILES = 5_000


class WorkflowNotFound(LookupError):
    pass


class ImportRejected(ValueError):
    """The file is not something we can import; nothing was stored."""


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
        versions = history(workflow)
        if not versions:
            raise WorkflowNotFound(f"'{workflow.name}' has no stored version.")
        if number is None:
            info = versions[0]
        else:
            text = str(number).strip().lower().removeprefix("v")
            position = int(text) if text.isdigit() else 0
            if not 1 <= position <= len(versions):
                raise WorkflowNotFound(f"'{workflow.name}' has no version '{number}' "
                                       f"(1 to {len(versions)}).")
            info = versions[len(versions) - position]
        return info, version_json(WorkflowVersion.get_by_id(info.id))

    def version_by_id(self, workflow: Workflow, version_id: int
                      ) -> tuple[VersionInfo, int, int, dict[str, Any]]:
        """A version by its database id: (info, its number, how many versions
        there are, definition)."""
        versions = history(workflow)
        for index, info in enumerate(versions):
            if info.id == version_id:
                return (info, len(versions) - index, len(versions),
                        version_json(WorkflowVersion.get_by_id(info.id)))
        raise WorkflowNotFound("This version is no longer stored.")

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

    def export_zip(self, path: Path, hub_id: int | None = None) -> int:
        """The current definition of every live workflow as a zip of JSON files
        plus a manifest. Returns the number of workflows written."""
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
        write_private_atomic(path, buffer.getvalue())
        self.audit.record(AuditAction.EXPORT, portal_hub_id=hub_id,
                          details={"what": "workflows", "count": len(rows), "file": str(path)})
        return len(rows)

    def import_file(self, path: Path) -> tuple[Portal, int]:
        """Import a WorkflowGuard zip export, or a plain JSON file (one flow, a
        list of flows, or HubSpot's ``{"results": [...]}``), as read-only
        'imported' sources — one per source portal, so flows of different
        portals never share a history. Everything is checked before anything
        is stored. Returns the (first) imported source and the new versions."""
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ImportRejected(f"{path.name} is larger than {MAX_IMPORT_BYTES >> 20} MB.")
        items = _read_flows(path)
        if not items:
            raise ImportRejected(f"{path.name} contains no workflow definitions.")
        stored = 0
        portals: dict[int, Portal] = {}
        with self.store.writing():
            for source, flow in items:
                portal = portals.get(source.pseudo_hub_id)
                if portal is None:
                    portal, _ = Portal.get_or_create(hub_id=source.pseudo_hub_id, defaults={
                        "name": source.label, "auth_kind": "import",
                        "status": PortalStatus.DISCONNECTED})
                    portals[source.pseudo_hub_id] = portal
                workflow, _ = Workflow.get_or_create(portal=portal, flow_id=str(flow["id"]),
                                                     defaults={"source": "imported"})
                workflow.name = str(flow.get("name") or "")
                workflow.object_type_id = str(flow.get("objectTypeId") or "")
                workflow.is_enabled = bool(flow.get("isEnabled", False))
                workflow.revision_id = str(flow.get("revisionId") or "")
                workflow.save()
                if add_version(workflow, normalize_flow(flow), origin="import",
                               revision_id=workflow.revision_id,
                               remote_updated_at=str(flow.get("updatedAt") or "")):
                    stored += 1
        self.audit.record(AuditAction.IMPORT, details={
            "file": str(path), "workflows": len(items), "new_versions": stored,
            "sources": [p.name for p in portals.values()]})
        return next(iter(portals.values())), stored


@dataclass(frozen=True)
class ImportSource:
    """Where imported flows came from; each source portal gets its own history."""

    pseudo_hub_id: int        # negative: never collides with a real portal
    label: str


def _source_for_file(path: Path) -> ImportSource:
    digest = int(hashlib.sha256(path.name.encode()).hexdigest()[:12], 16)
    return ImportSource(-digest, f"Imported: {path.name}")


def _read_flows(path: Path) -> list[tuple[ImportSource, dict[str, Any]]]:
    fallback = _source_for_file(path)
    sources: dict[str, ImportSource] = {}
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(".json")
                         and n != "manifest.json"]
                if len(names) > MAX_IMPORT_FILES:
                    raise ImportRejected(f"{path.name} holds more than {MAX_IMPORT_FILES} files.")
                total = sum(archive.getinfo(n).file_size for n in names)
                if total > MAX_IMPORT_BYTES:
                    raise ImportRejected(f"{path.name} unpacks to more than "
                                         f"{MAX_IMPORT_BYTES >> 20} MB.")
                if "manifest.json" in archive.namelist():
                    manifest = _parse(archive.read("manifest.json"), "manifest.json")
                    for entry in (manifest.get("workflows") or []
                                  if isinstance(manifest, dict) else []):
                        hub = entry.get("hub_id") if isinstance(entry, dict) else None
                        if isinstance(hub, int) and hub > 0:
                            sources[str(entry.get("file"))] = ImportSource(
                                -hub, f"Imported: {entry.get('portal') or hub} ({hub})")
                items = [(sources.get(n, fallback), _parse(archive.read(n), n)) for n in names]
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise ImportRejected(f"{path.name} is a damaged zip file ({exc}).") from None
    else:
        items = [(fallback, _parse(path.read_bytes(), path.name))]
    flows: list[tuple[ImportSource, dict[str, Any]]] = []
    for source, item in items:
        if isinstance(item, dict) and isinstance(item.get("results"), list):
            item = item["results"]
        for flow in item if isinstance(item, list) else [item]:
            if not isinstance(flow, dict) or flow.get("id") in (None, ""):
                raise ImportRejected("Every workflow needs an 'id'; nothing was imported.")
            flows.append((source, flow))
    return flows


def _parse(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRejected(f"{name} is not valid JSON ({exc}); nothing was imported.") \
            from None
