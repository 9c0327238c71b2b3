"""The main window: page navigation, status bar, tray icon, menus.

It owns no business logic: pages get the services they need from the context,
and all reads go through the off-GUI-thread runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QApplication, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow,
                               QMenu, QMessageBox, QProgressBar, QPushButton, QStackedWidget,
                               QStatusBar, QSystemTrayIcon, QVBoxLayout, QWidget)

from wg_desktop.config import FEATURES
from wg_desktop.constants import APP_DISPLAY_NAME, APP_VERSION
from wg_desktop.context import AppContext
from wg_desktop.services.settings_service import SettingsService
from wg_desktop.services.status import AppStatus, app_status
from wg_desktop.ui.pages.audit_page import AuditPage
from wg_desktop.ui.pages.jobs_page import JobsPage
from wg_desktop.ui.resources import app_icon
from wg_desktop.ui.settings_dialog import SettingsDialog

STATUS_REFRESH_MS = 5_000


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


class MainWindow(QMainWindow):
    status_refreshed = Signal(object)   # AppStatus

    def __init__(self, ctx: AppContext, scheduler: Any, runner: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.scheduler = scheduler
        self.runner = runner
        self.quitting = False
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.setWindowIcon(app_icon())
        self.resize(1100, 720)

        self.nav = QListWidget()
        self.nav.setFixedWidth(190)
        self.nav.setIconSize(QSize(20, 20))
        self.stack = QStackedWidget()
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

        self.audit_page = AuditPage(ctx.audit, runner)
        self.jobs_page = JobsPage(scheduler, ctx.job_runs, runner)
        self.pages: list[Page] = []
        self.add_page(Page("Audit log", self.audit_page, feature="audit_logging"))
        self.add_page(Page("Background jobs", self.jobs_page))

        self._build_menus()
        self._build_status_bar()
        self._build_tray()
        self._status_timer = QTimer(self, interval=STATUS_REFRESH_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start()
        self.refresh_status()
        self.nav.setCurrentRow(0)

    # -- pages -------------------------------------------------------------------

    def add_page(self, page: Page) -> None:
        widget = page.widget
        if page.feature and not self.ctx.settings.feature_enabled(page.feature):
            widget = FeatureOffPage(page.feature, self.open_settings)
        self.pages.append(Page(page.title, widget, page.feature))
        self.stack.addWidget(widget)
        QListWidgetItem(page.title, self.nav)

    def show_page(self, title: str) -> QWidget:
        for row, page in enumerate(self.pages):
            if page.title == title:
                self.nav.setCurrentRow(row)
                if hasattr(page.widget, "reload"):
                    page.widget.reload()
                return page.widget
        raise KeyError(title)

    # -- menus, status bar, tray ------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.settings_action = QAction("&Settings…", self, shortcut=QKeySequence.StandardKey.Preferences)
        self.settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def _build_status_bar(self) -> None:
        bar = QStatusBar()
        self.setStatusBar(bar)
        self.connection_label = QLabel("No portal connected")
        self.budget_label = QLabel("")
        self.sync_label = QLabel("Last sync: never")
        self.job_label = QLabel("")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setVisible(False)
        for widget in (self.connection_label, self.budget_label, self.sync_label):
            bar.addWidget(widget)
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
        self.runner(lambda: app_status(settings), on_result=self.apply_status,
                    on_error=lambda error: self.connection_label.setText(
                        f"Status unavailable: {error}"))

    def apply_status(self, status: AppStatus) -> None:
        if status.portals_connected or status.portals_needing_reconnect:
            text = f"{status.portals_connected} portal(s) connected"
            if status.portals_needing_reconnect:
                text += f" · {status.portals_needing_reconnect} need reconnecting"
        else:
            text = "No portal connected"
        self.connection_label.setText(text)
        b = status.budget
        self.budget_label.setText(
            f"API budget left: {b.limit_minute - b.used_minute}/min · "
            f"{b.limit_hour - b.used_hour}/h · {b.limit_day - b.used_day}/day")
        self.sync_label.setText("Last sync: " + (
            status.last_sync.astimezone().strftime("%Y-%m-%d %H:%M")
            if status.last_sync else "never"))
        self.status_refreshed.emit(status)

    # -- dialogs -----------------------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        service = SettingsService(self.ctx.settings, self.ctx.secrets, self.ctx.audit)
        dialog = SettingsDialog(self.ctx.settings, service.apply, self.runner, self)
        dialog.saved.connect(self._settings_saved)
        dialog.open()
        return dialog

    def _settings_saved(self, keys: list[str]) -> None:
        if keys:
            self.statusBar().showMessage(f"Saved {len(keys)} setting(s). Feature and "
                                         "schedule changes apply after a restart.", 8000)
        self.audit_page.reload()

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_DISPLAY_NAME}",
                          f"<h3>{APP_DISPLAY_NAME} {APP_VERSION}</h3>"
                          "<p>Versioned, encrypted, offline history of your HubSpot "
                          "workflows.</p>"
                          f"<p>Data: {self.ctx.paths.data_dir}<br>"
                          f"Secrets: {self.ctx.secrets.describe()}<br>"
                          f"Log: {self.ctx.paths.log_file}</p>")

    # -- closing -----------------------------------------------------------------------

    def quit(self) -> None:
        self.quitting = True
        if self.close():
            QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:
        # With a tray, closing the window keeps background jobs (backups, sync)
        # running; Quit ends the app.
        if self.tray is not None and not self.quitting:
            self.hide()
            self.notify(APP_DISPLAY_NAME, "Still running in the tray; background jobs "
                        "continue. Use Quit to exit.")
            event.ignore()
            return
        self._status_timer.stop()
        self.scheduler.stop()
        if self.tray is not None:
            self.tray.hide()
        event.accept()

