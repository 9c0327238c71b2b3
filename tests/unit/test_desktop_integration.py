"""The login entry on each operating system: XDG autostart file, macOS
LaunchAgent, Windows Run key (through a fake winreg), and the unknown system."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from wg_desktop import desktop_integration as di
from wg_desktop.constants import APP_ID


# -- which branch ------------------------------------------------------------------

@pytest.mark.parametrize("platform, expected", [
    ("linux", di.LINUX), ("freebsd14", di.LINUX), ("darwin", di.MACOS),
    ("win32", di.WINDOWS)])
def test_current_system(platform, expected):
    assert di.current_system(platform) == expected


def test_an_unknown_system_says_so():
    with pytest.raises(di.NotSupported, match="not supported on 'emscripten'"):
        di.current_system("emscripten")
    with pytest.raises(di.NotSupported):
        di.install_autostart(system="plan9", command=["x"])
    with pytest.raises(di.NotSupported):
        di.remove_autostart(system="plan9")
    with pytest.raises(di.NotSupported):
        di.autostart_installed(system="plan9")


# -- the command -------------------------------------------------------------------

def test_launch_command_prefers_the_gui_script_next_to_the_interpreter(tmp_path):
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.touch()
    assert di.launch_command(executable=str(python), frozen=False) == [
        str(python), "-m", "wg_desktop", "--minimized"]
    (tmp_path / "bin" / "wg-desktop-gui").touch()
    assert di.launch_command(tmp_path / "data", executable=str(python), frozen=False) == [
        str(tmp_path / "bin" / "wg-desktop-gui"), "--data-dir", str(tmp_path / "data"),
        "--minimized"]


def test_launch_command_of_a_bundle_is_the_bundle(tmp_path):
    exe = str(tmp_path / "wg-desktop")
    assert di.launch_command(executable=exe, frozen=True) == [exe, "--minimized"]


# -- XDG -----------------------------------------------------------------------------

def _exec_args(entry: str) -> list[str]:
    """Reads the Exec key as a launcher does (Desktop Entry spec): undo the
    string-value escaping, then split on spaces outside double quotes, where
    a backslash escapes the next character; "%%" is a literal "%"."""
    line = next(l for l in entry.splitlines() if l.startswith("Exec="))[len("Exec="):]
    line = line.replace("\\\\", "\\")
    args, current, quoted, i = [], None, False, 0
    while i < len(line):
        c = line[i]
        if quoted and c == "\\":
            i += 1
            current += line[i]
        elif c == '"':
            quoted = not quoted
            current = current or ""
        elif c == " " and not quoted:
            if current is not None:
                args.append(current)
            current = None
        else:
            current = (current or "") + c
        i += 1
    assert not quoted, f"unbalanced quotes in {line!r}"
    if current is not None:
        args.append(current)
    return [a.replace("%%", "%") for a in args]


def test_xdg_install_is_idempotent_and_remove_removes(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    kw = dict(system=di.LINUX, environ=env, home=tmp_path / "home")
    assert not di.autostart_installed(**kw)
    command = ["/opt/wg/wg-desktop", "--data-dir", "/srv/my data", "--minimized"]
    where = di.install_autostart(command=command, **kw)
    path = tmp_path / "cfg" / "autostart" / f"{APP_ID}.desktop"
    assert where == str(path)
    assert di.autostart_installed(**kw)
    first = path.read_text()
    assert _exec_args(first) == command
    di.install_autostart(command=command, **kw)
    assert path.read_text() == first
    assert list(path.parent.iterdir()) == [path]
    assert di.remove_autostart(**kw) is True
    assert not path.exists() and not di.autostart_installed(**kw)
    assert di.remove_autostart(**kw) is False


def test_xdg_falls_back_to_dot_config_when_unset_or_relative(tmp_path):
    for env in ({}, {"XDG_CONFIG_HOME": ""}, {"XDG_CONFIG_HOME": "relative/cfg"}):
        assert di.xdg_autostart_file(env, tmp_path) == (
            tmp_path / ".config" / "autostart" / f"{APP_ID}.desktop")


@pytest.mark.parametrize("arg", ["/plain/path", "/with space/x", 'q"uote', "do$llar",
                                 "back\\slash", "100%", "tick`s", "it's"])
def test_exec_quoting_round_trips(arg):
    assert _exec_args(di.desktop_entry(["/bin/app", arg])) == ["/bin/app", arg]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-utils is not installed")
def test_the_autostart_entry_is_a_valid_desktop_file(tmp_path):
    path = tmp_path / f"{APP_ID}.desktop"
    path.write_text(di.desktop_entry(["/opt/my app/wg-desktop", "--data-dir", "/a $b",
                                      "--minimized"]))
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


# -- macOS --------------------------------------------------------------------------

def test_macos_launch_agent(tmp_path):
    kw = dict(system=di.MACOS, home=tmp_path, environ={})
    command = ["/Applications/WorkflowGuard.app/Contents/MacOS/wg-desktop", "--minimized"]
    assert not di.autostart_installed(**kw)
    di.install_autostart(command=command, **kw)
    di.install_autostart(command=command, **kw)
    path = tmp_path / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["Label"] == APP_ID
    assert agent["ProgramArguments"] == command
    assert agent["RunAtLoad"] is True and "KeepAlive" not in agent
    assert di.autostart_installed(**kw)
    assert di.remove_autostart(**kw) is True
    assert not path.exists() and di.remove_autostart(**kw) is False


# -- Windows (a fake winreg: the same calls, a dict behind them) --------------------

class FakeWinreg:
    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    KEY_QUERY_VALUE = 1
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, tuple[object, int]]] = {}

    class _Key:
        def __init__(self, values: dict) -> None:
            self.values = values

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def CreateKeyEx(self, root, sub, reserved, access):  # noqa: N802 - winreg's names
        return self._Key(self.keys.setdefault((root, sub), {}))

    def OpenKey(self, root, sub, reserved, access):  # noqa: N802
        if (root, sub) not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._Key(self.keys[(root, sub)])

    def SetValueEx(self, key, name, reserved, kind, value):  # noqa: N802
        key.values[name] = (value, kind)

    def QueryValueEx(self, key, name):  # noqa: N802
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key.values[name]

    def DeleteValue(self, key, name):  # noqa: N802
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.values[name]


def test_windows_run_key():
    reg = FakeWinreg()
    kw = dict(system=di.WINDOWS, winreg=reg, environ={}, home=Path("C:/Users/a"))
    assert not di.autostart_installed(**kw)
    assert di.remove_autostart(**kw) is False       # no Run key at all yet
    command = [r"C:\Program Files\WorkflowGuard\wg-desktop.exe", "--data-dir",
               r"D:\wg data", "--minimized"]
    where = di.install_autostart(command=command, **kw)
    di.install_autostart(command=command, **kw)
    assert where.endswith(rf"CurrentVersion\Run\{APP_ID}")
    values = reg.keys[("HKCU", di.WINDOWS_RUN_KEY)]
    assert values == {APP_ID: ('"C:\\Program Files\\WorkflowGuard\\wg-desktop.exe" '
                               '--data-dir "D:\\wg data" --minimized', reg.REG_SZ)}
    assert di.autostart_installed(**kw)
    assert di.remove_autostart(**kw) is True
    assert values == {} and not di.autostart_installed(**kw)
