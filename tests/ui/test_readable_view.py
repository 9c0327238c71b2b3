"""The history panel's first tab: a version in words (trigger first, one line
per step, branches indented under their conditions)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from tests.ui.test_history_panel import wait_for_version
from tests.unit.test_flow_diff import base
from wg_desktop.flows.words import LineKind, WordLine
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus, Workflow
from wg_desktop.store.versions import add_version
from wg_desktop.ui.pages.history_panel import HistoryPanel, ViewerTab
from wg_desktop.ui.pages.readable_view import (INDENT_ROLE, INDENT_STEP_PX, KIND_ROLE,
                                               ReadableView)

WAIT = 10_000


@pytest.fixture
def branching_workflow(ctx) -> Workflow:
    with ctx.store.writing():
        portal = Portal.create(hub_id=778, name="Acme", auth_kind="private_app",
                               status=PortalStatus.CONNECTED)
        flow = Workflow.create(portal=portal, flow_id="9100", name="Onboarding")
        add_version(flow, base(), origin="sync")
    return flow


def test_the_readable_tab_shows_the_trigger_first_and_branches_indented(
        qtbot, ctx, branching_workflow, runner):
    panel = HistoryPanel(WorkflowQueries(ctx.store, ctx.audit), runner)
    qtbot.addWidget(panel)
    panel.resize(1000, 520)
    panel.show()
    panel.show_workflow(branching_workflow.id)
    newest = branching_workflow.versions.order_by(-branching_workflow.versions.model.id).first()
    wait_for_version(qtbot, panel, newest.id, timeout=WAIT)

    assert panel.viewer_tabs.currentIndex() == ViewerTab.READABLE
    assert [panel.viewer_tabs.tabText(i) for i in range(3)] == ["Readable", "JSON tree",
                                                                "Raw JSON"]
    model = panel.readable.model
    shown = [(model.index(r).data(INDENT_ROLE), model.index(r).data())
             for r in range(model.rowCount())]
    assert shown[:2] == [(0, "Trigger"), (1, "Enroll when records meet the criteria")]
    assert shown[-5:] == [(1, "3. Branch by conditions"),
                          (2, "If Path A: no conditions"),
                          (3, "4. Set lifecycle stage to Lead"),
                          (2, "Otherwise (None met)"),
                          (3, "5. Create task 'Call back'")]
    assert (1, "1. Send email 123") in shown and (1, "2. Delay 30 minutes") in shown
    branch_rows = [r for r in range(model.rowCount())
                   if model.index(r).data(KIND_ROLE) == LineKind.BRANCH]
    assert [model.index(r).data() for r in branch_rows] == ["If Path A: no conditions",
                                                            "Otherwise (None met)"]
    heading = model.index(0).data(Qt.ItemDataRole.FontRole)
    assert heading is not None and heading.bold()
    assert panel.grab().save("/tmp/history-readable.png")


def test_the_delegate_draws_deeper_lines_further_right(qtbot):
    view = ReadableView()
    qtbot.addWidget(view)
    view.set_lines([WordLine(1, "4. Send email 123", LineKind.ACTION, "4"),
                    WordLine(4, "4. Send email 123", LineKind.ACTION, "4")])
    delegate = view.list.itemDelegate()
    option = QStyleOptionViewItem()
    option.font = view.list.font()
    top = delegate.sizeHint(option, view.model.index(0))
    nested = delegate.sizeHint(option, view.model.index(1))
    assert nested.width() - top.width() == 3 * INDENT_STEP_PX
    assert view.shown_lines() == [(1, "4. Send email 123"), (4, "4. Send email 123")]
    view.clear()
    assert view.model.rowCount() == 0
