"""The Search page: a query lists every stored version containing it, late
answers of older searches are dropped, a hit opens the workflow's history at
that version (also from the main window)."""

from __future__ import annotations

import copy
import datetime as dt
import functools

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest

from tests.ui.test_history_panel import ManualPool, wait_for_history, wait_for_version
from wg_desktop.demo.data import FlowStore
from wg_desktop.services.search import SearchService
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus, Workflow
from wg_desktop.store.search import SearchHit, Snippet
from wg_desktop.store.versions import add_version
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import run_off_gui_thread
from wg_desktop.ui.pages.history_panel import SELECTION_DEBOUNCE_MS, HistoryPanel, ViewerTab
from wg_desktop.ui.pages.search_page import (MARKED_HTML_ROLE, Column, SearchPage,
                                             match_text, results_text, snippet_html)

WAIT = 10_000
HUB = 4_242
T0 = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)
DRIFTED_URL = "https://hooks.example.com/erp/drifted-endpoint"


@pytest.fixture
def synced(ctx) -> dict[str, Workflow]:
    """The demo portal's flows stored as a sync stores them, then one drift:
    a webhook moved in the workflow that has one (a second version)."""
    workflows: dict[str, Workflow] = {}
    with ctx.store.writing():
        portal = Portal.create(hub_id=HUB, name="Demo portal", auth_kind="private_app",
                               status=PortalStatus.CONNECTED)
        demo = FlowStore(HUB, seed=11, count=6)       # what the demo portal serves
        for flow_id in demo.flow_ids():
            body = demo.get(flow_id)
            flow = Workflow.create(portal=portal, flow_id=str(flow_id), name=body["name"],
                                   object_type_id=body["objectTypeId"])
            add_version(flow, body, origin="sync", captured_at=T0)
            workflows[body["name"]] = flow
            hooks = [a for a in body["actions"] if a.get("webhookUrl")]
            if hooks and "drifted" not in workflows:
                changed = copy.deepcopy(body)
                next(a for a in changed["actions"] if a.get("webhookUrl"))["webhookUrl"] = \
                    DRIFTED_URL
                add_version(flow, changed, origin="sync", captured_at=T0 + dt.timedelta(hours=1))
                workflows["drifted"] = flow
    return workflows


def make_page(qtbot, ctx, runner) -> SearchPage:
    page = SearchPage(SearchService(ctx.store), runner)
    qtbot.addWidget(page)
    page.resize(1000, 500)
    page.show()
    return page


def shown(page: SearchPage, column: Column) -> list[str]:
    return [page.model.index(r, column).data() for r in range(page.model.rowCount())]

def test_snippet_html_bolds_the_matches_and_escapes_the_rest():
    snippet = Snippet("actions[actionId=3].webhookUrl", "<b>x</b> https://erp.example.com",
                      ((9, 12),))
    assert snippet_html(snippet) == (
        "<span style='color:#516f90'>actions[actionId=3].webhookUrl:</span> "
        "&lt;b&gt;x&lt;/b&gt; <b>htt</b>ps://erp.example.com")
    assert results_text("x", [], 50) == "No stored version contains “x”."
    assert results_text("  ", [], 50) == ""


def test_typing_a_query_and_enter_lists_the_hits_with_the_match_marked(qtbot, ctx, synced,
                                                                       runner):
    page = make_page(qtbot, ctx, runner)
    qtbot.keyClicks(page.query, "drifted-endpoint")
    qtbot.keyClick(page.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.status.text() != "Searching…", timeout=WAIT)
    assert page.query.text() == "drifted-endpoint"
    assert page.model.rowCount() == 1
    flow = synced["drifted"]
    assert shown(page, Column.WORKFLOW) == [flow.name]
    assert shown(page, Column.PORTAL) == ["Demo portal"]
    assert shown(page, Column.VERSION) == ["v2 of 2"]
    marked = page.model.index(0, Column.MATCH).data(MARKED_HTML_ROLE)
    assert marked.endswith("https://hooks.example.com/erp/<b>drifted-endpoint</b>")
    assert "webhookUrl" in shown(page, Column.MATCH)[0]
    assert page.status.text() == "1 matching version."

    page.query.clear()
    qtbot.keyClicks(page.query, "hooks.example.com")   # in both versions of the drifted one
    qtbot.keyClick(page.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.model.rowCount() > 2, timeout=WAIT)
    assert page.status.text() == f"{page.model.rowCount()} matching versions."
    assert "v1 of 2" in [v for w, v in zip(shown(page, Column.WORKFLOW),
                                           shown(page, Column.VERSION)) if w == flow.name]
    assert page.grab().save("/tmp/search-page.png")


def test_typing_alone_searches_after_a_pause(qtbot, ctx, synced, runner):
    page = make_page(qtbot, ctx, runner)
    qtbot.keyClicks(page.query, "Newsletter")
    assert page.status.text() == "Type words to find every version that contains them."
    qtbot.waitUntil(lambda: page.status.text() == "1 matching version.", timeout=WAIT)
    assert page.query.text() == "Newsletter"
    assert shown(page, Column.WORKFLOW) == ["Newsletter double opt-in (DACH)"]


def test_a_late_answer_of_an_older_search_does_not_overwrite_a_newer_one(qtbot, ctx, synced):
    pool = ManualPool()
    page = make_page(qtbot, ctx, functools.partial(
        run_off_gui_thread, pool=StoreSessionPool(pool, ctx.store)))
    pool.tasks.clear()                                   # the index check on showing
    page.query.setText("Persona")
    page.search_now()
    page.query.setText("Newsletter")
    page.search_now()
    older, newer = pool.tasks
    pool.tasks.clear()
    newer()
    qtbot.waitUntil(lambda: page.status.text() != "Searching…", timeout=WAIT)
    assert shown(page, Column.WORKFLOW) == ["Newsletter double opt-in (DACH)"]
    older()
    qtbot.wait(100)                                      # let it be delivered (or not)
    assert shown(page, Column.WORKFLOW) == ["Newsletter double opt-in (DACH)"]
    assert page.status.text() == "1 matching version."


def test_activating_a_hit_asks_to_open_that_workflow_at_that_version(qtbot, ctx, synced,
                                                                     runner):
    page = make_page(qtbot, ctx, runner)
    page.query.setText("drifted-endpoint")
    page.search_now()
    qtbot.waitUntil(lambda: page.status.text() == "1 matching version.", timeout=WAIT)
    page.table.setFocus()
    with qtbot.waitSignal(page.open_requested, timeout=WAIT) as opened:
        qtbot.keyClick(page.table, Qt.Key.Key_Return)
    hit = opened.args[0]
    flow = synced["drifted"]
    newest = flow.versions.order_by(-flow.versions.model.id).first()
    assert (hit.hub_id, hit.workflow_id, hit.version_id) == (HUB, flow.id, newest.id)


def test_the_window_lists_search_after_workflows_and_opens_a_hit_in_the_history(
        qtbot, window, synced):
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    assert titles.index("Search") == titles.index("Workflows") + 1
    window.nav.setCurrentRow(titles.index("Search"))
    page = window.search_page
    assert window.stack.currentWidget() is page

    window.activateWindow()
    qtbot.waitActive(window)
    window.nav.setFocus()
    QTest.keySequence(window, QKeySequence(QKeySequence.StandardKey.Find))
    assert page.query.hasFocus()                        # Ctrl+F from anywhere on the page

    qtbot.keyClicks(page.query, "drifted-endpoint")
    qtbot.keyClick(page.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.status.text() == "1 matching version.", timeout=WAIT)
    flow = synced["drifted"]
    history = window.workflows_page.history
    first_version = flow.versions.order_by(flow.versions.model.id).first()
    # Open another version first, so the hit must really move the history.
    history.show_version(flow.id, first_version.id)
    qtbot.waitUntil(lambda: history.shown_version_id == first_version.id, timeout=WAIT)

    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    assert window.stack.currentWidget() is window.workflows_page
    hit = page.model.hit_at(0)
    qtbot.waitUntil(lambda: history.shown_version_id == hit.version_id, timeout=WAIT)
    assert history.workflow_id == flow.id
    qtbot.waitUntil(lambda: window.workflows_page.selected_workflow_id() == flow.id,
                    timeout=WAIT)
    # ... with the match selected in the version's words.
    qtbot.waitUntil(lambda: history.readable.selected_row() is not None, timeout=WAIT)
    row = history.readable.selected_row()
    assert "drifted-endpoint" in history.readable.shown_lines()[row][1]


# -- the hit's match highlighted in the opened version -------------------------------------

def test_match_text_is_the_first_marked_span_of_the_snippet():
    def hit(snippet):
        return SearchHit(HUB, "Demo", 1, "9", "Flow", False, 2, 1, 1, T0, "sync", snippet)

    url = "https://hooks.example.com/erp/Drifted-Endpoint"
    assert match_text(hit(Snippet("actions[actionId=3].webhookUrl", url,
                                  ((30, 46), (8, 13))))) == "Drifted-Endpoint"
    assert match_text(hit(Snippet("name", "Onboarding", ()))) is None
    assert match_text(hit(None)) is None


def open_hit(qtbot, ctx, runner, query, highlight=None):
    """Search ``query`` on the page, open the first hit in a history panel."""
    page = make_page(qtbot, ctx, runner)
    page.query.setText(query)
    page.search_now()
    qtbot.waitUntil(lambda: page.status.text() != "Searching…", timeout=WAIT)
    assert page.model.rowCount() > 0
    hit = page.model.hit_at(0)
    panel = HistoryPanel(WorkflowQueries(ctx.store, ctx.audit), runner)
    qtbot.addWidget(panel)
    panel.resize(1000, 520)
    panel.show()
    panel.show_version(hit.workflow_id, hit.version_id,
                       highlight=highlight if highlight is not None else match_text(hit))
    wait_for_version(qtbot, panel, hit.version_id, timeout=WAIT)
    return panel, hit


def test_opening_a_hit_selects_the_match_in_the_words_and_in_the_raw_json(
        qtbot, ctx, synced, runner):
    panel, hit = open_hit(qtbot, ctx, runner, "drifted-endpoint")
    assert match_text(hit) == "drifted-endpoint"
    assert panel.viewer_tabs.currentIndex() == ViewerTab.READABLE
    row = panel.readable.selected_row()
    assert row is not None
    step = panel.readable.shown_lines()[row][1]
    assert " Webhook " in step and step.endswith(DRIFTED_URL)
    # The raw JSON is laid out when its tab is shown, with the match selected and marked.
    panel.viewer_tabs.setCurrentIndex(ViewerTab.RAW)
    assert panel.raw_selection() == "drifted-endpoint"
    assert [m.cursor.selectedText() for m in panel.raw.extraSelections()] == \
        ["drifted-endpoint"]
    block = panel.raw.textCursor().block().text()
    assert DRIFTED_URL in block and '"webhookUrl"' in block

    # Another version opened without a highlight: nothing stays selected or marked.
    flow = synced["drifted"]
    first = flow.versions.order_by(flow.versions.model.id).first()
    assert first.id != hit.version_id
    panel.show_version(hit.workflow_id, first.id)
    wait_for_version(qtbot, panel, first.id, timeout=WAIT)
    assert panel.raw_selection() == "" and panel.raw.extraSelections() == []
    assert panel.readable.selected_row() is None


def test_a_match_the_words_do_not_show_brings_the_raw_json_forward(qtbot, ctx, synced, runner):
    panel, _ = open_hit(qtbot, ctx, runner, "drifted-endpoint", highlight="ActionId")
    assert panel.readable.selected_row() is None
    assert panel.viewer_tabs.currentIndex() == ViewerTab.RAW
    assert panel.raw_selection() == "actionId"            # any case, as the search matched
    assert panel.raw.textCursor().blockNumber() > 0


def test_a_hit_in_the_version_already_open_is_highlighted_too(qtbot, ctx, synced, runner):
    panel, hit = open_hit(qtbot, ctx, runner, "drifted-endpoint", highlight="no such text")
    assert panel.readable.selected_row() is None
    panel.show_version(hit.workflow_id, hit.version_id, highlight="Settings")
    assert panel.subtitle.text() == "Loading history…"
    wait_for_history(qtbot, panel, 2, timeout=WAIT)          # the drifted one's two versions
    qtbot.wait(SELECTION_DEBOUNCE_MS + 50)                  # no second load comes
    assert panel.shown_version_id == hit.version_id
    lines = panel.readable.shown_lines()
    assert lines[panel.readable.selected_row()] == (0, "Settings")

