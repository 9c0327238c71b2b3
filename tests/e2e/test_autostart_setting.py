"""Start with the session: the setting creates and removes the login entry
(through the service, as the window's dialog does, and through the CLI), a
failure saves nothing, and --minimized opens the app in the tray."""

from __future__ import annotations

import json
import sys

import pytest

from wg_desktop.config import SettingError
from wg_desktop.constants import APP_ID
from wg_desktop.services.settings_service import AUTOSTART, SettingsService
from tests.support.cli import base_env, run


@pytest.fixture
def autostart_file(tmp_path, monkeypatch):
    config_home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return config_home / "autostart" / f"{APP_ID}.desktop"


def _exec_line(path) -> str:
    return next(l for l in path.read_text().splitlines() if l.startswith("Exec="))


def _stored(ctx) -> dict:
    file = ctx.paths.settings_file
    return json.loads(file.read_text()) if file.exists() else {}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG branch")
def test_the_setting_creates_and_removes_the_login_entry(ctx, autostart_file):
    service = SettingsService(ctx.settings, ctx.secrets, ctx.audit)
    assert service.apply({AUTOSTART: True}) == [AUTOSTART]
    exec_line = _exec_line(autostart_file)
    # This instance uses its own folder, so the entry opens that one, in the tray.
    assert f"--data-dir {ctx.paths.data_dir}" in exec_line
    assert exec_line.endswith(" --minimized")
    assert _stored(ctx)[AUTOSTART] is True
    first = autostart_file.read_text()
    assert service.apply({AUTOSTART: True}) == []            # unchanged: nothing to do
    assert autostart_file.read_text() == first
    assert service.apply({AUTOSTART: "false"}) == [AUTOSTART]
    assert not autostart_file.exists()
    assert AUTOSTART not in _stored(ctx)                     # back to the default
    assert ctx.settings.get(AUTOSTART) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG branch")
def test_an_entry_that_cannot_be_made_saves_nothing(ctx, autostart_file):
    autostart_file.parent.parent.mkdir(parents=True)
    autostart_file.parent.write_text("a file where the autostart folder should be")
    service = SettingsService(ctx.settings, ctx.secrets, ctx.audit)
    entries = ctx.audit.count()
    with pytest.raises(SettingError, match="could not create the login entry") as caught:
        service.apply({AUTOSTART: True, "ratelimit.per_minute": 50})
    assert "\n" not in str(caught.value)
    assert ctx.settings.get(AUTOSTART) is False
    assert _stored(ctx) == {}                                # neither change was saved
    assert ctx.audit.count() == entries


def test_a_failed_save_takes_the_entry_back(ctx):
    calls: list[bool] = []
    service = SettingsService(ctx.settings, ctx.secrets, ctx.audit, autostart=calls.append)

    def refuse(changes):
        raise OSError("disk full")

    ctx.settings.updated = refuse
    with pytest.raises(OSError, match="disk full"):
        service.apply({AUTOSTART: True})
    assert calls == [True, False]


def test_the_entry_names_no_folder_for_the_default_one(ctx):
    from wg_desktop.paths import Paths
    from wg_desktop.services.settings_service import instance_data_dir

    assert instance_data_dir(ctx.settings) == ctx.paths.data_dir
    ctx.settings.path = Paths.resolve(None, {}).settings_file
    assert instance_data_dir(ctx.settings) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG branch")
def test_cli_settings_set_creates_the_entry_and_reports_a_failure(tmp_path):
    data = tmp_path / "data"
    env = {**base_env(data), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    entry = tmp_path / "cfg" / "autostart" / f"{APP_ID}.desktop"
    done = run(["settings", "set", AUTOSTART, "true"], env)
    assert done.returncode == 0, done.stderr
    assert f"--data-dir {data}" in _exec_line(entry)
    done = run(["settings", "set", AUTOSTART, "false"], env)
    assert done.returncode == 0, done.stderr
    assert not entry.exists()
    entry.parent.rmdir()
    entry.parent.write_text("not a folder")
    failed = run(["settings", "set", AUTOSTART, "true"], env)
    assert failed.returncode == 2
    assert failed.stderr.count("\n") == 1 and "could not create the login entry" in failed.stderr
    assert run(["settings", "get", AUTOSTART], env).stdout.strip() == "false"


def test_minimized_is_refused_with_a_command(tmp_path):
    done = run(["--minimized", "paths"], base_env(tmp_path / "data"))
    assert done.returncode == 2
    assert "--minimized only applies to the app window" in done.stderr


# run_gui owns the application for its whole life (exec, quit, teardown): each
# start gets its own process, as a login would, rather than sharing pytest's.
_START_MINIMIZED = """
import json, sys
from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtWidgets import QApplication
from wg_desktop.ui import launch as gui, main_window

# A timer needs the application's event loop: made here, run_gui reuses it.
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
application = QApplication(sys.argv[:1])

tray = sys.argv[2] == "tray"
# Offscreen Qt has no tray; the tray case stands one in.
main_window.QSystemTrayIcon.isSystemTrayAvailable = staticmethod(lambda: tray)
seen = {}

def probe():
    app = QApplication.instance()
    windows = [w for w in (app.topLevelWidgets() if app else [])
               if isinstance(w, main_window.MainWindow)]
    if windows:
        timer.stop()
        seen.update(tray=windows[0].tray is not None, visible=windows[0].isVisible())
        windows[0].quitting = True
        app.quit()

timer = QTimer()
timer.timeout.connect(probe)
timer.start(50)
rc = gui.run_gui(sys.argv[1], minimized=True)
print(json.dumps({"rc": rc, **seen}))
"""


@pytest.mark.parametrize("tray", [True, False])
def test_minimized_starts_in_the_tray_only_when_there_is_one(tmp_path, tray):
    import subprocess

    from tests.support.cli import ROOT

    env = {**base_env(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", _START_MINIMIZED, str(tmp_path / "data"),
                           "tray" if tray else "none"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "rc": 0, "tray": tray, "visible": not tray}


def test_a_setting_from_the_environment_is_reconciled_at_start(tmp_path):
    """WG_APP_START_WITH_SESSION never runs apply(): the window's start creates
    the login entry anyway; a folder whose setting is off never removes one
    (another folder's user may have asked for it)."""
    from wg_desktop.config import Settings
    from wg_desktop.services.settings_service import SettingsService

    state = {"installed": False}
    calls = []

    def switch(on: bool) -> None:
        calls.append(on)
        state["installed"] = on

    on = Settings.load(None, {"WG_APP_START_WITH_SESSION": "true"})
    service = SettingsService(on, None, None, autostart=switch)
    assert service.reconcile_autostart(lambda: state["installed"]) is True
    assert service.reconcile_autostart(lambda: state["installed"]) is None   # already so
    off = SettingsService(Settings.load(None, {}), None, None, autostart=switch)
    assert off.reconcile_autostart(lambda: state["installed"]) is None
    assert calls == [True] and state["installed"]
