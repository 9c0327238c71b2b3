"""The diff view: summary on top, side-by-side JSON with the changed lines
highlighted, next/previous change, changes only, copy, save as HTML."""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from tests.ui.test_history_panel import ManualPool
from tests.unit.test_flow_diff import base, set_delay
from wg_desktop.flows.diff import RowTag
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus, Workflow
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.store.versions import add_version
from wg_desktop.ui.pages.diff_view import (NO_DIFFERENCES_TEXT, TAG_ROLE, DiffView,
                                           default_pair)
from wg_desktop.ui.pages.history_panel import HistoryPanel

WAIT = 10_000
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
    with qtbot.waitSignal(panel.version_loaded, timeout=WAIT):
        panel.show_workflow(workflow.id)
    return panel


def compare(qtbot, panel: HistoryPanel, **ids) -> DiffView:
    with qtbot.waitSignal(panel.diff_opened, timeout=WAIT) as opened:
        view = panel.compare(**ids)
    assert opened.args == [view]
    qtbot.waitUntil(lambda: view.result is not None, timeout=WAIT)   # computed by the runner
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
    with qtbot.waitSignal(panel.version_loaded, timeout=WAIT):
        panel.timeline.selectRow(1)                         # v2: the edit
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
    with qtbot.waitSignal(view.saved, timeout=WAIT) as saved:
        view.save_html(out)
    assert saved.args == [str(out)]
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
    with qtbot.waitSignal(view.diff_shown, timeout=WAIT):
        second()
    first()
    qtbot.wait(100)
    assert view.result.old_id == history[2].id
    assert len(view.change_rows()) == 3
