"""Starting with the user's session: the one home of the per-OS autostart code.

Each operating system has its own place for "run this at login":

- Linux and other XDG desktops: a ``.desktop`` file in
  ``$XDG_CONFIG_HOME/autostart`` (freedesktop Desktop Application Autostart
  specification);
- macOS: a LaunchAgent property list in ``~/Library/LaunchAgents`` with
  ``RunAtLoad``;
- Windows: a value under ``HKCU\\...\\CurrentVersion\\Run`` (no admin rights).

The functions below behave the same everywhere; the ``system``, ``environ``,
``home`` and ``winreg`` arguments exist so that every branch runs in the tests
(tests/unit/test_desktop_integration.py) on any machine. The entry starts the
app with ``--minimized`` so scheduled backups and syncs run from the tray
after login without a window popping up.

There is one entry per user account, named after the app id: enabling it
from another data folder re-points it there.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from wg_desktop.constants import APP_DISPLAY_NAME, APP_ID
from wg_desktop.paths import write_private_atomic

MINIMIZED_FLAG = "--minimized"
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"

LINUX = "linux"
MACOS = "macos"
WINDOWS = "windows"


class NotSupported(RuntimeError):
    """This operating system has no autostart mechanism the app knows."""


def current_system(platform: str = sys.platform) -> str:
    """``linux`` (any XDG desktop), ``macos`` or ``windows``; NotSupported otherwise."""
    if platform == "darwin":
        return MACOS
    if platform in ("win32", "cygwin"):
        return WINDOWS
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd", "dragonfly", "sunos")):
        return LINUX
    raise NotSupported(f"Starting with the session is not supported on {platform!r}: "
                       "only XDG desktops (Linux, BSD), macOS and Windows are known.")


def launch_command(data_dir: Path | None = None, *, executable: str | None = None,
                   frozen: bool | None = None) -> list[str]:
    """The command the session runs: this app, minimised, on this data folder.

    A PyInstaller bundle is its own executable. From a virtualenv or a wheel
    install the GUI script next to the interpreter (``wg-desktop-gui``, built
    on pythonw on Windows, so no console opens) is preferred; failing that,
    ``python -m wg_desktop``.
    """
    executable = executable or sys.executable
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    if frozen:
        command = [executable]
    else:
        folder = Path(executable).parent
        scripts = [folder / "wg-desktop-gui", folder / "wg-desktop-gui.exe"]
        found = next((s for s in scripts if s.is_file()), None)
        command = [str(found)] if found else [executable, "-m", "wg_desktop"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return [*command, MINIMIZED_FLAG]


# -- XDG (Linux, BSD) -------------------------------------------------------------

def xdg_autostart_file(environ: Mapping[str, str], home: Path) -> Path:
    # The spec ignores a relative XDG_CONFIG_HOME, as it ignores an empty one.
    config = environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and os.path.isabs(config) else home / ".config"
    return base / "autostart" / f"{APP_ID}.desktop"


def _exec_arg(arg: str) -> str:
    """One argument of a desktop entry's Exec key (Desktop Entry spec, "The
    Exec key"): reserved characters force double quotes, inside which ``"``,
    backquote, ``$`` and backslash are backslash-escaped; ``%`` is a field code
    unless doubled. The result is then a string value, whose own escaping
    doubles every backslash."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        quoted = arg
    else:
        escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        quoted = f'"{escaped}"'
    return quoted.replace("\\", "\\\\")


def desktop_entry(command: Sequence[str]) -> str:
    exec_line = " ".join(_exec_arg(a) for a in command)
    return ("[Desktop Entry]\n"
            "Type=Application\n"
            f"Name={APP_DISPLAY_NAME}\n"
            "Comment=Starts in the tray so scheduled backups and syncs run after login\n"
            f"Exec={exec_line}\n"
            f"Icon={APP_ID}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n")


# -- macOS ----------------------------------------------------------------------

def launch_agent_file(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{APP_ID}.plist"


def launch_agent(command: Sequence[str]) -> bytes:
    # RunAtLoad starts it at login; no KeepAlive: quitting the app must stick.
    return plistlib.dumps({"Label": APP_ID, "ProgramArguments": list(command),
                           "RunAtLoad": True, "ProcessType": "Interactive"})


# -- Windows --------------------------------------------------------------------

def _windows_set(winreg: Any, command: Sequence[str]) -> None:
    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0,
                            winreg.KEY_SET_VALUE) as key:
        winreg.SetValueEx(key, APP_ID, 0, winreg.REG_SZ, subprocess.list2cmdline(command))


def _windows_get(winreg: Any) -> str | None:
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0,
                            winreg.KEY_QUERY_VALUE) as key:
            value, _kind = winreg.QueryValueEx(key, APP_ID)
    except FileNotFoundError:
        return None
    return str(value)


def _windows_delete(winreg: Any) -> bool:
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0,
                            winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, APP_ID)
    except FileNotFoundError:
        return False
    return True


def _winreg(winreg: Any) -> Any:
    if winreg is not None:
        return winreg
    import winreg as real  # Windows only: imported when that branch runs

    return real


# -- the functions the app calls ------------------------------------------------

def install_autostart(data_dir: Path | None = None, *, system: str | None = None,
                      environ: Mapping[str, str] | None = None, home: Path | None = None,
                      winreg: Any = None, command: Sequence[str] | None = None) -> str:
    """Create (or re-point) the login entry; returns where it lives, for messages.

    ``data_dir`` is None for the platform's default folders, else the folder
    given with ``--data-dir``. Raises OSError when it cannot be written and
    NotSupported on an unknown system.
    """
    system = system or current_system()
    command = list(command) if command is not None else launch_command(data_dir)
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if system == LINUX:
        path = xdg_autostart_file(environ, home)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_atomic(path, desktop_entry(command).encode())
        return str(path)
    if system == MACOS:
        path = launch_agent_file(home)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_atomic(path, launch_agent(command))
        return str(path)
    if system == WINDOWS:
        _windows_set(_winreg(winreg), command)
        return f"HKEY_CURRENT_USER\\{WINDOWS_RUN_KEY}\\{APP_ID}"
    raise NotSupported(f"Starting with the session is not supported on {system!r}.")


def remove_autostart(*, system: str | None = None, environ: Mapping[str, str] | None = None,
                     home: Path | None = None, winreg: Any = None) -> bool:
    """Remove the login entry; returns whether there was one."""
    system = system or current_system()
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if system in (LINUX, MACOS):
        path = (xdg_autostart_file(environ, home) if system == LINUX
                else launch_agent_file(home))
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
    if system == WINDOWS:
        return _windows_delete(_winreg(winreg))
    raise NotSupported(f"Starting with the session is not supported on {system!r}.")


def autostart_installed(*, system: str | None = None,
                        environ: Mapping[str, str] | None = None, home: Path | None = None,
                        winreg: Any = None) -> bool:
    system = system or current_system()
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if system == LINUX:
        return xdg_autostart_file(environ, home).is_file()
    if system == MACOS:
        return launch_agent_file(home).is_file()
    if system == WINDOWS:
        return _windows_get(_winreg(winreg)) is not None
    raise NotSupported(f"Starting with the session is not supported on {system!r}.")
