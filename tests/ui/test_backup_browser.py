"""Opening a backup beside the live window, and restoring from the window:
offscreen, over a real encrypted store and real backup files."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox, QPushButton

from tests.unit.test_backup_browse import seed
from wg_desktop.services.backups import BackupService
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store.models import Workflow
from wg_desktop.ui import theme
from wg_desktop.ui.pages.backup_browser import BackupBrowser
from wg_desktop.ui.pages.diff_view import DiffView


@pytest.fixture
def backup(ctx):
    """A backup with 2 versions of one workflow; the live store then has 3."""
    seed(ctx.store, ["one", "two"])
    path = BackupService.from_context(ctx).backup_now().path
    seed(ctx.store, ["three"])
    return path


def _versions(ctx) -> list[int]:
    return [r.versions for r in WorkflowQueries(ctx.store, ctx.audit).list()]


def _select_backup(qtbot, window):
    page = window.backups_page
    window.show_page("Backups")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=5000)
    page.table.selectRow(0)
    return page


def _new_browser(qtbot, page, open_it, timeout: int) -> BackupBrowser:
    """Open a backup as ``open_it`` does; the window it appears in (the page
    lists the opened backups' windows)."""
    before = list(page.browsers)
    open_it()
    qtbot.waitUntil(lambda: len(page.browsers) == len(before) + 1, timeout=timeout)
    browser = next(b for b in page.browsers if b not in before)
    assert browser.isWindow() and browser.isVisible()
    return browser


def _open_browser(qtbot, window) -> BackupBrowser:
    page = _select_backup(qtbot, window)
    browser = _new_browser(qtbot, page, page.open_selected, timeout=10000)
    qtbot.waitUntil(lambda: browser.page.model.rowCount() == 1, timeout=5000)
    return browser


def _restore_outcome(qtbot, page, timeout: int) -> str:
    """Until the page says how the restore ended (it says "Checking…", then
    "Restoring…" meanwhile); that one line."""
    qtbot.waitUntil(lambda: page.status_label.text().startswith(
        ("Restored the store from ", "Nothing was restored")), timeout=timeout)
    return page.status_label.text()


def _said_as_error(page) -> bool:
    return theme.hex_color("alert_text") in page.status_label.styleSheet()


class _ShownWindows(QObject):
    """Every widget shown as a window of its own while installed on the app."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[QObject] = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Show and getattr(obj, "isWindow", lambda: False)():
            self.shown.append(obj)
        return False


def test_a_backup_opens_read_only_beside_the_live_window(qtbot, window, ctx, backup):
    windows = _ShownWindows()
    QApplication.instance().installEventFilter(windows)
    try:
        browser = _open_browser(qtbot, window)
    finally:
        QApplication.instance().removeEventFilter(windows)
    # Only the window itself: no button of it flashed up as a window of its own.
    assert not [w for w in windows.shown if isinstance(w, QPushButton)]
    qtbot.waitExposed(browser)
    assert window.isVisible() and browser.isVisible()
    assert browser.banner.text().startswith("Viewing backup of ")
    assert browser.banner.text().endswith("(read-only)")
    # Coloured by the theme's roles, as every banner is (readable in dark mode too).
    assert theme.hex_color("info_bg") in browser.banner.styleSheet()
    assert theme.hex_color("info_text") in browser.banner.styleSheet()
    assert browser.windowTitle().startswith("Viewing backup of ")
    # The backup's rows, while the live store (and its page) has more.
    assert [r.versions for r in browser.page.model.rows] == [2]
    assert _versions(ctx) == [3]
    # Write actions are not there.
    page = browser.page
    assert page.sync_button.isHidden() and page.banner.isVisible()
    browser.page.select_workflow(browser.page.model.rows[0].id)
    history = page.history
    qtbot.waitUntil(lambda: history.versions_model.rowCount() == 2, timeout=5000)
    qtbot.waitUntil(lambda: history.shown_version_id is not None, timeout=5000)
    assert history.restore_button.isHidden() and history.live_button.isHidden()
    assert history.live_store_button.isVisible() and history.live_store_button.isEnabled()
    assert not history.live_store_button.isWindow()
    assert browser.restore_history_button.isEnabled()

    view = history.compare_with_live_store()
    assert view is not None
    assert view.status.text() == "Reading the live store…"   # not HubSpot
    qtbot.waitUntil(lambda: [v for v in history.findChildren(DiffView) if v.isVisible()]
                    == [view], timeout=5000)
    qtbot.waitUntil(lambda: view.result is not None, timeout=5000)
    assert view.new_combo.currentText() == "Latest in the live store"
    assert view.result.new_label == "Latest in the live store"
    assert not view.result.identical
    assert any("two" in line or "three" in line for line in view.result.unified)
    view.close()

    folder = browser.opened.folder
    assert folder.exists()
    browser.close()
    qtbot.waitUntil(lambda: not folder.exists(), timeout=5000)
    assert window.backups_page.browsers == []


def test_quitting_closes_opened_backups_and_removes_their_copies(qtbot, window, backup,
                                                                 monkeypatch):
    browser = _open_browser(qtbot, window)
    folder = browser.opened.folder
    assert folder.exists()
    quits: list[bool] = []
    monkeypatch.setattr("wg_desktop.ui.main_window.QApplication.quit",
                        lambda: quits.append(True))
    window.quit()
    assert quits == [True]
    # Removed now, not left decrypted on disk until the next start's sweep.
    qtbot.waitUntil(lambda: not folder.exists(), timeout=5000)
    assert not browser.isVisible() and window.backups_page.browsers == []


def test_closing_to_the_tray_keeps_opened_backups_open(qtbot, window, backup, monkeypatch):
    browser = _open_browser(qtbot, window)
    monkeypatch.setattr(window, "tray", object())       # a tray to close into
    monkeypatch.setattr(window, "notify", lambda title, message: None)
    window.close()
    assert browser.isVisible() and browser.opened.folder.exists()
    assert window.backups_page.browsers == [browser]
    browser.close()
    qtbot.waitUntil(lambda: not browser.opened.folder.exists(), timeout=5000)


def test_several_backups_open_at_once_and_a_portable_file_asks_its_passphrase(
        qtbot, window, ctx, backup, tmp_path, monkeypatch):
    portable = BackupService.from_context(ctx).export_portable(
        tmp_path / "p.wgbackup", "a long passphrase").path
    first = _open_browser(qtbot, window)
    page = window.backups_page
    monkeypatch.setattr(QInputDialog, "getText",
                        staticmethod(lambda *a, **k: ("a long passphrase", True)))
    second = _new_browser(qtbot, page, lambda: page.open_file(portable), timeout=15000)
    qtbot.waitUntil(lambda: second.page.model.rowCount() == 1, timeout=5000)
    assert [r.versions for r in second.page.model.rows] == [3]     # exported after "three"
    assert first.isVisible() and second.isVisible() and len(page.browsers) == 2
    assert first.opened.folder != second.opened.folder
    monkeypatch.setattr(QInputDialog, "getText",
                        staticmethod(lambda *a, **k: ("wrong passphrase!", True)))
    page.open_file(portable)
    qtbot.waitUntil(lambda: "wrong passphrase" in page.status_label.text(), timeout=15000)
    assert page.browsers == [first, second]             # no window for it
    for browser in (first, second):
        browser.close()


def test_restore_one_workflows_history_from_the_browser(qtbot, window, ctx, backup,
                                                        monkeypatch):
    # The live store loses its two oldest versions.
    from wg_desktop.store.models import WorkflowVersion
    from wg_desktop.store.versions import prune
    workflow = Workflow.get()
    with ctx.store.writing():
        prune(list(WorkflowVersion.select().order_by(WorkflowVersion.captured_at).limit(2)))
    assert _versions(ctx) == [1]
    browser = _open_browser(qtbot, window)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(browser.history_restored, timeout=10000) as done:
        browser.restore_history(browser.page.model.rows[0].id)
    assert "2 of the backup's 2 versions" in asked[0]
    assert done.args[0].added == 2
    assert _versions(ctx) == [3] and Workflow.get().id == workflow.id
    browser.close()


def test_restoring_a_history_runs_once_however_often_it_is_clicked(
        qtbot, window, ctx, backup, monkeypatch):
    from wg_desktop.store.models import WorkflowVersion
    from wg_desktop.store.versions import prune
    with ctx.store.writing():
        prune(list(WorkflowVersion.select().order_by(WorkflowVersion.captured_at).limit(2)))
    browser = _open_browser(qtbot, window)
    button = browser.restore_history_button
    assert not button.isEnabled()                          # no workflow selected yet
    browser.page.select_workflow(browser.page.model.rows[0].id)
    qtbot.waitUntil(button.isEnabled, timeout=5000)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.No))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not button.isEnabled()                          # while it plans
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)    # a double click
    browser.restore_history()                              # or any other way in
    qtbot.waitUntil(lambda: browser.status.text() == "Nothing was restored.", timeout=10000)
    qtbot.wait(100)                                        # a second plan would ask now
    assert len(asked) == 1 and button.isEnabled()
    assert _versions(ctx) == [1]

    # Another portal chosen: enabled again once the page selects a workflow there.
    browser.portals.setCurrentIndex(1)
    assert not button.isEnabled()
    qtbot.waitUntil(button.isEnabled, timeout=5000)
    browser.close()


def test_restore_in_the_window_replaces_the_store_and_reloads_the_pages(
        qtbot, window, ctx, backup, monkeypatch):
    page = _select_backup(qtbot, window)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes))
    workflows = window.workflows_page
    page.restore_selected()
    text = _restore_outcome(qtbot, page, timeout=20000)
    assert text.startswith("Restored the store from "), text
    assert not _said_as_error(page)
    assert "The backup holds: 1 portal, 1 workflow, 2 versions" in asked[0]
    assert "The current store holds: 1 portal, 1 workflow, 3 versions" in asked[0]
    assert _versions(ctx) == [2]
    assert list(ctx.paths.data_dir.glob("workflowguard.db.before-restore-*"))
    # The pages were reloaded from the restored store.
    qtbot.waitUntil(lambda: [r.versions for r in workflows.model.rows] == [2], timeout=5000)
    # The store is writable and audited the restore.
    seed(ctx.store, ["four"])
    assert _versions(ctx) == [3]


def test_a_cancelled_restore_changes_nothing(qtbot, window, ctx, backup, monkeypatch):
    page = _select_backup(qtbot, window)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a: QMessageBox.StandardButton.No))
    page.restore_selected()
    qtbot.waitUntil(lambda: page.status_label.text() == "Nothing was restored.", timeout=10000)
    assert _versions(ctx) == [3]
    assert not list(ctx.paths.data_dir.glob("workflowguard.db.before-restore-*"))


def test_a_failed_restore_leaves_the_current_store_open_and_usable(
        qtbot, window, ctx, backup, monkeypatch):
    page = _select_backup(qtbot, window)

    def damage_then_confirm(*args):
        # Between the preview and the restore the file is damaged: the restore
        # verifies it again before touching anything.
        data = bytearray(backup.read_bytes())
        data[len(data) // 2] ^= 0x01
        backup.write_bytes(bytes(data))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(damage_then_confirm))
    page.restore_selected()
    text = _restore_outcome(qtbot, page, timeout=20000)
    assert text.startswith("Nothing was restored: ") and _said_as_error(page)
    assert "current store is open as before" in text
    assert _versions(ctx) == [3]
    assert not list(ctx.paths.data_dir.glob("workflowguard.db.before-restore-*"))
    seed(ctx.store, ["four"])            # still writable
    assert _versions(ctx) == [4]


def test_restore_in_a_window_with_real_worker_threads(qtbot, ctx, backup, monkeypatch):
    # Real pools: every worker (page loads, the job-runs writer) must have let go
    # of its connection, or the restore is refused as "store in use".
    from PySide6.QtCore import QThreadPool

    from wg_desktop.ui.app import create_main_window

    window = create_main_window(ctx, QThreadPool.globalInstance())
    qtbot.addWidget(window)
    window.show()
    try:
        page = _select_backup(qtbot, window)
        monkeypatch.setattr(QMessageBox, "question", staticmethod(
            lambda *a: QMessageBox.StandardButton.Yes))
        page.restore_selected()
        text = _restore_outcome(qtbot, page, timeout=30000)
        assert text.startswith("Restored the store from "), text
        assert not _said_as_error(page)
        qtbot.waitUntil(lambda: [r.versions for r in window.workflows_page.model.rows] == [2],
                        timeout=10000)
    finally:
        window.quitting = True
        window.close()
        QThreadPool.globalInstance().waitForDone(10000)
        window.job_pool.waitForDone(10000)
    assert _versions(ctx) == [2]
