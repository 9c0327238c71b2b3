"""The Backups page offscreen, over a real encrypted store and real backup files."""

from __future__ import annotations

import functools
import shlex

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from wg_desktop.services.backups import BackupService, Trigger, backup_lock
from wg_desktop.store.backup_models import BackupRecord, BackupStatus
from wg_desktop.store.models import Portal, Workflow
from wg_desktop.ui.app import StoreSessionPool
from wg_desktop.ui.jobs import SynchronousPool, run_off_gui_thread
from wg_desktop.ui.pages.backups_page import LIST_FAILED, BackupsPage


class HeldPool:
    """Holds work until the test releases it: what a busy worker looks like."""

    def __init__(self) -> None:
        self.queued: list = []

    def start(self, fn, /, priority: int = 0) -> None:
        self.queued.append(fn)

    def run_all(self) -> None:
        while self.queued:
            self.queued.pop(0)()

    def waitForDone(self, msecs: int = -1, /) -> bool:  # noqa: N802 - Qt's name
        return True


def _rows(page) -> list[tuple[str, ...]]:
    model = page.model
    return [tuple(model.index(r, c).data() for c in range(model.columnCount()))
            for r in range(model.rowCount())]


@pytest.fixture
def service(ctx):
    with ctx.store.writing():
        portal = Portal.create(hub_id=5, name="Main")
        Workflow.create(portal=portal, flow_id="1", name="Welcome")
    return BackupService.from_context(ctx)


def _page(qtbot, ctx, service, pool=None) -> BackupsPage:
    runner = functools.partial(run_off_gui_thread,
                               pool=StoreSessionPool(pool or SynchronousPool(), ctx.store))
    page = BackupsPage(service, runner)
    qtbot.addWidget(page)
    page.show()
    return page


def _load(qtbot, page) -> None:
    """Re-read the list and wait until its answer is what the table shows."""
    page.reload()
    assert page.loading
    qtbot.waitUntil(lambda: not page.loading, timeout=5000)
    assert not page.status_label.text().startswith(LIST_FAILED), page.status_label.text()


def _wait_for_status(qtbot, page, start: str | tuple[str, ...], timeout: int) -> str:
    """Until the status line (what the user reads) starts with ``start``; its text."""
    def said() -> None:
        assert page.status_label.text().startswith(start), page.status_label.text()

    qtbot.waitUntil(said, timeout=timeout)
    return page.status_label.text()


def test_lists_backups_and_failed_attempts_and_enables_actions_by_selection(
        qtbot, ctx, service):
    older = service.backup_now(Trigger.SCHEDULED)
    newer = service.backup_now(Trigger.MANUAL)
    with ctx.store.writing():
        BackupRecord.create(status=BackupStatus.FAILED, trigger="scheduled",
                            message="no space left on device")
    page = _page(qtbot, ctx, service)
    _load(qtbot, page)
    rows = _rows(page)
    assert [r[2] for r in rows] == ["failed: no space left on device", "verified", "verified"]
    assert [r[4] for r in rows] == ["scheduled", "manual", "scheduled"]
    assert rows[0][1] == "—" and rows[0][3] == "no file"
    assert rows[1][1].endswith("KiB") and rows[1][3] == "when made"
    assert page.model.rows[1].path == newer.path and page.model.rows[2].path == older.path

    actions = (page.verify_button, page.delete_button, page.restore_button)
    assert not any(b.isEnabled() for b in actions)      # nothing selected
    assert page.backup_button.isEnabled() and page.export_button.isEnabled()
    page.table.selectRow(0)                             # a failed attempt has no file
    assert not any(b.isEnabled() for b in actions)
    page.table.selectRow(2)
    assert all(b.isEnabled() for b in actions)


def test_back_up_now_shows_busy_state_and_refuses_a_second_click(qtbot, ctx, service):
    pool = HeldPool()
    page = _page(qtbot, ctx, service, pool)
    pool.run_all()                                       # the load on first show
    qtbot.mouseClick(page.backup_button, Qt.MouseButton.LeftButton)
    assert not page.backup_button.isEnabled() and page.progress.isVisible()
    page.back_up_now()                                   # a second request while running
    assert len(pool.queued) == 1
    pool.run_all()
    _wait_for_status(qtbot, page, ("Backed up to ", "The backup failed"), timeout=10_000)
    assert page.status_label.text().startswith("Backed up to workflowguard-")
    assert page.backup_button.isEnabled() and not page.progress.isVisible()
    pool.run_all()                                       # the reload that follows
    qtbot.waitUntil(lambda: [r[2] for r in _rows(page)] == ["verified"], timeout=5000)
    assert [r[4] for r in _rows(page)] == ["manual"]


def test_backup_running_elsewhere_is_one_line_and_nothing_is_counted(qtbot, ctx, service):
    page = _page(qtbot, ctx, service)
    # The lock another process (the CLI, the scheduled job) holds while it backs up.
    with backup_lock(ctx.paths):
        page.back_up_now()
        text = _wait_for_status(qtbot, page, "Not started", timeout=5000)
    assert text.startswith("Not started: a backup is already running (pid ")
    assert "\n" not in text
    assert page.backup_button.isEnabled()
    qtbot.waitUntil(lambda: page.model.rowCount() == 0 or
                    all(r.path is None for r in page.model.rows), timeout=5000)
    assert service.list() == []
    _load(qtbot, page)          # the list is still empty; the line still says why
    assert page.status_label.text() == text


def test_verify_reports_intact_then_tampered(qtbot, ctx, service):
    info = service.backup_now()
    page = _page(qtbot, ctx, service)
    _load(qtbot, page)
    page.table.selectRow(0)
    qtbot.mouseClick(page.verify_button, Qt.MouseButton.LeftButton)
    text = _wait_for_status(qtbot, page, (f"{info.path.name} is intact",
                                          f"{info.path.name} failed"), timeout=10_000)
    assert text.startswith(f"{info.path.name} is intact: it decrypts")
    qtbot.waitUntil(lambda: _rows(page)[0][3].startswith("ok (checked"), timeout=5000)

    data = bytearray(info.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    info.path.write_bytes(bytes(data))
    page.table.selectRow(0)
    page.verify_selected()
    _wait_for_status(qtbot, page, f"{info.path.name} failed verification: ", timeout=10_000)
    qtbot.waitUntil(lambda: _rows(page)[0][3].startswith("FAILED"), timeout=5000)
    assert "color: #b00020" in page.status_label.styleSheet()


def test_delete_asks_and_never_removes_the_newest_verified(qtbot, ctx, service, monkeypatch):
    older = service.backup_now()
    newest = service.backup_now()
    page = _page(qtbot, ctx, service)
    _load(qtbot, page)
    asked: list[str] = []

    def answer(parent, title, text, *rest):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    page.table.selectRow(0)
    assert page.model.rows[0].path == newest.path
    page.delete_selected()
    text = _wait_for_status(qtbot, page, ("Not deleted", "Deleted"), timeout=5000)
    assert text == (f"Not deleted: {newest.path.name} is the newest verified backup; "
                    "it is kept so there is always one to restore from")
    assert newest.path.exists() and str(newest.path) in asked[0]

    page.table.selectRow(1)
    page.delete_selected()
    text = _wait_for_status(qtbot, page, ("Deleted", "Not deleted: ("), timeout=5000)
    assert text == f"Deleted {older.path.name}"
    assert not older.path.exists()
    qtbot.waitUntil(lambda: [r.path for r in page.model.rows] == [newest.path], timeout=5000)
    assert not BackupRecord.select().where(BackupRecord.file_name == older.path.name).exists()

    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a: QMessageBox.StandardButton.No)
    page.table.selectRow(0)
    page.delete_selected()
    assert newest.path.exists()


def test_export_asks_the_passphrase_twice_and_writes_a_portable_copy(
        qtbot, ctx, service, monkeypatch, tmp_path):
    target = tmp_path / "portable.wgbackup"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    answers = iter([("long passphrase", True), ("long passphrase!", True)])
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: next(answers))
    page = _page(qtbot, ctx, service)
    page.choose_export()                                 # the passphrases differ
    assert page.status_label.text() == "The passphrases differ; nothing was exported."
    assert not target.exists()

    modes = []

    def typed(parent, title, label, mode, *rest, **kw):
        modes.append(mode)
        return ("long passphrase", True)

    monkeypatch.setattr(QInputDialog, "getText", typed)
    page.choose_export()
    text = _wait_for_status(qtbot, page, ("Exported", "The export failed"), timeout=20_000)
    assert text == f"Exported a portable backup to {target} (verified)"
    assert target.exists() and page.export_button.isEnabled()
    from PySide6.QtWidgets import QLineEdit
    assert modes == [QLineEdit.EchoMode.Password] * 2
    assert service.verify(target, "long passphrase").portable
    assert not any("long passphrase" in repr(v) for v in vars(page).values())


def test_restore_explains_what_happens_and_the_exact_command(qtbot, ctx, service):
    info = service.backup_now()
    page = _page(qtbot, ctx, service)
    _load(qtbot, page)
    page.table.selectRow(0)
    text = page.restore_text(page.selected())
    command = (f"wg-desktop --data-dir {shlex.quote(str(ctx.paths.data_dir))} backup restore "
               f"{shlex.quote(str(info.path))} --yes")
    assert f"\n\n{command}\n\n" in text
    assert "workflowguard.db.before-restore-<time>" in text
    assert "Quit WorkflowGuard" in text and "start WorkflowGuard again" in text
    page.copy_restore_command(page.selected())
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == command


def test_window_has_the_page_after_search_and_file_menu_backs_up(qtbot, window, ctx):
    titles = [window.nav.item(i).text() for i in range(window.nav.count())]
    # After Search (a Health page may sit between them), before the Audit log.
    assert titles.index("Search") < titles.index("Backups") < titles.index("Audit log")
    window.menus.backup_action.trigger()
    _wait_for_status(qtbot, window.backups_page, "Backed up to workflowguard-", timeout=10_000)
    assert window.stack.currentWidget() is window.backups_page
    qtbot.waitUntil(lambda: [r[2] for r in _rows(window.backups_page)] == ["verified"],
                    timeout=5000)


def test_choosing_the_page_in_the_navigation_lists_backups(qtbot, window, ctx):
    made = BackupService.from_context(ctx).backup_now()
    window.nav.setCurrentRow([window.nav.item(i).text()
                              for i in range(window.nav.count())].index("Backups"))
    qtbot.waitUntil(lambda: [r.path for r in window.backups_page.model.rows] == [made.path],
                    timeout=5000)


def test_follows_the_backup_folder_setting_and_marks_unreachable_backups(
        qtbot, ctx, service, tmp_path):
    from wg_desktop.services.settings_service import SettingsService

    def choose(folder) -> None:
        SettingsService(ctx.settings, ctx.secrets, ctx.audit).apply({"backup.folder": str(folder)})

    home = service.backup_now()
    page = _page(qtbot, ctx, service)
    _load(qtbot, page)
    assert page.folder_label.text() == f"Backups folder: {ctx.paths.backups_dir}"

    drive = tmp_path / "usb-drive"
    choose(drive / "wg-backups")
    away = service.backup_now()
    _load(qtbot, page)
    assert page.folder_label.text() == f"Backups folder: {drive / 'wg-backups'}"
    by_path = {row.path: row for row in page.model.rows}
    status = page.model.index(page.model.rows.index(by_path[home.path]), 2).data()
    assert status == f"verified (in {ctx.paths.backups_dir})"   # made before the change

    drive.rename(tmp_path / "in-a-drawer")                       # the drive is unplugged
    _load(qtbot, page)
    row = next(r for r in page.model.rows if r.path == away.path)
    assert row.status == "unreachable" and row.verified == "unreachable"
    number = page.model.rows.index(row)
    page.table.selectRow(number)
    assert not page.verify_button.isEnabled() and not page.restore_button.isEnabled()
    assert not page.delete_button.isEnabled() and not page.open_button.isEnabled()
    assert "not reachable" in page.model.index(number, 2).data()
    page.table.selectRow(page.model.rows.index(by_path[home.path]))
    assert page.verify_button.isEnabled()
