"""Rough edges a desktop user notices: a window that widens itself, a layout
forgotten at every start, buttons that do nothing, an empty scopes box, Help
that helps, Ctrl-C in the terminal."""

from __future__ import annotations

import os
import signal

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from wg_desktop.security.secrets import setting_key
from wg_desktop.ui.app import create_main_window
from wg_desktop.ui.launch import quit_on_interrupt
from wg_desktop.ui.jobs import SynchronousPool
from wg_desktop.ui.pages.connection_page import ConnectionPage

WAIT = 20_000


def test_long_status_text_is_elided_and_never_widens_the_window(qtbot, window):
    width = window.width()
    long_text = "HubSpot keeps failing; " * 90          # ~2,000 characters
    assert len(long_text) >= 2000
    for label in (window.statusBar().connection_label, window.statusBar().job_label, window.statusBar().sync_label):
        label.setText(long_text)
    qtbot.wait(50)                                      # let the layout settle
    assert window.width() == width
    assert window.statusBar().connection_label.text() == long_text          # the whole text is kept...
    assert window.statusBar().connection_label.toolTip() == long_text       # ...and shown on hover
    window.statusBar().showMessage(long_text)
    qtbot.wait(50)
    assert window.width() == width


def test_layout_is_remembered_across_restarts(qtbot, ctx):
    first = create_main_window(ctx, SynchronousPool())
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(760, 640)       # within the 800 px offscreen screen
    page = first.workflows_page
    page.splitter.setSizes([150, 400])
    page.history.splitter.setSizes([300, 600])
    page.table.setColumnWidth(1, 173)
    wanted = (page.splitter.sizes(), page.history.splitter.sizes())
    first.quitting = True
    first.close()                                       # saves the layout
    assert (ctx.paths.config_dir / "window-state.ini").is_file()

    second = create_main_window(ctx, SynchronousPool())
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    again = second.workflows_page
    assert second.size() == first.size()
    assert (again.splitter.sizes(), again.history.splitter.sizes()) == wanted
    assert again.table.columnWidth(1) == 173
    second.quitting = True
    second.close()


def test_default_size_is_roomy_but_within_a_large_screen(window):
    from wg_desktop.ui.window.layout_state import DEFAULT_SIZE, MINIMUM_DEFAULT_SIZE

    room = window.screen().availableGeometry().size()
    expected = DEFAULT_SIZE.boundedTo(room * 0.9).expandedTo(MINIMUM_DEFAULT_SIZE)
    assert window.size() == expected
    assert window.width() >= MINIMUM_DEFAULT_SIZE.width()


def test_run_now_and_cancel_need_a_selected_job(qtbot, window):
    page = window.jobs_page
    page.jobs_view.clearSelection()
    assert not page.run_button.isEnabled() and not page.cancel_button.isEnabled()
    page.jobs_view.selectRow(0)
    assert page.run_button.isEnabled()
    assert not page.cancel_button.isEnabled()           # nothing running to cancel
    page.refresh()                                      # a model reset keeps the choice
    assert page.selected_job() == window.scheduler.specs()[0].name
    assert page.run_button.isEnabled()


def test_private_app_portal_has_no_empty_scopes_box(qtbot, hubspot, demo, runner):
    page = ConnectionPage(hubspot, runner)
    qtbot.addWidget(page)
    page.show()
    hub_id = hubspot.connection.connect_private_app(
        demo.private_app_token(demo.portal_ids[0])).hub_id
    page.set_portal(hub_id)
    qtbot.waitUntil(lambda: page.info["hub_id"].text() == str(hub_id), timeout=WAIT)
    assert page.stack.currentIndex() == 1               # the portal's details show
    assert not page.scopes_view.isVisible()
    assert "not applicable (private app token)" in page.scopes_note.text()


def test_help_opens_the_log_and_data_folders(window, monkeypatch):
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url) or True))
    window.menus.open_logs_action.trigger()
    window.menus.open_data_action.trigger()
    assert [u.toLocalFile() for u in opened] == [str(window.ctx.paths.log_file.parent),
                                                 str(window.ctx.paths.data_dir)]


def test_copied_diagnostics_hold_versions_and_settings_but_no_secret(qtbot, window, ctx):
    secret = "s3cr3t-client-value-0123456789"
    ctx.secrets.set(setting_key("hubspot.client_secret"), secret)
    ctx.registry.add(secret)
    QGuiApplication.clipboard().clear()
    window.menus.diagnostics_action.trigger()
    qtbot.waitUntil(lambda: bool(QGuiApplication.clipboard().text()), timeout=WAIT)
    text = QGuiApplication.clipboard().text()
    assert "Qt " in text and "Python " in text and "Platform: " in text
    assert str(ctx.paths.data_dir) in text
    assert "hubspot.client_secret = (secret, set; not shown)" in text
    assert "schedule.sync_interval" in text
    assert secret not in text


def test_ctrl_c_in_the_terminal_quits(qtbot):
    from PySide6.QtCore import QObject

    quits: list[bool] = []
    owner = QObject()
    previous = signal.getsignal(signal.SIGINT)
    try:
        wake = quit_on_interrupt(lambda: quits.append(True), owner)
        assert wake.isActive()
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: quits == [True], timeout=5000)
    finally:
        signal.signal(signal.SIGINT, previous)
