"""The diff view: summary on top, side-by-side JSON with the changed lines
highlighted, next/previous change, changes only, copy, save as HTML."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.ui.test_history_panel import ManualPool, wait_for_history, wait_for_version
from tests.unit.test_flow_diff import base, set_delay
from wg_desktop.flows.diff import RowTag
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus, Workflow
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.store.versions import add_version
from wg_desktop.services.compare import LIVE_LABEL
from wg_desktop.ui.pages.diff_view import (LIVE_ID, NO_DIFFERENCES_TEXT, TAG_ROLE, DiffView,
                                           default_pair)
from wg_desktop.ui.pages.history_panel import SELECTION_DEBOUNCE_MS, HistoryPanel

WAIT = 10_000
SELECTION_WAIT_MS = SELECTION_DEBOUNCE_MS + 100
T0 = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)


def edited() -> dict:
    """base() with the delay at 2 days and re-enrollment on: two separate changes."""
    flow = base()
    set_delay(flow)
    flow["enrollmentCriteria"]["shouldReEnroll"] = True
    return flow


def renamed() -> dict:
    flow = edited()
    flow["name"] = "Onboarding EMEA"
    return flow


@pytest.fixture
def workflow(ctx) -> Workflow:
    with ctx.store.writing():
        portal = Portal.create(hub_id=779, name="Acme", auth_kind="private_app",
                               status=PortalStatus.CONNECTED)
        flow = Workflow.create(portal=portal, flow_id="9200", name="Onboarding EMEA")
        for n, definition in enumerate((base(), edited(), renamed())):
            add_version(flow, definition, origin="sync", captured_at=T0 + dt.timedelta(days=n))
    return flow


@pytest.fixture
def queries(ctx) -> WorkflowQueries:
    return WorkflowQueries(ctx.store, ctx.audit)


def open_panel(qtbot, queries, runner, workflow) -> HistoryPanel:
    panel = HistoryPanel(queries, runner)
    qtbot.addWidget(panel)
    panel.resize(1000, 520)
    panel.show()
    panel.show_workflow(workflow.id)
    wait_for_version(qtbot, panel, queries.history(workflow)[0].id, timeout=WAIT)
    return panel


def diff_windows(panel: HistoryPanel) -> list[DiffView]:
    """The diff views the panel has open on screen."""
    return [view for view in panel.findChildren(DiffView) if view.isVisible()]


def compared(view: DiffView) -> bool:
    """The comparison of the chosen pair is on screen (not "Comparing…")."""
    return (view.result is not None and view.result.old_id == view.old_combo.currentData()
            and view.result.new_id == view.new_combo.currentData())


def compare(qtbot, panel: HistoryPanel, **ids) -> DiffView:
    before = diff_windows(panel)
    view = panel.compare(**ids)
    assert view is not None and view not in before
    qtbot.waitUntil(lambda: view in diff_windows(panel), timeout=WAIT)
    assert view.isWindow()
    qtbot.waitUntil(lambda: compared(view), timeout=WAIT)     # computed by the runner
    return view


def tags(view: DiffView) -> list[str]:
    return [view.model.index(r, 1).data(TAG_ROLE) for r in range(view.model.rowCount())]


def test_default_pair_is_the_selected_version_and_the_one_before():
    assert default_pair([30, 20, 10], None) == (20, 30)
    assert default_pair([30, 20, 10], 20) == (10, 20)
    assert default_pair([30, 20, 10], 10) == (10, 10)     # the first: with itself


def test_compare_shows_the_grouped_summary_and_highlights_changed_lines(
        qtbot, queries, workflow, runner):
    panel = open_panel(qtbot, queries, runner, workflow)
    panel.timeline.selectRow(1)                             # v2: the edit
    wait_for_version(qtbot, panel, queries.history(workflow)[1].id, timeout=WAIT)
    view = compare(qtbot, panel)
    assert view.old_combo.currentText().startswith("v1 ·")
    assert view.new_combo.currentText().startswith("v2 ·")
    summary = view.summary.toPlainText()
    assert "Triggers" in summary and "Re-enrollment turned on" in summary
    assert "Actions" in summary and "Action 2 'Delay': 30 minutes → 2 days" in summary
    assert summary.index("Triggers") < summary.index("Actions")

    changed = [r for r, tag in enumerate(tags(view)) if tag != RowTag.EQUAL]
    assert len(changed) == 2
    row = changed[0]
    old_bg = view.model.index(row, 1).data(Qt.ItemDataRole.BackgroundRole)
    new_bg = view.model.index(row, 3).data(Qt.ItemDataRole.BackgroundRole)
    assert old_bg is not None and new_bg is not None and old_bg != new_bg
    assert view.model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole) is None
    assert "30" in view.model.index(changed[0], 1).data()          # the delay, then re-enrollment
    assert "2880" in view.model.index(changed[0], 3).data()
    assert "false" in view.model.index(changed[1], 1).data()
    assert view.current_row() == changed[0]                # opens on the first change
    assert view.position.text() == "Change 1 of 2"
    assert view.grab().save("/tmp/diff-view.png")


def test_next_and_previous_change_move_the_current_row_by_keyboard_and_buttons(
        qtbot, queries, workflow, runner):
    panel = open_panel(qtbot, queries, runner, workflow)
    view = compare(qtbot, panel, old_id=queries.history(workflow)[2].id)   # v1 → v3
    starts = view.change_rows()
    assert len(starts) == 3                          # name, re-enrollment, delay
    assert view.current_row() == starts[0]
    assert not view.previous_button.isEnabled()
    view.activateWindow()
    qtbot.waitActive(view)
    qtbot.keyClick(view.table, Qt.Key.Key_F7)
    assert view.current_row() == starts[1]
    qtbot.keyClick(view.table, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert view.current_row() == starts[2]
    assert view.position.text() == "Change 3 of 3"
    assert not view.next_button.isEnabled()
    view.next_button.click()                          # at the last change: stays
    assert view.current_row() == starts[2]
    qtbot.keyClick(view.table, Qt.Key.Key_F7, Qt.KeyboardModifier.ShiftModifier)
    assert view.current_row() == starts[1]
    qtbot.keyClick(view.table, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert view.current_row() == starts[0]
    view.next_button.click()
    assert view.current_row() == starts[1]
    view.previous_button.click()
    assert view.current_row() == starts[0]


def test_changes_only_hides_the_unchanged_lines_and_keeps_the_place(
        qtbot, queries, workflow, runner):
    panel = open_panel(qtbot, queries, runner, workflow)
    view = compare(qtbot, panel, old_id=queries.history(workflow)[2].id)
    total = view.model.rowCount()
    view.next_change()
    second = view.model.row_at(view.current_row())
    view.changes_only.click()
    assert 0 < view.model.rowCount() < total
    assert all(tag != RowTag.EQUAL for tag in tags(view))
    assert view.model.row_at(view.current_row()) == second      # still on the same change
    assert len(view.change_rows()) == 3
    view.changes_only.click()
    assert view.model.rowCount() == total


def test_identical_versions_say_no_differences(qtbot, queries, workflow, runner):
    panel = open_panel(qtbot, queries, runner, workflow)
    newest = queries.history(workflow)[0].id
    view = compare(qtbot, panel, old_id=newest, new_id=newest)
    assert "no differences" in view.summary.toPlainText().lower()
    assert view.result.summary_text() == NO_DIFFERENCES_TEXT
    assert view.change_rows() == []
    assert view.position.text() == "No changed lines"
    assert not view.next_button.isEnabled() and not view.previous_button.isEnabled()


def test_save_as_html_writes_the_summary_and_the_table(qtbot, queries, workflow, runner,
                                                       tmp_path):
    panel = open_panel(qtbot, queries, runner, workflow)
    view = compare(qtbot, panel)                      # v2 → v3: renamed
    out = tmp_path / "diff.html"
    view.save_html(out)
    qtbot.waitUntil(lambda: view.status.text() == "Saved diff.html.", timeout=WAIT)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "Renamed &#x27;Onboarding&#x27; → &#x27;Onboarding EMEA&#x27;" in page
    assert "class='del'" in page and "class='add'" in page
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_copy_puts_the_summary_and_a_unified_diff_on_the_clipboard(qtbot, queries, workflow,
                                                                   runner):
    panel = open_panel(qtbot, queries, runner, workflow)
    view = compare(qtbot, panel)
    view.copy_button.click()
    text = QGuiApplication.clipboard().text()
    assert text.startswith("Onboarding EMEA: v2 ·")
    assert "Renamed 'Onboarding' → 'Onboarding EMEA'" in text
    assert "--- v2" in text and "+++ v3" in text
    assert '-  "name": "Onboarding",' in text and '+  "name": "Onboarding EMEA",' in text


def test_a_late_answer_for_versions_no_longer_chosen_is_dropped(qtbot, ctx, queries, workflow):
    pool = ManualPool()
    runner = functools.partial(run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
    history = queries.history(workflow)                   # newest first
    choices_panel = HistoryPanel(queries, runner)
    qtbot.addWidget(choices_panel)
    choices_panel.show_workflow(workflow.id)
    pool.run_next()
    qtbot.waitUntil(lambda: choices_panel.versions_model.rowCount() == 3, timeout=WAIT)
    pool.tasks.clear()                                     # the newest version's load
    view = choices_panel.compare()                         # v2 → v3 requested...
    first = pool.tasks.pop()
    view.old_combo.setCurrentIndex(view.old_combo.findData(history[2].id))   # ...then v1 → v3
    second = pool.tasks.pop()
    assert view.status.text() == "Comparing…"
    second()
    qtbot.waitUntil(lambda: view.result is not None, timeout=WAIT)
    first()
    qtbot.wait(100)
    assert view.result.old_id == history[2].id
    assert view.old_combo.currentData() == history[2].id
    assert len(view.change_rows()) == 3 and view.position.text() == "Change 1 of 3"


# -- compare with live (demo portal) -------------------------------------------------------

def rename_in_hubspot(demo, hub_id, flow_id, name):
    """Someone renames the flow in HubSpot's editor; the app has not synced since."""
    import httpx

    from wg_desktop.demo.flows import READ_ONLY_KEYS as DEMO_READ_ONLY

    flow = demo.get_flow(hub_id, flow_id)
    body = {k: v for k, v in flow.items() if k not in DEMO_READ_ONLY}
    body["name"] = name
    answer = httpx.put(f"{demo.base_url}/automation/v4/flows/{flow_id}", json=body,
                       headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def synced_flow(ctx, hubspot, demo):
    """One synced demo flow (one stored version), renamed in HubSpot since."""
    portal = hubspot.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    hubspot.sync.sync(portal.hub_id)
    flow_id = demo.flow_ids(portal.hub_id)[0]
    rename_in_hubspot(demo, portal.hub_id, flow_id, "Renamed in HubSpot")
    return portal.hub_id, flow_id, Workflow.get(Workflow.flow_id == flow_id)


def flow_reads(demo, flow_id) -> int:
    return sum(1 for e in demo.request_log()
               if e.method == "GET" and e.path.endswith(f"/automation/v4/flows/{flow_id}"))


def live_panel(qtbot, queries, runner, hubspot, workflow, **options) -> HistoryPanel:
    panel = HistoryPanel(queries, runner, restore=hubspot.restore, **options)
    qtbot.addWidget(panel)
    panel.resize(1000, 520)
    panel.show()
    panel.show_workflow(workflow.id)
    versions = queries.history(workflow)
    wait_for_version(qtbot, panel, versions[0].id, timeout=WAIT)
    assert panel.versions_model.rowCount() == len(versions)
    return panel


def test_compare_with_live_reads_hubspot_on_the_worker_and_shows_the_drift(
        qtbot, ctx, queries, hubspot, demo, synced_flow):
    hub_id, flow_id, workflow = synced_flow
    pool = ManualPool()
    runner = functools.partial(run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
    panel = HistoryPanel(queries, runner, restore=hubspot.restore)
    qtbot.addWidget(panel)
    panel.show()
    panel.show_workflow(workflow.id)
    pool.run_next()
    wait_for_history(qtbot, panel, 1, timeout=WAIT)
    qtbot.wait(SELECTION_WAIT_MS)                        # the debounced version load
    pool.run_next()                                      # the version in words...
    qtbot.waitUntil(lambda: len(pool.tasks) == 1, timeout=WAIT)
    pool.run_next()                                      # ...then its tree and text
    wait_for_version(qtbot, panel, timeout=WAIT)
    assert panel.live_button.isVisible() and panel.live_button.isEnabled()

    reads = flow_reads(demo, flow_id)
    assert diff_windows(panel) == []
    qtbot.mouseClick(panel.live_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(diff_windows(panel)) == 1, timeout=WAIT)
    view = diff_windows(panel)[0]
    # Opening the window sent nothing: the read waits on the worker pool.
    assert view.result is None and len(pool.tasks) == 1
    assert flow_reads(demo, flow_id) == reads
    assert view.status.text() == "Reading the live workflow from HubSpot…"
    pool.run_next()
    qtbot.waitUntil(lambda: view.result is not None, timeout=WAIT)
    result = view.result
    assert view.status.text() == "" and view.copy_button.isEnabled()
    assert flow_reads(demo, flow_id) == reads + 1        # fresh, not the sync's cached answer
    assert view.new_combo.currentText() == LIVE_LABEL == result.new_label
    assert view.model.headerData(3, Qt.Orientation.Horizontal) == LIVE_LABEL
    assert not result.identical and "Renamed in HubSpot" in view.summary.toPlainText()
    assert any('"Renamed in HubSpot"' in row.right for row in result.rows
               if row.tag is not RowTag.EQUAL)
    assert result.unified[1] == "+++ live"
    view.close()


def test_live_is_a_right_side_choice_in_compare_and_equal_content_says_no_differences(
        qtbot, ctx, queries, runner, hubspot, demo, synced_flow):
    hub_id, flow_id, workflow = synced_flow
    panel = live_panel(qtbot, queries, runner, hubspot, workflow)
    view = compare(qtbot, panel)
    assert view.new_combo.itemData(0) == LIVE_ID and view.old_combo.findData(LIVE_ID) == -1
    # HubSpot back at the stored content: only the revision moved, which is not a change.
    rename_in_hubspot(demo, hub_id, flow_id, workflow.name)
    assert view.result.new_id != LIVE_ID
    view.new_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: compared(view), timeout=WAIT)
    assert view.result.identical and view.summary.toPlainText().endswith(NO_DIFFERENCES_TEXT)
    view.close()


def test_compare_with_live_when_hubspot_refuses_the_token_says_so(
        qtbot, ctx, queries, runner, hubspot, demo, synced_flow):
    from wg_desktop.demo.server import Faults

    _, _, workflow = synced_flow
    panel = live_panel(qtbot, queries, runner, hubspot, workflow)
    demo.set_faults(Faults(unauthorized_rate=1.0))
    view = panel.compare_live()
    assert view in diff_windows(panel)
    assert view.status.text() == "Reading the live workflow from HubSpot…"
    qtbot.waitUntil(lambda: view.status.text() != "Reading the live workflow from HubSpot…",
                    timeout=WAIT)
    assert view.status.text().startswith("Could not read the live workflow:")
    assert view.result is None and not view.copy_button.isEnabled()
    assert view.summary.toPlainText() == "" and view.model.rowCount() == 0
    demo.set_faults(Faults())
    view.close()


def test_compare_with_live_is_offered_only_for_a_synced_workflow_with_hubspot_set_up(
        qtbot, ctx, queries, runner, hubspot, demo, synced_flow):
    _, _, workflow = synced_flow
    without_hubspot = open_panel(qtbot, queries, runner, workflow)
    assert not without_hubspot.live_button.isVisible()
    assert without_hubspot.compare_live() is None
    feature_off = live_panel(qtbot, queries, runner, hubspot, workflow, comparison=False)
    assert not feature_off.live_button.isVisible() and feature_off.compare_live() is None

    with ctx.store.writing():
        Workflow.update(source="imported").where(Workflow.id == workflow.id).execute()
    imported = live_panel(qtbot, queries, runner, hubspot, workflow)
    assert not imported.live_button.isVisible() and imported.compare_live() is None
    with ctx.store.writing():
        Workflow.update(source="sync", deleted_at=T0).where(Workflow.id == workflow.id).execute()
    deleted = live_panel(qtbot, queries, runner, hubspot, workflow)
    assert not deleted.live_button.isVisible() and deleted.compare_live() is None
