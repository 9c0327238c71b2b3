"""The keyboard: Tab walks every page without getting stuck in a table, and
the window's shortcuts do what Help → Keyboard shortcuts says."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication, QWidget

from tests.ui.conftest import open_settings_dialog
from wg_desktop.store.models import Portal, Workflow, utcnow

WAIT = 20_000
MAX_PRESSES = 60


def _activate(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)


def _tab_walk(qtbot, window) -> list[QWidget]:
    """Focus after each Tab press, from the page list round to it again."""
    window.nav.setFocus(Qt.FocusReason.TabFocusReason)
    visited: list[QWidget] = []
    for _ in range(MAX_PRESSES):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        focused = QApplication.focusWidget()
        assert not visited or focused is not visited[-1], \
            f"Tab is stuck in {type(focused).__name__}"
        if focused is window.nav:
            return visited
        visited.append(focused)
    raise AssertionError(f"Tab never came back to the page list: "
                         f"{[type(w).__name__ for w in visited]}")


def _stored_workflows(count: int = 5) -> None:
    portal = Portal.create(hub_id=77, name="Keyboard portal")
    for n in range(count):
        Workflow.create(portal=portal, flow_id=str(n), name=f"Flow {n}",
                        last_synced_at=utcnow())


def test_tab_leaves_every_table_and_reaches_each_pages_controls(qtbot, window):
    _stored_workflows()
    _activate(qtbot, window)
    wanted = {
        "Workflows": (window.workflows_page.search, window.workflows_page.table,
                      window.workflows_page.history.timeline,
                      window.workflows_page.history.viewer_tabs.tabBar()),
        "Search": (window.search_page.query, window.search_page.table),
        "Audit log": (window.audit_page.search, window.audit_page.table),
        "Background jobs": (window.jobs_page.jobs_view, window.jobs_page.runs_view),
        "Backups": (window.backups_page,),
    }
    for row, page in enumerate(window.pages):
        window.nav.setCurrentRow(row)
        if page.title == "Workflows":
            window.show_page(page.title)     # loads the rows stored above
            qtbot.waitUntil(lambda: window.workflows_page.table.model().rowCount() == 5,
                            timeout=WAIT)
            window.workflows_page.table.selectRow(0)     # the history panel fills
            qtbot.waitUntil(lambda: window.workflows_page.history.workflow_id is not None,
                            timeout=WAIT)
        visited = _tab_walk(qtbot, window)
        views = [w for w in page.widget.findChildren(QAbstractItemView)
                 if w.isVisible() and w.isEnabled()
                 and w.focusPolicy() & Qt.FocusPolicy.TabFocus]
        for view in views:
            assert view in visited, f"{page.title}: Tab never reaches a {type(view).__name__}"
        if page.title == "Background jobs":
            assert window.jobs_page.jobs_model.rowCount() > 0   # a filled table is left too
        for target in wanted.get(page.title, ()):
            assert any(w is target or target.isAncestorOf(w) for w in visited), \
                f"{page.title}: Tab never reaches {type(target).__name__}"


def test_tables_take_arrows_not_tab(window):
    window.pages.build_all()         # pages are built lazily; each is tuned when built
    for view in window.findChildren(QAbstractItemView):
        assert not view.tabKeyNavigation(), type(view).__name__


def test_ctrl_f_focuses_the_search_box_of_the_page_shown(qtbot, window):
    _activate(qtbot, window)
    for title, box in (("Workflows", window.workflows_page.search),
                       ("Audit log", window.audit_page.search),
                       ("Search", window.search_page.query)):
        window.show_page(title)
        window.nav.setFocus()
        qtbot.keyClick(window.nav, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert QApplication.focusWidget() is box, title


def test_help_lists_the_shortcuts_that_the_keys_trigger(qtbot, window, monkeypatch):
    rows = dict(window.menus.shortcut_rows())
    for keys in ("Ctrl+F", "Ctrl+,", "Ctrl+Q", "F5", "Ctrl+D"):
        assert any(keys in k.split(", ") for k in rows), keys
    dialog = window.menus.show_shortcuts()
    assert dialog.isVisible()
    dialog.reject()

    _activate(qtbot, window)
    open_settings_dialog(qtbot, window, lambda: qtbot.keyClick(
        window.nav, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)).reject()

    _activate(qtbot, window)
    quits: list[bool] = []
    monkeypatch.setattr(QApplication, "quit", lambda: quits.append(True))
    monkeypatch.setattr(window, "tray", None)     # quit closes instead of hiding
    qtbot.keyClick(window.nav, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert quits == [True] and not window.isVisible()


def test_f5_syncs_the_current_portal(qtbot, hub_window, hubspot, demo):
    portal = hubspot.connection.connect_private_app(demo.private_app_token(demo.portal_ids[0]))
    hub_window.reload_portals(select=portal.hub_id)
    qtbot.waitUntil(lambda: hub_window.current_portal() == portal.hub_id, timeout=WAIT)
    hub_window.show_page("Connection")
    _activate(qtbot, hub_window)
    qtbot.waitUntil(lambda: hub_window.workflows_page.sync_button.isEnabled(), timeout=WAIT)
    with qtbot.waitSignal(hub_window.workflows_page.sync_finished, timeout=WAIT):
        qtbot.keyClick(hub_window.nav, Qt.Key.Key_F5)
    assert hub_window.stack.currentWidget() is hub_window.workflows_page
    qtbot.waitUntil(lambda: hub_window.workflows_page.table.model().rowCount() > 0,
                    timeout=WAIT)


def test_f5_without_hubspot_is_greyed_out(window):
    assert not window.menus.sync_action.isEnabled()
