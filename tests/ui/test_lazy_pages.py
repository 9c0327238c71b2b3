"""Pages built lazily (ui/window/pages.py): the list is complete at once, only
the first page exists before the first paint, a page built later is wired to
the others as one built at start was, and start-up imports no page it does not
show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QSplitter

from wg_desktop.services.portal_list import portal_rows
from wg_desktop.store.models import Portal, Workflow
from wg_desktop.ui.jobs import SynchronousPool

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20_000
TITLES = ["Overview", "Connection", "Workflows", "Search", "Health", "Backups", "Audit log",
          "Background jobs"]


def test_every_entry_is_listed_with_its_icon_but_only_the_overview_is_built(window):
    assert [window.nav.item(r).text() for r in range(window.nav.count())] == TITLES
    assert all(not window.nav.item(r).icon().isNull() for r in range(window.nav.count()))
    assert [entry.title for entry in window.pages if entry.built] == ["Overview"]
    assert window.stack.count() == len(TITLES)
    assert window.built_page("Workflows") is None        # asking this way builds nothing
    assert [entry.title for entry in window.pages if entry.built] == ["Overview"]


def test_clicking_an_entry_builds_its_page_in_place(qtbot, window):
    window.nav.setCurrentRow(TITLES.index("Background jobs"))
    page = window.built_page("Background jobs")
    assert page is not None and window.stack.currentWidget() is page
    assert window.stack.indexOf(page) == TITLES.index("Background jobs")
    assert page.jobs_model.rowCount() > 0                 # read when built
    assert window.stack.count() == len(TITLES)


def test_idle_building_builds_the_rest_one_per_turn(qtbot, window):
    window.build_pages_when_idle()
    built = [entry.title for entry in window.pages if entry.built]
    assert built == ["Overview", "Connection"]             # one now, the others later
    qtbot.waitUntil(lambda: all(entry.built for entry in window.pages), timeout=WAIT)
    assert window.stack.currentWidget() is window.overview_page     # nothing jumped


def test_a_page_built_after_the_portal_was_chosen_shows_that_portal(qtbot, window, ctx):
    with ctx.store.session():
        Portal.create(hub_id=61, name="Later")
    # A window without HubSpot lists no portals; this one lists what the store holds.
    window.portal_switcher.load_rows = lambda: portal_rows(Portal.select())
    window.reload_portals(select=61)
    qtbot.waitUntil(lambda: window.current_portal() == 61, timeout=WAIT)
    assert window.built_page("Search") is None
    assert window.search_page._hub_id == 61 and window.search_page.this_portal.isEnabled()
    assert window.workflows_page.hub_id == 61


def test_a_restore_from_a_backup_reloads_the_workflows_page_built_later(qtbot, window):
    backups = window.backups_page
    reloads: list[int] = []
    page = window.workflows_page                           # built after the Backups page
    page.reload = lambda: reloads.append(1)
    backups.live_store_changed.emit()
    assert reloads == [1]


def test_the_scheduled_backup_refreshes_the_backups_page_only_once_built(qtbot, window):
    window._job_done_for_backups("backup")                 # not built: nothing to do
    assert window.built_page("Backups") is None
    page = window.backups_page
    reloads: list[int] = []
    page.reload = lambda: reloads.append(1)
    window.scheduler.finished.emit("backup", "done")
    assert reloads == [1]


def test_ctrl_f_works_on_a_page_built_on_demand(qtbot, window):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    window.show_page("Audit log")                          # built now
    window.nav.setFocus()
    qtbot.keyClick(window.nav, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is window.audit_page.search


def test_a_page_not_built_keeps_its_remembered_layout(qtbot, ctx):
    from wg_desktop.ui.app import create_main_window

    def open_window():
        win = create_main_window(ctx, SynchronousPool())
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        return win

    first = open_window()
    first.workflows_page.splitter.setSizes([150, 400])
    wanted = first.workflows_page.splitter.sizes()
    first.quitting = True
    first.close()
    second = open_window()                                 # Workflows never built here
    second.quitting = True
    second.close()
    third = open_window()
    assert third.workflows_page.splitter.sizes() == wanted
    assert isinstance(third.workflows_page.splitter, QSplitter)
    third.quitting = True
    third.close()


def test_hubspot_made_later_is_made_when_a_page_needs_it(qtbot, ctx, hubspot):
    from wg_desktop.services.hubspot_setup import describe_target
    from wg_desktop.ui.app import create_main_window

    made: list[int] = []

    def later():
        made.append(1)
        return hubspot

    win = create_main_window(ctx, SynchronousPool(), hubspot_later=later)
    qtbot.addWidget(win)
    try:
        assert made == [] and win.hubspot is None
        assert win.statusBar().target_label.text().startswith("HubSpot: starting")
        assert not win.menus.sync_action.isEnabled()
        page = win.connection_page                         # needs HubSpot: made now
        assert made == [1] and win.hubspot is hubspot
        assert type(page).__name__ == "ConnectionPage"
        assert win.menus.sync_action.isEnabled()
        assert win.statusBar().target_label.text() == describe_target(hubspot)
        win.ensure_hubspot()
        assert made == [1]                                 # once
    finally:
        win.quitting = True
        win.close()


def test_hubspot_that_cannot_be_made_leaves_a_window_without_it(qtbot, ctx):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.widgets import NoHubSpotPage

    win = create_main_window(ctx, SynchronousPool(), hubspot_later=lambda: None)
    qtbot.addWidget(win)
    try:
        win.show_page("Connection")
        assert isinstance(win.pages.widget("Connection"), NoHubSpotPage)
        assert win.connection_page is None and win.hubspot is None
        assert win.statusBar().target_label.text() == "HubSpot not configured"
        assert not win.demo_banner.isVisibleTo(win)
    finally:
        win.quitting = True
        win.close()


def test_pause_and_resume_background_work(qtbot, window):
    window.scheduler.start()
    assert window.pause_background() is True
    assert not window.scheduler.is_active() and not window._status_timer.isActive()
    window.resume_background(True)
    assert window.scheduler.is_active() and window._status_timer.isActive()
    window.scheduler.stop()
    assert window.pause_background() is False             # stays stopped on resume
    window.resume_background(False)
    assert not window.scheduler.is_active()


# Start-up in a process of its own: what is imported and built by the first
# paint, and what the window shows once its data is open.
_FIRST_PAINT = """
import json, os, sys
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])
HEAVY = ("keyring", "peewee", "sqlcipher3", "wg_desktop.context", "wg_desktop.store.db",
         "wg_desktop.hubspot.transport.client", "pyqtgraph")
seen = {}

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and type(obj).__name__ == "MainWindow" \\
                and "first" not in seen:
            seen["first"] = {
                "pages": sorted(m for m in sys.modules if m.startswith("wg_desktop.ui.pages.")),
                "heavy": [m for m in HEAVY if m in sys.modules],
                "built": [e.title for e in obj.pages if e.built],
                "opening": obj.opening_label.isVisibleTo(obj) and obj.opening_label.text(),
                "nav_enabled": obj.nav.isEnabled(),
                "settings_enabled": obj.menus.settings_action.isEnabled(),
                "quit_enabled": obj.menus.quit_action.isEnabled(),
                "demo_banner": obj.demo_banner.isVisibleTo(obj)}
            overview_shown(obj)
        return False

def overview_shown(window):
    def check():
        page = window.built_page("Overview")
        if page is None or page.overview is None:
            return
        seen["ready"] = {"built": [e.title for e in window.pages if e.built][:1],
                         "opening": window.opening_label.isVisibleTo(window),
                         "nav_enabled": window.nav.isEnabled(),
                         "settings_enabled": window.menus.settings_action.isEnabled(),
                         "showing": window.stack.currentWidget() is page}
        print(json.dumps(seen), flush=True)
        os._exit(0)
    from PySide6.QtCore import QTimer
    timer = QTimer(window, interval=20)
    timer.timeout.connect(check)
    timer.start()

watcher = FirstPaint()
app.installEventFilter(watcher)
from wg_desktop.ui.launch import run_gui
run_gui(sys.argv[1])
"""


def test_the_window_paints_before_its_data_and_then_opens_on_the_overview(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "WG_"))}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               PYTHON_KEYRING_BACKEND="tests.support.memory_keyring.MemoryKeyring",
               HUBSPOT_TOKEN_ENCRYPTION_KEY="ab" * 32)
    out = subprocess.run([sys.executable, "-c", _FIRST_PAINT, str(tmp_path / "data")],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    first, ready = seen["first"], seen["ready"]
    # The first frame: the window alone. The keychain, the database, the
    # services, the HubSpot client and every page come after it.
    assert first["heavy"] == [] and first["pages"] == [] and first["built"] == []
    assert first["opening"] == "Opening your data…"
    assert first["nav_enabled"] is False and first["settings_enabled"] is False
    assert first["quit_enabled"] is True
    # ...but the frame already says the demo is in use (nothing else configured).
    assert first["demo_banner"] is True
    # Then the data opens behind it and the window opens on the Overview.
    assert ready == {"built": ["Overview"], "opening": False, "nav_enabled": True,
                     "settings_enabled": True, "showing": True}


def test_after_the_first_paint_the_demo_connects_and_every_page_is_built(qtbot, ctx):
    """run_gui's after-paint steps, in order, on a window made as run_gui makes it."""
    from wg_desktop.ui.app import (build_services, connect_demo_portal, create_main_window,
                                   schedule_window_jobs)

    holder = {}

    def later():
        holder["services"] = build_services(ctx)
        return holder["services"]

    win = create_main_window(ctx, SynchronousPool(), jobs_later=True, hubspot_later=later)
    qtbot.addWidget(win)
    try:
        assert win.scheduler.specs() == ()                 # jobs come after the frame
        win.show()
        qtbot.waitExposed(win)
        win.ensure_hubspot()
        schedule_window_jobs(win, win.hubspot)
        assert {"retention", "sync", "health"} <= {s.name for s in win.scheduler.specs()}
        assert win.demo_banner.isVisibleTo(win)
        connect_demo_portal(win, win.hubspot)
        qtbot.waitUntil(lambda: win.current_portal() is not None, timeout=WAIT)
        win.build_pages_when_idle()
        qtbot.waitUntil(lambda: all(entry.built for entry in win.pages), timeout=WAIT)
        assert win.workflows_page.hub_id == win.current_portal()
        qtbot.waitUntil(lambda: Workflow.select().count() > 0, timeout=WAIT)
    finally:
        win.quitting = True
        win.close()
        if "services" in holder:
            holder["services"].close()
