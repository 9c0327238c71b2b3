"""The smoke mode's verdicts in-process: it reports what the window showed and
exits 0 only when the sign-in view loaded; every failure is one line and 1."""

from __future__ import annotations

import io

from PySide6.QtWidgets import QApplication

from wg_desktop.ui.smoke import SMOKE_ENV, SmokeRun, smoke_requested


def test_the_variable_turns_it_on_and_0_or_empty_does_not():
    assert smoke_requested({SMOKE_ENV: "1"})
    assert not smoke_requested({SMOKE_ENV: "0"}) and not smoke_requested({SMOKE_ENV: ""})
    assert not smoke_requested({})


def _run(qtbot, window, monkeypatch, **kwargs) -> tuple[SmokeRun, io.StringIO, io.StringIO]:
    exits: list[int] = []
    monkeypatch.setattr(QApplication.instance(), "exit", lambda code=0: exits.append(code))
    out, err = io.StringIO(), io.StringIO()
    run = SmokeRun(window, "the test portal", out=out, err=err, **kwargs)
    window.update()
    qtbot.waitUntil(lambda: bool(exits), timeout=30_000)
    assert exits == [run.exit_code]
    return run, out, err


def test_reports_the_painted_window_and_the_web_view(qtbot, window, monkeypatch):
    run, out, err = _run(qtbot, window, monkeypatch)
    assert run.exit_code == 0, err.getvalue()
    text = out.getvalue()
    assert "smoke: painted 'WorkflowGuard Desktop'" in text
    assert "pages: Overview, Connection" in text and "talking to the test portal" in text
    assert "smoke: sign-in view (QtWebEngine) loaded a page" in text
    assert not window.isVisible()            # quit through the window's close path


def test_a_web_view_that_cannot_be_made_fails_the_run(qtbot, window, monkeypatch):
    def missing(_parent):
        raise ImportError("libQt6WebEngineCore.so.6: cannot open shared object file")

    run, out, err = _run(qtbot, window, monkeypatch, make_view=missing)
    assert run.exit_code == 1
    assert err.getvalue().strip().splitlines() == [
        "smoke: FAILED: the sign-in view (QtWebEngine) cannot be created: ImportError: "
        "libQt6WebEngineCore.so.6: cannot open shared object file"]


def test_a_window_that_never_paints_fails_the_run(qtbot, ctx, monkeypatch):
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    hidden = create_main_window(ctx, SynchronousPool())     # never shown: no frame
    qtbot.addWidget(hidden)
    run, out, err = _run(qtbot, hidden, monkeypatch, paint_timeout_ms=300)
    assert run.exit_code == 1 and out.getvalue() == ""
    assert "painted no frame within 0 s" in err.getvalue()


def test_blank_page_icons_fail_the_run(qtbot, window, monkeypatch):
    """A bundle without Qt's SVG image plugin draws blank page icons: the
    smoke check says so instead of passing."""
    from PySide6.QtGui import QIcon

    window.nav.item(1).setIcon(QIcon())
    run, out, err = _run(qtbot, window, monkeypatch)
    assert run.exit_code == 1
    assert err.getvalue().strip().splitlines() == [
        "smoke: FAILED: page icons not drawn (SVG image plugin missing?): Connection"]


def test_a_data_folder_that_never_opens_fails_the_run(qtbot, data_dir):
    from wg_desktop.config import Settings
    from wg_desktop.paths import Paths
    from wg_desktop.ui.main_window import MainWindow
    from wg_desktop.ui.smoke import fail_if_data_never_opens

    paths = Paths.resolve(data_dir, {})
    opening = MainWindow(paths, Settings.load(None, {}))      # its data never comes
    qtbot.addWidget(opening)
    codes: list[int] = []
    err = io.StringIO()
    fail_if_data_never_opens(opening, codes.append, {}, err=err, timeout_ms=50)
    fail_if_data_never_opens(opening, codes.append, {SMOKE_ENV: "1"}, err=err, timeout_ms=50)
    qtbot.waitUntil(lambda: codes == [1], timeout=2000)      # only the smoke run's check
    assert err.getvalue().strip().splitlines() == [
        "smoke: FAILED: the data folder did not open within 0 s"]
