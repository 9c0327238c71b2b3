"""The main window: page navigation, status bar, tray icon, menus.

It owns no business logic: pages get the services they need from the context,
and all reads go through the off-GUI-thread runner.
"""

from __future__ import annotations

import html
import platform
import sys

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import (QByteArray, QEvent, QObject, QSettings, QSize, Qt, QTimer, QUrl,
                            Signal, qVersion)
from PySide6.QtGui import (QAction, QCloseEvent, QDesktopServices, QGuiApplication, QKeySequence,
                           QResizeEvent, QShortcut)
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QDialog,
                               QDialogButtonBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QMainWindow, QMenu,
                               QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QSplitter,
                               QStackedWidget, QStatusBar, QSystemTrayIcon, QTextEdit, QToolBar,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from wg_desktop.config import FEATURES, Settings
from wg_desktop.constants import APP_DISPLAY_NAME, APP_VERSION
from wg_desktop.context import AppContext
from wg_desktop.services.backups import BackupService
from wg_desktop.services.hubspot_setup import HubSpotServices, describe_target
from wg_desktop.services.alerts import AlertService
from wg_desktop.services.changes import ChangeFeed
from wg_desktop.services.overview import OverviewSources, stored_portals
from wg_desktop.services.search import SearchHit, SearchService
from wg_desktop.services.settings_service import SettingsService
from wg_desktop.services.status import AppStatus, app_status
from wg_desktop.services.sync import describe_changes
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Portal, PortalStatus
from wg_desktop.ui.pages.audit_page import AuditPage
from wg_desktop.ui.pages.backups_page import BackupsPage
from wg_desktop.ui.pages.connection_page import ConnectionPage
from wg_desktop.ui.pages.health_page import HealthPage
from wg_desktop.ui.pages.history_panel import COMPARE_SHORTCUT
from wg_desktop.ui.pages.jobs_page import JobsPage
from wg_desktop.ui.pages.overview_page import OverviewPage
from wg_desktop.ui.pages.search_page import SearchPage, match_text
from wg_desktop.ui.pages.compare_dialog import CompareDialog, CompareMode, comparison_enabled
from wg_desktop.ui.pages.workflows_page import WorkflowsPage
from wg_desktop.security.redaction import redact
from wg_desktop.ui.page_icons import page_icon
from wg_desktop.ui.resources import app_icon
from wg_desktop.ui.settings_dialog import SettingsDialog

STATUS_REFRESH_MS = 5_000
NO_PORTAL = "No portal"
DEMO_BANNER = "Demo portal — sample data, not your HubSpot"
# Window geometry, splitter positions and column widths (not settings: nothing
# in them is worth validating, syncing or showing in the settings dialog).
UI_STATE_FILE = "window-state.ini"
# Bumped when pages change shape, so a layout saved by an older version is
# ignored rather than applied to different splitters and columns.
UI_STATE_VERSION = 1
# The first start's size: room for the history's columns and a readable JSON
# tree; never below the size the pages were laid out for (a window manager
# fits that to a smaller screen itself).
DEFAULT_SIZE = QSize(1280, 860)
MINIMUM_DEFAULT_SIZE = QSize(1100, 720)
# Keys that act inside a page; the window's own shortcuts come from its actions.
PAGE_KEYS = (("Tab / Shift+Tab", "Move to the next / previous control"),
             ("Arrow keys", "Move within a list or table"),
             ("Enter", "Open the selected search result"),
             (COMPARE_SHORTCUT, "Compare versions (in a workflow's history)"))


class ElidedLabel(QLabel):
    """A status-bar label whose text is cut with "…" to the room it has: a long
    message never widens the window. The whole text is in the tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self.setToolTip(text)
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # Ask for the whole text when there is room...
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self._full) + margins.left() \
            + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # ...but never insist on it: the window's minimum width stays put.
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                                      max(room, 0)))


def diagnostics_text(ctx: AppContext, settings: Settings) -> str:
    """What a bug report needs: versions, platform, folders and the settings,
    secrets left out. Secret settings are never read (``Settings.items`` gives
    None for them), and the text goes through the log redactor as well, in case
    a secret value sits inside an ordinary setting such as a URL."""
    paths = ctx.paths
    lines = [f"{APP_DISPLAY_NAME} {APP_VERSION}",
             f"Python {platform.python_version()} ({sys.implementation.name})",
             f"Qt {qVersion()} · PySide6 {PYSIDE_VERSION}",
             f"Platform: {platform.platform()}",
             f"Data folder: {paths.data_dir}",
             f"Config folder: {paths.config_dir}",
             f"Log: {paths.log_file}",
             f"Secrets: {ctx.secrets.describe()}",
             f"Store: {'read-only' if ctx.store.read_only else 'read-write'}",
             "", "Settings (value [where it comes from]):"]
    stored = settings.stored_secrets()      # which secrets are set, never their values
    for setting, value in settings.items():
        if setting.is_secret:
            lines.append(f"  {setting.key} = (secret, "
                         f"{'set' if setting.key in stored else 'not set'}; not shown)")
        else:
            lines.append(f"  {setting.key} = {value!r} [{settings.source(setting.key)}]")
    return redact("\n".join(lines), ctx.registry)


@dataclass
class Page:
    title: str
    widget: QWidget
    feature: str | None = None   # feature flag that must be on


class FeatureOffPage(QWidget):
    """Shown instead of a page whose feature flag is off."""

    def __init__(self, feature: str, open_settings: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel(f"<h3>{FEATURES[feature]} is turned off</h3>"
                       f"<p>Turn it on under <b>Settings → Features</b> "
                       f"(or set <code>WG_FEATURES_{feature.upper()}=true</code>).</p>")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton("Open settings…")
        button.clicked.connect(open_settings)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(label)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)


class NoHubSpotPage(QWidget):
    """The Connection page of a window built without HubSpot services."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel("<h3>HubSpot is not set up in this session</h3>"
                       "<p>Portals cannot be connected here.</p>")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(label)


class _ReauthEvents(QObject):
    """A client's "reconnect needed" and rate-limit waits (worker threads) -> the GUI thread."""

    reauth_needed = Signal(str)   # portal key
    waiting = Signal(str, float, str)   # portal key, seconds, reason


class _SyncEvents(QObject):
    """Changes found by any sync (a worker thread) -> the GUI thread."""

    changes_found = Signal("qlonglong", object)   # hub id, list[SyncChange]


class MainWindow(QMainWindow):
    status_refreshed = Signal(object)   # AppStatus
    settings_dialog_opened = Signal(object)   # SettingsDialog
    current_portal_changed = Signal(object)   # hub id or None
    portals_loaded = Signal(object)     # list of Portal rows shown in the switcher

    def __init__(self, ctx: AppContext, scheduler: Any, runner: Callable[..., Any],
                 parent: QWidget | None = None, hubspot: HubSpotServices | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.scheduler = scheduler
        self.runner = runner
        self.hubspot = hubspot
        self.quitting = False
        self._current_portal: int | None = None
        self._portal_rows: tuple[tuple[int, str, str], ...] = ()
        self._portals_pending: Any = None
        self._notified_reconnect: set[int] = set()
        self._sync_when_shown: int | None = None   # a newly connected portal to sync
        self._pending_select: int | None = None    # portal wanted by the pending reload
        self._portal_status_text = ""
        self._app_status: AppStatus | None = None
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.setWindowIcon(app_icon())
        self.resize(self._default_size())

        self.nav = QListWidget()
        self.nav.setFixedWidth(190)
        self.nav.setIconSize(QSize(20, 20))
        self.stack = QStackedWidget()
        self.demo_banner = QLabel(DEMO_BANNER)
        self.demo_banner.setObjectName("demoBanner")
        self.demo_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_banner.setStyleSheet("background:#fff4e5;color:#7a4b00;font-weight:bold;"
                                       "border-bottom:1px solid #f5c26b;padding:6px")
        self.demo_banner.setVisible(bool(hubspot is not None and hubspot.app.is_demo))
        # A store opened read-only (a read-only folder, a damaged file) says so
        # where the user looks, with what to do; writing jobs then refuse in one line.
        notice = ctx.store.notice
        self.store_banner = QLabel(f"{notice[0].upper()}{notice[1:]}" if notice else "")
        self.store_banner.setObjectName("storeBanner")
        self.store_banner.setWordWrap(True)
        self.store_banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.store_banner.setStyleSheet("background:#fdecea;color:#8a1c14;font-weight:bold;"
                                        "border-bottom:1px solid #f1a89f;padding:6px")
        self.store_banner.setVisible(bool(notice))
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.store_banner)
        column.addWidget(self.demo_banner)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        column.addLayout(row, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self._build_portal_switcher()

        self.connection_page: ConnectionPage | None = None
        if hubspot is not None:
            self.connection_page = ConnectionPage(hubspot, runner)
            self.connection_page.portals_changed.connect(self._connection_page_changed)
            self.connection_page.status_changed.connect(self._portal_status_changed)
            self.current_portal_changed.connect(self.connection_page.set_portal)
            self._reauth_events = _ReauthEvents(self)
            self._reauth_events.reauth_needed.connect(self._client_needs_reauth)
            self._reauth_events.waiting.connect(self._client_waiting)
            events = self._reauth_events

            def watch(client: Any) -> None:
                # Runs inside PortalClients.client(): it must never raise there.
                try:
                    client.add_reauth_listener(events.reauth_needed.emit)
                    client.add_wait_listener(events.waiting.emit)
                except RuntimeError:
                    pass          # the window is gone (its C++ side deleted)

            hubspot.clients.on_new_client(watch)
        self.audit_page = AuditPage(ctx.audit, runner)
        self.jobs_page = JobsPage(scheduler, scheduler.store, runner)
        self.workflows_page = self._build_workflows_page(ctx, hubspot, runner)
        self.search_page = SearchPage(SearchService(ctx.store), runner)
        self.search_page.open_requested.connect(self.open_search_hit)
        self.current_portal_changed.connect(self.search_page.set_portal)
        self.pages: list[Page] = []
        # The window opens on the Overview: every portal at a glance.
        self.overview_page = OverviewPage(
            OverviewSources(ctx.settings, ChangeFeed(ctx.store),
                            AlertService(ctx.store, ctx.settings, ctx.audit),
                            BackupService.from_context(ctx),
                            hubspot.connection.browsable_portals if hubspot is not None
                            else stored_portals),
            scheduler, runner)
        self.overview_page.open_page.connect(self.show_page)
        self.add_page(Page("Overview", self.overview_page))
        self.add_page(Page("Connection", self.connection_page or NoHubSpotPage()))
        self.add_page(Page("Workflows", self.workflows_page, feature="version_history"))
        self.add_page(Page("Search", self.search_page, feature="version_history"))
        self.health_page = HealthPage(ctx.store, ctx.settings, ctx.audit, runner)
        self.add_page(Page("Health", self.health_page, feature="advanced_analytics"))
        self.backups_page = BackupsPage(BackupService.from_context(ctx), runner)
        # The scheduled backup runs in the scheduler, not the page: list its result too.
        scheduler.finished.connect(self._job_done_for_backups)
        scheduler.failed.connect(self._job_done_for_backups)
        self.add_page(Page("Backups", self.backups_page))
        self.add_page(Page("Audit log", self.audit_page, feature="audit_logging"))
        self.add_page(Page("Background jobs", self.jobs_page))

        self._build_menus()
        self._build_status_bar()
        self._build_tray()
        self._build_page_shortcuts()
        self._tune_keyboard()
        self.restore_ui_state()
        self._status_timer = QTimer(self, interval=STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start()
        self.refresh_status()
        self.nav.setCurrentRow(0)
        self.reload_portals()

    # -- pages -------------------------------------------------------------------

    def _build_workflows_page(self, ctx: AppContext, hubspot: HubSpotServices | None,
                              runner: Callable[..., Any]) -> WorkflowsPage:
        page = WorkflowsPage(WorkflowQueries(ctx.store, ctx.audit),
                             hubspot.sync if hubspot is not None else None, runner,
                             restore=hubspot.restore if hubspot is not None else None,
                             comparison=ctx.settings.feature_enabled("workflow_comparison"))
        self.current_portal_changed.connect(page.set_portal)
        self.current_portal_changed.connect(lambda hub_id: self.refresh_status())
        page.sync_finished.connect(lambda result: self.refresh_status())
        if hubspot is None:
            page.set_offline("no HubSpot connection is configured")
            return page
        self._sync_events = _SyncEvents(self)
        self._sync_events.changes_found.connect(self._workflows_changed)
        hubspot.sync.on_changes(self._sync_events.changes_found.emit)
        if self.connection_page is not None:
            self.connection_page.link_state_changed.connect(self._link_state_changed)
            # Right after connecting, capture the portal's workflows.
            self.connection_page.portal_connected.connect(self.sync_portal_when_shown)
        return page

    def open_search_hit(self, hit: SearchHit) -> None:
        """Show a search hit in the Workflows page: its portal, the workflow
        selected, its history open at the hit's version."""
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
        offline = {"": "no portal connected", "reconnect_needed": "reconnect needed",
                   "offline": "HubSpot is unreachable", "disconnected": "portal disconnected",
                   "breaker_open": "HubSpot keeps failing; requests are paused"}
        self.workflows_page.set_offline(offline.get(state))

    def sync_portal_when_shown(self, hub_id: int) -> None:
        """Select ``hub_id`` once the switcher lists it (it learns of a new
        portal asynchronously), then sync it."""
        self._sync_when_shown = hub_id
        self.reload_portals(select=hub_id)

    def _workflows_changed(self, hub_id: int, changes: list[Any]) -> None:
        name = next((n for h, n, _ in self._portal_rows if h == hub_id), str(hub_id))
        self.notify(f"Workflows changed in {name}", describe_changes(changes))
        if self.workflows_page.hub_id == hub_id and not self.workflows_page.syncing:
            self.workflows_page.reload()

    def add_page(self, page: Page) -> None:
        widget = page.widget
        if page.feature and not self.ctx.settings.feature_enabled(page.feature):
            widget = FeatureOffPage(page.feature, self.open_settings)
        self.pages.append(Page(page.title, widget, page.feature))
        self.stack.addWidget(widget)
        QListWidgetItem(page_icon(page.title, self.palette()), page.title, self.nav)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # A switch between light and dark redraws the page icons in the new text colour.
        if event.type() == QEvent.Type.PaletteChange:
            for row, page in enumerate(self.pages):
                self.nav.item(row).setIcon(page_icon(page.title, self.palette()))

    def show_page(self, title: str) -> QWidget:
        for row, page in enumerate(self.pages):
            if page.title == title:
                self.nav.setCurrentRow(row)
                if hasattr(page.widget, "reload"):
                    page.widget.reload()
                return page.widget
        raise KeyError(title)

    # -- the current portal --------------------------------------------------------------

    def _build_portal_switcher(self) -> None:
        self.portal_toolbar = QToolBar("Portal")
        self.portal_toolbar.setObjectName("portalToolbar")
        self.portal_toolbar.setMovable(False)
        self.portal_toolbar.addWidget(QLabel(" Portal: "))
        self.portal_switcher = QComboBox()
        self.portal_switcher.setObjectName("portalSwitcher")
        self.portal_switcher.setMinimumWidth(260)
        self.portal_switcher.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.portal_switcher.addItem(NO_PORTAL, None)
        self.portal_switcher.setEnabled(False)
        self.portal_switcher.currentIndexChanged.connect(self._switcher_changed)
        self.portal_toolbar.addWidget(self.portal_switcher)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.portal_toolbar)

    def current_portal(self) -> int | None:
        """Hub id of the portal every page shows (None: no portal)."""
        return self._current_portal

    def set_current_portal(self, hub_id: int | None) -> None:
        index = self.portal_switcher.findData(hub_id) if hub_id is not None else -1
        if index >= 0:
            self.portal_switcher.setCurrentIndex(index)

    def reload_portals(self, select: int | None = None) -> None:
        """Re-read the portal list (off the GUI thread) into the switcher."""
        if self.hubspot is None:
            return
        if self._portals_pending is not None:
            self._portals_pending.discard()
            # A reload that replaces one still pending keeps its wanted portal.
            select = select if select is not None else self._pending_select
        self._pending_select = select
        connection = self.hubspot.connection
        self._portals_pending = self.runner(
            connection.browsable_portals,
            on_result=lambda portals: self._apply_portals(portals, select),
            on_error=lambda error: self.statusBar().showMessage(
                f"Could not read the portals: {error}", 8000))

    def _apply_portals(self, portals: list[Portal], select: int | None) -> None:
        self._portals_pending = None
        rows = tuple((p.hub_id, p.name, p.status) for p in portals)
        wanted = select if select is not None else self._current_portal
        changed = rows != self._portal_rows
        if changed:
            self._portal_rows = rows
            switcher = self.portal_switcher
            switcher.blockSignals(True)
            switcher.clear()
            if not portals:
                switcher.addItem(NO_PORTAL, None)
            for portal in portals:
                label = portal.name or f"Portal {portal.hub_id}"
                if portal.auth_kind == "import":
                    label += " (imported, read-only)"
                elif portal.status == PortalStatus.RECONNECT_NEEDED:
                    label += " (reconnect needed)"
                elif portal.status == PortalStatus.DISCONNECTED:
                    label += " (disconnected, history kept)"
                switcher.addItem(label, portal.hub_id)
            switcher.setEnabled(bool(portals))
            switcher.blockSignals(False)
        index = self.portal_switcher.findData(wanted) if wanted is not None else -1
        self.portal_switcher.blockSignals(True)
        self.portal_switcher.setCurrentIndex(index if index >= 0 else 0)
        self.portal_switcher.blockSignals(False)
        before = self._current_portal
        self._switcher_changed(self.portal_switcher.currentIndex())
        if changed and before is not None and before == self._current_portal \
                and self.connection_page is not None:
            self.connection_page.reload()     # e.g. its status changed in the background
        self._notify_reconnects(portals)
        if self._sync_when_shown is not None and self._sync_when_shown == self._current_portal:
            self._sync_when_shown = None
            QTimer.singleShot(0, self.workflows_page.start_sync)
        self.portals_loaded.emit(portals)

    def _switcher_changed(self, index: int) -> None:
        hub_id = self.portal_switcher.itemData(index) if index >= 0 else None
        if hub_id == self._current_portal:
            return
        self._current_portal = hub_id
        if hub_id is None:
            self._portal_status_text = ""
        self._update_connection_label()
        self.current_portal_changed.emit(hub_id)

    def _connection_page_changed(self, hub_id: int | None) -> None:
        self.reload_portals(select=hub_id)

    def _portal_status_changed(self, text: str) -> None:
        self._portal_status_text = text if self._current_portal is not None else ""
        self._update_connection_label()

    def _notify_reconnects(self, portals: list[Portal]) -> None:
        needing = {p.hub_id: p.name for p in portals
                   if p.status == PortalStatus.RECONNECT_NEEDED}
        for hub_id in needing.keys() - self._notified_reconnect:
            self._notify_reconnect(hub_id, needing[hub_id])
        self._notified_reconnect = set(needing)

    def _notify_reconnect(self, hub_id: int, name: str) -> None:
        self.notify("Reconnect needed",
                    f"HubSpot no longer accepts the sign-in of {name or hub_id}. Open "
                    f"{APP_DISPLAY_NAME} → Connection and press Reconnect.")

    def _client_waiting(self, portal_key: str, seconds: float, reason: str) -> None:
        """Say why nothing seems to happen: a rate-limit or back-off wait."""
        name = next((n for h, n, _ in self._portal_rows if str(h) == portal_key), portal_key)
        self.statusBar().showMessage(f"{name}: waiting {seconds:.0f} s — {reason}",
                                     int(max(seconds, 3) * 1000))

    def _client_needs_reauth(self, portal_key: str) -> None:
        if not portal_key.isdigit():
            return
        hub_id = int(portal_key)
        if hub_id not in self._notified_reconnect:
            self._notified_reconnect.add(hub_id)
            name = next((n for h, n, _ in self._portal_rows if h == hub_id), "")
            self._notify_reconnect(hub_id, name)
        self.reload_portals()

    # -- menus, status bar, tray ------------------------------------------------------

    @staticmethod
    def _keys(standard: QKeySequence.StandardKey, fallback: str) -> list[QKeySequence]:
        """The platform's key for an action plus the one users expect everywhere:
        Linux desktops define no Preferences key and Windows no Quit key."""
        keys = [QKeySequence(fallback)]
        keys += [k for k in QKeySequence.keyBindings(standard) if k not in keys]
        return keys

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.sync_action = QAction("S&ync now", self)
        self.sync_action.setShortcuts(self._keys(QKeySequence.StandardKey.Refresh, "F5"))
        self.sync_action.setToolTip("Sync the current portal's workflows (Workflows page)")
        self.sync_action.triggered.connect(self.sync_now)
        self.sync_action.setEnabled(self.hubspot is not None and
                                    self._page_widget("Workflows") is self.workflows_page)
        file_menu.addAction(self.sync_action)
        file_menu.addSeparator()
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcuts(
            self._keys(QKeySequence.StandardKey.Preferences, "Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        export_action = QAction("&Export workflows…", self)
        export_action.triggered.connect(self._choose_export_file)
        file_menu.addAction(export_action)
        import_action = QAction("&Import workflows…", self)
        import_action.triggered.connect(self._choose_import_file)
        file_menu.addAction(import_action)
        file_menu.addSeparator()
        self.backup_action = QAction("&Back up now", self)
        self.backup_action.triggered.connect(self.back_up_now)
        file_menu.addAction(self.backup_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcuts(self._keys(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.quit_action.triggered.connect(self.quit)
        file_menu.addAction(self.quit_action)
        # Two workflows, or one with a file (the history compares versions of one).
        self.compare_menu = self.menuBar().addMenu("&Compare")
        self.compare_workflows_action = self.compare_menu.addAction(
            "Compare &two workflows…", lambda: self.open_compare(CompareMode.WORKFLOWS))
        self.compare_file_action = self.compare_menu.addAction(
            "Compare a workflow with a &file…", lambda: self.open_compare(CompareMode.FILE))
        self.compare_menu.menuAction().setVisible(comparison_enabled(self.ctx.settings))
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = QAction("&Keyboard shortcuts", self)
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        self.open_logs_action = QAction("Open the &log folder", self)
        self.open_logs_action.triggered.connect(
            lambda: self.open_folder(self.ctx.paths.log_file.parent))
        help_menu.addAction(self.open_logs_action)
        self.open_data_action = QAction("Open the &data folder", self)
        self.open_data_action.triggered.connect(lambda: self.open_folder(self.ctx.paths.data_dir))
        help_menu.addAction(self.open_data_action)
        self.diagnostics_action = QAction("&Copy diagnostics", self)
        self.diagnostics_action.setToolTip("Versions, platform, folders and settings (secrets "
                                           "left out), for a bug report")
        self.diagnostics_action.triggered.connect(self.copy_diagnostics)
        help_menu.addAction(self.diagnostics_action)
        help_menu.addSeparator()
        about = QAction("&About", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def open_compare(self, mode: CompareMode) -> CompareDialog | None:
        """Compare → two workflows, or a workflow with a file; the first side
        starts on the workflow selected on the Workflows page."""
        if not comparison_enabled(self.ctx.settings):
            return None
        dialog = CompareDialog(self.workflows_page.queries, self.runner, mode,
                               selected=self.workflows_page.selected_workflow_id(), parent=self)
        dialog.show()
        dialog.raise_()
        return dialog

    def _page_widget(self, title: str) -> QWidget | None:
        return next((page.widget for page in self.pages if page.title == title), None)

    def _build_page_shortcuts(self) -> None:
        """Ctrl+F focuses the search box of the page on screen. Each shortcut
        belongs to its page: Qt ignores the shortcuts of hidden widgets, so one
        key serves every page (the Search page brings its own, the same way)."""
        for page in self.pages:
            box = getattr(page.widget, "search", None)
            if isinstance(box, QLineEdit):
                shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), page.widget)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(lambda box=box: self._focus_search(box))

    @staticmethod
    def _focus_search(box: QLineEdit) -> None:
        box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        box.selectAll()

    def _tune_keyboard(self) -> None:
        """Tab moves between controls, arrows within them. Qt's tables take Tab
        for moving between cells, so Tab never left a filled table; read-only
        text views would take it as text."""
        for view in self.findChildren(QAbstractItemView):
            view.setTabKeyNavigation(False)
        for text in self.findChildren(QPlainTextEdit) + self.findChildren(QTextEdit):
            if text.isReadOnly():
                text.setTabChangesFocus(True)

    def sync_now(self) -> None:
        """F5: the Workflows page's "Sync now", or why it cannot run."""
        if self._page_widget("Workflows") is not self.workflows_page:
            return
        self.show_page("Workflows")
        page = self.workflows_page
        if page.syncing:
            return
        if page.sync_button.isEnabled():
            page.start_sync()
        else:
            self.statusBar().showMessage(page.sync_button.toolTip() or
                                         "Sync is not available right now", 8000)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for Help → Keyboard shortcuts, read from the
        actions themselves so the list cannot drift from what the keys do."""
        native = QKeySequence.SequenceFormat.NativeText
        rows = [(QKeySequence(QKeySequence.StandardKey.Find).toString(native),
                 "Search on the current page")]
        for action in (self.sync_action, self.settings_action, self.quit_action):
            keys = ", ".join(k.toString(native) for k in action.shortcuts())
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
        rows += [(QKeySequence(k).toString(native) if "+" in k else k, what)
                 for k, what in PAGE_KEYS]
        return rows

    def show_shortcuts(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        table = QTreeWidget()
        table.setHeaderLabels(["Keys", "Action"])
        table.setRootIsDecorated(False)
        for keys, what in self.shortcut_rows():
            QTreeWidgetItem(table, [keys, what])
        table.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(460, 320)
        dialog.open()
        self.shortcuts_dialog = dialog
        return dialog

    def open_folder(self, folder: Path) -> bool:
        """Show a folder in the file manager (the data, log folder)."""
        opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        if not opened:
            self.statusBar().showMessage(f"Could not open {folder}", 8000)
        return bool(opened)

    def copy_diagnostics(self) -> None:
        """Diagnostics to the clipboard; built off the GUI thread (the secret
        flags come from the keychain)."""
        ctx, settings = self.ctx, self.ctx.settings

        def copy(text: str) -> None:
            QGuiApplication.clipboard().setText(text)
            self.statusBar().showMessage("Diagnostics copied to the clipboard "
                                         "(no secrets included)", 8000)

        self.runner(lambda: diagnostics_text(ctx, settings), on_result=copy,
                    on_error=lambda error: self.statusBar().showMessage(
                        f"Could not collect diagnostics: {error}", 8000))

    def _choose_export_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export workflows", "workflows.zip",
                                              "Zip archives (*.zip)")
        if path:
            self.export_workflows(Path(path))

    def export_workflows(self, path: Path) -> None:
        """The current portal's (or every portal's) workflows as a zip, off the GUI thread."""
        queries, hub_id = self.workflows_page.queries, self._current_portal
        self.runner(lambda: queries.export_zip(path, hub_id),
                    on_result=lambda count: self.statusBar().showMessage(
                        f"Exported {count} workflows to {path}", 8000),
                    on_error=lambda error: QMessageBox.warning(
                        self, "Export failed", str(error)))

    def back_up_now(self) -> None:
        """File → Back up now: the Backups page shows its progress and outcome."""
        self.show_page("Backups")
        self.backups_page.back_up_now()

    def _job_done_for_backups(self, name: str, message: str = "") -> None:
        if name == "backup":
            self.backups_page.reload()

    def _choose_import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import workflows", "",
                                              "Exports and JSON (*.zip *.json)")
        if path:
            self.import_workflows(Path(path))

    def import_workflows(self, path: Path) -> None:
        """Import an export or JSON file as a read-only source to browse offline."""
        queries = self.workflows_page.queries

        def imported(result: Any) -> None:
            portal, stored = result
            self.statusBar().showMessage(f"Imported {stored} versions into "
                                         f"'{portal.name}' (read-only)", 8000)
            self.reload_portals(select=portal.hub_id)     # now in the switcher
            self.show_page("Workflows")

        self.runner(lambda: queries.import_file(path), on_result=imported,
                    on_error=lambda error: QMessageBox.warning(self, "Import failed",
                                                               str(error)))

    def _build_status_bar(self) -> None:
        bar = QStatusBar()
        self.setStatusBar(bar)
        # Elided labels: a long message must never widen the window.
        self.connection_label = ElidedLabel("No portal connected")
        self.budget_label = ElidedLabel("")
        self.sync_label = ElidedLabel("Last sync: never")
        self.job_label = ElidedLabel("")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setVisible(False)
        for widget, stretch in ((self.connection_label, 2), (self.budget_label, 2),
                                (self.sync_label, 1)):
            bar.addWidget(widget, stretch)
        # Which HubSpot this window talks to, always in view: the demo, or the
        # configured API base (never silently the demo when a base is set).
        self.target_label = ElidedLabel(describe_target(self.hubspot) if self.hubspot else
                                        "HubSpot not configured")
        self.target_label.setObjectName("hubspotTarget")
        bar.addPermanentWidget(self.target_label)
        bar.addPermanentWidget(self.job_label)
        bar.addPermanentWidget(self.job_progress)
        self.scheduler.started.connect(self._job_started)
        self.scheduler.progress.connect(self._job_progress)
        for signal in (self.scheduler.finished, self.scheduler.failed):
            signal.connect(self._job_ended)
        self.scheduler.cancelled.connect(lambda name: self._job_ended(name, "cancelled"))

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
        if self.tray is not None and self.ctx.settings.get("notify.desktop"):
            self.tray.showMessage(title, message, app_icon(), 8000)

    def _job_started(self, name: str) -> None:
        self.job_label.setText(f"Running: {name}")
        self.job_progress.setRange(0, 0)
        self.job_progress.setVisible(True)

    def _job_progress(self, name: str, done: int, total: int, message: str) -> None:
        if total > 0:
            self.job_progress.setRange(0, total)
            self.job_progress.setValue(done)
        self.job_label.setText(f"{name}: {message}" if message else f"Running: {name}")

    def _job_ended(self, name: str, message: str = "") -> None:
        self.job_progress.setVisible(False)
        self.job_label.setText(f"{name}: {message}" if message else "")
        self.refresh_status()

    def refresh_status(self) -> None:
        settings = self.ctx.settings
        hub_id = self._current_portal
        self.runner(lambda: app_status(settings, hub_id), on_result=self.apply_status,
                    on_error=lambda error: self.connection_label.setText(
                        f"Status unavailable: {error}"))

    def apply_status(self, status: AppStatus) -> None:
        self._app_status = status
        self._update_connection_label()
        b = status.budget
        self.budget_label.setText(
            f"API budget left: {b.limit_minute - b.used_minute}/min · "
            f"{b.limit_hour - b.used_hour}/h · {b.limit_day - b.used_day}/day")
        self.sync_label.setText("Last sync: " + (
            status.last_sync.astimezone().strftime("%Y-%m-%d %H:%M")
            if status.last_sync else "never"))
        self.status_refreshed.emit(status)
        self.reload_portals()

    def _update_connection_label(self) -> None:
        """The current portal's status first, then the counts over all portals."""
        status = self._app_status
        parts = []
        if self._portal_status_text:
            parts.append(self._portal_status_text)
        if status is not None and (status.portals_connected
                                   or status.portals_needing_reconnect):
            if not parts:
                parts.append(f"{status.portals_connected} portal(s) connected")
            if status.portals_needing_reconnect:
                parts.append(f"{status.portals_needing_reconnect} need reconnecting")
        self.connection_label.setText(" · ".join(parts) or "No portal connected")

    # -- dialogs -----------------------------------------------------------------------

    def open_settings(self) -> None:
        """Open the settings dialog once the secret flags are read (off the GUI thread)."""
        settings = self.ctx.settings
        self.runner(settings.stored_secrets, on_result=self._show_settings,
                    on_error=lambda error: self._show_settings(None))

    def _show_settings(self, stored: set[str] | None) -> SettingsDialog:
        service = SettingsService(self.ctx.settings, self.ctx.secrets, self.ctx.audit)
        dialog = SettingsDialog(self.ctx.settings, service.apply, self.runner, self,
                                stored_secrets=stored)
        dialog.saved.connect(self._settings_saved)
        dialog.open()
        self.settings_dialog_opened.emit(dialog)
        return dialog

    def _settings_saved(self, keys: list[str]) -> None:
        if keys:
            self.statusBar().showMessage(f"Saved {len(keys)} setting(s). Feature and "
                                         "schedule changes apply after a restart.", 8000)
        self.audit_page.reload()

    def about_text(self) -> str:
        instance = self.ctx.instance_id or "none (read-only folder)"
        return (f"<h3>{APP_DISPLAY_NAME} {APP_VERSION}</h3>"
                "<p>Versioned, encrypted, offline history of your HubSpot workflows.</p>"
                f"<p>Data: {html.escape(str(self.ctx.paths.data_dir))}<br>"
                f"Instance: {html.escape(instance)} (names this folder's keychain "
                "entries)<br>"
                f"Secrets: {html.escape(self.ctx.secrets.describe())}<br>"
                f"Log: {html.escape(str(self.ctx.paths.log_file))}</p>")

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_DISPLAY_NAME}", self.about_text())

    # -- remembered layout -------------------------------------------------------------

    def _default_size(self) -> QSize:
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return DEFAULT_SIZE
        room = screen.availableGeometry().size() * 0.9
        return DEFAULT_SIZE.boundedTo(room).expandedTo(MINIMUM_DEFAULT_SIZE)

    def ui_state(self) -> QSettings:
        return QSettings(str(self.ctx.paths.config_dir / UI_STATE_FILE),
                         QSettings.Format.IniFormat)

    def _remembered_parts(self) -> dict[str, QSplitter | QHeaderView]:
        """The splitters and column headers of every page, by a key that holds
        the page, the position and the shape (a changed page starts afresh)."""
        parts: dict[str, QSplitter | QHeaderView] = {}
        for page in self.pages:
            group = page.title.replace(" ", "_").lower()
            for i, splitter in enumerate(page.widget.findChildren(QSplitter)):
                parts[f"{group}/splitter{i}x{splitter.count()}"] = splitter
            headers = [h for h in page.widget.findChildren(QHeaderView)
                       if h.orientation() == Qt.Orientation.Horizontal]
            for i, header in enumerate(headers):
                parts[f"{group}/columns{i}x{header.count()}"] = header
        return parts

    def save_ui_state(self) -> None:
        """Window size and place, splitters and column widths, for the next start.
        A few hundred bytes written at close: not worth a worker thread."""
        state = self.ui_state()
        state.clear()
        state.setValue("version", UI_STATE_VERSION)
        state.setValue("window/geometry", self.saveGeometry())
        state.setValue("window/state", self.saveState(UI_STATE_VERSION))
        for key, part in self._remembered_parts().items():
            state.setValue(key, part.saveState())
        state.sync()

    def restore_ui_state(self) -> None:
        """Read before the first paint, so the window opens as it was left."""
        state = self.ui_state()
        if int(state.value("version", 0) or 0) != UI_STATE_VERSION:
            return
        geometry = state.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        window_state = state.value("window/state")
        if isinstance(window_state, QByteArray):
            self.restoreState(window_state, UI_STATE_VERSION)
        for key, part in self._remembered_parts().items():
            saved = state.value(key)
            if isinstance(saved, QByteArray):
                part.restoreState(saved)

    # -- closing -----------------------------------------------------------------------

    def quit(self) -> None:
        self.quitting = True
        if self.close():
            QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:
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
        self.workflows_page.cancel_sync()
        self.scheduler.stop()
        if self.tray is not None:
            self.tray.hide()
        event.accept()

