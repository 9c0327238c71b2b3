"""The Workflows page's Changes tab and "changed since you last looked",
against the demo portal: each sync's changes newest first with their
summaries, double-click opens that version, rows marked, HubSpot's updatedAt."""

from __future__ import annotations

import httpx
import pytest
from PySide6.QtCore import Qt

from tests.ui.test_history_panel import wait_for_version
from wg_desktop.demo.flows import READ_ONLY_KEYS as DEMO_READ_ONLY
from wg_desktop.services.changes import parse_remote_time
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Workflow
from wg_desktop.store.versions import latest_version
from wg_desktop.ui.pages.history_panel import local_time_text
from wg_desktop.ui.pages.workflows_page import Column, LowerTab, WorkflowsPage

WAIT = 20_000


def put(demo, hub_id, flow_id, change):
    flow = demo.get_flow(hub_id, flow_id)
    body = {k: v for k, v in flow.items() if k not in DEMO_READ_ONLY}
    change(body)
    answer = httpx.put(f"{demo.base_url}/automation/v4/flows/{flow_id}", json=body,
                       headers={"Authorization": f"Bearer {demo.private_app_token(hub_id)}"})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def page(qtbot, ctx, hubspot, demo, runner):
    portal = hubspot.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    widget = WorkflowsPage(WorkflowQueries(ctx.store, ctx.audit), hubspot.sync, runner,
                           restore=hubspot.restore)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    with qtbot.waitSignal(widget.loaded, timeout=WAIT):
        widget.set_portal(portal.hub_id)
    with qtbot.waitSignal(widget.loaded, timeout=WAIT):        # the first capture
        widget.start_sync()
    return widget


def row_of(page, workflow_id):
    for row in range(page.proxy.rowCount()):
        if page.proxy.index(row, 0).data(Qt.ItemDataRole.UserRole) == workflow_id:
            return row
    raise AssertionError("row not shown")


def test_changes_tab_lists_each_sync_newest_first_and_opens_the_version(qtbot, page, demo):
    hub_id = page.hub_id
    flow_id = demo.flow_ids(hub_id)[0]
    put(demo, hub_id, flow_id, lambda b: b.update(name=b["name"] + " (renamed)"))
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.start_sync()
    page.lower_tabs.setCurrentIndex(LowerTab.CHANGES)
    assert page.changes_status.text() == "Loading…"
    qtbot.waitUntil(lambda: page.changes_status.text() != "Loading…", timeout=WAIT)
    # The edit, then the first capture.
    assert page.changes_status.text() == "2 changes · newest first"
    model = page.changes_model
    assert model.rowCount() == 2
    first, second = model.rows
    assert first.flow_id == flow_id and first.label == "Renamed"
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    version = latest_version(workflow)
    assert model.index(0, 3).data() == version.summary and "(renamed)" in version.summary
    assert second.label == "First capture"
    assert page.changes_table.isColumnHidden(4)    # one portal: no portal column

    assert page.history.shown_version_id is None
    page.changes_table.doubleClicked.emit(model.index(0, 1))
    wait_for_version(qtbot, page.history, version.id, timeout=WAIT)
    assert page.history.title.text() == workflow.name
    assert page.lower_tabs.currentIndex() == LowerTab.HISTORY
    assert page.selected_workflow_id() == workflow.id
    assert page.open_change(second) is False       # a first capture has no workflow


def test_rows_changed_since_last_looked_are_marked(qtbot, page, demo):
    hub_id = page.hub_id
    # Looking again (the page shown after the first capture) clears the marks.
    page.hide()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.show()
    assert not any(page.model.changed_since_look(r) for r in page.model.rows)
    flow_id = demo.flow_ids(hub_id)[1]
    put(demo, hub_id, flow_id, lambda b: b.update(description="changed while away"))
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.start_sync()
    workflow = Workflow.get(Workflow.flow_id == flow_id)
    marked = [r.id for r in page.model.rows if page.model.changed_since_look(r)]
    assert marked == [workflow.id]
    row = row_of(page, workflow.id)
    assert page.proxy.index(row, Column.NAME).data(Qt.ItemDataRole.FontRole).bold()
    assert "changed since you last looked" in page.count_label.text()

    # "Last changed" is HubSpot's updatedAt; the capture time is in the tooltip.
    remote = parse_remote_time(demo.get_flow(hub_id, flow_id)["updatedAt"])
    cell = page.proxy.index(row, Column.LAST_CHANGED)
    assert cell.data() == local_time_text(remote)
    assert "Captured by this app" in cell.data(Qt.ItemDataRole.ToolTipRole)

    page.hide()
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        page.show()                                 # looked: the mark goes
    assert not any(page.model.changed_since_look(r) for r in page.model.rows)
