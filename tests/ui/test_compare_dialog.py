"""Compare… from the main window: two workflows of two portals, or a workflow
with a file, picked in a dialog and shown in the diff view."""

from __future__ import annotations

import functools
import json

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from tests.support.context import make_context
from tests.ui.test_history_panel import ManualPool
from tests.unit.test_compare_sides import PRODUCTION, export_zip, flow, portals  # noqa: F401
from wg_desktop.flows.diff import RowTag
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Workflow
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.pages.compare_dialog import CompareDialog, CompareMode, WorkflowPicker
from wg_desktop.ui.pages.diff_view import TAG_ROLE
from wg_desktop.ui.pages.pair_diff_view import FILE_ID, PairDiffView

WAIT = 10_000
DELAY_CHANGE = "Action 2 'Delay': 30 minutes → 2 days"


@pytest.fixture
def queries(ctx) -> WorkflowQueries:
    return WorkflowQueries(ctx.store, ctx.audit)


@pytest.fixture(autouse=True)
def close_left_open():
    """Dialogs delete themselves on close, so qtbot cannot own them; whatever a
    test leaves open is closed here."""
    yield
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, (CompareDialog, PairDiffView)) and shiboken6.isValid(widget):
            widget.close()


def gone(dialog: CompareDialog) -> bool:
    return not shiboken6.isValid(dialog) or not dialog.isVisible()


LOADING = "Loading the stored workflows…"


@pytest.fixture
def host(qtbot) -> QWidget:
    """The window the dialog is opened from, as the app opens it from the main
    window: the diff view it opens belongs to that window (a parentless one
    would have no owner once the dialog is gone)."""
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def open_dialog(qtbot, host, queries, runner, mode, selected=None) -> CompareDialog:
    dialog = CompareDialog(queries, runner, mode, selected=selected, parent=host)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.status.text() != LOADING, timeout=WAIT)
    if selected is not None:
        qtbot.waitUntil(lambda: dialog.first.ready, timeout=WAIT)
        assert dialog.first.version.isEnabled()
    return dialog


def pick(qtbot, picker: WorkflowPicker, search: str) -> None:
    """What the user does: type in the search box, click the one row left."""
    qtbot.keyClicks(picker.search, search)
    assert picker.proxy.rowCount() == 1
    clicked = picker.proxy.index(0, 1)
    rect = picker.table.visualRect(clicked)
    qtbot.mouseClick(picker.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    # Its versions fill the picker's combo, which is disabled until then.
    qtbot.waitUntil(lambda: picker.version.isEnabled(), timeout=WAIT)
    assert picker.row is not None and picker.row.id == clicked.data(Qt.ItemDataRole.UserRole)
    assert picker.version.count() > 0 and picker.version.currentData() is not None


def pair_views() -> list[PairDiffView]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, PairDiffView) and w.isVisible()]


def showing(view: PairDiffView) -> bool:
    """The comparison of the chosen sides is on screen (not "Comparing…")."""
    return (view.result is not None and view.result.old_id == view.old_combo.currentData()
            and view.result.new_id == view.new_combo.currentData())


def press_compare(qtbot, dialog: CompareDialog) -> PairDiffView:
    assert dialog.compare_button.isEnabled()
    before = pair_views()
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(pair_views()) == len(before) + 1, timeout=WAIT)
    view = next(v for v in pair_views() if v not in before)
    qtbot.waitUntil(lambda: showing(view), timeout=WAIT)
    return view


def test_two_workflows_of_two_portals(qtbot, host, queries, runner, portals):  # noqa: F811
    production, sandbox = portals
    dialog = open_dialog(qtbot, host, queries, runner, CompareMode.WORKFLOWS,
                         selected=production.id)
    assert dialog.first.row.id == production.id                     # preselected
    assert dialog.first.version.currentText().endswith("(latest)")
    assert not dialog.compare_button.isEnabled()                    # no second side yet
    assert dialog.second.model.rowCount() == 2 and dialog.second.model.index(0, 0).data() \
        == "Production"
    pick(qtbot, dialog.second, "sandbox")
    view = press_compare(qtbot, dialog)
    assert gone(dialog)                                             # the view took over
    summary = view.summary.toPlainText()
    assert DELAY_CHANGE in summary
    assert f"Production › Onboarding ({PRODUCTION}:41) v2 of 2 →" in summary
    assert view.old_combo.currentText().startswith("Production › Onboarding · v2 ·")
    assert view.new_combo.count() == 1 and view.new_combo.currentText().startswith(
        "Sandbox › Onboarding · v1 ·")
    changed = [view.model.index(r, 1).data(TAG_ROLE) for r in range(view.model.rowCount())]
    assert changed.count(RowTag.CHANGED) == 2          # the delay and the flow id
    assert view.position.text() == "Change 1 of 2"
    # Another version of the first side is compared at once, on the worker.
    view.old_combo.setCurrentIndex(1)                               # v1: the old name
    assert view.status.text() == "Comparing…"
    qtbot.waitUntil(lambda: showing(view), timeout=WAIT)
    assert "Renamed 'Old name' → 'Onboarding'" in view.result.summary_text()
    assert "Renamed 'Old name' → 'Onboarding'" in view.summary.toPlainText()
    assert view.grab().save("/tmp/compare-workflows.png")


def test_a_workflow_with_a_file(qtbot, host, queries, runner, portals, tmp_path):  # noqa: F811
    production, _ = portals
    edited = flow("41")
    edited["actions"][1]["fields"]["delta"] = "2880"
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(edited))
    dialog = open_dialog(qtbot, host, queries, runner, CompareMode.FILE, selected=production.id)
    assert dialog.second is None and not dialog.compare_button.isEnabled()   # no file yet
    dialog.set_file(path)
    view = press_compare(qtbot, dialog)
    assert view.result.summary_line == DELAY_CHANGE
    assert view.new_combo.itemData(0) == FILE_ID
    assert view.new_combo.currentText() == "File flow.json: 'Onboarding' (41)"
    view.old_combo.setCurrentIndex(1)                     # v1 against the same file
    assert view.status.text() == "Comparing…"
    qtbot.waitUntil(lambda: showing(view), timeout=WAIT)
    assert "Renamed 'Old name' → 'Onboarding'" in view.result.summary_text()
    assert "Renamed 'Old name' → 'Onboarding'" in view.summary.toPlainText()


def test_a_file_of_several_workflows_asks_which(qtbot, host, queries, runner,
                                                portals, tmp_path):  # noqa: F811
    _, sandbox = portals
    path = export_zip(tmp_path / "export.zip", [(PRODUCTION, "Production", flow("41")),
                                                (PRODUCTION, "Production",
                                                 flow("77", name="Renewal"))])
    dialog = open_dialog(qtbot, host, queries, runner, CompareMode.FILE, selected=sandbox.id)
    dialog.set_file(path)
    assert dialog.file_workflow.isHidden()
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    assert dialog.status.text() == "Reading export.zip…"
    qtbot.waitUntil(lambda: not dialog.file_workflow.isHidden(), timeout=WAIT)
    assert dialog.file_workflow.count() == 2 and dialog.isVisible() and not pair_views()
    assert "none has flow id 88" in dialog.status.text()
    assert not dialog.file_workflow.isHidden()
    labels = [dialog.file_workflow.itemText(i) for i in range(dialog.file_workflow.count())]
    assert labels == [f"'Onboarding' (41) · workflows/{PRODUCTION}/41.json",
                      f"'Renewal' (77) · workflows/{PRODUCTION}/77.json"]
    dialog.file_workflow.setCurrentIndex(1)
    view = press_compare(qtbot, dialog)
    assert view.new_combo.currentText().endswith("'Renewal' (77)")
    assert "Renamed 'Onboarding' → 'Renewal'" in view.summary.toPlainText()


def test_a_bad_file_is_one_line_and_nothing_opens(qtbot, host, queries, runner,
                                                  portals, tmp_path):  # noqa: F811
    production, _ = portals
    path = tmp_path / "broken.json"
    path.write_text("{ nope")
    dialog = open_dialog(qtbot, host, queries, runner, CompareMode.FILE, selected=production.id)
    dialog.set_file(path)
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("broken.json: not valid JSON"),
                    timeout=WAIT)
    message = dialog.status.text()
    assert "\n" not in message and message.endswith("nothing was compared.")
    assert dialog.isVisible() and not pair_views()
    assert dialog.compare_button.isEnabled()                       # fix the file, try again


def held_file_dialog(qtbot, host, ctx, queries, workflow_id: int
                     ) -> tuple[CompareDialog, ManualPool]:
    """A file dialog on ``workflow_id`` whose reads wait until the test runs
    them (a slow disk); the stored workflows and its versions are read."""
    pool = ManualPool()
    runner = functools.partial(run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store))
    dialog = CompareDialog(queries, runner, CompareMode.FILE, selected=workflow_id, parent=host)
    dialog.show()
    pool.run_next()                                         # the stored workflows
    qtbot.waitUntil(lambda: len(pool.tasks) == 1, timeout=WAIT)
    pool.run_next()                                         # the workflow's versions
    qtbot.waitUntil(lambda: dialog.first.ready, timeout=WAIT)
    return dialog, pool


def test_a_file_read_overtaken_by_another_path_opens_nothing(
        qtbot, host, ctx, queries, portals, tmp_path):  # noqa: F811
    production, _ = portals
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(flow("41", name="Before")))
    edited = flow("41")
    edited["actions"][1]["fields"]["delta"] = "2880"
    after.write_text(json.dumps(edited))
    dialog, pool = held_file_dialog(qtbot, host, ctx, queries, production.id)
    dialog.set_file(before)
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    assert dialog.status.text() == "Reading before.json…" and len(pool.tasks) == 1
    read_before = pool.tasks.pop()
    dialog.set_file(after)                                  # edited while it was read
    assert dialog.status.text() == "" and dialog.compare_button.isEnabled()
    read_before()                                           # the late answer
    qtbot.wait(100)                                         # delivered (or dropped)
    assert not pair_views() and dialog.isVisible()
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    assert dialog.status.text() == "Reading after.json…"
    pool.run_next()
    qtbot.waitUntil(lambda: len(pair_views()) == 1, timeout=WAIT)
    view = pair_views()[0]
    assert view.new_combo.currentText() == "File after.json: 'Onboarding' (41)"
    pool.run_next()                                         # the comparison itself
    qtbot.waitUntil(lambda: showing(view), timeout=WAIT)
    assert view.result.summary_line == DELAY_CHANGE


def test_a_file_read_for_a_workflow_no_longer_chosen_opens_nothing(
        qtbot, host, ctx, queries, portals, tmp_path):  # noqa: F811
    production, sandbox = portals
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow("41")))
    dialog, pool = held_file_dialog(qtbot, host, ctx, queries, production.id)
    dialog.set_file(path)
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    read_for_production = pool.tasks.pop()
    assert dialog.first.select(sandbox.id)                  # another side, while it is read
    read_for_production()
    qtbot.wait(100)
    assert not pair_views() and dialog.isVisible()
    assert dialog.status.text() == ""
    qtbot.waitUntil(lambda: len(pool.tasks) == 1, timeout=WAIT)
    pool.run_next()                                         # the sandbox's versions
    qtbot.waitUntil(lambda: dialog.compare_button.isEnabled(), timeout=WAIT)


def test_cancel_does_nothing(qtbot, host, queries, runner, portals):  # noqa: F811
    production, _ = portals
    dialog = open_dialog(qtbot, host, queries, runner, CompareMode.WORKFLOWS,
                         selected=production.id)
    pick(qtbot, dialog.second, "sandbox")
    assert dialog.compare_button.isEnabled()
    before = Workflow.select().count()
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel),
                     Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT)
    qtbot.wait(100)                           # a view opened late would be on screen now
    assert not pair_views() and Workflow.select().count() == before


def test_no_stored_workflow_says_so(qtbot, host, queries, runner):
    dialog = open_dialog(qtbot, host, queries, runner, CompareMode.WORKFLOWS)
    assert "No workflow is stored yet" in dialog.status.text()
    assert dialog.first.model.rowCount() == 0 and dialog.second.model.rowCount() == 0
    assert not dialog.compare_button.isEnabled()


# -- the main window's Compare menu ----------------------------------------------------------

def test_the_menu_opens_the_dialog_on_the_selected_workflow(qtbot, ctx, portals):  # noqa: F811
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    production, _ = portals
    win = create_main_window(ctx, SynchronousPool())
    qtbot.addWidget(win)
    try:
        assert win.menus.compare_menu.menuAction().isVisible()
        assert [a.text() for a in win.menus.compare_menu.actions()] == [
            "Compare &two workflows…", "Compare a workflow with a &file…"]
        page = win.workflows_page
        win.show_page("Workflows")
        win.set_current_portal(PRODUCTION)
        qtbot.waitUntil(lambda: page.select_workflow(production.id), timeout=WAIT)
        assert page.selected_workflow_id() == production.id
        win.menus.compare_file_action.trigger()
        dialog = win.findChild(CompareDialog)
        assert dialog is not None and dialog.mode is CompareMode.FILE
        qtbot.waitUntil(lambda: dialog.first.ready, timeout=WAIT)
        assert dialog.first.row.id == production.id
        dialog.reject()
    finally:
        win.quitting = True
        win.close()


def test_comparison_off_hides_the_menu_entries(qtbot, tmp_path):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    context = make_context(tmp_path / "d", {"WG_FEATURES_WORKFLOW_COMPARISON": "false"})
    win = create_main_window(context, SynchronousPool())
    qtbot.addWidget(win)
    try:
        assert not win.menus.compare_menu.menuAction().isVisible()
        assert "&Compare" not in [a.text() for a in win.menuBar().actions() if a.isVisible()]
        assert win.open_compare(CompareMode.WORKFLOWS) is None
        assert win.findChild(CompareDialog) is None
    finally:
        win.quitting = True
        win.close()
        context.close()
