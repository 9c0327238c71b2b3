"""The window's menus and what Help offers: the keyboard shortcuts (read from
the actions, so the list cannot drift from the keys), the log and data
folders, diagnostics for a bug report, and About."""

from __future__ import annotations

import html
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QMessageBox, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout)

from wg_desktop.config import Settings
from wg_desktop.constants import APP_DISPLAY_NAME, APP_VERSION
from wg_desktop.security.redaction import redact
from wg_desktop.ui.compare_modes import CompareMode, comparison_enabled

if TYPE_CHECKING:
    from wg_desktop.context import AppContext
    from wg_desktop.ui.main_window import MainWindow

# Keys that act inside a page; the window's own shortcuts come from its actions.
PAGE_KEYS = (("Tab / Shift+Tab", "Move to the next / previous control"),
             ("Arrow keys", "Move within a list or table"),
             ("Enter", "Open the selected search result"))


def diagnostics_text(ctx: "AppContext", settings: Settings) -> str:
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


def keys(standard: QKeySequence.StandardKey, fallback: str) -> list[QKeySequence]:
    """The platform's key for an action plus the one users expect everywhere:
    Linux desktops define no Preferences key and Windows no Quit key."""
    found = [QKeySequence(fallback)]
    found += [k for k in QKeySequence.keyBindings(standard) if k not in found]
    return found


class WindowMenus:
    """File, Compare and Help on ``window``'s menu bar."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        self.shortcuts_dialog: QDialog | None = None
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        self.sync_action = QAction("S&ync now", window)
        self.sync_action.setShortcuts(keys(QKeySequence.StandardKey.Refresh, "F5"))
        self.sync_action.setToolTip("Sync the current portal's workflows (Workflows page)")
        self.sync_action.triggered.connect(window.sync_now)
        self.sync_action.setEnabled(window.hubspot is not None
                                    and window.settings.feature_enabled("version_history"))
        file_menu.addAction(self.sync_action)
        file_menu.addSeparator()
        self.settings_action = QAction("&Settings…", window)
        self.settings_action.setShortcuts(
            keys(QKeySequence.StandardKey.Preferences, "Ctrl+,"))
        self.settings_action.triggered.connect(window.open_settings)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        export_action = QAction("&Export workflows…", window)
        export_action.triggered.connect(window.transfers.choose_export_file)
        file_menu.addAction(export_action)
        import_action = QAction("&Import workflows…", window)
        import_action.triggered.connect(window.transfers.choose_import_file)
        file_menu.addAction(import_action)
        file_menu.addSeparator()
        self.backup_action = QAction("&Back up now", window)
        self.backup_action.triggered.connect(window.back_up_now)
        file_menu.addAction(self.backup_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", window)
        self.quit_action.setShortcuts(keys(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.quit_action.triggered.connect(window.quit)
        file_menu.addAction(self.quit_action)
        # Two workflows, or one with a file (the history compares versions of one).
        self.compare_menu = bar.addMenu("&Compare")
        self.compare_workflows_action = self.compare_menu.addAction(
            "Compare &two workflows…", lambda: window.open_compare(CompareMode.WORKFLOWS))
        self.compare_file_action = self.compare_menu.addAction(
            "Compare a workflow with a &file…", lambda: window.open_compare(CompareMode.FILE))
        self.compare_menu.menuAction().setVisible(comparison_enabled(window.settings))
        help_menu = bar.addMenu("&Help")
        self.shortcuts_action = QAction("&Keyboard shortcuts", window)
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        self.open_logs_action = QAction("Open the &log folder", window)
        self.open_logs_action.triggered.connect(
            lambda: self.open_folder(window.paths.log_file.parent))
        help_menu.addAction(self.open_logs_action)
        self.open_data_action = QAction("Open the &data folder", window)
        self.open_data_action.triggered.connect(lambda: self.open_folder(window.paths.data_dir))
        help_menu.addAction(self.open_data_action)
        self.diagnostics_action = QAction("&Copy diagnostics", window)
        self.diagnostics_action.setToolTip("Versions, platform, folders and settings (secrets "
                                           "left out), for a bug report")
        self.diagnostics_action.triggered.connect(self.copy_diagnostics)
        help_menu.addAction(self.diagnostics_action)
        help_menu.addSeparator()
        self.about_action = QAction("&About", window)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)
        # What needs the data folder waits until it is open (see data_opened).
        self.data_actions = [self.settings_action, export_action, import_action,
                             self.backup_action, self.compare_workflows_action,
                             self.compare_file_action, self.diagnostics_action,
                             self.about_action]
        for action in self.data_actions:
            action.setEnabled(window.ctx is not None)

    @property
    def ctx(self) -> "AppContext":
        return self.window.ctx

    def data_opened(self) -> None:
        for action in self.data_actions:
            action.setEnabled(True)

    # -- Help --------------------------------------------------------------------------

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for Help → Keyboard shortcuts, read from the
        actions themselves so the list cannot drift from what the keys do."""
        # The history's own key, from the history panel (loaded when Help asks).
        from wg_desktop.ui.pages.history_panel import COMPARE_SHORTCUT

        native = QKeySequence.SequenceFormat.NativeText
        rows = [(QKeySequence(QKeySequence.StandardKey.Find).toString(native),
                 "Search on the current page")]
        for action in (self.sync_action, self.settings_action, self.quit_action):
            shortcut = ", ".join(k.toString(native) for k in action.shortcuts())
            rows.append((shortcut, action.text().replace("&", "").rstrip("…")))
        page_keys = PAGE_KEYS + ((COMPARE_SHORTCUT, "Compare versions (in a workflow's history)"),)
        rows += [(QKeySequence(k).toString(native) if "+" in k else k, what)
                 for k, what in page_keys]
        return rows

    def show_shortcuts(self) -> QDialog:
        dialog = QDialog(self.window)
        dialog.setWindowTitle("Keyboard shortcuts")
        table = QTreeWidget()
        table.setHeaderLabels(["Keys", "Action"])
        table.setRootIsDecorated(False)
        for shortcut, what in self.shortcut_rows():
            QTreeWidgetItem(table, [shortcut, what])
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
            self.window.statusBar().showMessage(f"Could not open {folder}", 8000)
        return bool(opened)

    def copy_diagnostics(self) -> None:
        """Diagnostics to the clipboard; built off the GUI thread (the secret
        flags come from the keychain)."""
        ctx, settings, bar = self.ctx, self.ctx.settings, self.window.statusBar()

        def copy(text: str) -> None:
            QGuiApplication.clipboard().setText(text)
            bar.showMessage("Diagnostics copied to the clipboard (no secrets included)", 8000)

        self.window.runner(lambda: diagnostics_text(ctx, settings), on_result=copy,
                           on_error=lambda error: bar.showMessage(
                               f"Could not collect diagnostics: {error}", 8000))

    def about_text(self) -> str:
        ctx = self.ctx
        instance = ctx.instance_id or "none (read-only folder)"
        return (f"<h3>{APP_DISPLAY_NAME} {APP_VERSION}</h3>"
                "<p>Versioned, encrypted, offline history of your HubSpot workflows.</p>"
                f"<p>Data: {html.escape(str(ctx.paths.data_dir))}<br>"
                f"Instance: {html.escape(instance)} (names this folder's keychain "
                "entries)<br>"
                f"Secrets: {html.escape(ctx.secrets.describe())}<br>"
                f"Log: {html.escape(str(ctx.paths.log_file))}</p>")

    def show_about(self) -> None:
        QMessageBox.about(self.window, f"About {APP_DISPLAY_NAME}", self.about_text())
