"""Backups page: every backup file and every failed attempt, with back up now,
verify, export a portable copy, delete, open and restore.

Every service call runs off the GUI thread through the window's runner.

"Open" (a listed backup) and "Open a backup file…" (any file, a portable copy
with its passphrase) decrypt and verify the backup into a private copy and
show it read-only in its own window beside this one (ui/pages/backup_browser.py);
several can be open at once, and closing one removes its copy.

"Restore…" first opens the backup to show what it holds next to what the
current store holds, and asks. Inside the window (``restore_in_app`` set by
it) the window then stops its jobs, restores and reloads
(ui/store_switch.py); a page on its own says exactly what will happen and
gives the command to run once the app has quit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel,
                               QLineEdit, QMessageBox, QProgressBar, QPushButton, QTableView,
                               QVBoxLayout, QWidget)

from wg_desktop.ui import theme
from wg_desktop.ui.table_model import ListTableModel
from wg_desktop.services.backup_browse import (OpenedBackup, StoreCounts, is_portable,
                                               open_backup, store_counts, sweep_opened_backups)
from wg_desktop.ui.pages.backup_browser import BackupBrowser
from wg_desktop.services.backups import (SUFFIX, UNREACHABLE, BackupBusy, BackupInfo,
                                         BackupService, FailedAttempt, Trigger, VerifyResult, backup_name,
                                         restore_command)

COLUMNS = ("Date", "Size", "Status", "Verified", "Trigger")
FAILED = "failed"
NO_BACKUPS = "No backups yet. Back up now makes the first one."
LIST_FAILED = "Could not list the backups: "


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class RestorePreview:
    """What a restore replaces with what: shown before anything is touched."""

    path: Path
    created_at: dt.datetime
    schema_version: int
    backup: StoreCounts
    current: StoreCounts
    passphrase: str | None = None

    def text(self, database: Path) -> str:
        return (f"Restore the whole store from the backup of "
                f"{self.created_at.astimezone():%Y-%m-%d %H:%M}?\n\n"
                f"The backup holds: {self.backup.text()} (schema {self.schema_version}).\n"
                f"The current store holds: {self.current.text()}.\n\n"
                f"The backup was verified just now. The current store is replaced and kept "
                f"aside as {database.name}.before-restore-<time> in {database.parent}; if "
                f"anything fails it stays as it is. Background jobs stop while it runs, "
                f"then every page reloads.")


def restore_preview(service: BackupService, path: Path,
                    passphrase: str | None = None) -> RestorePreview:
    """Worker thread: open (decrypt, verify) the backup to count what it holds."""
    with open_backup(service.paths, path, secrets=service.secrets,
                     passphrase=passphrase) as opened:
        counts = opened.counts()
    return RestorePreview(path, opened.created_at, opened.schema_version, counts,
                          store_counts(service.store), passphrase)


@dataclass(frozen=True)
class BackupRow:
    """One table row: a backup file (``path`` set) or a failed attempt."""

    created_at: dt.datetime
    size: int
    status: str
    verified: str
    trigger: str
    message: str = ""
    path: Path | None = None
    folder: Path | None = None      # set when the file is outside the current backup folder

    @property
    def reachable(self) -> bool:
        """A file this page can verify, restore, open or delete."""
        return self.path is not None and self.status != UNREACHABLE


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def rows_for(backups: list[BackupInfo], attempts: list[FailedAttempt],
             checks: dict[Path, str], folder: Path | None = None) -> list[BackupRow]:
    """Files and failed attempts, newest first. ``checks`` holds what a verify
    from this page found, which replaces what the backup log says. A backup
    outside ``folder`` (made before the backup folder setting changed) names
    its folder; one whose folder is gone (an unplugged drive) is unreachable."""
    rows = []
    for b in backups:
        if b.status == UNREACHABLE:
            verified = "unreachable"
        elif b.path in checks:
            verified = checks[b.path]
        elif b.verified:
            verified = "when made"
        elif b.status == FAILED:
            verified = "no"
        else:
            verified = "not yet (Verify checks it)"
        elsewhere = b.path.parent if folder is not None and b.path.parent != folder else None
        rows.append(BackupRow(b.created_at, b.size, b.status, verified, b.trigger or "—",
                              b.message, b.path, elsewhere))
    for a in attempts:
        rows.append(BackupRow(a.created_at, 0, FAILED, "no file", a.trigger, a.message))
    return sorted(rows, key=lambda r: r.created_at, reverse=True)


class BackupTableModel(ListTableModel):
    headers = tuple(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return row.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            if column == 1:
                return human_size(row.size) if row.path is not None else "—"
            if column == 2:
                # A failure shows its error in the row itself, not only in a tooltip.
                text = f"{row.status}: {row.message}" if row.message else row.status
                if row.folder is not None and row.status != UNREACHABLE:
                    text += f" (in {row.folder})"
                return text
            if column == 3:
                return row.verified
            return row.trigger
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [str(row.path) if row.path else "no file was kept"]
            if row.message:
                parts.append(row.message)
            return "\n".join(parts)
        if role == Qt.ItemDataRole.ForegroundRole and (
                row.status in (FAILED, UNREACHABLE) or row.verified.startswith("FAILED")):
            return theme.color("alert_text")
        return None


class BackupsPage(QWidget):
    live_store_changed = Signal()   # a workflow's history was restored into it

    def __init__(self, service: BackupService, run_off_gui_thread: Callable[..., Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._run = run_off_gui_thread
        self._pending: Any = None
        self._checks: dict[Path, str] = {}
        self._backing_up = False
        self._busy_action = False
        # The status line says nothing the user did (it is empty or speaks of the
        # listing): the "no backups" hint may take it. Set by _say.
        self._listing_line = True
        # Set by the window: restore there (stop, restore, reload). None: give the command.
        self.restore_in_app: Callable[[Path, str | None, Callable[[str, bool], None]],
                                      None] | None = None
        self.browsers: list[BackupBrowser] = []     # opened backups' windows
        self._swept = False
        self.model = BackupTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.backup_button = QPushButton("&Back up now")
        self.verify_button = QPushButton("&Verify")
        self.export_button = QPushButton("&Export portable copy…")
        self.delete_button = QPushButton("&Delete…")
        self.restore_button = QPushButton("&Restore…")
        self.open_button = QPushButton("&Open")
        self.open_button.setToolTip("Browse this backup read-only, beside the live store")
        self.open_file_button = QPushButton("Open a backup &file…")
        self.open_file_button.setToolTip("Browse any backup file read-only (a portable copy "
                                         "asks for its passphrase)")
        self.refresh_button = QPushButton("Re&fresh")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)       # no measurable steps: a busy indicator
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label = QLabel(f"Backups folder: {service.folder}")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        for button in (self.backup_button, self.verify_button, self.open_button,
                       self.open_file_button, self.export_button, self.delete_button,
                       self.restore_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.progress)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folder_label)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        self.backup_button.clicked.connect(self.back_up_now)
        self.verify_button.clicked.connect(self.verify_selected)
        self.export_button.clicked.connect(self.choose_export)
        self.delete_button.clicked.connect(self.delete_selected)
        self.restore_button.clicked.connect(self.restore_selected)
        self.open_button.clicked.connect(lambda: self.open_selected())
        self.open_file_button.clicked.connect(self.choose_backup_file)
        self.refresh_button.clicked.connect(self.reload)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self._update_actions()

    # -- state ------------------------------------------------------------------------

    def selected(self) -> BackupRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def _update_actions(self, *_: Any) -> None:
        row = self.selected()
        has_file = row is not None and row.reachable
        self.backup_button.setEnabled(not self._backing_up)
        for button in (self.verify_button, self.delete_button, self.restore_button,
                       self.open_button):
            button.setEnabled(has_file and not self._busy_action)
        self.open_file_button.setEnabled(not self._busy_action)
        # A portable copy is of the live store, so it needs no selection.
        self.export_button.setEnabled(not self._busy_action)
        self.progress.setVisible(self._backing_up or self._busy_action)

    def _say(self, text: str, error: bool = False, *, listing: bool = False) -> None:
        """``listing``: the line is about the list itself (the hint, a failed
        read), not the outcome of an action, so the next listing may replace it."""
        self._listing_line = listing or not text
        self.status_label.setText(text)
        theme.apply_style(self.status_label, "color: ${alert_text};" if error else "")

    # -- loading ----------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        # Backups also come and go outside this page (the scheduled job, the
        # command line, retention), so the list is re-read whenever it is shown.
        super().showEvent(event)
        self.reload()

    @property
    def loading(self) -> bool:
        """The list is being re-read (the table still shows the previous one)."""
        return self._pending is not None

    def reload(self) -> None:
        if self._pending is not None:
            self._pending.discard()     # its answer predates whatever changed
        service = self.service
        sweep, self._swept = not self._swept, True

        def load() -> tuple[list[BackupInfo], list[FailedAttempt], Path]:
            if sweep:     # private copies of backups a killed process had open
                sweep_opened_backups(service.paths)
            # The folder is read with the list: the setting may have changed.
            return service.list(), service.failed_attempts(), service.folder

        self._pending = self._run(load, on_result=self._show, on_error=self._load_error)

    def _show(self, result: tuple[list[BackupInfo], list[FailedAttempt], Path]) -> None:
        self._pending = None
        selected = self.selected()
        backups, attempts, folder = result
        self.folder_label.setText(f"Backups folder: {folder}")
        rows = rows_for(backups, attempts, self._checks, folder)
        self.model.set_rows(rows)
        if selected is not None:
            for number, row in enumerate(rows):
                if row.path is not None and row.path == selected.path:
                    self.table.selectRow(number)
        # The hint stands in for an empty or failed listing only: it must not
        # replace the outcome of what the user just did (a refused backup or
        # an export leaves the list empty too).
        if not rows and self._listing_line:
            self._say(NO_BACKUPS, listing=True)

    def _load_error(self, error: BaseException) -> None:
        self._pending = None
        self._say(f"{LIST_FAILED}{error}", error=True, listing=True)

    # -- back up now --------------------------------------------------------------------

    def back_up_now(self) -> None:
        if self._backing_up:
            return
        self._backing_up = True
        self._update_actions()
        self._say("Backing up… (the window stays usable)")
        self._run(lambda: self.service.backup_now(Trigger.MANUAL),
                  on_result=self._backed_up, on_error=self._backup_failed)

    def _backed_up(self, info: BackupInfo) -> None:
        self._backing_up = False
        self._update_actions()
        text = (f"Backed up to {info.path.name} ({human_size(info.size)}, verified, "
                f"{info.duration_s:.1f} s)")
        self._say(text)
        self.reload()

    def _backup_failed(self, error: BaseException) -> None:
        self._backing_up = False
        self._update_actions()
        if isinstance(error, BackupBusy):
            text = f"Not started: {error}. Try again when it has finished."
        else:
            text = f"The backup failed: {error}"
        self._say(text, error=True)
        self.reload()    # a failed attempt is recorded; show it

    # -- verify, delete -----------------------------------------------------------------

    def _action(self, work: Callable[[], Any], done: Callable[[Any], str],
                failed: Callable[[BaseException], str], busy_text: str) -> None:
        self._busy_action = True
        self._update_actions()
        self._say(busy_text)

        def finish(text: str, error: bool) -> None:
            self._busy_action = False
            self._update_actions()
            self._say(text, error)
            self.reload()

        self._run(work, on_result=lambda value: finish(done(value), False),
                  on_error=lambda exc: finish(failed(exc), True))

    def verify_selected(self) -> None:
        row = self.selected()
        if row is None or row.path is None:
            return
        path = row.path

        def stamp() -> str:
            return utcnow().astimezone().strftime("%H:%M")

        def done(result: VerifyResult) -> str:
            self._checks[path] = f"ok (checked {stamp()})"
            return (f"{path.name} is intact: it decrypts and its database passes the "
                    f"integrity check ({human_size(result.plain_size)}, "
                    f"{result.duration_s:.1f} s)")

        def failed(error: BaseException) -> str:
            self._checks[path] = f"FAILED {stamp()}"
            return f"{path.name} failed verification: {error}"

        self._action(lambda: self.service.verify(path), done, failed,
                     f"Verifying {path.name}…")

    def delete_selected(self) -> None:
        row = self.selected()
        if row is None or row.path is None:
            return
        path = row.path
        answer = QMessageBox.question(
            self, "Delete backup",
            f"Delete the backup of {row.created_at.astimezone():%Y-%m-%d %H:%M}?\n\n"
            f"{path}\n\nThe file is removed from disk. The newest verified backup is "
            "never deleted.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._checks.pop(path, None)
        self._action(lambda: self.service.delete(path), lambda _: f"Deleted {path.name}",
                     lambda error: f"Not deleted: {error}", f"Deleting {path.name}…")

    # -- export ---------------------------------------------------------------------------

    def choose_export(self) -> None:
        default = backup_name(utcnow()).replace(SUFFIX, f"-portable{SUFFIX}")
        target, _ = QFileDialog.getSaveFileName(self, "Export a portable backup",
                                                str(Path.home() / default),
                                                f"WorkflowGuard backups (*{SUFFIX})")
        if not target:
            return
        passphrase = self.ask_passphrase()
        if passphrase is not None:
            self.export_to(Path(target), passphrase)

    def ask_passphrase(self) -> str | None:
        """Twice, hidden. Only handed to the export; never kept on the page."""
        first, ok = QInputDialog.getText(
            self, "Portable backup passphrase",
            "Passphrase for the portable copy (at least 8 characters; it is not stored "
            "anywhere, so keep it safe):", QLineEdit.EchoMode.Password)
        if not ok or not first:
            return None
        again, ok = QInputDialog.getText(self, "Portable backup passphrase",
                                         "Repeat the passphrase:",
                                         QLineEdit.EchoMode.Password)
        if not ok:
            return None
        if again != first:
            self._say("The passphrases differ; nothing was exported.", error=True)
            return None
        return first

    def export_to(self, target: Path, passphrase: str) -> None:
        self._action(lambda: self.service.export_portable(target, passphrase),
                     lambda result: f"Exported a portable backup to {result.path} (verified)",
                     lambda error: f"The export failed: {error}",
                     f"Exporting to {target}…")

    # -- restore ----------------------------------------------------------------------------

    def restore_text(self, row: BackupRow) -> str:
        assert row.path is not None
        database = self.service.paths.database
        return (f"Restoring replaces the whole store with the backup of "
                f"{row.created_at.astimezone():%Y-%m-%d %H:%M}.\n\n"
                f"The backup is verified first; if anything fails, the current store stays "
                f"as it is. The current store is kept aside as "
                f"{database.name}.before-restore-<time> in {database.parent}.\n\n"
                f"A restore cannot run while WorkflowGuard has the store open. Quit "
                f"WorkflowGuard (File → Quit; closing the window keeps it running in the "
                f"tray), run this command in a terminal:\n\n"
                f"{restore_command(row.path, self.service.paths)}\n\n"
                f"then start WorkflowGuard again.")

    def restore_selected(self) -> None:
        row = self.selected()
        if row is None or row.path is None:
            return
        if self.restore_in_app is not None:
            self.prepare_restore(row.path)
            return
        box = QMessageBox(QMessageBox.Icon.Information, "Restore from a backup",
                          self.restore_text(row), parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = box.addButton("Copy command", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.exec()
        if box.clickedButton() is copy:
            self.copy_restore_command(row)

    def prepare_restore(self, path: Path, passphrase: str | None = None) -> None:
        """Open the backup (off the GUI thread) to show what it holds, then ask."""
        service = self.service
        self._set_busy(True)
        self._say(f"Checking {path.name} before the restore…")

        def ready(preview: RestorePreview) -> None:
            self._set_busy(False)
            self._say("")
            self.confirm_restore(preview)

        def failed(error: BaseException) -> None:
            self._set_busy(False)
            self._say(f"Nothing was restored: {error}", error=True)

        self._run(lambda: restore_preview(service, path, passphrase),
                  on_result=ready, on_error=failed)

    def confirm_restore(self, preview: RestorePreview) -> None:
        answer = QMessageBox.question(
            self, "Restore from a backup", preview.text(self.service.paths.database),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            self._say("Nothing was restored.")
            return
        assert self.restore_in_app is not None     # prepare_restore runs in the window only
        self._set_busy(True)
        self._say("Restoring… background jobs are paused; every page reloads when it is done.")
        self.restore_in_app(preview.path, preview.passphrase, self._restore_done)

    def _restore_done(self, text: str, ok: bool) -> None:
        # No reload here: the window's reload_pages (ui/store_switch.py) has
        # every page, this one too, read the store again, after a failure too.
        self._set_busy(False)
        self._say(text, error=not ok)

    def _set_busy(self, busy: bool) -> None:
        self._busy_action = busy
        self._update_actions()

    # -- open a backup read-only ---------------------------------------------------------

    def open_selected(self) -> None:
        row = self.selected()
        if row is not None and row.path is not None:
            self.open_file(row.path)

    def choose_backup_file(self) -> None:
        target, _ = QFileDialog.getOpenFileName(
            self, "Open a backup", str(self.service.folder),
            f"WorkflowGuard backups (*{SUFFIX});;All files (*)")
        if target:
            self.open_file(Path(target))

    def ask_open_passphrase(self, path: Path) -> str | None:
        value, ok = QInputDialog.getText(
            self, "Portable backup passphrase",
            f"{path.name} is a portable backup. Its passphrase:", QLineEdit.EchoMode.Password)
        return value if ok and value else None

    def open_file(self, path: Path, passphrase: str | None = None) -> None:
        """Open ``path`` read-only in its own window. Whether it needs a
        passphrase is read from its header, off the GUI thread."""
        if passphrase is not None:
            self._open(path, passphrase)
            return

        def checked(portable: bool) -> None:
            if not portable:
                self._open(path, None)
                return
            asked = self.ask_open_passphrase(path)
            if asked is None:
                self._say(f"{path.name} was not opened (no passphrase).")
            else:
                self._open(path, asked)

        self._run(lambda: is_portable(path), on_result=checked,
                  on_error=lambda error: self._say(f"Cannot open {path.name}: {error}",
                                                   error=True))

    def _open(self, path: Path, passphrase: str | None) -> None:
        service = self.service
        self._set_busy(True)
        self._say(f"Opening {path.name} (decrypting and checking it)…")

        def opened(backup: OpenedBackup) -> None:
            self._set_busy(False)
            self._say(f"Opened {path.name}: {backup.title}")
            self.show_browser(backup)

        def failed(error: BaseException) -> None:
            self._set_busy(False)
            self._say(f"Cannot open {path.name}: {error}", error=True)

        self._run(lambda: open_backup(service.paths, path, secrets=service.secrets,
                                      passphrase=passphrase),
                  on_result=opened, on_error=failed)

    def show_browser(self, backup: OpenedBackup) -> BackupBrowser:
        service = self.service
        browser = BackupBrowser(backup, service.store, service.audit, service.settings,
                                self._run, parent=self)
        browser.closed.connect(self._browser_closed)
        browser.history_restored.connect(lambda _: self.live_store_changed.emit())
        self.browsers.append(browser)
        browser.show()
        return browser

    def close_browsers(self) -> None:
        """Close every opened backup's window (the app is quitting): each
        removes its private decrypted copy now rather than at the next start."""
        for browser in list(self.browsers):
            browser.close()

    def _browser_closed(self, backup: OpenedBackup) -> None:
        self.browsers = [b for b in self.browsers if b.opened is not backup]
        # Removing the private copy is disk work: on the worker.
        self._run(backup.close, on_result=lambda _: None,
                  on_error=lambda error: self._say(f"Could not remove the opened copy of "
                                                   f"{backup.source.name}: {error}", error=True))

    def copy_restore_command(self, row: BackupRow) -> None:
        assert row.path is not None
        command = restore_command(row.path, self.service.paths)
        QGuiApplication.clipboard().setText(command)
        self._say(f"Copied: {command}")
