"""Importing exports and JSON files: validated first, one source per portal."""

from __future__ import annotations

import json
import os
import zipfile

import pytest

from wg_desktop.services.audit import AuditLog
from wg_desktop.config import Settings
from wg_desktop.services.workflows import ImportRejected, WorkflowQueries
from wg_desktop.store.db import open_store
from wg_desktop.store.models import Portal, Workflow, WorkflowVersion


@pytest.fixture
def queries(data_dir):
    store = open_store(data_dir / "i.db", os.urandom(32))
    yield WorkflowQueries(store, AuditLog(store, Settings.load(None, {})))
    store.close()


def make_zip(path, entries):
    manifest = {"format": "workflowguard-export/1", "workflows": []}
    with zipfile.ZipFile(path, "w") as archive:
        for hub, portal, flow in entries:
            name = f"workflows/{hub}/{flow['id']}.json"
            archive.writestr(name, json.dumps(flow))
            manifest["workflows"].append({"file": name, "hub_id": hub, "portal": portal,
                                          "flow_id": flow["id"]})
        archive.writestr("manifest.json", json.dumps(manifest))


def test_same_flow_id_from_two_portals_keeps_two_histories(queries, tmp_path):
    archive = tmp_path / "workflows.zip"
    make_zip(archive, [(11, "Alpha", {"id": "7", "name": "A"}),
                       (22, "Beta", {"id": "7", "name": "B"})])
    first, stored = queries.import_file(archive)
    assert stored == 2
    sources = {p.hub_id: p.name for p in Portal.select()}
    assert sources == {-11: "Imported: Alpha (11)", -22: "Imported: Beta (22)"}
    assert Workflow.select().count() == 2
    again, stored_again = queries.import_file(archive)      # same file: nothing new
    assert stored_again == 0 and WorkflowVersion.select().count() == 2


@pytest.mark.parametrize("content, message", [
    (b"{ nope", "not valid JSON"),
    (b'[{"name": "no id"}]', "needs an 'id'"),
    (b"[]", "no workflow definitions"),
])
def test_bad_files_are_refused_and_nothing_is_stored(queries, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(ImportRejected, match=message):
        queries.import_file(bad)
    assert Portal.select().count() == 0


def test_damaged_zip_is_refused(queries, tmp_path):
    archive = tmp_path / "x.zip"
    make_zip(archive, [(11, "Alpha", {"id": "7"})])
    data = archive.read_bytes()
    archive.write_bytes(data[:len(data) // 2] + b"\0" * 50 + data[len(data) // 2 + 50:])
    with pytest.raises(ImportRejected):
        queries.import_file(archive)
    assert Portal.select().count() == 0


def test_plain_hubspot_results_file_imports(queries, tmp_path):
    plain = tmp_path / "hubspot.json"
    plain.write_text(json.dumps({"results": [{"id": "1", "name": "One"},
                                             {"id": "2", "name": "Two"}]}))
    portal, stored = queries.import_file(plain)
    assert stored == 2 and portal.name == "Imported: hubspot.json" and portal.hub_id < 0
