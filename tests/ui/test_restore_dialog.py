"""The restore dialog against the demo portal: plan shown, cancel does nothing,
confirm applies, undo offered and works, a conflict shows the new plan, a
refusal keeps Restore disabled. Opened from the history panel."""

from __future__ import annotations

import httpx
import pytest
from PySide6.QtCore import Qt

from tests.ui.test_history_panel import wait_for_history, wait_for_version
from wg_desktop.demo.flows import READ_ONLY_KEYS as DEMO_READ_ONLY
from wg_desktop.services.restore import ORIGIN_RESTORE, READ_ONLY_KEYS, RestoreService
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Workflow
from wg_desktop.store.normalize import canonical_bytes, normalize_flow
from wg_desktop.store.versions import add_version, history, latest_version, version_json
from wg_desktop.ui.pages.history_panel import HistoryPanel
from wg_desktop.ui.pages.restore_dialog import RestoreDialog, Stage

WAIT = 15_000


def edit(demo, hub_id, flow_id, suffix):
    """Change a flow in HubSpot as a person in the editor would (one PUT)."""
    flow = demo.get_flow(hub_id, flow_id)
    body = {k: v for k, v in flow.items() if k not in DEMO_READ_ONLY}
    body["name"] = flow["name"] + suffix
    answer = httpx.put(f"{demo.base_url}/automation/v4/flows/{flow_id}", json=body,
                       headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 200, answer.text


def comparable(flow):
    return canonical_bytes({k: v for k, v in normalize_flow(flow).items()
                            if k not in READ_ONLY_KEYS})


def puts(demo):
    return [e for e in demo.request_log() if e.method in ("PUT", "POST")
            and "/automation/v4/flows" in e.path and "batch" not in e.path]


@pytest.fixture
def edited(ctx, hubspot, demo):
    """A synced contact flow with two versions: the original, then a rename."""
    portal = hubspot.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    hub_id = portal.hub_id
    hubspot.sync.sync(hub_id)
    flow_id = next(fid for fid in demo.flow_ids(hub_id)
                   if demo.get_flow(hub_id, fid)["objectTypeId"] == "0-1")
    original = demo.get_flow(hub_id, flow_id)
    edit(demo, hub_id, flow_id, " (edited)")
    hubspot.sync.sync(hub_id)
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    assert len(history(workflow)) == 2
    return hub_id, flow_id, workflow, original


@pytest.fixture
def panel(qtbot, ctx, hubspot, runner):
    widget = HistoryPanel(WorkflowQueries(ctx.store, ctx.audit), runner,
                          restore=hubspot.restore)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def load(qtbot, panel, workflow) -> None:
    # Until the newest version is open too: no load is left in flight at teardown.
    versions = history(workflow)
    panel.show_workflow(workflow.id)
    wait_for_history(qtbot, panel, len(versions), timeout=WAIT)
    wait_for_version(qtbot, panel, versions[0].id, timeout=WAIT)


def restore_dialogs(panel) -> list[RestoreDialog]:
    """The restore dialogs the panel has open on screen."""
    return [d for d in panel.findChildren(RestoreDialog) if d.isVisible()]


def open_dialog(qtbot, panel, workflow, number) -> RestoreDialog:
    load(qtbot, panel, workflow)
    versions = history(workflow)
    version_id = versions[len(versions) - number].id
    assert restore_dialogs(panel) == []
    # The dialog starts planning at once; catch its first plan.
    dialog = panel.restore_version(version_id)
    assert dialog is not None
    qtbot.waitUntil(lambda: restore_dialogs(panel) == [dialog], timeout=WAIT)
    qtbot.waitUntil(lambda: dialog.stage is not Stage.PLANNING, timeout=WAIT)
    return dialog


def test_plan_is_shown_before_anything_is_sent(qtbot, panel, edited, demo):
    hub_id, flow_id, workflow, _ = edited
    demo.clear_request_log()
    dialog = open_dialog(qtbot, panel, workflow, 1)
    assert panel.restore_button.isVisible() and panel.can_restore
    assert dialog.stage is Stage.READY and dialog.restore_button.isEnabled()
    assert "version 1 of 2" in dialog.headline.text()
    assert "(edited)" in dialog.changes.toPlainText()            # the rename is undone
    assert "Workflow" in dialog.changes.toPlainText()            # grouped by section
    assert dialog.warnings.count() == len(dialog.plan.warnings)
    assert puts(demo) == []


def test_cancel_does_nothing(qtbot, panel, edited, demo):
    hub_id, flow_id, workflow, _ = edited
    before = demo.get_flow(hub_id, flow_id)
    dialog = open_dialog(qtbot, panel, workflow, 1)
    demo.clear_request_log()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert demo.get_flow(hub_id, flow_id) == before
    assert puts(demo) == [] and len(history(workflow)) == 2


def test_confirm_applies_then_undo_is_offered_and_works(qtbot, panel, edited, demo):
    hub_id, flow_id, workflow, original = edited
    edited_flow = demo.get_flow(hub_id, flow_id)
    dialog = open_dialog(qtbot, panel, workflow, 1)
    with qtbot.waitSignal(dialog.applied, timeout=WAIT) as applied:
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    # The panel reloads its history: the restore stored versions.
    wait_for_history(qtbot, panel, len(history(workflow)), timeout=WAIT)
    qtbot.wait(300)            # the reloaded history reopens its version (debounced)
    result = applied.args[0]
    assert comparable(demo.get_flow(hub_id, flow_id)) == comparable(original)
    assert dialog.stage is Stage.DONE and "Restored" in dialog.headline.text()
    assert [v.origin for v in history(workflow)][0] == ORIGIN_RESTORE
    assert panel.versions_model.rowCount() == len(history(workflow))    # reloaded
    assert dialog.undo_button.isVisible() and dialog.undo_button.isEnabled()

    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    assert not dialog.restore_button.isEnabled()          # planning the undo
    qtbot.waitUntil(lambda: dialog.restore_button.isEnabled(), timeout=WAIT)
    undo_plan = dialog.plan
    assert undo_plan.target_version_id == result.undo_version_id
    assert f"to version {result.undo_number} of " in dialog.headline.text()
    assert dialog.stage is Stage.READY and dialog.restore_button.text() == "Undo restore"
    assert comparable(demo.get_flow(hub_id, flow_id)) == comparable(original)   # not yet
    with qtbot.waitSignal(dialog.applied, timeout=WAIT):
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert comparable(demo.get_flow(hub_id, flow_id)) == comparable(edited_flow)
    dialog.close()


def test_restore_as_turned_off_plans_again_and_applies_turned_off(qtbot, panel, edited, demo):
    hub_id, flow_id, workflow, _ = edited
    dialog = open_dialog(qtbot, panel, workflow, 1)
    assert not dialog.plan.as_disabled and "turned off" not in dialog.headline.text()
    dialog.as_disabled.setChecked(True)
    assert dialog.plan is None and not dialog.restore_button.isEnabled()    # planning again
    qtbot.waitUntil(lambda: dialog.restore_button.isEnabled(), timeout=WAIT)
    assert dialog.plan.as_disabled and "turned off" in dialog.headline.text()
    assert dialog.as_disabled.isChecked()
    with qtbot.waitSignal(dialog.applied, timeout=WAIT):
        dialog.confirm()
    assert demo.get_flow(hub_id, flow_id)["isEnabled"] is False


def test_conflict_shows_the_new_plan_instead_of_overwriting(qtbot, panel, edited, demo):
    hub_id, flow_id, workflow, _ = edited
    dialog = open_dialog(qtbot, panel, workflow, 1)
    edit(demo, hub_id, flow_id, " again")          # someone saves in HubSpot meanwhile
    theirs = demo.get_flow(hub_id, flow_id)
    planned_against_theirs = f"Planned against live revision {theirs['revisionId']}."
    assert not dialog.headline.text().endswith(planned_against_theirs)
    dialog.confirm()
    assert dialog.stage is Stage.APPLYING and not dialog.restore_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.restore_button.isEnabled(), timeout=WAIT)
    assert demo.get_flow(hub_id, flow_id) == theirs              # not overwritten
    assert dialog.plan.live_revision_id == str(theirs["revisionId"])
    assert dialog.headline.text().endswith(planned_against_theirs)
    assert dialog.stage is Stage.READY and "since the plan was made" in dialog.message.text()
    assert "again" in dialog.changes.toPlainText()
    with qtbot.waitSignal(dialog.applied, timeout=WAIT):           # confirmed again: applies
        dialog.confirm()
    assert "again" not in demo.get_flow(hub_id, flow_id)["name"]


def test_a_refused_plan_says_why_and_keeps_restore_disabled(qtbot, ctx, panel, edited, demo):
    hub_id, flow_id, workflow, _ = edited
    other_type = dict(version_json(latest_version(workflow)), objectTypeId="0-3")
    with ctx.store.writing():
        add_version(workflow, other_type, origin="sync")
    before = demo.get_flow(hub_id, flow_id)
    dialog = open_dialog(qtbot, panel, workflow, 3)
    assert dialog.stage is Stage.REFUSED and not dialog.restore_button.isEnabled()
    assert "object type" in dialog.message.text()
    dialog.confirm()                                   # ignored: nothing to confirm
    assert dialog.stage is Stage.REFUSED and demo.get_flow(hub_id, flow_id) == before


def test_restore_is_offered_only_for_synced_workflows_with_hubspot(qtbot, ctx, runner, edited):
    _, _, workflow, _ = edited
    queries = WorkflowQueries(ctx.store, ctx.audit)
    without = HistoryPanel(queries, runner)
    qtbot.addWidget(without)
    without.show()
    load(qtbot, without, workflow)
    assert not without.restore_button.isVisible() and without.restore_version() is None
    assert without.findChildren(RestoreDialog) == []

    Workflow.update(source="imported").where(Workflow.id == workflow.id).execute()
    service = RestoreService(ctx.store, ctx.audit, None, ctx.settings)   # never reached
    imported = HistoryPanel(queries, runner, restore=service)
    qtbot.addWidget(imported)
    imported.show()
    load(qtbot, imported, workflow)
    assert not imported.restore_button.isVisible() and imported.restore_version() is None
    assert imported.findChildren(RestoreDialog) == []


def test_a_failed_restore_says_why_and_changes_nothing(qtbot, panel, edited, demo,
                                                       hubspot, monkeypatch):
    hub_id, flow_id, workflow, _ = edited
    before = demo.get_flow(hub_id, flow_id)
    dialog = open_dialog(qtbot, panel, workflow, 1)
    versions_before = len(history(workflow))

    def refused(plan):
        raise RuntimeError("HubSpot answered 503 Service Unavailable")

    monkeypatch.setattr(hubspot.restore, "apply_restore", refused)
    demo.clear_request_log()
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.stage is Stage.FAILED, timeout=WAIT)
    assert dialog.message.isVisible()
    assert dialog.message.text() == "HubSpot answered 503 Service Unavailable"
    assert not dialog.restore_button.isEnabled() and not dialog.undo_button.isVisible()
    assert dialog.cancel_button.text() == "Close" and dialog.cancel_button.isEnabled()
    assert not dialog.busy.isVisible()
    assert demo.get_flow(hub_id, flow_id) == before and puts(demo) == []
    assert len(history(workflow)) == versions_before
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
