"""The comparison use case behind 'diff --workflows', 'diff --file' and the
window's Compare menu: two workflows across portals, a stored version and a
workflow in a file (HubSpot's flow JSON or this app's export)."""

from __future__ import annotations

import datetime as dt
import json
import os
import zipfile
from pathlib import Path

import pytest

from tests.unit.test_flow_diff import base, set_delay
from wg_desktop.services.compare import (FILE_SHORT_LABEL, WorkflowSide, compare_with_file,
                                         compare_workflows, file_flow_for)
from wg_desktop.services.compare_file import (CANDIDATES_NAMED, FileNotComparable,
                                              FileWorkflowChoiceNeeded)
from wg_desktop.services import import_reader
from wg_desktop.services.import_reader import MAX_JSON_DEPTH
from wg_desktop.services.workflows import WorkflowNotFound, WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus, Workflow, WorkflowVersion
from wg_desktop.store.normalize import normalize_flow
from wg_desktop.store.versions import add_version

T0 = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)
PRODUCTION, SANDBOX = 501, 502


def flow(flow_id: str, **changes) -> dict:
    """base() as HubSpot's API returns it: with its id and bookkeeping fields."""
    definition = {**base(), "id": flow_id, "revisionId": "7", "updatedAt": "2026-03-01T08:00:00Z"}
    definition.update(changes)
    return definition


def store_versions(portal: Portal, flow_id: str, name: str, *definitions: dict) -> Workflow:
    workflow = Workflow.create(portal=portal, flow_id=flow_id, name=name)
    for n, definition in enumerate(definitions):
        add_version(workflow, normalize_flow(definition), origin="sync",
                    captured_at=T0 + dt.timedelta(days=n))
    return workflow


@pytest.fixture
def queries(ctx) -> WorkflowQueries:
    return WorkflowQueries(ctx.store, ctx.audit)


@pytest.fixture
def portals(ctx) -> tuple[Workflow, Workflow]:
    """The same workflow in production (two versions) and in a sandbox (one,
    with the delay changed), under different flow ids as HubSpot gives them."""
    edited = flow("88")
    set_delay(edited)
    with ctx.store.writing():
        production = Portal.create(hub_id=PRODUCTION, name="Production",
                                   auth_kind="private_app", status=PortalStatus.CONNECTED)
        sandbox = Portal.create(hub_id=SANDBOX, name="Sandbox", auth_kind="private_app",
                                status=PortalStatus.CONNECTED)
        live = store_versions(production, "41", "Onboarding", flow("41", name="Old name"),
                              flow("41"))
        trial = store_versions(sandbox, "88", "Onboarding", edited)
    return live, trial


def test_two_workflows_across_portals_name_each_side_with_its_portal(queries, portals):
    production, sandbox = portals
    comparison = compare_workflows(queries, WorkflowSide(production.id),
                                   WorkflowSide(sandbox.id))
    assert comparison.old.label == f"Production › Onboarding ({PRODUCTION}:41) v2 of 2"
    assert comparison.new.label == f"Sandbox › Onboarding ({SANDBOX}:88) v1 of 1"
    phrases = [phrase for _, group in comparison.diff.grouped() for phrase in group]
    assert "Action 2 'Delay': 30 minutes → 2 days" in phrases
    assert not comparison.diff.identical
    # Only the delay and the id differ: the revision HubSpot bumps is not a change.
    paths = {f.path for change in comparison.diff.changes for f in change.fields}
    assert "revisionId" not in paths and "updatedAt" not in paths


def test_a_chosen_version_of_each_side(queries, portals):
    production, sandbox = portals
    first = queries.history(production)[-1]           # v1: the old name
    comparison = compare_workflows(queries, WorkflowSide(production.id, first.id),
                                   WorkflowSide(production.id))
    assert comparison.old.short_label == "v1" and comparison.new.short_label == "v2"
    assert comparison.diff.summary() == "Renamed 'Old name' → 'Onboarding'"
    same = compare_workflows(queries, WorkflowSide(sandbox.id), WorkflowSide(sandbox.id))
    assert same.diff.identical


def test_the_latest_version_of_a_side_is_decoded_once(queries, portals, monkeypatch):
    from wg_desktop.services import workflows

    decoded = []
    real = workflows.version_json
    monkeypatch.setattr(workflows, "version_json",
                        lambda version: decoded.append(version.id) or real(version))
    production, sandbox = portals
    comparison = compare_workflows(queries, WorkflowSide(production.id),
                                   WorkflowSide(sandbox.id))
    latest = queries.history(production)[0].id, queries.history(sandbox)[0].id
    assert decoded == list(latest)
    assert comparison.old.short_label == "v2" and comparison.new.short_label == "v1"


def test_a_workflow_without_versions_is_one_clear_error(queries, portals, ctx):
    production, _ = portals
    with ctx.store.writing():
        empty = Workflow.create(portal=production.portal, flow_id="99", name="Empty")
    with pytest.raises(WorkflowNotFound, match="'Empty' has no stored version"):
        compare_workflows(queries, WorkflowSide(empty.id), WorkflowSide(production.id))


def test_a_version_of_another_workflow_is_refused(queries, portals):
    production, sandbox = portals
    other = queries.history(sandbox)[0].id
    with pytest.raises(WorkflowNotFound, match="no longer stored"):
        compare_workflows(queries, WorkflowSide(production.id, other), WorkflowSide(sandbox.id))


# -- a file ------------------------------------------------------------------------------

def write_json(path: Path, document) -> Path:
    path.write_text(json.dumps(document))
    return path


def export_zip(path: Path, entries: list[tuple[int, str, dict]]) -> Path:
    """This app's export layout: workflows/HUB/FLOW.json plus a manifest."""
    manifest = {"format": "workflowguard-export/1", "workflows": []}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for hub, portal, definition in entries:
            name = f"workflows/{hub}/{definition['id']}.json"
            archive.writestr(name, json.dumps(normalize_flow(definition)))
            manifest["workflows"].append({"file": name, "hub_id": hub, "portal": portal,
                                          "flow_id": definition["id"],
                                          "name": definition.get("name")})
        archive.writestr("manifest.json", json.dumps(manifest))
    return path


def test_the_same_flow_from_hubspot_compares_as_identical(queries, portals, tmp_path):
    production, _ = portals
    # As HubSpot's API returns it: a newer revision, actions in another order.
    current = flow("41", revisionId="12", updatedAt="2026-04-01T00:00:00Z")
    current["actions"].reverse()
    comparison = compare_with_file(queries, WorkflowSide(production.id),
                                   write_json(tmp_path / "flow.json", current))
    assert comparison.diff.identical
    assert comparison.new.label == "File flow.json: 'Onboarding' (41)"
    assert comparison.new.short_label == FILE_SHORT_LABEL
    assert comparison.old.label.endswith("v2 of 2")


def test_a_file_with_an_edit_shows_it_against_a_chosen_version(queries, portals, tmp_path):
    production, _ = portals
    edited = flow("41")
    set_delay(edited)
    path = write_json(tmp_path / "flow.json", {"results": [edited]})
    latest = compare_with_file(queries, WorkflowSide(production.id), path)
    assert latest.diff.summary() == "Action 2 'Delay': 30 minutes → 2 days"
    first = queries.history(production)[-1]
    older = compare_with_file(queries, WorkflowSide(production.id, first.id), path)
    assert older.old.short_label == "v1"
    assert "Renamed 'Old name' → 'Onboarding'" in older.diff.summary()


def test_an_export_is_matched_by_flow_id_and_its_portal_first(queries, portals, tmp_path):
    production, sandbox = portals
    edited = flow("41")
    set_delay(edited)
    path = export_zip(tmp_path / "export.zip", [
        (SANDBOX, "Sandbox", flow("41", name="Sandbox copy")),   # same flow id, other portal
        (PRODUCTION, "Production", edited),
        (PRODUCTION, "Production", flow("77", name="Renewal"))])
    found = file_flow_for(queries, production.id, path)
    assert found.ref.entry == f"workflows/{PRODUCTION}/41.json" and found.ref.hub_id == PRODUCTION
    comparison = compare_with_file(queries, WorkflowSide(production.id), path)
    assert comparison.diff.summary() == "Action 2 'Delay': 30 minutes → 2 days"
    assert comparison.new.label == (f"File export.zip › workflows/{PRODUCTION}/41.json: "
                                    "'Onboarding' (41)")
    # The sandbox workflow (flow 88) is not in the file: a choice is needed.
    with pytest.raises(FileWorkflowChoiceNeeded) as asked:
        compare_with_file(queries, WorkflowSide(sandbox.id), path)
    assert str(asked.value) == "export.zip holds 3 workflows and none has flow id 88"
    assert "'Renewal' (77)" in asked.value.examples_text()
    chosen = compare_with_file(queries, WorkflowSide(sandbox.id), path, "renewal")
    assert chosen.new.label.endswith("'Renewal' (77)")
    by_entry = file_flow_for(queries, sandbox.id, path, f"workflows/{SANDBOX}/41.json")
    assert by_entry.ref.name == "Sandbox copy"


def test_the_same_flow_id_of_two_other_portals_asks_which(queries, portals, tmp_path, ctx):
    production, _ = portals
    path = export_zip(tmp_path / "two.zip", [(11, "A", flow("41", name="A copy")),
                                             (22, "B", flow("41", name="B copy"))])
    with pytest.raises(FileWorkflowChoiceNeeded, match="2 workflows in two.zip have flow id 41"):
        file_flow_for(queries, production.id, path)


def test_a_single_flow_is_compared_whatever_its_id(queries, portals, tmp_path):
    production, _ = portals
    comparison = compare_with_file(queries, WorkflowSide(production.id),
                                   write_json(tmp_path / "one.json", [flow("999")]))
    assert [c.fields[0].path for c in comparison.diff.changes] == ["id"]


def test_a_choice_names_a_few_candidates_only(queries, portals, tmp_path):
    production, _ = portals
    path = write_json(tmp_path / "many.json", [flow(str(n), name=f"W{n}") for n in range(1, 9)])
    with pytest.raises(FileWorkflowChoiceNeeded) as asked:
        file_flow_for(queries, production.id, path, "nope")
    assert str(asked.value) == "many.json holds no workflow 'nope' (8 workflows in it)"
    assert asked.value.examples_text().endswith(f"and {8 - CANDIDATES_NAMED} more")
    assert len(asked.value.candidates) == 8


@pytest.mark.parametrize("content, message", [
    (b"{ nope", "bad.json: not valid JSON"),
    (b'{"name": "no id"}', "bad.json: not a HubSpot workflow"),
    (b"[1, 2]", "bad.json: not a HubSpot workflow"),
    (b"[]", "bad.json holds no workflow"),
    (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nests deeper than"),
])
def test_a_bad_file_is_one_clear_line_and_the_store_is_untouched(queries, portals, tmp_path,
                                                                   content, message):
    production, _ = portals
    before = WorkflowVersion.select().count()
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(FileNotComparable) as refused:
        compare_with_file(queries, WorkflowSide(production.id), path)
    text = str(refused.value)
    assert message in text and "\n" not in text
    assert text.endswith("nothing was compared.") and "imported" not in text
    assert WorkflowVersion.select().count() == before


def test_hostile_and_oversized_files_are_refused_unread(queries, portals, tmp_path,
                                                        monkeypatch):
    production, _ = portals
    bomb = tmp_path / "bomb.zip"       # bzip2 is not decompressed in bounded steps
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("workflows/1/41.json", json.dumps(flow("41")))
    with pytest.raises(FileNotComparable, match="compression method other than deflate"):
        compare_with_file(queries, WorkflowSide(production.id), bomb)
    monkeypatch.setattr(import_reader, "MAX_ENTRY_BYTES", 1 << 10)
    big = write_json(tmp_path / "big.json", flow("41", description="x" * 2048))
    with pytest.raises(FileNotComparable, match="big.json: larger than 0 MB; nothing was"):
        compare_with_file(queries, WorkflowSide(production.id), big)


def test_a_path_that_is_not_a_regular_file_is_refused(queries, portals, tmp_path):
    production, _ = portals
    with pytest.raises(FileNotComparable, match="not a regular file"):
        compare_with_file(queries, WorkflowSide(production.id), tmp_path)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(FileNotComparable, match="not a regular file"):
        compare_with_file(queries, WorkflowSide(production.id), fifo)
    with pytest.raises(FileNotComparable, match="cannot be read"):
        compare_with_file(queries, WorkflowSide(production.id), tmp_path / "missing.json")
