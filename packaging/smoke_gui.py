"""Start the main window offscreen from an installed wg-desktop (a wheel or
not the source tree) and exit 0 only if it really opened.

Run by packaging/wheel_check.sh with the clean virtualenv's python:
    python packaging/smoke_gui.py DATA_DIR SCREENSHOT.png
The keychain is an in-memory keyring backend defined here: a clean CI box has
no Secret Service, and the check is about the package, not the keychain.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring  # noqa: E402
from keyring.backend import KeyringBackend  # noqa: E402


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def fail(message: str) -> int:
    print(f"smoke_gui: {message}", file=sys.stderr)
    return 1


def main(data_dir: str, screenshot: str) -> int:
    import wg_desktop

    source_tree = Path(__file__).resolve().parents[1]
    if Path(wg_desktop.__file__).resolve().is_relative_to(source_tree / "wg_desktop"):
        return fail(f"imported the source tree ({wg_desktop.__file__}), not the installed package")
    packaged = resources.files("wg_desktop.resources")
    from wg_desktop.constants import APP_ID

    for name in ("icons/workflowguard.svg", "icons/256x256/workflowguard.png",
                 f"{APP_ID}.desktop", f"{APP_ID}.metainfo.xml"):
        if not packaged.joinpath(name).is_file():
            return fail(f"package data missing from the installed wheel: {name}")

    from wg_desktop.ui.resources import resources_dir

    # What the window itself loads its icon from must be the packaged copy too.
    if not (resources_dir() / "icons" / "workflowguard.svg").is_file():
        return fail(f"the app looks for its resources in {resources_dir()}, which the "
                    "installed wheel does not have")

    keyring.set_keyring(MemoryKeyring())
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication(sys.argv[:1])
    from wg_desktop.context import build_context
    from wg_desktop.paths import Paths
    from wg_desktop.ui.app import create_main_window
    from wg_desktop.ui.jobs import SynchronousPool

    ctx = build_context(Paths.resolve(data_dir, {}), {})
    try:
        window = create_main_window(ctx, SynchronousPool())
        window.show()
        for _ in range(20):
            app.processEvents()
        if not window.isVisible():
            return fail("the main window did not show")
        shot = window.grab()
        if shot.width() < 200 or not shot.save(screenshot):
            return fail(f"could not render the window ({shot.width()}x{shot.height()})")
        window.quitting = True
        window.close()
        window.scheduler.stop()
    finally:
        ctx.close()
    print(f"smoke_gui: window '{window.windowTitle()}' opened offscreen, "
          f"{shot.width()}x{shot.height()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
