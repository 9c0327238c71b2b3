"""The main window: the coordinator of the page list, the portal switcher,
the status bar, the menus and the tray.

It owns no business logic: pages get the services they need from the context,
and all reads go through the off-GUI-thread runner. The window can exist
before its data (run_gui paints it while the data folder opens; see
:meth:`MainWindow.open_data`). Pages are built lazily (``ui/window/pages.py``):
the Overview when the data is open, the others when first shown or in idle
time, each wired to the others when it is built.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QMainWindow, QMenu, QPlainTextEdit, QStackedWidget,
                               QSystemTrayIcon, QTextEdit, QVBoxLayout, QWidget)

from wg_desktop.config import Settings
from wg_desktop.constants import APP_DISPLAY_NAME
from wg_desktop.paths import Paths
from wg_desktop.services.demo_choice import wants_demo
from wg_desktop.ui import theme
from wg_desktop.ui.compare_modes import CompareMode, comparison_enabled
from wg_desktop.ui.resources import app_icon
from wg_desktop.ui.widgets import FeatureOffPage, NoHubSpotPage
from wg_desktop.ui.window.layout_state import LayoutState, default_size
from wg_desktop.ui.window.menus import WindowMenus
from wg_desktop.ui.window.pages import PageSet, PageSpec
from wg_desktop.ui.window.portal_switcher import PortalSwitcher
from wg_desktop.ui.window.status_bar import StatusLine
from wg_desktop.ui.window.transfers import WorkflowTransfers

if TYPE_CHECKING:
    from wg_desktop.context import AppContext

STATUS_REFRESH_MS = 5_000
DEMO_BANNER = "Demo portal — sample data, not your HubSpot"
# What the Workflows page says while it cannot reach HubSpot, by the link
# state the Connection page watches.
OFFLINE_REASONS = {"": "no portal connected", "reconnect_needed": "reconnect needed",
                   "offline": "HubSpot is unreachable", "disconnected": "portal disconnected",
                   "breaker_open": "HubSpot keeps failing; requests are paused"}


class _SyncEvents(QObject):
    """Changes found by any sync (a worker thread) -> the GUI thread."""

    changes_found = Signal("qlonglong", object)   # hub id, list[SyncChange]


class MainWindow(QMainWindow):
    current_portal_changed = Signal(object)   # hub id or None

    def __init__(self, paths: Paths, settings: Settings, parent: QWidget | None = None,
                 hubspot_later: Callable[[], Any] | None = None) -> None:
        """The window before its data, from ``paths`` and ``settings`` alone:
        run_gui paints it at once and opens the data folder (keychain,
        database) behind it, then hands it over with :meth:`open_data`
        (``ui/app.open_window_data``). Until then the page list and the menu
        items that need the data are disabled and the window says it is
        opening. ``hubspot_later``: HubSpot is expected (the first frame
        says "starting the connection", and the demo banner when the
        settings choose the demo)."""
        super().__init__(parent)
        self.paths = paths
        self.settings = settings
        self.ctx: Any = None               # AppContext once the data is open
        self.scheduler: Any = None
        self.runner: Any = None
        self.job_pool: Any = None          # the scheduler's own pool, kept alive with the window
        self.hubspot: Any = None           # HubSpotServices once attached
        self._hubspot_later = hubspot_later
        self.quitting = False
        self._queries: Any = None
        self._sync_when_shown: int | None = None   # a newly connected portal to sync
        self._link_state: str | None = None        # the Connection page's latest
        self.layout_state = LayoutState(paths.config_dir)
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.setWindowIcon(app_icon())
        self.resize(default_size(self))

        self.nav = QListWidget()
        self.nav.setFixedWidth(190)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setEnabled(False)          # until the data is open
        self.stack = QStackedWidget()
        self.stack.setVisible(False)
        self.opening_label = QLabel("Opening your data…")
        self.opening_label.setObjectName("openingData")
        self.opening_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(self._central(settings))
        self.portal_switcher = PortalSwitcher(
            self._run_when_open, None, notify=lambda title, message: self.notify(title, message),
            show_message=lambda text, ms: self.statusBar().showMessage(text, ms), parent=self)
        self.portal_switcher.current_changed.connect(self._portal_changed)
        self.portal_switcher.current_portal_updated.connect(self._current_portal_updated)
        self.portal_switcher.loaded.connect(self._portals_loaded)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.portal_switcher)
        self.pages = PageSet(self.nav, self.stack, settings.feature_enabled,
                             lambda feature: FeatureOffPage(feature, self.open_settings),
                             self._page_built)
        # The window opens on the Overview: every portal at a glance. The order
        # is the one a user expects; each page is built when first needed.
        for spec in (PageSpec("Overview", self._build_overview),
                     PageSpec("Connection", self._build_connection),
                     PageSpec("Workflows", self._build_workflows, feature="version_history"),
                     PageSpec("Search", self._build_search, feature="version_history"),
                     PageSpec("Health", self._build_health, feature="advanced_analytics"),
                     PageSpec("Backups", self._build_backups),
                     PageSpec("Audit log", self._build_audit, feature="audit_logging"),
                     PageSpec("Background jobs", self._build_jobs)):
            self.pages.add(spec, self.palette())

        self.transfers = WorkflowTransfers(self)
        self.menus = WindowMenus(self)
        self.setStatusBar(StatusLine("HubSpot: starting the connection…" if hubspot_later
                                     else "HubSpot not configured"))
        self._build_tray()
        self.layout_state.restore_window(self)
        self._status_timer = QTimer(self, interval=STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_status)

    def open_data(self, ctx: AppContext, scheduler: Any, runner: Callable[..., Any],
                  hubspot: Any = None, hubspot_later: Callable[[], Any] | None = None) -> None:
        """The opened data folder, its scheduler and its runner: the pages
        come to life, starting with the Overview. ``hubspot``: the
        HubSpotServices, or None (no HubSpot in this session);
        ``hubspot_later`` instead makes them when first needed, at the latest
        by :meth:`ensure_hubspot` (run_gui calls it after the Overview's first
        load); it returns None when they could not be made."""
        self.ctx = ctx
        self.scheduler = scheduler
        self.runner = runner
        self._hubspot_later = hubspot_later
        # A store opened read-only (a read-only folder, a damaged file) says so
        # where the user looks, with what to do; writing jobs then refuse in one line.
        notice = ctx.store.notice
        self.store_banner.setText(f"{notice[0].upper()}{notice[1:]}" if notice else "")
        self.store_banner.setVisible(bool(notice))
        self.demo_banner.setVisible(hubspot_later is not None and wants_demo(self.settings))
        if hubspot is None and hubspot_later is None:
            self.statusBar().target_label.setText("HubSpot not configured")
        # The scheduled backup runs in the scheduler, not the page: list its result too.
        scheduler.finished.connect(self._job_done_for_backups)
        scheduler.failed.connect(self._job_done_for_backups)
        self.statusBar().follow_jobs(scheduler, self.refresh_status)
        self.menus.data_opened()
        if hubspot is not None:
            self.attach_hubspot(hubspot)
        self.opening_label.setVisible(False)
        self.stack.setVisible(True)
        self.nav.setEnabled(True)
        self._status_timer.start()
        self.refresh_status()
        self.nav.setCurrentRow(0)
        self.reload_portals()

    def data_failed(self, message: str) -> None:
        """The data folder could not be opened: the window says so (run_gui
        has shown why and is quitting)."""
        self.opening_label.setText(message)

    def _run_when_open(self, *args: Any, **kwargs: Any) -> Any:
        """The portal switcher's runner: the window's, once the data is open
        (it reads the portals only then)."""
        return self.runner(*args, **kwargs)

    def _central(self, settings: Settings) -> QWidget:
        self.demo_banner = QLabel(DEMO_BANNER)
        self.demo_banner.setObjectName("demoBanner")
        self.demo_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        theme.apply_style(self.demo_banner, "background:${warning_bg};color:${warning_text};"
                          "font-weight:bold;border-bottom:1px solid ${warning_border};padding:6px")
        # Known from the settings before the services exist: the first frame says it.
        self.demo_banner.setVisible(self._hubspot_later is not None and wants_demo(settings))
        self.store_banner = QLabel("")
        self.store_banner.setObjectName("storeBanner")
        self.store_banner.setWordWrap(True)
        self.store_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        theme.apply_style(self.store_banner, "background:${error_bg};color:${error_text};"
                          "font-weight:bold;border-bottom:1px solid ${error_border};padding:6px")
        self.store_banner.setVisible(False)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.store_banner)
        column.addWidget(self.demo_banner)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.nav)
        row.addWidget(self.opening_label, 1)
        row.addWidget(self.stack, 1)
        column.addLayout(row, 1)
        return central

    # -- HubSpot: attached at construction, or after the first frame --------------------

    def attach_hubspot(self, hubspot: Any) -> None:
        from wg_desktop.services.hubspot_setup import describe_target
        from wg_desktop.services.portal_list import browsable_rows

        self.hubspot = hubspot
        self.demo_banner.setVisible(bool(hubspot.app.is_demo))
        self.statusBar().target_label.setText(describe_target(hubspot))
        self.menus.sync_action.setEnabled(
            self.ctx.settings.feature_enabled("version_history"))
        self.portal_switcher.load_rows = functools.partial(
            browsable_rows, hubspot.connection.browsable_portals)
        self.portal_switcher.watch_clients(hubspot.clients)
        self._sync_events = _SyncEvents(self)
        self._sync_events.changes_found.connect(self._workflows_changed)
        hubspot.sync.on_changes(self._sync_events.changes_found.emit)
        self.reload_portals()

    def ensure_hubspot(self) -> Any:
        """The HubSpot services, made now if they were left for later (None:
        none in this session, or they could not be made)."""
        make, self._hubspot_later = self._hubspot_later, None
        if make is not None:
            services = None
            try:
                services = make()
            finally:    # a bug in making them reaches the crash dialog; the bar is true
                if services is not None:
                    self.attach_hubspot(services)
                else:
                    self.demo_banner.setVisible(False)
                    self.statusBar().target_label.setText("HubSpot not configured")
        return self.hubspot

    def _portals(self) -> list[Any]:
        """The Overview's portals: HubSpot's browsable ones, or what the store holds."""
        from wg_desktop.services.overview import stored_portals

        hubspot = self.hubspot
        return hubspot.connection.browsable_portals() if hubspot is not None \
            else stored_portals()

    def statusBar(self) -> StatusLine:  # noqa: N802 - Qt's name
        bar = super().statusBar()
        assert isinstance(bar, StatusLine)
        return bar

    # -- pages: built on first use, wired when built -----------------------------------

    def queries(self) -> Any:
        """The stored workflows' queries (``WorkflowQueries``), shared by the
        Workflows page, export/import and the Compare dialog."""
        if self._queries is None:
            from wg_desktop.services.workflows import WorkflowQueries

            self._queries = WorkflowQueries(self.ctx.store, self.ctx.audit)
        return self._queries

    def _build_overview(self) -> QWidget:
        from wg_desktop.services.changes import ChangeFeed
        from wg_desktop.services.lazy_alerts import LazyAlertService
        from wg_desktop.services.overview import OverviewSources
        from wg_desktop.ui.pages.overview_page import OverviewPage

        ctx = self.ctx
        page = OverviewPage(
            OverviewSources(ctx.settings, ChangeFeed(ctx.store),
                            # made by the first load, on a worker
                            LazyAlertService(ctx.store, ctx.settings, ctx.audit),
                            ctx.backups, self._portals),
            self.scheduler, self.runner)
        page.open_page.connect(self.show_page)
        return page

    def _build_connection(self) -> QWidget:
        if self.ensure_hubspot() is None:
            return NoHubSpotPage()
        from wg_desktop.ui.pages.connection_page import ConnectionPage

        page = ConnectionPage(self.hubspot, self.runner)
        page.portals_changed.connect(lambda hub_id: self.reload_portals(select=hub_id))
        page.status_changed.connect(self._portal_status_changed)
        page.link_state_changed.connect(self._link_state_changed)
        # Right after connecting, capture the portal's workflows.
        page.portal_connected.connect(self.sync_portal_when_shown)
        self.current_portal_changed.connect(page.set_portal)
        return page

    def _build_workflows(self) -> QWidget:
        from wg_desktop.ui.pages.workflows_page import WorkflowsPage

        hubspot = self.ensure_hubspot()
        page = WorkflowsPage(self.queries(), hubspot.sync if hubspot is not None else None,
                             self.runner,
                             restore=hubspot.restore if hubspot is not None else None,
                             comparison=self.ctx.settings.feature_enabled("workflow_comparison"))
        self.current_portal_changed.connect(page.set_portal)
        page.sync_finished.connect(lambda result: self.refresh_status())
        if self.current_portal() is None:
            page.reload()        # every portal's workflows; a current one is set when built
        if hubspot is None:
            page.set_offline("no HubSpot connection is configured")
        else:
            # Its offline state follows the link the Connection page watches.
            self.pages.widget("Connection")
            if self._link_state is not None:
                page.set_offline(OFFLINE_REASONS.get(self._link_state))
        return page

    def _build_search(self) -> QWidget:
        from wg_desktop.services.search import SearchService
        from wg_desktop.ui.pages.search_page import SearchPage

        page = SearchPage(SearchService(self.ctx.store), self.runner)
        page.open_requested.connect(self.open_search_hit)
        self.current_portal_changed.connect(page.set_portal)
        return page

    def _build_health(self) -> QWidget:
        # The charts' module (and pyqtgraph under it) loads only now.
        from wg_desktop.ui.pages.health_page import HealthPage

        ctx = self.ctx
        return HealthPage(ctx.store, ctx.settings, ctx.audit, self.runner)

    def _build_backups(self) -> QWidget:
        from wg_desktop.ui.pages.backups_page import BackupsPage
        from wg_desktop.ui.store_switch import restore_in_window

        page = BackupsPage(self.ctx.backups, self.runner)
        # A restore runs here, in the window: stop, restore, reload (ui/store_switch.py).
        page.restore_in_app = functools.partial(restore_in_window, self)
        page.live_store_changed.connect(lambda: self._reload_if_built("Workflows"))
        return page

    def _build_audit(self) -> QWidget:
        from wg_desktop.ui.pages.audit_page import AuditPage

        page = AuditPage(self.ctx.audit, self.runner)
        page.reload()        # it does not read on show; show_page reads it again
        return page

    def _build_jobs(self) -> QWidget:
        from wg_desktop.ui.pages.jobs_page import JobsPage

        page = JobsPage(self.scheduler, self.scheduler.store, self.runner)
        page.refresh()
        return page

    def _page_built(self, title: str, page: QWidget) -> None:
        """Whatever page was built, and whenever: the same portal as the
        others, its remembered layout, and the window's keyboard rules."""
        hub_id = self.current_portal()
        if hub_id is not None and hasattr(page, "set_portal"):
            page.set_portal(hub_id)
        self.layout_state.restore_page(title, page)
        self._add_search_shortcut(page)
        self._tune_keyboard(page)

    def _page(self, title: str) -> Any:
        """The real page titled so (built now if needed), or None when its
        feature is off or, for Connection, HubSpot is not set up."""
        widget = self.pages.widget(title)
        return None if isinstance(widget, (FeatureOffPage, NoHubSpotPage)) else widget

    @property
    def overview_page(self) -> Any:
        return self._page("Overview")

    @property
    def connection_page(self) -> Any:
        return self._page("Connection")

    @property
    def workflows_page(self) -> Any:
        return self._page("Workflows")

    @property
    def search_page(self) -> Any:
        return self._page("Search")

    @property
    def health_page(self) -> Any:
        return self._page("Health")

    @property
    def backups_page(self) -> Any:
        return self._page("Backups")

    @property
    def audit_page(self) -> Any:
        return self._page("Audit log")

    @property
    def jobs_page(self) -> Any:
        return self._page("Background jobs")

    def built_page(self, title: str) -> Any:
        """The real page if it was built already, else None (builds nothing)."""
        widget = self.pages.built(title)
        return None if isinstance(widget, (FeatureOffPage, NoHubSpotPage)) else widget

    def build_pages_when_idle(self) -> None:
        """After the first frame: the pages not built yet, one per event-loop turn."""
        self.pages.build_when_idle()

    def show_page(self, title: str) -> QWidget:
        widget = self.pages.show(title)
        if hasattr(widget, "reload"):
            widget.reload()
        return widget

    def _reload_if_built(self, title: str) -> None:
        page = self.built_page(title)
        if page is not None:
            page.reload()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # A switch between light and dark redraws the page icons in the new text colour.
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "pages"):
            self.pages.refresh_icons(self.palette())

    def _add_search_shortcut(self, page: QWidget) -> None:
        """Ctrl+F focuses the search box of the page on screen. Each shortcut
        belongs to its page: Qt ignores the shortcuts of hidden widgets, so one
        key serves every page (the Search page brings its own, the same way)."""
        box = getattr(page, "search", None)
        if isinstance(box, QLineEdit):
            shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), page)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda: self._focus_search(box))

    @staticmethod
    def _focus_search(box: QLineEdit) -> None:
        box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        box.selectAll()

    @staticmethod
    def _tune_keyboard(page: QWidget) -> None:
        """Tab moves between controls, arrows within them. Qt's tables take Tab
        for moving between cells, so Tab never left a filled table; read-only
        text views would take it as text."""
        for view in page.findChildren(QAbstractItemView):
            view.setTabKeyNavigation(False)
        for text in page.findChildren(QPlainTextEdit) + page.findChildren(QTextEdit):
            if text.isReadOnly():
                text.setTabChangesFocus(True)

    # -- what crosses pages ------------------------------------------------------------

    def open_search_hit(self, hit: Any) -> None:
        """Show a search hit in the Workflows page: its portal, the workflow
        selected, its history open at the hit's version."""
        from wg_desktop.ui.pages.search_page import match_text

        self.set_current_portal(hit.hub_id)   # reloads the list when the portal changes
        page = self.workflows_page
        self.show_page("Workflows")
        # After the portal switch (which clears the history), so nothing undoes it.
        page.history.show_version(hit.workflow_id, hit.version_id, highlight=match_text(hit))
        if page.select_workflow(hit.workflow_id):
            return

        def select_when_loaded(count: int) -> None:
            page.loaded.disconnect(select_when_loaded)
            page.select_workflow(hit.workflow_id)

        page.loaded.connect(select_when_loaded)

    def _link_state_changed(self, state: str) -> None:
        self._link_state = state
        page = self.built_page("Workflows")
        if page is not None:
            page.set_offline(OFFLINE_REASONS.get(state))

    def sync_portal_when_shown(self, hub_id: int) -> None:
        """Select ``hub_id`` once the switcher lists it (it learns of a new
        portal asynchronously), then sync it."""
        self._sync_when_shown = hub_id
        self.reload_portals(select=hub_id)

    def _workflows_changed(self, hub_id: int, changes: list[Any]) -> None:
        from wg_desktop.services.sync import describe_changes

        name = self.portal_switcher.name_of(hub_id, str(hub_id))
        self.notify(f"Workflows changed in {name}", describe_changes(changes))
        page = self.built_page("Workflows")
        if page is not None and page.hub_id == hub_id and not page.syncing:
            page.reload()

    def _job_done_for_backups(self, name: str, message: str = "") -> None:
        if name == "backup":
            self._reload_if_built("Backups")

    def sync_now(self) -> None:
        """F5: the Workflows page's "Sync now", or why it cannot run."""
        page = self.workflows_page
        if page is None:
            return
        self.show_page("Workflows")
        if page.syncing:
            return
        if page.sync_button.isEnabled():
            page.start_sync()
        else:
            self.statusBar().showMessage(page.sync_button.toolTip() or
                                         "Sync is not available right now", 8000)

    def back_up_now(self) -> None:
        """File → Back up now: the Backups page shows its progress and outcome."""
        self.show_page("Backups")
        self.backups_page.back_up_now()

    def open_compare(self, mode: CompareMode) -> Any:
        """Compare → two workflows, or a workflow with a file; the first side
        starts on the workflow selected on the Workflows page."""
        if not comparison_enabled(self.ctx.settings):
            return None
        from wg_desktop.ui.pages.compare_dialog import CompareDialog

        page = self.built_page("Workflows")
        dialog = CompareDialog(self.queries(), self.runner, mode,
                               selected=page.selected_workflow_id() if page is not None
                               else None, parent=self)
        dialog.show()
        dialog.raise_()
        return dialog

    # -- the current portal --------------------------------------------------------------

    def current_portal(self) -> int | None:
        """Hub id of the portal every page shows (None: no portal)."""
        return self.portal_switcher.current()

    def set_current_portal(self, hub_id: int | None) -> None:
        self.portal_switcher.select(hub_id)

    def reload_portals(self, select: int | None = None) -> None:
        """Re-read the portal list (off the GUI thread) into the switcher."""
        self.portal_switcher.reload(select)

    def _portal_changed(self, hub_id: int | None) -> None:
        if hub_id is None:
            self.statusBar().set_portal_text("")
        self.current_portal_changed.emit(hub_id)
        self.refresh_status()

    def _current_portal_updated(self) -> None:
        self._reload_if_built("Connection")     # e.g. its status changed in the background

    def _portals_loaded(self, rows: Any) -> None:
        if self._sync_when_shown is not None and self._sync_when_shown == self.current_portal():
            self._sync_when_shown = None
            page = self.workflows_page
            if page is not None:
                QTimer.singleShot(0, page.start_sync)

    def _portal_status_changed(self, text: str) -> None:
        self.statusBar().set_portal_text(text if self.current_portal() is not None else "")

    # -- status ------------------------------------------------------------------------

    def refresh_status(self) -> None:
        from wg_desktop.services.status import app_status

        settings, hub_id = self.ctx.settings, self.current_portal()
        self.runner(lambda: app_status(settings, hub_id), on_result=self.apply_status,
                    on_error=self.statusBar().status_unavailable)

    def apply_status(self, status: Any) -> None:
        self.statusBar().show_status(status)
        self.reload_portals()

    def pause_background(self) -> bool:
        """Stop what reads the store behind the user's back (the status
        refresh, the scheduler, a running sync), as a whole-store restore
        needs. True when the scheduler was running (resume restarts it then)."""
        was_running = self.scheduler.is_active()
        self._status_timer.stop()
        page = self.built_page("Workflows")
        if page is not None:
            page.cancel_sync()
        self.scheduler.stop()
        return was_running

    def resume_background(self, scheduler_was_running: bool) -> None:
        self._status_timer.start()
        if scheduler_was_running:
            self.scheduler.start()

    # -- dialogs -----------------------------------------------------------------------

    def open_settings(self) -> None:
        """Open the settings dialog once the secret flags are read (off the GUI thread)."""
        settings = self.ctx.settings
        self.runner(settings.stored_secrets, on_result=self._show_settings,
                    on_error=lambda error: self._show_settings(None))

    def _show_settings(self, stored: set[str] | None) -> Any:
        from wg_desktop.services.settings_service import SettingsService
        from wg_desktop.ui.settings_dialog import SettingsDialog

        service = SettingsService(self.ctx.settings, self.ctx.secrets, self.ctx.audit)
        dialog = SettingsDialog(self.ctx.settings, service.apply, self.runner, self,
                                stored_secrets=stored)
        dialog.saved.connect(self._settings_saved)
        dialog.open()
        return dialog

    def _settings_saved(self, keys: list[str]) -> None:
        if keys:
            self.statusBar().showMessage(f"Saved {len(keys)} setting(s). Feature and "
                                         "schedule changes apply after a restart.", 8000)
        self._reload_if_built("Audit log")

    # -- tray and closing --------------------------------------------------------------

    def _build_tray(self) -> None:
        self.tray: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.tray = QSystemTrayIcon(app_icon(), self)
        self.tray.setToolTip(APP_DISPLAY_NAME)
        menu = QMenu(self)
        menu.addAction("Show window", self.showNormal)
        menu.addAction("Quit", self.quit)
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(lambda reason: self.showNormal()
                                    if reason == QSystemTrayIcon.ActivationReason.Trigger
                                    else None)
        self.tray.show()

    def show_alert(self, title: str, message: str) -> None:
        """An alert from the health checks: a tray notification, and where the
        platform has no tray, the status bar so it is not lost."""
        if self.tray is None:
            self.statusBar().showMessage(f"{title}: {message}", 15_000)
        self.notify(title, message)

    def notify(self, title: str, message: str) -> None:
        """A desktop notification through the tray, when the platform has one."""
        if self.tray is not None and self.settings.get("notify.desktop"):
            self.tray.showMessage(title, message, app_icon(), 8000)

    def save_ui_state(self) -> None:
        self.layout_state.save(self, self.pages.built_pages())

    def quit(self) -> None:
        self.quitting = True
        if self.close():
            QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # With a tray, closing the window keeps background jobs (backups, sync)
        # running; Quit ends the app.
        self.save_ui_state()
        if self.tray is not None and not self.quitting:
            self.hide()
            self.notify(APP_DISPLAY_NAME, "Still running in the tray; background jobs "
                        "continue. Use Quit to exit.")
            event.ignore()
            return
        self._status_timer.stop()
        page = self.built_page("Workflows")
        if page is not None:
            page.cancel_sync()
        backups = self.built_page("Backups")
        if backups is not None:
            backups.close_browsers()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.tray is not None:
            self.tray.hide()
        event.accept()
